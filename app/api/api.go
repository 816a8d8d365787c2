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
	"strconv"
	"strings"
	"time"

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
// Wrong credentials count against the client's address (see Throttle).
type Admin struct {
	token, peer []byte
	guesses     *Throttle
}

// NewAdmin returns a checker for token; guesses may be nil (no throttling).
func NewAdmin(token string, guesses *Throttle) *Admin {
	return &Admin{token: []byte(token), peer: []byte(cache.PeerToken(token)), guesses: guesses}
}

// MatchPeer checks a replica credential (derived from the admin token).
func (a *Admin) MatchPeer(got string) bool {
	return len(a.token) > 0 && subtle.ConstantTimeCompare([]byte(got), a.peer) == 1
}

// presented returns the token of the Authorization header; ok is false when
// the request carries no admin-style credential at all.
func presented(c *fiber.Ctx) (got string, ok bool) {
	auth := c.Get(fiber.HeaderAuthorization)
	switch {
	case len(auth) > 7 && strings.EqualFold(auth[:7], "bearer "):
		return strings.TrimSpace(auth[7:]), true
	case len(auth) > 6 && strings.EqualFold(auth[:6], "basic "):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(auth[6:]))
		if err != nil {
			return "", true
		}
		if i := strings.IndexByte(string(raw), ':'); i >= 0 {
			return string(raw[i+1:]), true
		}
		return "", true
	case auth != "":
		return "", true
	}
	return "", false
}

// Require returns nil when the request carries the admin credential, else
// the error to answer: 401 with the challenge, or 429 with Retry-After while
// the client's address has presented too many wrong credentials (even a
// right one is then refused, or guessing would go on).
func (a *Admin) Require(c *fiber.Ctx) error {
	got, ok := presented(c)
	if !ok {
		return errUnauthorized
	}
	ip := c.IP()
	if wait := a.guesses.Take(ip); wait > 0 {
		return TooManyGuesses(wait)
	}
	if !a.Match(got) {
		return errUnauthorized
	}
	a.guesses.Refund(ip)
	return nil
}

// Match compares a presented token in constant time.
func (a *Admin) Match(got string) bool {
	return len(a.token) > 0 && subtle.ConstantTimeCompare([]byte(got), a.token) == 1
}

// RequireAdmin is middleware refusing requests without the admin credential.
func (a *Admin) RequireAdmin(c *fiber.Ctx) error {
	if err := a.Require(c); err != nil {
		return err
	}
	return c.Next()
}

// errUnauthorized is the answer to a missing or wrong admin credential.
var errUnauthorized = &httpError{status: http.StatusUnauthorized, msg: "admin credential required"}

// TooManyGuesses is the answer to an address that failed too often: 429
// with Retry-After (whole seconds, rounded up).
func TooManyGuesses(wait time.Duration) error {
	return &httpError{status: http.StatusTooManyRequests, msg: "too many wrong credentials from this address; retry later", retryAfter: wait}
}

// RetryAfter is a Retry-After value: whole seconds, rounded up.
func RetryAfter(wait time.Duration) string {
	return strconv.FormatInt(int64((wait+time.Second-1)/time.Second), 10)
}

// challenge is the WWW-Authenticate value of every 401.
const challenge = `Bearer realm="artifactapi", Basic realm="artifactapi"`

// httpError is an error with the status and message a client sees.
type httpError struct {
	status     int
	msg        string
	retryAfter time.Duration // sent as Retry-After when set
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
		if he.retryAfter > 0 {
			c.Set(fiber.HeaderRetryAfter, RetryAfter(he.retryAfter))
		}
		if status == http.StatusUnauthorized {
			c.Set(fiber.HeaderWWWAuthenticate, challenge)
		}
	case errors.As(err, &pe):
		status, msg = http.StatusBadRequest, pe.Error()
	case errors.Is(err, db.ErrNotFound):
		status, msg = http.StatusNotFound, "not found"
	case errors.As(err, new(*cache.Error)):
		// The engine's own status first: its cause may wrap a deadline.
		status, msg = cache.StatusOf(err), cache.PublicMessage(err)
		if ra := cache.RetryAfterOf(err); ra != "" {
			c.Set(fiber.HeaderRetryAfter, ra)
		}
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
