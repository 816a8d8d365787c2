// Package api holds the Fiber handlers for /api (artifacts) and the JSON
// management routes, with one error mapper to the JSON error body.
package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/auth"
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
	// Policies runs cleanup policies; nil: /api/policies answers 503.
	Policies Policies
	Admin    *Admin
	Auth     *auth.Authenticator // users, tokens, sessions
	Access   db.AuthStore        // lists users, tokens and the audit log
	Log      *slog.Logger
	Metrics  *metrics.Metrics
	// Health checks each backend (metadata, blobs, coordination).
	Health  func(ctx context.Context) map[string]Component
	Version string
	// Stats is each remote's upstream health and traffic, Prober its
	// connection test; nil: not shown.
	Stats  Stats
	Prober Prober
}

// Handler serves /api and the management routes.
type Handler struct {
	d      Deps
	bodies *httpserve.BodyCache
	// rewrites keeps rewritten package metadata (keyed by remote, client
	// base URL, document and the stored bytes' sha256).
	rewrites *httpserve.BodyCache
}

// New returns a Handler.
func New(d Deps) *Handler {
	// Small artifacts (indexes, checksums, signatures) are the hottest: up
	// to 16 MiB of those up to 64 KiB are served from memory.
	return &Handler{d: d, bodies: httpserve.NewBodyCache(64<<10, 16<<20), rewrites: httpserve.NewBodyCache(16<<20, 64<<20)}
}

// Admin authenticates requests and checks their access: ADMIN_TOKEN, API
// tokens and user passwords (Bearer, or Basic), through one authenticator.
// Wrong credentials count against the client's address (see Throttle).
type Admin struct {
	auth    *auth.Authenticator
	peer    []byte
	guesses *Throttle
	audit   *auth.Auditor
}

// NewAdmin returns a checker on a; guesses may be nil (no throttling),
// audit may be nil (nothing recorded).
func NewAdmin(a *auth.Authenticator, adminToken string, guesses *Throttle, audit *auth.Auditor) *Admin {
	return &Admin{auth: a, peer: []byte(cache.PeerToken(adminToken)), guesses: guesses, audit: audit}
}

// MatchPeer checks a replica credential (derived from the admin token):
// it is not a user credential, and no user credential is one.
func (a *Admin) MatchPeer(got string) bool {
	return len(a.peer) > 0 && got != "" && subtle.ConstantTimeCompare([]byte(got), a.peer) == 1
}

// principalKey is the Locals key of a request's resolved principal.
type principalKey struct{}

// Principal authenticates the request once (the result is kept in the
// request's locals): nil for a request without credentials. A wrong
// credential is 401; an address that presented too many is 429 with
// Retry-After, right credential or not, or guessing would go on — except
// for a right API or registry token, which cannot have been guessed.
func (a *Admin) Principal(c *fiber.Ctx) (*auth.Principal, error) {
	if v, ok := c.Locals(principalKey{}).(*auth.Principal); ok {
		return v, nil
	}
	hdr := c.Get(fiber.HeaderAuthorization)
	if hdr == "" {
		return nil, nil
	}
	ip := c.IP()
	if auth.Unguessable(hdr) {
		// Checked first: a CI running many parallel downloads with a right
		// token must not exhaust its address's budget while the checks are
		// in flight (at a cache expiry they all are). A wrong one counts.
		p, err := a.auth.Authorization(c.UserContext(), hdr)
		if errors.Is(err, auth.ErrUnauthorized) {
			if wait := a.guesses.Take(ip); wait > 0 {
				return nil, TooManyGuesses(wait)
			}
		}
		if err != nil {
			return nil, a.credentialError(err)
		}
		c.Locals(principalKey{}, p)
		return p, nil
	}
	if wait := a.guesses.Take(ip); wait > 0 {
		return nil, TooManyGuesses(wait)
	}
	p, err := a.auth.Authorization(c.UserContext(), hdr)
	if err != nil {
		return nil, a.credentialError(err)
	}
	a.guesses.Refund(ip)
	c.Locals(principalKey{}, p)
	return p, nil
}

