package auth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"artifactapi/app/coord"
	"artifactapi/db"
)

// ErrUnauthorized is a credential that is wrong, expired, revoked or of a
// disabled user. Its cause is never shown to the client.
var ErrUnauthorized = errors.New("auth: invalid credentials")

// Topic is the coordination topic carrying invalidations ("user:NAME",
// "token:ID", "session:HASH") to every replica.
const Topic = "auth"

// Store is the part of the metadata store the authenticator uses.
type Store interface {
	db.AuthStore
}

// Options configures an Authenticator.
type Options struct {
	Store      Store
	Coord      coord.Coordinator // carries invalidations; may be nil (one replica)
	AdminToken string
	CacheTTL   time.Duration // how long a verified credential is trusted (0: never cached)
	Log        *slog.Logger
	Now        func() time.Time // default time.Now
	// Backoff slows password guessing per user name; nil: no back-off.
	Backoff *Backoff
}

// ThrottledError refuses a password attempt while its user name is backing
// off after failures (every replica agrees through the coordinator).
type ThrottledError struct{ Wait time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("auth: too many failed sign-ins for this user; retry in %s", e.Wait.Round(time.Second))
}

// Authenticator turns credentials into principals.
type Authenticator struct {
	o        Options
	admin    []byte
	cache    *verified
	cacheKey []byte // keys password cache entries (never the password itself)
	tokenKey []byte // signs registry bearer tokens

	listening chan struct{} // closed once Run has subscribed the first time
	once      sync.Once
}

// Listening is closed once invalidations from other replicas are received.
func (a *Authenticator) Listening() <-chan struct{} { return a.listening }

// New returns an Authenticator. Call Run to receive invalidations.
func New(o Options) *Authenticator {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Authenticator{o: o, admin: []byte(o.AdminToken), cache: newVerified(o.CacheTTL, o.Now),
		cacheKey: deriveKey(o.AdminToken, "cache/v1"), tokenKey: deriveKey(o.AdminToken, "registry-token/v1"),
		listening: make(chan struct{})}
}

// Run applies invalidations published by every replica until ctx ends.
// While not subscribed (Redis down), nothing is cached: every credential is
// checked against the database, so that no revocation can be missed.
func (a *Authenticator) Run(ctx context.Context) {
	if a.o.Coord == nil {
		return
	}
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		sub, err := a.o.Coord.Subscribe(ctx, Topic)
		if err != nil {
			a.cache.setTrusted(false)
			a.o.Log.Warn("auth: cannot receive revocations; verified credentials are not cached meanwhile", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, 5*time.Second)
			continue
		}
		wait = 100 * time.Millisecond
		// Whatever was cached before the subscription may have missed a message.
		a.cache.setTrusted(false)
		a.cache.setTrusted(true)
		a.once.Do(func() { close(a.listening) })
		a.listen(ctx, sub)
		a.cache.setTrusted(false)
		_ = sub.Close()
	}
}

func (a *Authenticator) listen(ctx context.Context, sub coord.Subscription) {
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-sub.C():
			if !ok {
				a.o.Log.Warn("auth: revocation messages stopped; verified credentials are not cached until they resume")
				return
			}
			a.cache.drop(msg)
		}
	}
}

// invalidate drops what msg names here at once, then tells the other replicas.
func (a *Authenticator) invalidate(ctx context.Context, msg string) {
	a.cache.drop(msg)
	if a.o.Coord == nil {
		return
	}
	if err := a.o.Coord.Publish(ctx, Topic, msg); err != nil {
		a.o.Log.Warn("auth: could not tell other replicas of a revocation; they notice within AUTH_CACHE_TTL", "err", err)
	}
}

// IsAdminToken compares s with ADMIN_TOKEN in constant time.
func (a *Authenticator) IsAdminToken(s string) bool {
	return len(a.admin) > 0 && subtle.ConstantTimeCompare([]byte(s), a.admin) == 1
}

