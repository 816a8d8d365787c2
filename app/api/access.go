package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"artifactapi/app/auth"
	"artifactapi/db"
)

// userJSON is a user on the wire (never its password hash).
type userJSON struct {
	Name      string    `json:"name"`
	Scopes    []string  `json:"scopes"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toUserJSON(u db.User) userJSON {
	return userJSON{Name: u.Name, Scopes: nonNilScopes(u.Scopes), Disabled: u.Disabled, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

// tokenJSON is an API token on the wire (never its secret nor its hash).
type tokenJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Owner     string     `json:"owner"`
	OwnerKind string     `json:"owner_kind"`
	Scopes    []string   `json:"scopes"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	LastUsed  *time.Time `json:"last_used"`
	RevokedAt *time.Time `json:"revoked_at"`
	Revoked   bool       `json:"revoked"`
}

func toTokenJSON(t db.Token) tokenJSON {
	return tokenJSON{ID: t.ID, Name: t.Name, Owner: t.Owner, OwnerKind: t.OwnerKind, Scopes: nonNilScopes(t.Scopes),
		CreatedAt: t.CreatedAt, ExpiresAt: optTime(t.ExpiresAt), LastUsed: optTime(t.LastUsed), RevokedAt: optTime(t.RevokedAt),
		Revoked: !t.RevokedAt.IsZero()}
}

func nonNilScopes(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// decodeStrict reads a JSON body with known fields only.
func decodeStrict(c *fiber.Ctx, v any) error {
	if err := requireJSON(c); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(c.Request().Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Fail(http.StatusBadRequest, "invalid JSON body: "+err.Error())
	}
	return nil
}

// accessError maps the errors of user and token management.
func accessError(err error) error {
	var inv *auth.InvalidError
	switch {
	case errors.As(err, &inv):
		return Fail(http.StatusBadRequest, inv.Msg)
	case errors.Is(err, db.ErrNotFound):
		return Fail(http.StatusNotFound, "not found")
	}
	return err
}

// Whoami answers GET /whoami: the caller's principal and scopes.
func (h *Handler) Whoami(c *fiber.Ctx) error {
	p, err := h.d.Admin.Principal(c)
	if err != nil {
		return err
	}
	if p == nil {
		return c.JSON(fiber.Map{"authenticated": false, "kind": "anonymous", "scopes": []string{}})
	}
	out := fiber.Map{"authenticated": true, "kind": p.Kind, "name": p.Name, "scopes": auth.FormatScopes(p.Scopes)}
	if p.TokenID != "" {
		out["token_id"], out["token_name"] = p.TokenID, p.Token
	}
	return c.JSON(out)
}

// Users answers GET /admin/users.
func (h *Handler) Users(c *fiber.Ctx) error {
	list, err := h.d.Access.ListUsers(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]userJSON, len(list))
	for i, u := range list {
		out[i] = toUserJSON(u)
	}
	return c.JSON(fiber.Map{"users": out})
}

// CreateUser answers POST /admin/users {"name", "password", "scopes"}.
func (h *Handler) CreateUser(c *fiber.Ctx) error {
	var req struct {
		Name     string   `json:"name"`
		Password string   `json:"password"`
		Scopes   []string `json:"scopes"`
	}
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	who, _ := h.d.Admin.Principal(c)
	u, err := h.d.Auth.CreateUser(c.UserContext(), req.Name, req.Password, req.Scopes)
	h.d.Admin.Record(c, who, auth.Event{Action: auth.ActUserCreate, Target: req.Name, Outcome: outcome(accessError(err)),
		Detail: "scopes " + joinScopes(req.Scopes)})
	if err != nil {
		return accessError(err)
	}
	c.Set(fiber.HeaderLocation, "/admin/users/"+u.Name)
	return c.Status(http.StatusCreated).JSON(toUserJSON(u))
}

// UpdateUser answers PATCH /admin/users/{name} {"password"?, "scopes"?,
// "disabled"?}. A new password or disabling ends the user's sessions on
// every replica.
func (h *Handler) UpdateUser(c *fiber.Ctx) error {
	name := utils.CopyString(c.Params("name"))
	var req struct {
		Password *string   `json:"password"`
		Scopes   *[]string `json:"scopes"`
		Disabled *bool     `json:"disabled"`
	}
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	who, _ := h.d.Admin.Principal(c)
	u, err := h.d.Auth.UpdateUser(c.UserContext(), name, auth.UserChange{Password: req.Password, Scopes: req.Scopes, Disabled: req.Disabled})
	var what []string
	if req.Password != nil {
		what = append(what, "password") // that it changed, never what to
	}
	if req.Scopes != nil {
		what = append(what, "scopes "+joinScopes(*req.Scopes))
	}
	if req.Disabled != nil {
		what = append(what, "disabled "+strconv.FormatBool(*req.Disabled))
	}
	h.d.Admin.Record(c, who, auth.Event{Action: auth.ActUserUpdate, Target: name, Outcome: outcome(accessError(err)), Detail: joinScopes(what)})
	if err != nil {
		return accessError(err)
	}
	return c.JSON(toUserJSON(u))
}