// credentialError maps an error of the authenticator to the client's.
func (a *Admin) credentialError(err error) error {
	var te *auth.ThrottledError
	switch {
	case errors.As(err, &te):
		return &httpError{status: http.StatusTooManyRequests, msg: "too many failed sign-ins for this user; retry later", retryAfter: te.Wait}
	case errors.Is(err, auth.ErrUnauthorized):
		return errBadCredential
	}
	return &httpError{status: http.StatusServiceUnavailable, msg: "credentials cannot be checked now (metadata store unavailable)"}
}

// Authorize returns the request's principal when it may do action on r
// (nil: an action concerning no remote, which needs a global scope). Else
// 401 (no or a wrong credential) or 403 (a credential without the scope).
func (a *Admin) Authorize(c *fiber.Ctx, action string, r *config.Remote) (*auth.Principal, error) {
	p, err := a.Principal(c)
	if err != nil {
		return nil, err
	}
	if auth.Allowed(p, action, r) {
		return p, nil
	}
	if p == nil {
		return nil, errUnauthorized
	}
	return p, Fail(http.StatusForbidden, "this credential lacks the "+action+" scope"+forRemote(r))
}

func forRemote(r *config.Remote) string {
	if r == nil {
		return ""
	}
	return " for remote " + r.Name
}

// Require returns nil when the request carries a credential with the global
// admin scope (ADMIN_TOKEN, or a user or token granted "admin").
func (a *Admin) Require(c *fiber.Ctx) error {
	_, err := a.Authorize(c, auth.Admin, nil)
	return err
}

// Match reports whether got is ADMIN_TOKEN (constant time).
func (a *Admin) Match(got string) bool { return a.auth.IsAdminToken(got) }

// RequireAdmin is middleware refusing requests without the global admin scope.
func (a *Admin) RequireAdmin(c *fiber.Ctx) error {
	if err := a.Require(c); err != nil {
		return err
	}
	return c.Next()
}

// Record writes an audit entry for the request's principal and address.
func (a *Admin) Record(c *fiber.Ctx, p *auth.Principal, ev auth.Event) {
	a.audit.Record(c.UserContext(), p, c.IP(), ev)
}

// outcome is the audit outcome of an error of Authorize or of the operation.
func outcome(err error) string {
	var he *httpError
	switch {
	case err == nil:
		return auth.OutcomeOK
	case errors.As(err, &he) && (he.status == http.StatusUnauthorized || he.status == http.StatusForbidden || he.status == http.StatusTooManyRequests):
		return auth.OutcomeDenied
	}
	return auth.OutcomeFailed
}

// StatusOf is the HTTP status of an error of Principal or Authorize (500
// for others), with the Retry-After of a 429.
func StatusOf(err error) (int, time.Duration) {
	var he *httpError
	if errors.As(err, &he) {
		return he.status, he.retryAfter
	}
	return http.StatusInternalServerError, 0
}

// errBadCredential is the answer to a wrong, expired or revoked credential.
var errBadCredential = &httpError{status: http.StatusUnauthorized, msg: "invalid credentials"}

// errUnauthorized is the answer to a missing or wrong admin credential.
var errUnauthorized = &httpError{status: http.StatusUnauthorized, msg: "credentials required"}

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
	status, msg := errorStatus(c, err)
	body := fiber.Map{"error": msg}
	if remote != "" {
		body["remote"] = remote
	}
	if p != "" {
		body["path"] = p
	}
	return status, c.Status(status).JSON(body)
}

// errorStatus maps an error to the status and message a client sees, and
// sets the headers that go with them (Retry-After, WWW-Authenticate).
func errorStatus(c *fiber.Ctx, err error) (int, string) {
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
	return status, msg
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
