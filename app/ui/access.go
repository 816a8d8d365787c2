package ui

import (
	"context"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/auth"
	"artifactapi/app/config"
	"artifactapi/views"
)

// Access is what the dashboard needs of the authenticator.
type Access interface {
	// Basic checks a user name and secret (password, API token, or
	// ADMIN_TOKEN with any name).
	Basic(ctx context.Context, user, secret string) (*auth.Principal, error)
	StartSession(ctx context.Context, p *auth.Principal, ttl time.Duration, addr string) (string, error)
	Session(ctx context.Context, id string) (*auth.Principal, error)
	EndSession(ctx context.Context, id string) error
}

var _ Access = (*auth.Authenticator)(nil)

// principalKey is the Locals key of the signed-in principal.
type principalKey struct{}

// principalOf is the request's signed-in principal (nil before sign-in).
func principalOf(c *fiber.Ctx) *auth.Principal {
	p, _ := c.Locals(principalKey{}).(*auth.Principal)
	return p
}

// need refuses a request whose principal may not do action on the remote
// of the route (:remote), of the query (?remote=), or on none (global).
func (h *Handler) need(action string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		cfg := h.d.Config()
		var r *config.Remote
		name := c.Params("remote")
		if name == "" {
			name = c.Query("remote")
		}
		if name != "" {
			if r = cfg.Remotes.Remotes[name]; r == nil {
				return fail(http.StatusNotFound, "There is no repository with this name.")
			}
		}
		if !auth.Allowed(principalOf(c), action, r) {
			what := "this page"
			if r != nil {
				what = r.Name
			}
			return fail(http.StatusForbidden, "Your account lacks the "+action+" permission for "+what+".")
		}
		return c.Next()
	}
}

// record writes an audit entry for the signed-in principal.
func (h *Handler) record(c *fiber.Ctx, ev auth.Event) {
	h.d.Audit.Record(c.UserContext(), principalOf(c), c.IP(), ev)
}

// writable keeps the remotes the principal may upload to.
func writable(list []views.NavRemote, cfg *config.Config, p *auth.Principal) []views.NavRemote {
	var out []views.NavRemote
	for _, n := range list {
		if auth.Allowed(p, auth.Write, cfg.Remotes.Remotes[n.Name]) {
			out = append(out, n)
		}
	}
	return out
}
