package auth

import (
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"time"

	"artifactapi/db"
)

// InvalidError is a management request the caller must fix (400).
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

func invalid(format string, args ...any) error {
	return &InvalidError{Msg: fmt.Sprintf(format, args...)}
}

// nameRE is what user, service and token names may be.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 12

// UserChange is a change to a user; nil fields stay as they are.
type UserChange struct {
	Password *string
	Scopes   *[]string
	Disabled *bool
}

// CreateUser adds a user with a password and scopes.
func (a *Authenticator) CreateUser(ctx context.Context, name, password string, scopes []string) (db.User, error) {
	if !nameRE.MatchString(name) || name == "admin" {
		return db.User{}, invalid("user name %q: 1 to 64 letters, digits, '.', '_', '@' or '-' (and not \"admin\")", name)
	}
	if len(password) < MinPasswordLength {
		return db.User{}, invalid("password: at least %d characters", MinPasswordLength)
	}
	sc, err := ParseScopes(scopes)
	if err != nil {
		return db.User{}, invalid("%v", err)
	}
	now := a.o.Now()
	u := db.User{Name: name, PasswordHash: HashPassword(password), Scopes: FormatScopes(sc), CreatedAt: now, UpdatedAt: now}
	if err := a.o.Store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, db.ErrExists) {
			return db.User{}, invalid("user %q already exists", name)
		}
		return db.User{}, fmt.Errorf("auth: create user: %w", err)
	}
	return u, nil
}

// UpdateUser applies ch. A new password or disabling ends the user's
// sessions; every change reaches the caches of every replica at once.
func (a *Authenticator) UpdateUser(ctx context.Context, name string, ch UserChange) (db.User, error) {
	u, err := a.o.Store.GetUser(ctx, name)
	if err != nil {
		return u, fmt.Errorf("auth: update user: %w", err)
	}
	endSessions := false
	if ch.Password != nil {
		if len(*ch.Password) < MinPasswordLength {
			return u, invalid("password: at least %d characters", MinPasswordLength)
		}
		u.PasswordHash, endSessions = HashPassword(*ch.Password), true
	}
	if ch.Scopes != nil {
		sc, err := ParseScopes(*ch.Scopes)
		if err != nil {
			return u, invalid("%v", err)
		}
		u.Scopes = FormatScopes(sc)
	}
	if ch.Disabled != nil {
		u.Disabled = *ch.Disabled
		endSessions = endSessions || u.Disabled
	}
	u.UpdatedAt = a.o.Now()
	if err := a.o.Store.UpdateUser(ctx, u); err != nil {
		return u, fmt.Errorf("auth: update user: %w", err)
	}
	if endSessions {
		if _, err := a.EndSessionsOf(ctx, name); err != nil {
			return u, err
		}
	} else {
		a.invalidate(ctx, "user:"+name)
	}
	return u, nil
}

// DeleteUser removes a user with its tokens and sessions, everywhere at once.
func (a *Authenticator) DeleteUser(ctx context.Context, name string) error {
	err := a.o.Store.DeleteUser(ctx, name)
	a.invalidate(ctx, "user:"+name)
	if err != nil {
		return fmt.Errorf("auth: delete user: %w", err)
	}
	return nil
}

// TokenRequest asks for a new API token.
type TokenRequest struct {
	Name      string
	Owner     string // a user name, or a service name
	OwnerKind string // db.OwnerUser (default) or db.OwnerService
	Scopes    []string
	ExpiresAt time.Time // zero: never
}

// CreateToken creates an API token and returns its secret, which is shown
// once and never stored. A user's token gets no scope the user lacks.
func (a *Authenticator) CreateToken(ctx context.Context, r TokenRequest) (string, db.Token, error) {
	if r.OwnerKind == "" {
		r.OwnerKind = db.OwnerUser
	}
	if !nameRE.MatchString(r.Name) {
		return "", db.Token{}, invalid("token name %q: 1 to 64 letters, digits, '.', '_', '@' or '-'", r.Name)
	}
	if !nameRE.MatchString(r.Owner) {
		return "", db.Token{}, invalid("owner %q: 1 to 64 letters, digits, '.', '_', '@' or '-'", r.Owner)
	}
	sc, err := ParseScopes(r.Scopes)
	if err != nil {
		return "", db.Token{}, invalid("%v", err)
	}
	if len(sc) == 0 {
		return "", db.Token{}, invalid("scopes: at least one (read, write, delete or admin, optionally :remote-glob)")
	}
	now := a.o.Now()
	if !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(now) {
		return "", db.Token{}, invalid("expires_at: must be in the future")
	}
	switch r.OwnerKind {
	case db.OwnerService:
	case db.OwnerUser:
		u, err := a.o.Store.GetUser(ctx, r.Owner)
		if errors.Is(err, db.ErrNotFound) {
			return "", db.Token{}, invalid("owner: no user %q (use owner_kind \"service\" for a robot)", r.Owner)
		}
		if err != nil {
			return "", db.Token{}, fmt.Errorf("auth: create token: %w", err)
		}
		up, err := userPrincipal(u)
		if err != nil {
			return "", db.Token{}, err
		}
		for _, s := range sc {
			if !up.hasScope(s) {
				return "", db.Token{}, invalid("scope %q: the user %q does not have it", s, r.Owner)
			}
		}
	default:
		return "", db.Token{}, invalid("owner_kind: user or service")
	}
	secret, hash := NewToken()
	t := db.Token{ID: randomID(8), Name: r.Name, Owner: r.Owner, OwnerKind: r.OwnerKind, Hash: hash,
		Scopes: FormatScopes(sc), CreatedAt: now, ExpiresAt: r.ExpiresAt}
	if err := a.o.Store.CreateToken(ctx, t); err != nil {
		return "", db.Token{}, fmt.Errorf("auth: create token: %w", err)
	}
	return secret, t, nil
}

// hasScope reports whether p holds a scope covering s: the same action (or
// admin) on every remote, on the same glob, or on a glob matching the
// remote s names.
func (p *Principal) hasScope(s Scope) bool {
	for _, mine := range p.Scopes {
		if mine.Action != s.Action && mine.Action != Admin {
			continue
		}
		if mine.Remotes == "" || mine.Remotes == s.Remotes {
			return true
		}
		if ok, _ := path.Match(mine.Remotes, s.Remotes); ok && s.Remotes != "" {
			return true
		}
	}
	return false
}

// RevokeToken revokes a token: refused by this replica when RevokeToken
// returns, and by the others as soon as the message arrives (within
// AUTH_CACHE_TTL if it is lost).
func (a *Authenticator) RevokeToken(ctx context.Context, id string) (db.Token, error) {
	if err := a.o.Store.RevokeToken(ctx, id, a.o.Now()); err != nil {
		return db.Token{}, fmt.Errorf("auth: revoke token: %w", err)
	}
	a.invalidate(ctx, "token:"+id)
	t, err := a.o.Store.GetToken(ctx, id)
	if err != nil {
		return t, fmt.Errorf("auth: revoke token: %w", err)
	}
	return t, nil
}
