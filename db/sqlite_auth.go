package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

var _ AuthStore = (*SQLite)(nil)

// sqliteUnique translates a unique violation into ErrExists.
func sqliteUnique(err error) error {
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed") {
		return fmt.Errorf("%w (%w)", ErrExists, err)
	}
	return err
}

// sqliteNoRows translates sql.ErrNoRows into ErrNotFound.
func sqliteNoRows(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w (%w)", ErrNotFound, err)
	}
	return err
}

// sqliteAffected returns ErrNotFound when res changed no row.
func sqliteAffected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		return ErrNotFound
	}
	return err
}

// CreateUser implements AuthStore.
func (s *SQLite) CreateUser(ctx context.Context, u User) error {
	at := sqliteTime(nowOr(u.CreatedAt))
	_, err := s.w.ExecContext(ctx, `INSERT INTO users (name, password_hash, scopes, disabled, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)`, u.Name, u.PasswordHash, joinScopes(u.Scopes), u.Disabled, at, at)
	if err != nil {
		return fmt.Errorf("db: create user %s: %w", u.Name, sqliteUnique(err))
	}
	return nil
}

const sqliteUserColumns = `name, password_hash, scopes, disabled, created_at, updated_at`

func scanSQLiteUser(row scanner) (User, error) {
	var u User
	var scopes string
	var created, updated int64
	if err := row.Scan(&u.Name, &u.PasswordHash, &scopes, &u.Disabled, &created, &updated); err != nil {
		return u, sqliteNoRows(err)
	}
	u.Scopes, u.CreatedAt, u.UpdatedAt = splitScopes(scopes), fromSQLiteTime(created), fromSQLiteTime(updated)
	return u, nil
}

// GetUser implements AuthStore.
func (s *SQLite) GetUser(ctx context.Context, name string) (User, error) {
	u, err := scanSQLiteUser(s.r.QueryRowContext(ctx, `SELECT `+sqliteUserColumns+` FROM users WHERE name = ?`, name))
	if err != nil {
		return u, fmt.Errorf("db: get user %s: %w", name, err)
	}
	return u, nil
}

// ListUsers implements AuthStore.
func (s *SQLite) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+sqliteUserColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("db: list users: %w", err)
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		u, err := scanSQLiteUser(rows)
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
func (s *SQLite) UpdateUser(ctx context.Context, u User) error {
	err := sqliteAffected(s.w.ExecContext(ctx, `UPDATE users SET password_hash = ?, scopes = ?, disabled = ?, updated_at = ?
		WHERE name = ?`, u.PasswordHash, joinScopes(u.Scopes), u.Disabled, sqliteTime(nowOr(u.UpdatedAt)), u.Name))
	if err != nil {
		return fmt.Errorf("db: update user %s: %w", u.Name, err)
	}
	return nil
}

// DeleteUser implements AuthStore: the user's tokens and sessions go with it.
func (s *SQLite) DeleteUser(ctx context.Context, name string) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("db: delete user %s: %w", name, err)
		}
	}()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if err := sqliteAffected(tx.ExecContext(ctx, `DELETE FROM users WHERE name = ?`, name)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM api_tokens WHERE owner = ? AND owner_kind = 'user'`, name); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE principal = ?`, name); err != nil {
		return err
	}
	return tx.Commit()
}

// CreateToken implements AuthStore.
func (s *SQLite) CreateToken(ctx context.Context, t Token) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO api_tokens (id, name, owner, owner_kind, hash, scopes, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, t.ID, t.Name, t.Owner, t.OwnerKind, t.Hash, joinScopes(t.Scopes),
		sqliteTime(nowOr(t.CreatedAt)), sqliteExpiry(t.ExpiresAt))
	if err != nil {
		return fmt.Errorf("db: create token %s: %w", t.ID, sqliteUnique(err))
	}
	return nil
}

const sqliteTokenColumns = pgTokenColumns

func scanSQLiteToken(row scanner) (Token, error) {
	var t Token
	var scopes string
	var created int64
	var exp, used, revoked sql.NullInt64
	if err := row.Scan(&t.ID, &t.Name, &t.Owner, &t.OwnerKind, &t.Hash, &scopes, &created, &exp, &used, &revoked); err != nil {
		return t, sqliteNoRows(err)
	}
	t.Scopes, t.CreatedAt = splitScopes(scopes), fromSQLiteTime(created)
	t.ExpiresAt, t.LastUsed, t.RevokedAt = sqliteOptTime(exp), sqliteOptTime(used), sqliteOptTime(revoked)
	return t, nil
}

// TokenByHash implements AuthStore.
func (s *SQLite) TokenByHash(ctx context.Context, hash string) (Token, error) {
	t, err := scanSQLiteToken(s.r.QueryRowContext(ctx, `SELECT `+sqliteTokenColumns+` FROM api_tokens WHERE hash = ?`, hash))
	if err != nil {
		return t, fmt.Errorf("db: token by hash: %w", err)
	}
	return t, nil
}

// GetToken implements AuthStore.
func (s *SQLite) GetToken(ctx context.Context, id string) (Token, error) {
	t, err := scanSQLiteToken(s.r.QueryRowContext(ctx, `SELECT `+sqliteTokenColumns+` FROM api_tokens WHERE id = ?`, id))
	if err != nil {
		return t, fmt.Errorf("db: get token %s: %w", id, err)
	}
	return t, nil
}

