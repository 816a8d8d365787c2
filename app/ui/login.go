package ui

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/api"
	"artifactapi/app/auth"
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

// Login checks a user name and password, an API token or the admin token
// (field "token", the user name in "username" when it is a password) and
// starts a session. An address that failed too often is answered 429 with
// Retry-After, right secret or not; so is a user name backing off after
// failed passwords.
func (h *Handler) Login(c *fiber.Ctx) error {
	ip := c.IP()
	user := strings.Clone(c.FormValue("username"))
	ev := auth.Event{Action: auth.ActLogin, Target: user, Detail: "dashboard"}
	if wait := h.d.Guesses.Take(ip); wait > 0 {
		h.d.Log.Warn("dashboard sign-in throttled", "ip", ip)
		ev.Outcome, ev.Detail = auth.OutcomeDenied, "dashboard: throttled (address)"
		h.record(c, ev)
		c.Set(fiber.HeaderRetryAfter, api.RetryAfter(wait))
		c.Status(http.StatusTooManyRequests)
		return h.loginPage(c, c.FormValue("next"), "Too many wrong tokens from your address. Try again in "+api.RetryAfter(wait)+" s.")
	}
	p, err := h.check(c, user, c.FormValue("token"))
	var te *auth.ThrottledError
	switch {
	case errors.As(err, &te):
		ev.Outcome, ev.Detail = auth.OutcomeDenied, "dashboard: throttled (user)"
		h.record(c, ev)
		c.Set(fiber.HeaderRetryAfter, api.RetryAfter(te.Wait))
		c.Status(http.StatusTooManyRequests)
		return h.loginPage(c, c.FormValue("next"), "Too many failed sign-ins for this user. Try again in "+api.RetryAfter(te.Wait)+" s.")
	case errors.Is(err, auth.ErrUnauthorized):
		h.d.Log.Warn("dashboard sign-in refused", "ip", ip, "user", user)
		ev.Outcome = auth.OutcomeFailed
		h.record(c, ev)
		c.Status(http.StatusUnauthorized)
		return h.loginPage(c, c.FormValue("next"), "That is not the admin token, nor a valid API token or user name and password.")
	case err != nil:
		return err
	}
	h.d.Guesses.Refund(ip)
	if err := h.startSession(c, p); err != nil {
		return err
	}
	c.Locals(principalKey{}, p)
	ev.Target = p.Name
	h.record(c, ev)
	return c.Redirect(safeNext(c.FormValue("next")), http.StatusSeeOther)
}

// check verifies the sign-in form's secret.
func (h *Handler) check(c *fiber.Ctx, user, secret string) (*auth.Principal, error) {
	if h.d.Access != nil {
		return h.d.Access.Basic(c.UserContext(), user, secret)
	}
	if len(h.d.AdminToken) == 0 || subtle.ConstantTimeCompare([]byte(secret), []byte(h.d.AdminToken)) != 1 {
		return nil, auth.ErrUnauthorized
	}
	return auth.AdminPrincipal(), nil
}

// Logout ends the session: server-side sessions end on every replica.
func (h *Handler) Logout(c *fiber.Ctx) error {
	if v := c.Cookies(SessionCookie); h.d.Access != nil {
		if _, ok := h.checkSession(v, h.d.Now()); ok {
			_, p, _ := h.session_(c)
			if err := h.d.Access.EndSession(c.UserContext(), sessionID(v)); err != nil {
				h.d.Log.Warn("dashboard sign-out", "err", err)
			}
			h.d.Audit.Record(c.UserContext(), p, c.IP(), auth.Event{Action: auth.ActLogout, Detail: "dashboard"})
		}
	}
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
