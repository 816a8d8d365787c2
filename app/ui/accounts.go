package ui

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/auth"
	"artifactapi/db"
)

// Accounts changes users and tokens; *auth.Authenticator implements it
// (it ends sessions and drops cached credentials on every replica).
type Accounts interface {
	CreateUser(ctx context.Context, name, password string, scopes []string) (db.User, error)
	UpdateUser(ctx context.Context, name string, ch auth.UserChange) (db.User, error)
	DeleteUser(ctx context.Context, name string) error
	CreateToken(ctx context.Context, r auth.TokenRequest) (string, db.Token, error)
	RevokeToken(ctx context.Context, id string) (db.Token, error)
}

// Directory lists users, tokens and the audit log; the metadata store
// implements it.
type Directory interface {
	ListUsers(ctx context.Context) ([]db.User, error)
	ListTokens(ctx context.Context, owner string) ([]db.Token, error)
	ListAudit(ctx context.Context, q db.AuditQuery) ([]db.AuditEntry, error)
}

var (
	_ Accounts  = (*auth.Authenticator)(nil)
	_ Directory = (db.AuthStore)(nil)
)

// mountAccess adds the users, tokens and audit screens: global admins only.
// (Per route: a group's middleware would also run for the 404s after it.)
func (h *Handler) mountAccess(g fiber.Router) {
	admin := func(hs ...fiber.Handler) []fiber.Handler {
		return append([]fiber.Handler{h.need(auth.Admin), h.requireAccounts}, hs...)
	}
	g.Get("/users", admin(h.UsersPage)...)
	g.Post("/users", admin(h.CreateUser)...)
	g.Post("/users/:name/password", admin(h.SetPassword)...)
	g.Post("/users/:name/disable", admin(h.setDisabled(true))...)
	g.Post("/users/:name/enable", admin(h.setDisabled(false))...)
	g.Post("/users/:name/delete", admin(h.DeleteUser)...)
	g.Get("/tokens", admin(h.TokensPage)...)
	g.Post("/tokens", admin(h.CreateToken)...)
	g.Post("/tokens/:id/revoke", admin(h.RevokeToken)...)
	g.Get("/audit", admin(h.AuditPage)...)
}

// requireAccounts answers 503 where users and tokens are not kept.
func (h *Handler) requireAccounts(c *fiber.Ctx) error {
	if h.d.Accounts == nil || h.d.Directory == nil {
		return fail(http.StatusServiceUnavailable, "Users, tokens and the audit log are not available on this instance.")
	}
	return c.Next()
}

// displayName names the signed-in principal in the top bar.
func displayName(p *auth.Principal) string {
	switch {
	case p == nil:
		return ""
	case p.Kind == auth.KindToken:
		return p.Name + " (token " + p.Token + ")"
	}
	return p.Name
}

// splitScopes reads a scopes field: separated by spaces or commas.
func splitScopes(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
}

// invalidMessage is the message of a change the operator must fix, or "".
func invalidMessage(err error) string {
	var inv *auth.InvalidError
	if errors.As(err, &inv) {
		return inv.Msg
	}
	return ""
}

// outcome is how an account change ends in the audit log.
func outcome(err error) string {
	if err == nil {
		return auth.OutcomeOK
	}
	return auth.OutcomeFailed
}

// done answers a successful change: the swapped part for htmx (render), a
// redirect to the screen otherwise (so that reloading repeats nothing).
func (h *Handler) done(c *fiber.Ctx, screen string, render func() error) error {
	if isHTMX(c) {
		return render()
	}
	return c.Redirect(screen, http.StatusSeeOther)
}
