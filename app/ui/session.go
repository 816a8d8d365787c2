package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/auth"
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

// newSession returns a signed session value "v1.<expiry unix>.<id>.<mac>"
// with a random id (stateless sessions).
func (h *Handler) newSession(now time.Time) string { return h.signSession(now, randomHex(16)) }

// signSession returns the signed session value of id. The signature spares
// the session store forged or tampered cookies.
func (h *Handler) signSession(now time.Time, id string) string {
	body := "v1." + strconv.FormatInt(now.Add(h.session).Unix(), 10) + "." + id
	return body + "." + mac(h.keys.session, body)
}

// sessionID returns the id of a session value checkSession accepted.
func sessionID(v string) string {
	parts := strings.Split(v, ".")
	if len(parts) != 4 {
		return ""
	}
	return parts[2]
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
	_, p, err := h.session_(c)
	return err == nil && p != nil
}

// session_ checks the request's session cookie: its expiry and principal
// (nil when there is no valid session). With server-side sessions, one that
// was ended (sign-out, password change, revoked token) is refused on every
// replica; an error is the session store's.
func (h *Handler) session_(c *fiber.Ctx) (time.Time, *auth.Principal, error) {
	v := c.Cookies(SessionCookie)
	exp, ok := h.checkSession(v, h.d.Now())
	if !ok {
		return exp, nil, nil
	}
	if h.d.Access == nil {
		return exp, auth.AdminPrincipal(), nil
	}
	p, err := h.d.Access.Session(c.UserContext(), sessionID(v))
	if errors.Is(err, auth.ErrUnauthorized) {
		return exp, nil, nil
	}
	if err != nil {
		return exp, nil, err
	}
	return exp, p, nil
}

// cookie sets a dashboard cookie: HttpOnly, SameSite=Strict, Secure over HTTPS.
func cookie(c *fiber.Ctx, name, value string, maxAge int) {
	c.Cookie(&fiber.Cookie{Name: name, Value: value, Path: "/ui", MaxAge: maxAge, HTTPOnly: true,
		SameSite: fiber.CookieSameSiteStrictMode, Secure: c.Protocol() == "https"})
}

// startSession signs the browser in as p: a server-side session when the
// dashboard has a session store, else a stateless signed one.
func (h *Handler) startSession(c *fiber.Ctx, p *auth.Principal) error {
	now := h.d.Now()
	v := h.newSession(now)
	if h.d.Access != nil {
		id, err := h.d.Access.StartSession(c.UserContext(), p, h.session, c.IP())
		if err != nil {
			return err
		}
		v = h.signSession(now, id)
	}
	cookie(c, SessionCookie, v, int(h.session/time.Second))
	return nil
}

// requireSession lets signed-in requests through (stateless sessions are
// renewed past half their life) and sends the others to the sign-in page.
func (h *Handler) requireSession(c *fiber.Ctx) error {
	now := h.d.Now()
	exp, p, err := h.session_(c)
	if err != nil {
		h.d.Log.Error("dashboard session check", "err", err)
		return fail(http.StatusServiceUnavailable, "Your session cannot be checked now: the metadata store did not answer.")
	}
	if p != nil {
		if h.d.Access == nil && exp.Sub(now) < h.session/2 {
			if err := h.startSession(c, p); err != nil {
				return err
			}
		}
		c.Locals(principalKey{}, p)
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
