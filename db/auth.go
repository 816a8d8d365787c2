package db

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrExists is returned when creating a row whose key is already taken.
var ErrExists = errors.New("db: already exists")

// Token owner kinds.
const (
	OwnerUser    = "user"
	OwnerService = "service"
)

// User is a person (or robot) who signs in with a password.
type User struct {
	Name         string
	PasswordHash string   // argon2id, PHC string; never the password
	Scopes       []string // e.g. "read", "write:local-*"
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Token is an API token. Only the sha256 of its secret is stored.
type Token struct {
	ID        string
	Name      string
	Owner     string // a user name (OwnerUser) or a service name (OwnerService)
	OwnerKind string
	Hash      string // sha256 of the secret, hex
	Scopes    []string
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
	LastUsed  time.Time // zero: never used
	RevokedAt time.Time // zero: not revoked
}

// Session is a dashboard sign-in. IDHash is the sha256 of the cookie's id.
type Session struct {
	IDHash    string
	Principal string // user name, token owner or "admin"
	Kind      string // the principal's kind (see app/auth)
	TokenID   string // the token signed in with, if any
	Address   string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AuditEntry is one recorded mutation or sign-in. It never holds a secret.
type AuditEntry struct {
	ID        int64
	At        time.Time
	Actor     string // principal name ("" for anonymous)
	ActorKind string
	TokenID   string // the token used, if any (its id, never its secret)
	Action    string // e.g. "artifact.upload", "login"
	Remote    string
	Target    string // a path, a job id, a user or token name…
	Count     int64  // items affected (bulk evictions)
	Address   string // client address
	Outcome   string // "ok", "denied", "failed"…
	Detail    string
}

// AuditQuery selects audit entries, newest first. Empty fields match all.
type AuditQuery struct {
	Actor, Action, Remote, Outcome string
	Since, Until                   time.Time // zero: unbounded; Until is exclusive
	Before                         int64     // only entries with ID < Before (paging); 0: from the newest
	Limit                          int       // 1..MaxAuditLimit; 0: DefaultAuditLimit
}

// DefaultAuditLimit and MaxAuditLimit bound ListAudit.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// AuthStore keeps users, API tokens, dashboard sessions and the audit log.
type AuthStore interface {
	// CreateUser stores u, or returns ErrExists.
	CreateUser(ctx context.Context, u User) error
	// GetUser returns the user or ErrNotFound.
	GetUser(ctx context.Context, name string) (User, error)
	// ListUsers returns every user by name.
	ListUsers(ctx context.Context) ([]User, error)
	// UpdateUser replaces password hash, scopes and disabled flag of an
	// existing user (UpdatedAt is set), or returns ErrNotFound.
	UpdateUser(ctx context.Context, u User) error
	// DeleteUser removes the user, its tokens and sessions, or returns ErrNotFound.
	DeleteUser(ctx context.Context, name string) error

	// CreateToken stores t, or returns ErrExists (same id or hash).
	CreateToken(ctx context.Context, t Token) error
	// TokenByHash returns the token (revoked or not) or ErrNotFound.
	TokenByHash(ctx context.Context, hash string) (Token, error)
	// GetToken returns the token or ErrNotFound.
	GetToken(ctx context.Context, id string) (Token, error)
	// ListTokens returns the tokens of owner ("" = all), oldest first.
	ListTokens(ctx context.Context, owner string) ([]Token, error)
	// RevokeToken marks the token revoked at at (kept once set), or returns ErrNotFound.
	RevokeToken(ctx context.Context, id string, at time.Time) error
	// TouchToken moves LastUsed forward to at (never back).
	TouchToken(ctx context.Context, id string, at time.Time) error

	// CreateSession stores s, or returns ErrExists.
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the session or ErrNotFound (expired ones included).
	GetSession(ctx context.Context, idHash string) (Session, error)
	// DeleteSession removes the session or returns ErrNotFound.
	DeleteSession(ctx context.Context, idHash string) error
	// DeleteSessionsOf removes every session of principal, returning how many.
	DeleteSessionsOf(ctx context.Context, principal string) (int, error)
	// DeleteSessionsExpiredBefore removes sessions that expired before t.
	DeleteSessionsExpiredBefore(ctx context.Context, t time.Time) (int, error)

	// AppendAudit records e (ID and, when zero, At are set by the store).
	AppendAudit(ctx context.Context, e AuditEntry) error
	// ListAudit returns entries matching q, newest (highest ID) first.
	ListAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// DeleteAuditBefore removes entries recorded before t, returning how many.
	DeleteAuditBefore(ctx context.Context, t time.Time) (int, error)
}

// joinScopes is the stored form of a scope list.
func joinScopes(s []string) string { return strings.Join(s, " ") }

// splitScopes reads the stored form (never nil).
func splitScopes(s string) []string {
	f := strings.Fields(s)
	if f == nil {
		return []string{}
	}
	return f
}

// auditLimit normalises a ListAudit limit.
func auditLimit(limit int) int {
	switch {
	case limit <= 0:
		return DefaultAuditLimit
	case limit > MaxAuditLimit:
		return MaxAuditLimit
	}
	return limit
}

// nowOr returns t, or the current time when t is zero.
func nowOr(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// auditWhere builds the WHERE clause of ListAudit with the dialect's
// placeholder (ph(1) is the first) and time conversion.
func auditWhere(q AuditQuery, ph func(int) string, tm func(time.Time) any) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, ph(len(args))))
	}
	for _, f := range []struct{ col, v string }{{"actor", q.Actor}, {"action", q.Action}, {"remote", q.Remote}, {"outcome", q.Outcome}} {
		if f.v != "" {
			add(f.col+" = %s", f.v)
		}
	}
	if !q.Since.IsZero() {
		add("at >= %s", tm(q.Since))
	}
	if !q.Until.IsZero() {
		add("at < %s", tm(q.Until))
	}
	if q.Before > 0 {
		add("id < %s", q.Before)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}
