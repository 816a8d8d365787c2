// Package api holds the Fiber handlers for /api (artifacts) and the JSON
// management routes, with one error mapper to the JSON error body.
package api

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/cache"
	"artifactapi/app/config"
	"artifactapi/app/httpserve"
	"artifactapi/app/jobs"
	"artifactapi/app/metrics"
	"artifactapi/app/upstream"
	"artifactapi/db"
)

// Component is one backend's state for /health and /ready.
type Component struct {
	Backend string `json:"backend"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

// Deps are the collaborators of the handlers.
type Deps struct {
	Config   func() *config.Config // the current config (reloadable)
	Engine   *cache.Engine
	Upstream *upstream.Client
	Meta     db.Store
	Jobs     *jobs.Manager // batch cache jobs
	Admin    *Admin
	Log      *slog.Logger
	Metrics  *metrics.Metrics
	// Health checks each backend (metadata, blobs, coordination).
	Health  func(ctx context.Context) map[string]Component
	Version string
}

// Handler serves /api and the management routes.
type Handler struct {
	d      Deps
	bodies *httpserve.BodyCache
}

// New returns a Handler.
func New(d Deps) *Handler {
	// Small artifacts (indexes, checksums, signatures) are the hottest: up
	// to 16 MiB of those up to 64 KiB are served from memory.
	return &Handler{d: d, bodies: httpserve.NewBodyCache(64<<10, 16<<20)}
}

// Admin checks the admin credential: Bearer, or Basic with any user name.
type Admin struct{ token, peer []byte }

// NewAdmin returns a checker for token.
func NewAdmin(token string) *Admin {
	return &Admin{token: []byte(token), peer: []byte(cache.PeerToken(token))}
}

// MatchPeer checks a replica credential (derived from the admin token).
func (a *Admin) MatchPeer(got string) bool {
	return len(a.token) > 0 && subtle.ConstantTimeCompare([]byte(got), a.peer) == 1
}

// Allowed reports whether the request carries the admin credential.
func (a *Admin) Allowed(c *fiber.Ctx) bool {
	auth := c.Get(fiber.HeaderAuthorization)
	var got string
	switch {
	case len(auth) > 7 && strings.EqualFold(auth[:7], "bearer "):
		got = strings.TrimSpace(auth[7:])
	case len(auth) > 6 && strings.EqualFold(auth[:6], "basic "):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(auth[6:]))
		if err != nil {
			return false
		}
		if i := strings.IndexByte(string(raw), ':'); i >= 0 {
			got = string(raw[i+1:])
		}
	default:
		return false
	}
	return a.Match(got)
}

// Match compares a presented token in constant time.
func (a *Admin) Match(got string) bool {
	return len(a.token) > 0 && subtle.ConstantTimeCompare([]byte(got), a.token) == 1
}

// RequireAdmin is middleware refusing requests without the admin credential.
func (a *Admin) RequireAdmin(c *fiber.Ctx) error {
	if !a.Allowed(c) {
		return Unauthorized(c)
	}
	return c.Next()
}

// Unauthorized answers 401 with the auth challenge.
func Unauthorized(c *fiber.Ctx) error {
	c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="artifactapi", Basic realm="artifactapi"`)
	return c.Status(http.StatusUnauthorized).JSON(fiber.Map{"error": "admin credential required"})
}

// httpError is an error with the status and message a client sees.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// Fail returns an error the mapper turns into status + {"error": msg}.
func Fail(status int, msg string) error { return &httpError{status: status, msg: msg} }

// writeError is the one mapper from errors to the JSON error body.
func writeError(c *fiber.Ctx, err error, remote, p string) (int, error) {
	status, msg := http.StatusInternalServerError, "internal error"
	var he *httpError
	var pe *config.PathError
	switch {
	case errors.As(err, &he):
		status, msg = he.status, he.msg
	case errors.As(err, &pe):
		status, msg = http.StatusBadRequest, pe.Error()
	case errors.Is(err, db.ErrNotFound):
		status, msg = http.StatusNotFound, "not found"
	case errors.Is(err, context.DeadlineExceeded):
		status, msg = http.StatusGatewayTimeout, "timed out"
	default:
		status, msg = cache.StatusOf(err), cache.PublicMessage(err)
	}
	body := fiber.Map{"error": msg}
	if remote != "" {
		body["remote"] = remote
	}
	if p != "" {
		body["path"] = p
	}
	return status, c.Status(status).JSON(body)
}

// ErrorHandler is Fiber's error handler for the JSON surfaces.
func ErrorHandler(c *fiber.Ctx, err error) error {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return c.Status(fe.Code).JSON(fiber.Map{"error": fe.Message})
	}
	_, werr := writeError(c, err, "", "")
	return werr
}
