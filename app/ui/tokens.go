package ui

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"artifactapi/app/auth"
	"artifactapi/db"
	"artifactapi/views"
)

// tokenState is a token's state at now: active, expired or revoked.
func tokenState(t db.Token, now time.Time) string {
	switch {
	case !t.RevokedAt.IsZero():
		return "revoked"
	case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
		return "expired"
	}
	return "active"
}

// tokensProps reads the tokens (newest first) and the user names.
func (h *Handler) tokensProps(c *fiber.Ctx) (views.TokensProps, error) {
	p := views.TokensProps{Chrome: h.chrome(c, "API tokens", "tokens")}
	ctx := c.UserContext()
	tokens, err := h.d.Directory.ListTokens(ctx, "")
	if err != nil {
		return p, err
	}
	users, err := h.d.Directory.ListUsers(ctx)
	if err != nil {
		return p, err
	}
	for _, u := range users {
		p.Users = append(p.Users, u.Name)
	}
	now := h.d.Now()
	for _, t := range slices.Backward(tokens) {
		v := views.TokenView{ID: t.ID, Name: t.Name, Owner: t.Owner, OwnerKind: t.OwnerKind, Scopes: t.Scopes,
			CreatedAt: views.When(t.CreatedAt), ExpiresAt: "never", LastUsed: "never", State: tokenState(t, now)}
		if !t.ExpiresAt.IsZero() {
			v.ExpiresAt = views.When(t.ExpiresAt)
		}
		if !t.LastUsed.IsZero() {
			v.LastUsed = views.When(t.LastUsed)
		}
		p.Tokens = append(p.Tokens, v)
	}
	return p, nil
}

// TokensPage lists the API tokens under the form creating one. The secret
// of a token is never shown here: only in the answer to its creation.
func (h *Handler) TokensPage(c *fiber.Ctx) error {
	p, err := h.tokensProps(c)
	if err != nil {
		return err
	}
	return h.render(c, views.TokensPage(p), nil)
}

// CreateToken creates a token from the form and shows its secret once:
// the answer is rendered (not redirected to), and never cached.
func (h *Handler) CreateToken(c *fiber.Ctx) error {
	form := views.TokenForm{Name: strings.TrimSpace(strings.Clone(c.FormValue("name"))),
		Owner: strings.TrimSpace(strings.Clone(c.FormValue("owner"))), OwnerKind: strings.Clone(c.FormValue("owner_kind")),
		Scopes: strings.Clone(c.FormValue("scopes")), Expires: strings.Clone(c.FormValue("expires"))}
	req := auth.TokenRequest{Name: form.Name, Owner: form.Owner, OwnerKind: form.OwnerKind, Scopes: splitScopes(form.Scopes)}
	var (
		secret string
		t      db.Token
		err    error
	)
	if form.Expires != "" {
		d, perr := time.ParseDuration(form.Expires)
		if perr != nil || d <= 0 {
			err = &auth.InvalidError{Msg: "expires: choose one of the offered lifetimes"}
		}
		req.ExpiresAt = h.d.Now().Add(d)
	}
	if err == nil {
		secret, t, err = h.d.Accounts.CreateToken(c.UserContext(), req)
	}
	h.record(c, auth.Event{Action: auth.ActTokenCreate, Target: form.Owner + "/" + form.Name, Outcome: outcome(err),
		Detail: "dashboard; id " + t.ID + " scopes " + strings.Join(req.Scopes, " ")})
	if msg := invalidMessage(err); msg != "" {
		p, perr := h.tokensProps(c)
		if perr != nil {
			return perr
		}
		p.Form, p.Error = form, msg
		c.Status(http.StatusBadRequest)
		return h.render(c, views.TokensPage(p), views.TokensScreen(p))
	}
	if err != nil {
		return err
	}
	p, err := h.tokensProps(c)
	if err != nil {
		return err
	}
	p.Created = &views.CreatedToken{ID: t.ID, Name: t.Name, Owner: t.Owner, Secret: secret}
	c.Status(http.StatusCreated)
	return h.render(c, views.TokensPage(p), views.TokensScreen(p))
}

// RevokeToken revokes a token: refused at once on this replica and on the
// others as soon as the invalidation arrives.
func (h *Handler) RevokeToken(c *fiber.Ctx) error {
	id := utils.CopyString(c.Params("id"))
	t, err := h.d.Accounts.RevokeToken(c.UserContext(), id)
	h.record(c, auth.Event{Action: auth.ActTokenRevoke, Target: t.Owner + "/" + t.Name, Outcome: outcome(err), Detail: "dashboard; id " + id})
	if errors.Is(err, db.ErrNotFound) {
		return fail(http.StatusNotFound, "There is no token with this id.")
	}
	if err != nil {
		return err
	}
	return h.done(c, "/ui/tokens", func() error {
		p, err := h.tokensProps(c)
		if err != nil {
			return err
		}
		p.Notice = "Token " + t.Name + " of " + t.Owner + " revoked."
		return h.write(c, views.TokensScreen(p))
	})
}