// Authorization resolves an Authorization header value: "" is anonymous
// (nil, nil); a wrong credential is ErrUnauthorized.
func (a *Authenticator) Authorization(ctx context.Context, header string) (*Principal, error) {
	switch {
	case header == "":
		return nil, nil
	case len(header) > 7 && strings.EqualFold(header[:7], "bearer "):
		return a.Bearer(ctx, strings.TrimSpace(header[7:]))
	case len(header) > 6 && strings.EqualFold(header[:6], "basic "):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(header[6:]))
		if err != nil {
			return nil, ErrUnauthorized
		}
		user, secret, ok := strings.Cut(string(raw), ":")
		if !ok {
			return nil, ErrUnauthorized
		}
		return a.Basic(ctx, user, secret)
	}
	return nil, ErrUnauthorized
}

// Unguessable reports whether an Authorization header value carries an API
// token (Bearer, or the password of Basic) or a registry token: secrets of
// 256 random bits or signed, which no one guesses. Callers may check those
// before charging a guess to the client's address, so that many concurrent
// requests with a right one are never refused for the address's budget;
// ADMIN_TOKEN and passwords, which may be weak, are charged first.
func Unguessable(header string) bool {
	switch {
	case len(header) > 7 && strings.EqualFold(header[:7], "bearer "):
		s := strings.TrimSpace(header[7:])
		return strings.HasPrefix(s, TokenPrefix) || strings.HasPrefix(s, registryTokenPrefix)
	case len(header) > 6 && strings.EqualFold(header[:6], "basic "):
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(header[6:]))
		if err != nil {
			return false
		}
		_, secret, ok := strings.Cut(string(raw), ":")
		return ok && strings.HasPrefix(secret, TokenPrefix)
	}
	return false
}

// Bearer resolves a bearer credential: ADMIN_TOKEN, an API token or a
// registry token from /v2/token.
func (a *Authenticator) Bearer(ctx context.Context, secret string) (*Principal, error) {
	switch {
	case a.IsAdminToken(secret):
		return adminPrincipal(), nil
	case strings.HasPrefix(secret, TokenPrefix):
		return a.Token(ctx, secret)
	case strings.HasPrefix(secret, registryTokenPrefix):
		return a.registryToken(ctx, secret)
	}
	return nil, ErrUnauthorized
}

// Basic resolves user + secret: the secret is ADMIN_TOKEN (any user name),
// an API token (any user name, as curl, pip or dnf send it) or the user's
// password.
func (a *Authenticator) Basic(ctx context.Context, user, secret string) (*Principal, error) {
	switch {
	case a.IsAdminToken(secret):
		return adminPrincipal(), nil
	case strings.HasPrefix(secret, TokenPrefix):
		return a.Token(ctx, secret)
	}
	return a.Password(ctx, user, secret)
}

// Token resolves an API token secret.
func (a *Authenticator) Token(ctx context.Context, secret string) (*Principal, error) {
	hash := HashToken(secret)
	return a.cachedToken(ctx, hash, "", func() (db.Token, error) { return a.o.Store.TokenByHash(ctx, hash) })
}

// cachedToken returns the principal of the token get finds, through the
// cache under key (id: the token's id when known, for invalidation).
func (a *Authenticator) cachedToken(ctx context.Context, key, id string, get func() (db.Token, error)) (*Principal, error) {
	if p, ok := a.cache.get(key); ok {
		return p, nil
	}
	t, err := get()
	if errors.Is(err, db.ErrNotFound) {
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("auth: look up token: %w", err)
	}
	p, err := a.tokenPrincipal(ctx, t)
	if err != nil {
		return nil, err
	}
	if id == "" {
		id = t.ID
	}
	a.cache.put(key, cached{p: p, user: userOf(t), tokenID: id})
	return p, nil
}