// ListTokens implements AuthStore.
func (s *SQLite) ListTokens(ctx context.Context, owner string) ([]Token, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+sqliteTokenColumns+` FROM api_tokens WHERE ? = '' OR owner = ?
		ORDER BY created_at, id`, owner, owner)
	if err != nil {
		return nil, fmt.Errorf("db: list tokens: %w", err)
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		t, err := scanSQLiteToken(rows)
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
func (s *SQLite) RevokeToken(ctx context.Context, id string, at time.Time) error {
	err := sqliteAffected(s.w.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`,
		sqliteTime(nowOr(at)), id))
	if err != nil {
		return fmt.Errorf("db: revoke token %s: %w", id, err)
	}
	return nil
}

// TouchToken implements AuthStore.
func (s *SQLite) TouchToken(ctx context.Context, id string, at time.Time) error {
	n := sqliteTime(at)
	_, err := s.w.ExecContext(ctx, `UPDATE api_tokens SET last_used = max(COALESCE(last_used, ?), ?) WHERE id = ?`, n, n, id)
	if err != nil {
		return fmt.Errorf("db: touch token %s: %w", id, err)
	}
	return nil
}

// CreateSession implements AuthStore.
func (s *SQLite) CreateSession(ctx context.Context, se Session) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO sessions (id_hash, principal, kind, token_id, address, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, se.IDHash, se.Principal, se.Kind, se.TokenID, se.Address,
		sqliteTime(nowOr(se.CreatedAt)), sqliteTime(se.ExpiresAt))
	if err != nil {
		return fmt.Errorf("db: create session: %w", sqliteUnique(err))
	}
	return nil
}

// GetSession implements AuthStore.
func (s *SQLite) GetSession(ctx context.Context, idHash string) (Session, error) {
	var se Session
	var created, expires int64
	err := s.r.QueryRowContext(ctx, `SELECT id_hash, principal, kind, token_id, address, created_at, expires_at
		FROM sessions WHERE id_hash = ?`, idHash).Scan(&se.IDHash, &se.Principal, &se.Kind, &se.TokenID, &se.Address, &created, &expires)
	if err != nil {
		return se, fmt.Errorf("db: get session: %w", sqliteNoRows(err))
	}
	se.CreatedAt, se.ExpiresAt = fromSQLiteTime(created), fromSQLiteTime(expires)
	return se, nil
}

// DeleteSession implements AuthStore.
func (s *SQLite) DeleteSession(ctx context.Context, idHash string) error {
	if err := sqliteAffected(s.w.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash)); err != nil {
		return fmt.Errorf("db: delete session: %w", err)
	}
	return nil
}

// sqliteCount runs a statement and returns the rows it changed.
func (s *SQLite) sqliteCount(ctx context.Context, what, query string, args ...any) (int, error) {
	res, err := s.w.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("db: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("db: %s: %w", what, err)
	}
	return int(n), nil
}

// DeleteSessionsOf implements AuthStore.
func (s *SQLite) DeleteSessionsOf(ctx context.Context, principal string) (int, error) {
	return s.sqliteCount(ctx, "delete sessions of "+principal, `DELETE FROM sessions WHERE principal = ?`, principal)
}

// DeleteSessionsExpiredBefore implements AuthStore.
func (s *SQLite) DeleteSessionsExpiredBefore(ctx context.Context, t time.Time) (int, error) {
	return s.sqliteCount(ctx, "delete expired sessions", `DELETE FROM sessions WHERE expires_at < ?`, sqliteTime(t))
}

// AppendAudit implements AuthStore.
func (s *SQLite) AppendAudit(ctx context.Context, e AuditEntry) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO audit_log (at, actor, actor_kind, token_id, action, remote, target, count, address, outcome, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, sqliteTime(nowOr(e.At)), e.Actor, e.ActorKind, e.TokenID,
		e.Action, e.Remote, e.Target, e.Count, e.Address, e.Outcome, e.Detail)
	if err != nil {
		return fmt.Errorf("db: append audit %s: %w", e.Action, err)
	}
	return nil
}

// ListAudit implements AuthStore.
func (s *SQLite) ListAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	where, args := auditWhere(q, func(int) string { return "?" }, func(t time.Time) any { return sqliteTime(t) })
	rows, err := s.r.QueryContext(ctx, `SELECT id, at, actor, actor_kind, token_id, action, remote, target, count, address, outcome, detail
		FROM audit_log`+where+` ORDER BY id DESC LIMIT `+fmt.Sprint(auditLimit(q.Limit)), args...)
	if err != nil {
		return nil, fmt.Errorf("db: list audit: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.ActorKind, &e.TokenID, &e.Action, &e.Remote, &e.Target,
			&e.Count, &e.Address, &e.Outcome, &e.Detail); err != nil {
			return nil, fmt.Errorf("db: list audit: %w", err)
		}
		e.At = fromSQLiteTime(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: list audit: %w", err)
	}
	return out, nil
}

// DeleteAuditBefore implements AuthStore.
func (s *SQLite) DeleteAuditBefore(ctx context.Context, t time.Time) (int, error) {
	return s.sqliteCount(ctx, "delete audit entries", `DELETE FROM audit_log WHERE at < ?`, sqliteTime(t))
}
