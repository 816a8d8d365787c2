package ui

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"artifactapi/app/auth"
	"artifactapi/db"
	"artifactapi/views"
)

// usersProps reads the users and counts their live tokens.
func (h *Handler) usersProps(c *fiber.Ctx) (views.UsersProps, error) {
	p := views.UsersProps{Chrome: h.chrome(c, "Users", "users")}
	ctx := c.UserContext()
	users, err := h.d.Directory.ListUsers(ctx)
	if err != nil {
		return p, err
	}
	tokens, err := h.d.Directory.ListTokens(ctx, "")
	if err != nil {
		return p, err
	}
	now := h.d.Now()
	live := map[string]int{}
	for _, t := range tokens {
		if t.OwnerKind == db.OwnerUser && tokenState(t, now) == "active" {
			live[t.Owner]++
		}
	}
	me := principalOf(c)
	for _, u := range users {
		p.Users = append(p.Users, views.UserView{Name: u.Name, Scopes: u.Scopes, Disabled: u.Disabled,
			CreatedAt: views.When(u.CreatedAt), UpdatedAt: views.When(u.UpdatedAt), Tokens: live[u.Name],
			Self: me != nil && me.Kind == auth.KindUser && me.Name == u.Name})
	}
	return p, nil
}

// UsersPage lists the users under the form creating one.
func (h *Handler) UsersPage(c *fiber.Ctx) error {
	p, err := h.usersProps(c)
	if err != nil {
		return err
	}
	return h.render(c, views.UsersPage(p), nil)
}

// usersAnswer shows the screen after a change: notice on success, the
// error in the form (with what was typed) when the change was refused.
func (h *Handler) usersAnswer(c *fiber.Ctx, notice, problem string, form views.UserForm) error {
	p, err := h.usersProps(c)
	if err != nil {
		return err
	}
	p.Notice, p.Error, p.Form = notice, problem, form
	if problem != "" {
		c.Status(http.StatusBadRequest)
		return h.render(c, views.UsersPage(p), views.UsersScreen(p))
	}
	return h.done(c, "/ui/users", func() error { return h.write(c, views.UsersScreen(p)) })
}

// CreateUser creates a user from the form (name, password, scopes).
func (h *Handler) CreateUser(c *fiber.Ctx) error {
	name := strings.TrimSpace(strings.Clone(c.FormValue("name")))
	scopesText := strings.Clone(c.FormValue("scopes"))
	scopes := splitScopes(scopesText)
	_, err := h.d.Accounts.CreateUser(c.UserContext(), name, c.FormValue("password"), scopes)
	h.record(c, auth.Event{Action: auth.ActUserCreate, Target: name, Outcome: outcome(err),
		Detail: "dashboard; scopes " + strings.Join(scopes, " ")})
	if msg := invalidMessage(err); msg != "" {
		return h.usersAnswer(c, "", msg, views.UserForm{Name: name, Scopes: scopesText})
	}
	if err != nil {
		return err
	}
	return h.usersAnswer(c, "User "+name+" created.", "", views.UserForm{})
}

// SetPassword gives a user a new password: its sessions end on every replica.
func (h *Handler) SetPassword(c *fiber.Ctx) error {
	name := utils.CopyString(c.Params("name"))
	pw := strings.Clone(c.FormValue("password"))
	return h.changeUser(c, name, auth.UserChange{Password: &pw}, "password",
		"Password of "+name+" changed; its sessions ended.")
}

// setDisabled disables (ending its sessions) or enables a user.
func (h *Handler) setDisabled(disabled bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		name := utils.CopyString(c.Params("name"))
		if disabled && h.isSelf(c, name) {
			return fail(http.StatusBadRequest, "You cannot disable the account you are signed in with.")
		}
		notice, detail := "User "+name+" enabled.", "disabled false"
		if disabled {
			notice, detail = "User "+name+" disabled; its sessions ended and its tokens stopped working.", "disabled true"
		}
		return h.changeUser(c, name, auth.UserChange{Disabled: &disabled}, detail, notice)
	}
}

// changeUser applies ch to name, records it and answers.
func (h *Handler) changeUser(c *fiber.Ctx, name string, ch auth.UserChange, detail, notice string) error {
	_, err := h.d.Accounts.UpdateUser(c.UserContext(), name, ch)
	h.record(c, auth.Event{Action: auth.ActUserUpdate, Target: name, Outcome: outcome(err), Detail: "dashboard; " + detail})
	if errors.Is(err, db.ErrNotFound) {
		return fail(http.StatusNotFound, "There is no user "+name+".")
	}
	if msg := invalidMessage(err); msg != "" {
		return h.usersAnswer(c, "", name+": "+msg, views.UserForm{})
	}
	if err != nil {
		return err
	}
	return h.usersAnswer(c, notice, "", views.UserForm{})
}

// DeleteUser removes a user with its tokens and sessions.
func (h *Handler) DeleteUser(c *fiber.Ctx) error {
	name := utils.CopyString(c.Params("name"))
	if h.isSelf(c, name) {
		return fail(http.StatusBadRequest, "You cannot delete the account you are signed in with.")
	}
	err := h.d.Accounts.DeleteUser(c.UserContext(), name)
	h.record(c, auth.Event{Action: auth.ActUserDelete, Target: name, Outcome: outcome(err), Detail: "dashboard"})
	if errors.Is(err, db.ErrNotFound) {
		return fail(http.StatusNotFound, "There is no user "+name+".")
	}
	if err != nil {
		return err
	}
	return h.usersAnswer(c, "User "+name+" deleted with its tokens and sessions.", "", views.UserForm{})
}

// isSelf reports whether name is the signed-in user.
func (h *Handler) isSelf(c *fiber.Ctx, name string) bool {
	p := principalOf(c)
	return p != nil && p.Kind == auth.KindUser && p.Name == name
}
