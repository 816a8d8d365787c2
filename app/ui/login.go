package ui

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/api"
	"artifactapi/views"
)

// safeNext keeps a post-sign-in redirect on the dashboard.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/ui/"
	}
	return next
}

func (h *Handler) loginPage(c *fiber.Ctx, next, msg string) error {
	chrome := h.chrome(c, "Sign in", "")
	chrome.SignedIn, chrome.Remotes = false, nil
	return h.write(c, views.LoginPage(views.LoginProps{Chrome: chrome, Next: safeNext(next), Error: msg}))
}

// LoginForm shows the sign-in form (or goes on when already signed in).
func (h *Handler) LoginForm(c *fiber.Ctx) error {
	if h.signedIn(c) {
		return c.Redirect(safeNext(c.Query("next")), http.StatusSeeOther)
	}
	return h.loginPage(c, c.Query("next"), "")
}

// Login checks the admin token and starts a session. An address that
// failed too often is answered 429 with Retry-After, right token or not.
func (h *Handler) Login(c *fiber.Ctx) error {
	ip := c.IP()
	if wait := h.d.Guesses.Take(ip); wait > 0 {
		h.d.Log.Warn("dashboard sign-in throttled", "ip", ip)
		c.Set(fiber.HeaderRetryAfter, api.RetryAfter(wait))
		c.Status(http.StatusTooManyRequests)
		return h.loginPage(c, c.FormValue("next"), "Too many wrong tokens from your address. Try again in "+api.RetryAfter(wait)+" s.")
	}
	token := []byte(c.FormValue("token"))
	if len(h.d.AdminToken) == 0 || subtle.ConstantTimeCompare(token, []byte(h.d.AdminToken)) != 1 {
		h.d.Log.Warn("dashboard sign-in refused", "ip", ip)
		c.Status(http.StatusUnauthorized)
		return h.loginPage(c, c.FormValue("next"), "That is not the admin token.")
	}
	h.d.Guesses.Refund(ip)
	h.startSession(c)
	return c.Redirect(safeNext(c.FormValue("next")), http.StatusSeeOther)
}

// Logout ends the session in this browser.
func (h *Handler) Logout(c *fiber.Ctx) error {
	cookie(c, SessionCookie, "", -1)
	if c.Get("HX-Request") == "true" {
		c.Set("HX-Redirect", "/ui/login")
		return c.SendStatus(http.StatusOK)
	}
	return c.Redirect("/ui/login", http.StatusSeeOther)
}

// Static serves an embedded asset. Versioned URLs (?v=) are cached for a
// year; others for a few minutes with revalidation by ETag.
func (h *Handler) Static(c *fiber.Ctx) error {
	a, ok := h.assets.Get(c.Params("name"))
	if !ok {
		return c.Status(http.StatusNotFound).SendString("not found")
	}
	c.Set(fiber.HeaderETag, a.ETag)
	if c.Query("v") == h.assets.Version() {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	}
	if c.Get(fiber.HeaderIfNoneMatch) == a.ETag {
		return c.SendStatus(http.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, a.ContentType)
	return c.Send(a.Body)
}
