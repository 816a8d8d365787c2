package auth

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"artifactapi/db"
)

// registryTokenPrefix starts the bearer tokens /v2/token issues.
const registryTokenPrefix = "v2t."

// RegistryTokenTTL is the lifetime of a /v2/token bearer token.
const RegistryTokenTTL = 5 * time.Minute

// registryClaims are what a registry token carries: who, until when. The
// principal's scopes are looked up (cached) when the token is used, so a
// revocation or scope change applies to tokens already issued.
type registryClaims struct {
	Kind    string   `json:"k,omitempty"` // "" for anonymous
	Name    string   `json:"n,omitempty"`
	TokenID string   `json:"t,omitempty"`
	Scopes  []string `json:"s,omitempty"` // informative
	Expires int64    `json:"e"`
}

// IssueRegistryToken returns a signed bearer token for p (nil: anonymous)
// valid for RegistryTokenTTL.
func (a *Authenticator) IssueRegistryToken(p *Principal) (token string, ttl time.Duration) {
	c := registryClaims{Expires: a.o.Now().Add(RegistryTokenTTL).Unix()}
	if p != nil {
		c.Kind, c.Name, c.TokenID, c.Scopes = p.Kind, p.Name, p.TokenID, FormatScopes(p.Scopes)
	}
	b, _ := json.Marshal(c)
	body := registryTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return body + "." + mac(a.tokenKey, body), RegistryTokenTTL
}

// registryToken verifies a token of IssueRegistryToken and returns its
// current principal (nil for an anonymous token).
func (a *Authenticator) registryToken(ctx context.Context, tok string) (*Principal, error) {
	i := strings.LastIndexByte(tok, '.')
	if i < len(registryTokenPrefix) {
		return nil, ErrUnauthorized
	}
	body, sig := tok[:i], tok[i+1:]
	if !hmac.Equal([]byte(sig), []byte(mac(a.tokenKey, body))) {
		return nil, ErrUnauthorized
	}
	raw, err := base64.RawURLEncoding.DecodeString(body[len(registryTokenPrefix):])
	if err != nil {
		return nil, ErrUnauthorized
	}
	var c registryClaims
	if err := json.Unmarshal(raw, &c); err != nil || !a.o.Now().Before(time.Unix(c.Expires, 0)) {
		return nil, ErrUnauthorized
	}
	if c.Kind == "" {
		return nil, nil
	}
	return a.resolve(ctx, c.Kind, c.Name, c.TokenID)
}

// StartSession records a dashboard session for p and returns its id (the
// cookie's secret; only its hash is stored).
func (a *Authenticator) StartSession(ctx context.Context, p *Principal, ttl time.Duration, addr string) (string, error) {
	if p == nil {
		return "", ErrUnauthorized
	}
	id := randomID(32)
	now := a.o.Now()
	s := db.Session{IDHash: HashToken(id), Principal: p.Name, Kind: p.Kind, TokenID: p.TokenID, Address: addr,
		CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := a.o.Store.CreateSession(ctx, s); err != nil {
		return "", fmt.Errorf("auth: start session: %w", err)
	}
	return id, nil
}

// Session returns the principal of a live session (cached), or
// ErrUnauthorized when it ended, expired, or its user or token is gone.
func (a *Authenticator) Session(ctx context.Context, id string) (*Principal, error) {
	if id == "" {
		return nil, ErrUnauthorized
	}
	hash := HashToken(id)
	key := "s:" + hash
	if p, ok := a.cache.get(key); ok {
		return p, nil
	}
	s, err := a.o.Store.GetSession(ctx, hash)
	if errors.Is(err, db.ErrNotFound) {
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("auth: look up session: %w", err)
	}
	if !a.o.Now().Before(s.ExpiresAt) {
		return nil, ErrUnauthorized
	}
	p, err := a.resolve(ctx, s.Kind, s.Principal, s.TokenID)
	if err != nil {
		return nil, err
	}
	user := ""
	if s.Kind != KindAdmin {
		user = s.Principal
	}
	a.cache.put(key, cached{p: p, user: user, tokenID: s.TokenID, session: hash})
	return p, nil
}

// EndSession ends one session on every replica.
func (a *Authenticator) EndSession(ctx context.Context, id string) error {
	hash := HashToken(id)
	err := a.o.Store.DeleteSession(ctx, hash)
	a.invalidate(ctx, "session:"+hash)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return fmt.Errorf("auth: end session: %w", err)
	}
	return nil
}

// EndSessionsOf ends every session of a user on every replica.
func (a *Authenticator) EndSessionsOf(ctx context.Context, user string) (int, error) {
	n, err := a.o.Store.DeleteSessionsOf(ctx, user)
	a.invalidate(ctx, "user:"+user)
	if err != nil {
		return 0, fmt.Errorf("auth: end sessions of %s: %w", user, err)
	}
	return n, nil
}
