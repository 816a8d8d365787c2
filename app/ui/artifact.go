package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"artifactapi/db"
	"artifactapi/views"
)

// artifactProps reads the artifact named by ?path for its screens.
func (h *Handler) artifactProps(c *fiber.Ctx, title string) (views.ArtifactProps, error) {
	r, err := h.remoteOf(c)
	if err != nil {
		return views.ArtifactProps{}, err
	}
	p := strings.Clone(c.Query("path"))
	if p == "" {
		return views.ArtifactProps{}, fail(http.StatusBadRequest, "Which artifact? The link names no path.")
	}
	a, err := h.d.Meta.GetArtifact(c.UserContext(), r.Name, p)
	if errors.Is(err, db.ErrNotFound) {
		return views.ArtifactProps{}, fail(http.StatusNotFound, p+" is not cached in "+r.Name+" (any more).")
	}
	if err != nil {
		return views.ArtifactProps{}, err
	}
	row := toRow(a)
	return views.ArtifactProps{Chrome: h.chrome(c, title, "remote:"+r.Name), Remote: remoteInfo(r), Row: row,
		DownloadURL: c.BaseURL() + row.URL, Back: backTo(c, r.Name)}, nil
}

// backTo is the listing of remote the operator came from (its URL with
// search, sort and page, from the Referer), else the remote's first page.
func backTo(c *fiber.Ctx, remote string) string {
	base := views.ListState{Remote: remote}.Base()
	if b := c.FormValue("back"); b != "" {
		return sameListing(b, base)
	}
	ref, err := url.Parse(c.Get(fiber.HeaderReferer))
	if err != nil || ref.Host != string(c.Request().URI().Host()) {
		return base
	}
	return sameListing(ref.RequestURI(), base)
}

// sameListing accepts u when it is the listing at base (with any query).
func sameListing(u, base string) string {
	path, _, _ := strings.Cut(u, "?")
	if path != base || strings.ContainsAny(u, "\\\r\n") {
		return base
	}
	return u
}

// Artifact shows one artifact: its own page, or for htmx the detail row a
// listing row expands into.
func (h *Handler) Artifact(c *fiber.Ctx) error {
	p, err := h.artifactProps(c, "Artifact")
	if err != nil {
		return err
	}
	return h.render(c, views.ArtifactPage(p), views.ArtifactDetail(p))
}

// EvictConfirm asks to confirm the eviction of one artifact: the page a
// row's Evict button leads to when JavaScript is off (with it, the browser
// asks and posts directly).
func (h *Handler) EvictConfirm(c *fiber.Ctx) error {
	p, err := h.artifactProps(c, "Confirm")
	if err != nil {
		return err
	}
	p.Confirm = true
	return h.write(c, views.ArtifactPage(p))
}
