package ui

import (
	"github.com/gofiber/fiber/v2"

	"artifactapi/app/config"
	"artifactapi/app/setup"
	"artifactapi/views"
)

// setupProps is r's client configuration, written for the address the
// browser reached the server at (scheme and host, X-Forwarded-* honoured
// like the download URLs the dashboard shows).
func setupProps(c *fiber.Ctx, r *config.Remote) *views.SetupProps {
	b := setup.ParseBase(c.BaseURL())
	p := &views.SetupProps{Remote: r.Name, Base: b.URL}
	for _, s := range setup.For(b, r) {
		p.Snippets = append(p.Snippets, views.SetupSnippet{ID: s.ID, Title: s.Title, File: s.File, Lang: s.Lang, Text: s.Text})
	}
	return p
}

// Setup is a remote's "set me up" page: every snippet, expanded.
func (h *Handler) Setup(c *fiber.Ctx) error {
	r, err := h.remoteOf(c)
	if err != nil {
		return err
	}
	p := setupProps(c, r)
	p.Open = true
	return h.write(c, views.SetupPage(views.SetupPageProps{Chrome: h.chrome(c, "Set me up: "+r.Name, "remote:"+r.Name), Setup: *p}))
}
