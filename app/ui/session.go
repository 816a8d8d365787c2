package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Cookie and header names.
const (
	SessionCookie = "artifactapi_session"
	CSRFCookie    = "artifactapi_csrf"
	CSRFHeader    = "X-CSRF-Token"
	CSRFField     = "_csrf"
)

// keys are derived from the admin token, so every replica sharing the token
// signs and accepts the same sessions without shared state, and rotating the
// token signs everybody out.
type keys struct {
	session []byte
	csrf    []byte
}

func deriveKeys(token string) keys {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, []byte(token))
		m.Write([]byte("artifactapi/ui/" + label))
		return m.Sum(nil)
	}
	return keys{session: derive("session/v1"), csrf: derive("csrf/v1")}
}

func mac(key []byte, parts ...string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newSession returns a signed session value "v1.<expiry unix>.<id>.<mac>".
func (h *Handler) newSession(now time.Time) string {
	body := "v1." + strconv.FormatInt(now.Add(h.session).Unix(), 10) + "." + randomHex(16)
	return body + "." + mac(h.keys.session, body)
}

// checkSession verifies a session value and returns its expiry.
func (h *Handler) checkSession(v string, now time.Time) (time.Time, bool) {
	i := strings.LastIndexByte(v, '.')
	if i < 0 {
		return time.Time{}, false
	}
	body, sig := v[:i], v[i+1:]
	if !hmac.Equal([]byte(sig), []byte(mac(h.keys.session, body))) {
		return time.Time{}, false
	}
	parts := strings.Split(body, ".")
	if len(parts) != 3 || parts[0] != "v1" {
		return time.Time{}, false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || !now.Before(time.Unix(exp, 0)) {
		return time.Time{}, false
	}
	return time.Unix(exp, 0), true
}

// signedIn reports whether the request carries a valid session.
func (h *Handler) signedIn(c *fiber.Ctx) bool {
	_, ok := h.checkSession(c.Cookies(SessionCookie), h.d.Now())
	return ok
}

// cookie sets a dashboard cookie: HttpOnly, SameSite=Strict, Secure over HTTPS.
func cookie(c *fiber.Ctx, name, value string, maxAge int) {
	c.Cookie(&fiber.Cookie{Name: name, Value: value, Path: "/ui", MaxAge: maxAge, HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode, Secure: c.Protocol() == "https"})
}

// startSession signs the browser in.
func (h *Handler) startSession(c *fiber.Ctx) {
	cookie(c, SessionCookie, h.newSession(h.d.Now()), int(h.session/time.Second))
}

// requireSession lets signed-in requests through, renewing sessions past
// half their life, and sends the others to the sign-in page.
func (h *Handler) requireSession(c *fiber.Ctx) error {
	now := h.d.Now()
	exp, ok := h.checkSession(c.Cookies(SessionCookie), now)
	if ok {
		if exp.Sub(now) < h.session/2 {
			h.startSession(c)
		}
		return c.Next()
	}
	login := "/ui/login"
	if c.Method() == http.MethodGet && c.Path() != "/ui" && c.Path() != "/ui/" {
		login += "?next=" + url.QueryEscape(string(c.Request().URI().RequestURI()))
	}
	if c.Get("HX-Request") == "true" {
		c.Set("HX-Redirect", login)
		return fail(http.StatusUnauthorized, "Your session has ended. Sign in again.")
	}
	if c.Method() != http.MethodGet && c.Method() != http.MethodHead {
		return fail(http.StatusUnauthorized, "Your session has ended. Sign in again.")
	}
	return c.Redirect(login, http.StatusSeeOther)
}

// csrfSeed returns the browser's CSRF seed, setting a new one when missing.
// The token is an HMAC of the seed (a signed double-submit cookie): a site
// that can plant a cookie still cannot compute the token, and any replica
// can check it.
func (h *Handler) csrfSeed(c *fiber.Ctx) string {
	if s := c.Cookies(CSRFCookie); len(s) == 32 {
		return s
	}
	if s := c.Locals(CSRFCookie); s != nil {
		return s.(string)
	}
	s := randomHex(16)
	cookie(c, CSRFCookie, s, 0)
	c.Locals(CSRFCookie, s)
	return s
}

// csrfToken is the token the page must send back with every unsafe request.
func (h *Handler) csrfToken(c *fiber.Ctx) string { return mac(h.keys.csrf, h.csrfSeed(c)) }

// csrfOK checks a presented token against the request's seed cookie.
func (h *Handler) csrfOK(c *fiber.Ctx, token string) bool {
	seed := c.Cookies(CSRFCookie)
	return seed != "" && token != "" && hmac.Equal([]byte(token), []byte(mac(h.keys.csrf, seed)))
}

// errCSRF is the answer to an unsafe request without a valid token.
var errCSRF = &uiError{status: http.StatusForbidden,
	msg: "Request refused: the CSRF token is missing or invalid. Reload the page and try again."}

// csrf refuses unsafe requests without the token, taken from the
// X-CSRF-Token header (htmx, scripts) or the _csrf form field.
func (h *Handler) csrf(c *fiber.Ctx) error {
	switch c.Method() {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return c.Next()
	}
	token := c.Get(CSRFHeader)
	if token == "" {
		switch mt, _, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType)); mt {
		case "multipart/form-data", "application/x-www-form-urlencoded":
			token = c.FormValue(CSRFField)
		}
	}
	if !h.csrfOK(c, token) {
		return errCSRF
	}
	return c.Next()
}