// tokenPrincipal checks a stored token (not revoked, not expired, its user
// enabled), records its use and returns its principal.
func (a *Authenticator) tokenPrincipal(ctx context.Context, t db.Token) (*Principal, error) {
	now := a.o.Now()
	if !t.RevokedAt.IsZero() || (!t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)) {
		return nil, ErrUnauthorized
	}
	if t.OwnerKind == db.OwnerUser {
		u, err := a.o.Store.GetUser(ctx, t.Owner)
		if errors.Is(err, db.ErrNotFound) {
			return nil, ErrUnauthorized
		}
		if err != nil {
			return nil, fmt.Errorf("auth: look up the token's user: %w", err)
		}
		if u.Disabled {
			return nil, ErrUnauthorized
		}
	}
	scopes, err := ParseScopes(t.Scopes)
	if err != nil {
		return nil, fmt.Errorf("auth: token %s: %w", t.ID, err)
	}
	// Written at most once per cache TTL per replica: last-used is coarse.
	if err := a.o.Store.TouchToken(ctx, t.ID, now); err != nil {
		a.o.Log.Warn("auth: record token use", "token_id", t.ID, "err", err)
	}
	return &Principal{Kind: KindToken, Name: t.Owner, TokenID: t.ID, Token: t.Name, Scopes: scopes}, nil
}

// userOf is the user a token depends on ("" for a service token).
func userOf(t db.Token) string {
	if t.OwnerKind == db.OwnerUser {
		return t.Owner
	}
	return ""
}

// Password resolves a user name and password. A verified pair is cached
// under an HMAC of both (never the password itself).
func (a *Authenticator) Password(ctx context.Context, user, password string) (*Principal, error) {
	if user == "" || password == "" {
		return nil, ErrUnauthorized
	}
	key := "p:" + mac(a.cacheKey, user, password)
	if p, ok := a.cache.get(key); ok {
		return p, nil
	}
	if wait := a.o.Backoff.Wait(ctx, user); wait > 0 {
		return nil, &ThrottledError{Wait: wait}
	}
	u, err := a.o.Store.GetUser(ctx, user)
	if errors.Is(err, db.ErrNotFound) {
		// Spend the same time as a real check: user names are not probed.
		_, _ = CheckPassword(dummyHash, password)
		a.o.Backoff.Fail(ctx, user)
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("auth: look up user: %w", err)
	}
	ok, err := CheckPassword(u.PasswordHash, password)
	if err != nil || !ok || u.Disabled {
		a.o.Backoff.Fail(ctx, user)
		return nil, ErrUnauthorized
	}
	a.o.Backoff.Reset(ctx, user)
	p, err := userPrincipal(u)
	if err != nil {
		return nil, err
	}
	a.cache.put(key, cached{p: p, user: u.Name})
	return p, nil
}

// dummyHash is checked against when the user does not exist.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$2p3iX3b7kB6cI8m3rQv3W0F7c5q8yP0s3mJ4Vq1yH6Q"

func userPrincipal(u db.User) (*Principal, error) {
	scopes, err := ParseScopes(u.Scopes)
	if err != nil {
		return nil, fmt.Errorf("auth: user %s: %w", u.Name, err)
	}
	return &Principal{Kind: KindUser, Name: u.Name, Scopes: scopes}, nil
}

// liveUser returns the principal of an enabled user (cached).
func (a *Authenticator) liveUser(ctx context.Context, name string) (*Principal, error) {
	key := "u:" + name
	if p, ok := a.cache.get(key); ok {
		return p, nil
	}
	u, err := a.o.Store.GetUser(ctx, name)
	if errors.Is(err, db.ErrNotFound) {
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("auth: look up user: %w", err)
	}
	if u.Disabled {
		return nil, ErrUnauthorized
	}
	p, err := userPrincipal(u)
	if err != nil {
		return nil, err
	}
	a.cache.put(key, cached{p: p, user: name})
	return p, nil
}

// liveToken returns the principal of a valid token by id (cached).
func (a *Authenticator) liveToken(ctx context.Context, id string) (*Principal, error) {
	return a.cachedToken(ctx, "t:"+id, id, func() (db.Token, error) { return a.o.Store.GetToken(ctx, id) })
}

// resolve returns the current principal of kind/name/token id, as a
// session or a registry token recorded them: a revoked token or a disabled
// user is refused at once.
func (a *Authenticator) resolve(ctx context.Context, kind, name, tokenID string) (*Principal, error) {
	switch kind {
	case KindAdmin:
		return adminPrincipal(), nil
	case KindUser:
		return a.liveUser(ctx, name)
	case KindToken:
		return a.liveToken(ctx, tokenID)
	}
	return nil, ErrUnauthorized
}
