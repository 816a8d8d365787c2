package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

var _ AuthStore = (*Postgres)(nil)

// pgUnique translates a unique violation into ErrExists.
func pgUnique(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("%w (%w)", ErrExists, err)
	}
	return err
}

// pgNoRows translates pgx.ErrNoRows into ErrNotFound.
func pgNoRows(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w (%w)", ErrNotFound, err)
	}
	return err
}

// pgAffected returns ErrNotFound when tag changed no row.
func pgAffected(tag pgconn.CommandTag, err error) error {
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// CreateUser implements AuthStore.
func (p *Postgres) CreateUser(ctx context.Context, u User) error {
	_, err := p.pool.Exec(ctx, `INSERT INTO users (name, password_hash, scopes, disabled, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5)`, u.Name, u.PasswordHash, joinScopes(u.Scopes), u.Disabled, pgTime(nowOr(u.CreatedAt)))
	if err != nil {
		return fmt.Errorf("db: create user %s: %w", u.Name, pgUnique(err))
	}
	return nil
}

const pgUserColumns = `name, password_hash, scopes, disabled, created_at, updated_at`

func scanPGUser(row pgx.Row) (User, error) {
	var u User
	var scopes string
	if err := row.Scan(&u.Name, &u.PasswordHash, &scopes, &u.Disabled, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return u, pgNoRows(err)
	}
	u.Scopes, u.CreatedAt, u.UpdatedAt = splitScopes(scopes), u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u, nil
}

// GetUser implements AuthStore.
func (p *Postgres) GetUser(ctx context.Context, name string) (User, error) {
	u, err := scanPGUser(p.pool.QueryRow(ctx, `SELECT `+pgUserColumns+` FROM users WHERE name = $1`, name))
	if err != nil {
		return u, fmt.Errorf("db: get user %s: %w", name, err)
	}
	return u, nil
}

// ListUsers implements AuthStore.
func (p *Postgres) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := p.pool.Query(ctx, `SELECT `+pgUserColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("db: list users: %w", err)
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		u, err := scanPGUser(rows)
		if err != nil {
			return nil, fmt.Errorf("db: list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: list users: %w", err)
	}
	return out, nil
}

// UpdateUser implements AuthStore.
func (p *Postgres) UpdateUser(ctx context.Context, u User) error {
	err := pgAffected(p.pool.Exec(ctx, `UPDATE users SET password_hash = $2, scopes = $3, disabled = $4, updated_at = $5
		WHERE name = $1`, u.Name, u.PasswordHash, joinScopes(u.Scopes), u.Disabled, pgTime(nowOr(u.UpdatedAt))))
	if err != nil {
		return fmt.Errorf("db: update user %s: %w", u.Name, err)
	}
	return nil
}

// DeleteUser implements AuthStore: the user's tokens and sessions go with it.
func (p *Postgres) DeleteUser(ctx context.Context, name string) error {
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if err := pgAffected(tx.Exec(ctx, `DELETE FROM users WHERE name = $1`, name)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM api_tokens WHERE owner = $1 AND owner_kind = 'user'`, name); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM sessions WHERE principal = $1`, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("db: delete user %s: %w", name, err)
	}
	return nil
}

// CreateToken implements AuthStore.
func (p *Postgres) CreateToken(ctx context.Context, t Token) error {
	_, err := p.pool.Exec(ctx, `INSERT INTO api_tokens (id, name, owner, owner_kind, hash, scopes, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, t.ID, t.Name, t.Owner, t.OwnerKind, t.Hash, joinScopes(t.Scopes),
		pgTime(nowOr(t.CreatedAt)), pgExpiry(t.ExpiresAt))
	if err != nil {
		return fmt.Errorf("db: create token %s: %w", t.ID, pgUnique(err))
	}
	return nil
}

const pgTokenColumns = `id, name, owner, owner_kind, hash, scopes, created_at, expires_at, last_used, revoked_at`

func scanPGToken(row pgx.Row) (Token, error) {
	var t Token
	var scopes string
	var exp, used, revoked *time.Time
	if err := row.Scan(&t.ID, &t.Name, &t.Owner, &t.OwnerKind, &t.Hash, &scopes, &t.CreatedAt, &exp, &used, &revoked); err != nil {
		return t, pgNoRows(err)
	}
	t.Scopes, t.CreatedAt = splitScopes(scopes), t.CreatedAt.UTC()
	t.ExpiresAt, t.LastUsed, t.RevokedAt = pgOptTime(exp), pgOptTime(used), pgOptTime(revoked)
	return t, nil
}

// TokenByHash implements AuthStore.
func (p *Postgres) TokenByHash(ctx context.Context, hash string) (Token, error) {
	t, err := scanPGToken(p.pool.QueryRow(ctx, `SELECT `+pgTokenColumns+` FROM api_tokens WHERE hash = $1`, hash))
	if err != nil {
		return t, fmt.Errorf("db: token by hash: %w", err)
	}
	return t, nil
}

// GetToken implements AuthStore.
func (p *Postgres) GetToken(ctx context.Context, id string) (Token, error) {
	t, err := scanPGToken(p.pool.QueryRow(ctx, `SELECT `+pgTokenColumns+` FROM api_tokens WHERE id = $1`, id))
	if err != nil {
		return t, fmt.Errorf("db: get token %s: %w", id, err)
	}
	return t, nil
}

// ListTokens implements AuthStore.
func (p *Postgres) ListTokens(ctx context.Context, owner string) ([]Token, error) {
	rows, err := p.pool.Query(ctx, `SELECT `+pgTokenColumns+` FROM api_tokens WHERE $1 = '' OR owner = $1
		ORDER BY created_at, id`, owner)
	if err != nil {
		return nil, fmt.Errorf("db: list tokens: %w", err)
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		t, err := scanPGToken(rows)
		if err != nil {
			return nil, fmt.Errorf("db: list tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken implements AuthStore.
func (p *Postgres) RevokeToken(ctx context.Context, id string, at time.Time) error {
	err := pgAffected(p.pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`, id, pgTime(nowOr(at))))
	if err != nil {
		return fmt.Errorf("db: revoke token %s: %w", id, err)
	}
	return nil
}