// DeleteUser answers DELETE /admin/users/{name}: its tokens and sessions go too.
func (h *Handler) DeleteUser(c *fiber.Ctx) error {
	name := utils.CopyString(c.Params("name"))
	who, _ := h.d.Admin.Principal(c)
	err := h.d.Auth.DeleteUser(c.UserContext(), name)
	h.d.Admin.Record(c, who, auth.Event{Action: auth.ActUserDelete, Target: name, Outcome: outcome(accessError(err))})
	if err != nil {
		return accessError(err)
	}
	return c.JSON(fiber.Map{"name": name, "deleted": true})
}

// Tokens answers GET /admin/tokens (?owner=).
func (h *Handler) Tokens(c *fiber.Ctx) error {
	list, err := h.d.Access.ListTokens(c.UserContext(), c.Query("owner"))
	if err != nil {
		return err
	}
	out := make([]tokenJSON, len(list))
	for i, t := range list {
		out[i] = toTokenJSON(t)
	}
	return c.JSON(fiber.Map{"tokens": out})
}

// CreateToken answers POST /admin/tokens {"name", "owner", "owner_kind",
// "scopes", "expires_at" | "expires_in"}: the secret is in the answer's
// "token", once; it is never shown again.
func (h *Handler) CreateToken(c *fiber.Ctx) error {
	var req struct {
		Name      string    `json:"name"`
		Owner     string    `json:"owner"`
		OwnerKind string    `json:"owner_kind"`
		Scopes    []string  `json:"scopes"`
		ExpiresAt time.Time `json:"expires_at"`
		ExpiresIn string    `json:"expires_in"` // a Go duration, e.g. "720h"
	}
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 || !req.ExpiresAt.IsZero() {
			return Fail(http.StatusBadRequest, "expires_in: a positive duration like 720h, not with expires_at")
		}
		req.ExpiresAt = time.Now().Add(d)
	}
	who, _ := h.d.Admin.Principal(c)
	secret, t, err := h.d.Auth.CreateToken(c.UserContext(), auth.TokenRequest{Name: req.Name, Owner: req.Owner,
		OwnerKind: req.OwnerKind, Scopes: req.Scopes, ExpiresAt: req.ExpiresAt})
	h.d.Admin.Record(c, who, auth.Event{Action: auth.ActTokenCreate, Target: req.Owner + "/" + req.Name,
		Outcome: outcome(accessError(err)), Detail: "id " + t.ID + " scopes " + joinScopes(req.Scopes)})
	if err != nil {
		return accessError(err)
	}
	return c.Status(http.StatusCreated).JSON(struct {
		tokenJSON
		Token string `json:"token"`
	}{toTokenJSON(t), secret})
}

// RevokeToken answers DELETE /admin/tokens/{id}: refused on this replica at
// once and on every other as soon as the invalidation arrives.
func (h *Handler) RevokeToken(c *fiber.Ctx) error {
	id := utils.CopyString(c.Params("id"))
	who, _ := h.d.Admin.Principal(c)
	t, err := h.d.Auth.RevokeToken(c.UserContext(), id)
	h.d.Admin.Record(c, who, auth.Event{Action: auth.ActTokenRevoke, Target: t.Owner + "/" + t.Name, Outcome: outcome(accessError(err)), Detail: "id " + id})
	if err != nil {
		return accessError(err)
	}
	return c.JSON(toTokenJSON(t))
}

// Audit answers GET /audit: entries newest first, filtered by actor,
// action, remote, outcome, since and until (RFC 3339), paged with limit
// and before (the next_before of the previous page).
func (h *Handler) Audit(c *fiber.Ctx) error {
	q := db.AuditQuery{Actor: c.Query("actor"), Action: c.Query("action"), Remote: c.Query("remote"), Outcome: c.Query("outcome")}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if v := c.Query(f.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return Fail(http.StatusBadRequest, f.name+": an RFC 3339 time like 2026-01-02T15:04:05Z")
			}
			*f.dst = t
		}
	}
	for _, f := range []struct {
		name string
		max  int64
		set  func(int64)
	}{{"limit", db.MaxAuditLimit, func(n int64) { q.Limit = int(n) }}, {"before", 1 << 62, func(n int64) { q.Before = n }}} {
		if v := c.Query(f.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 || n > f.max {
				return Fail(http.StatusBadRequest, f.name+": an integer from 1 to "+strconv.FormatInt(f.max, 10))
			}
			f.set(n)
		}
	}
	list, err := h.d.Access.ListAudit(c.UserContext(), q)
	if err != nil {
		return err
	}
	out := fiber.Map{"entries": auditJSON(list)}
	limit := q.Limit
	if limit == 0 {
		limit = db.DefaultAuditLimit
	}
	if len(list) == limit {
		out["next_before"] = list[limit-1].ID
	}
	return c.JSON(out)
}

// auditJSON is the audit log on the wire.
func auditJSON(list []db.AuditEntry) []fiber.Map {
	out := make([]fiber.Map, len(list))
	for i, e := range list {
		out[i] = fiber.Map{"id": e.ID, "at": e.At, "actor": e.Actor, "actor_kind": e.ActorKind, "token_id": e.TokenID,
			"action": e.Action, "remote": e.Remote, "target": e.Target, "count": e.Count, "address": e.Address,
			"outcome": e.Outcome, "detail": e.Detail}
	}
	return out
}

func joinScopes(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x)
	}
	return b.String()
}