// TouchToken implements AuthStore.
func (p *Postgres) TouchToken(ctx context.Context, id string, at time.Time) error {
	_, err := p.pool.Exec(ctx, `UPDATE api_tokens SET last_used = GREATEST(COALESCE(last_used, $2), $2) WHERE id = $1`, id, pgTime(at))
	if err != nil {
		return fmt.Errorf("db: touch token %s: %w", id, err)
	}
	return nil
}

// CreateSession implements AuthStore.
func (p *Postgres) CreateSession(ctx context.Context, s Session) error {
	_, err := p.pool.Exec(ctx, `INSERT INTO sessions (id_hash, principal, kind, token_id, address, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, s.IDHash, s.Principal, s.Kind, s.TokenID, s.Address, pgTime(nowOr(s.CreatedAt)), pgTime(s.ExpiresAt))
	if err != nil {
		return fmt.Errorf("db: create session: %w", pgUnique(err))
	}
	return nil
}

// GetSession implements AuthStore.
func (p *Postgres) GetSession(ctx context.Context, idHash string) (Session, error) {
	var s Session
	err := p.pool.QueryRow(ctx, `SELECT id_hash, principal, kind, token_id, address, created_at, expires_at
		FROM sessions WHERE id_hash = $1`, idHash).Scan(&s.IDHash, &s.Principal, &s.Kind, &s.TokenID, &s.Address, &s.CreatedAt, &s.ExpiresAt)
	if err != nil {
		return s, fmt.Errorf("db: get session: %w", pgNoRows(err))
	}
	s.CreatedAt, s.ExpiresAt = s.CreatedAt.UTC(), s.ExpiresAt.UTC()
	return s, nil
}

// DeleteSession implements AuthStore.
func (p *Postgres) DeleteSession(ctx context.Context, idHash string) error {
	if err := pgAffected(p.pool.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, idHash)); err != nil {
		return fmt.Errorf("db: delete session: %w", err)
	}
	return nil
}

// DeleteSessionsOf implements AuthStore.
func (p *Postgres) DeleteSessionsOf(ctx context.Context, principal string) (int, error) {
	tag, err := p.pool.Exec(ctx, `DELETE FROM sessions WHERE principal = $1`, principal)
	if err != nil {
		return 0, fmt.Errorf("db: delete sessions of %s: %w", principal, err)
	}
	return int(tag.RowsAffected()), nil
}

// DeleteSessionsExpiredBefore implements AuthStore.
func (p *Postgres) DeleteSessionsExpiredBefore(ctx context.Context, t time.Time) (int, error) {
	tag, err := p.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at < $1`, pgTime(t))
	if err != nil {
		return 0, fmt.Errorf("db: delete expired sessions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// AppendAudit implements AuthStore.
func (p *Postgres) AppendAudit(ctx context.Context, e AuditEntry) error {
	_, err := p.pool.Exec(ctx, `INSERT INTO audit_log (at, actor, actor_kind, token_id, action, remote, target, count, address, outcome, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, pgTime(nowOr(e.At)), e.Actor, e.ActorKind, e.TokenID,
		e.Action, e.Remote, e.Target, e.Count, e.Address, e.Outcome, e.Detail)
	if err != nil {
		return fmt.Errorf("db: append audit %s: %w", e.Action, err)
	}
	return nil
}

// ListAudit implements AuthStore.
func (p *Postgres) ListAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	where, args := auditWhere(q, func(n int) string { return fmt.Sprintf("$%d", n) }, func(t time.Time) any { return pgTime(t) })
	rows, err := p.pool.Query(ctx, `SELECT id, at, actor, actor_kind, token_id, action, remote, target, count, address, outcome, detail
		FROM audit_log`+where+` ORDER BY id DESC LIMIT `+fmt.Sprint(auditLimit(q.Limit)), args...)
	if err != nil {
		return nil, fmt.Errorf("db: list audit: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.ActorKind, &e.TokenID, &e.Action, &e.Remote, &e.Target,
			&e.Count, &e.Address, &e.Outcome, &e.Detail); err != nil {
			return nil, fmt.Errorf("db: list audit: %w", err)
		}
		e.At = e.At.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: list audit: %w", err)
	}
	return out, nil
}

// DeleteAuditBefore implements AuthStore.
func (p *Postgres) DeleteAuditBefore(ctx context.Context, t time.Time) (int, error) {
	tag, err := p.pool.Exec(ctx, `DELETE FROM audit_log WHERE at < $1`, pgTime(t))
	if err != nil {
		return 0, fmt.Errorf("db: delete audit entries: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
