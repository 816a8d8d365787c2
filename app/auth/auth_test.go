package auth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"artifactapi/app/auth"
	"artifactapi/app/config"
	"artifactapi/app/coord"
	"artifactapi/app/testenv"
	"artifactapi/db"
)

func remotes(t *testing.T) *config.File {
	t.Helper()
	f, err := config.ParseRemotes("test", []byte(`remotes:
  pub: {base_url: "http://x", access: public}
  authn: {base_url: "http://x", access: authenticated}
  private: {base_url: "http://x", access: scoped}
  local-a: {type: local, access: scoped}
  local-b: {type: local}
`))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func principal(scopes ...string) *auth.Principal {
	sc, err := auth.ParseScopes(scopes)
	if err != nil {
		panic(err)
	}
	return &auth.Principal{Kind: auth.KindToken, Name: "ci", Scopes: sc}
}

func TestAllowed(t *testing.T) {
	f := remotes(t)
	tests := []struct {
		name   string
		p      *auth.Principal
		action string
		remote string // "" for no remote
		want   bool
	}{
		{name: "anonymous reads public", p: nil, action: auth.Read, remote: "pub", want: true},
		{name: "anonymous cannot read authenticated", p: nil, action: auth.Read, remote: "authn"},
		{name: "any principal reads authenticated", p: principal(), action: auth.Read, remote: "authn", want: true},
		{name: "no scope cannot read scoped", p: principal("write:private"), action: auth.Read, remote: "private"},
		{name: "read scope reads scoped", p: principal("read:private"), action: auth.Read, remote: "private", want: true},
		{name: "glob read scope", p: principal("read:local-*"), action: auth.Read, remote: "local-a", want: true},
		{name: "glob does not reach others", p: principal("read:local-*"), action: auth.Read, remote: "private"},
		{name: "global read", p: principal("read"), action: auth.Read, remote: "private", want: true},
		{name: "write limited to local-a", p: principal("write:local-a"), action: auth.Write, remote: "local-a", want: true},
		{name: "write limited to local-a, not local-b", p: principal("write:local-a"), action: auth.Write, remote: "local-b"},
		{name: "anonymous cannot write public", p: nil, action: auth.Write, remote: "pub"},
		{name: "write does not delete", p: principal("write"), action: auth.Delete, remote: "local-a"},
		{name: "remote admin deletes there", p: principal("admin:local-*"), action: auth.Delete, remote: "local-b", want: true},
		{name: "remote admin is not global admin", p: principal("admin:local-*"), action: auth.Admin, remote: ""},
		{name: "global admin", p: principal("admin"), action: auth.Admin, remote: "", want: true},
		{name: "global admin writes anywhere", p: principal("admin"), action: auth.Write, remote: "local-b", want: true},
		{name: "scoped write is not global", p: principal("write:local-a"), action: auth.Write, remote: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r *config.Remote
			if tc.remote != "" {
				r = f.Remotes[tc.remote]
			}
			if got := auth.Allowed(tc.p, tc.action, r); got != tc.want {
				t.Fatalf("Allowed = %t, want %t", got, tc.want)
			}
		})
	}
}

func TestParseScope(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{name: "global", in: "read", want: "read", ok: true},
		{name: "remote", in: "write:local-a", want: "write:local-a", ok: true},
		{name: "glob", in: "delete:dev-*", want: "delete:dev-*", ok: true},
		{name: "unknown action", in: "push"},
		{name: "empty remote", in: "read:"},
		{name: "bad glob", in: "read:[a"},
		{name: "slash", in: "read:a/b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := auth.ParseScope(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %t", err, tc.ok)
			}
			if tc.ok && s.String() != tc.want {
				t.Fatalf("String = %q, want %q", s.String(), tc.want)
			}
		})
	}
}

func TestPasswordHash(t *testing.T) {
	h := auth.HashPassword("correct horse battery")
	if !strings.HasPrefix(h, "$argon2id$v=19$") || strings.Contains(h, "correct") {
		t.Fatalf("hash %q", h)
	}
	for _, tc := range []struct {
		name, pw string
		want     bool
	}{{"right", "correct horse battery", true}, {"wrong", "correct horse batterY", false}, {"empty", "", false}} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := auth.CheckPassword(h, tc.pw)
			if err != nil || ok != tc.want {
				t.Fatalf("CheckPassword = %t, %v; want %t", ok, err, tc.want)
			}
		})
	}
	if h2 := auth.HashPassword("correct horse battery"); h2 == h {
		t.Fatal("two hashes of one password are equal (no salt)")
	}
}

// setup returns an authenticator on a fresh SQLite store with a clock.
func setup(t *testing.T, c coord.Coordinator, ttl time.Duration) (*auth.Authenticator, *db.SQLite, *time.Time) {
	t.Helper()
	s, err := db.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	now := time.Now()
	a := auth.New(auth.Options{Store: s, Coord: c, AdminToken: "admin-secret-token", CacheTTL: ttl,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now }})
	return a, s, &now
}

func TestCredentials(t *testing.T) {
	ctx := context.Background()
	a, _, now := setup(t, nil, time.Minute)
	if _, err := a.CreateUser(ctx, "alice", "alice-password-1", []string{"read", "write:local-a"}); err != nil {
		t.Fatal(err)
	}
	secret, tok, err := a.CreateToken(ctx, auth.TokenRequest{Name: "ci", Owner: "alice", Scopes: []string{"write:local-a"}, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.CreateToken(ctx, auth.TokenRequest{Name: "too-much", Owner: "alice", Scopes: []string{"delete"}}); err == nil {
		t.Fatal("a user's token got a scope the user lacks")
	}
	tests := []struct {
		name   string
		header string
		kind   string // "" anonymous
		err    error
	}{
		{name: "none", header: ""},
		{name: "admin bearer", header: "Bearer admin-secret-token", kind: auth.KindAdmin},
		{name: "admin basic any user", header: basic("whoever", "admin-secret-token"), kind: auth.KindAdmin},
		{name: "token bearer", header: "Bearer " + secret, kind: auth.KindToken},
		{name: "token basic", header: basic("alice", secret), kind: auth.KindToken},
		{name: "password", header: basic("alice", "alice-password-1"), kind: auth.KindUser},
		{name: "wrong password", header: basic("alice", "alice-password-2"), err: auth.ErrUnauthorized},
		{name: "unknown user", header: basic("bob", "alice-password-1"), err: auth.ErrUnauthorized},
		{name: "wrong token", header: "Bearer " + secret + "x", err: auth.ErrUnauthorized},
		{name: "garbage", header: "Negotiate abc", err: auth.ErrUnauthorized},
		{name: "forged registry token", header: "Bearer v2t.eyJrIjoiYWRtaW4ifQ.AAAA", err: auth.ErrUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := a.Authorization(ctx, tc.header)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if got := kindOf(p); err == nil && got != tc.kind {
				t.Fatalf("kind = %q, want %q", got, tc.kind)
			}
		})
	}
	// A registry token carries its principal; it dies with the API token.
	p, _ := a.Authorization(ctx, "Bearer "+secret)
	reg, _ := a.IssueRegistryToken(p)
	if got, err := a.Authorization(ctx, "Bearer "+reg); err != nil || got.TokenID != tok.ID {
		t.Fatalf("registry token: %+v, %v", got, err)
	}
	if _, err := a.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"Bearer " + secret, "Bearer " + reg} {
		if _, err := a.Authorization(ctx, h); !errors.Is(err, auth.ErrUnauthorized) {
			t.Fatalf("revoked token (cached before) accepted: %v", err)
		}
	}
	// An expired registry token is refused.
	anon, _ := a.IssueRegistryToken(nil)
	*now = now.Add(auth.RegistryTokenTTL + time.Second)
	if _, err := a.Authorization(ctx, "Bearer "+anon); !errors.Is(err, auth.ErrUnauthorized) {
		t.Fatalf("expired registry token: %v", err)
	}
}

// TestRevocationReachesOtherReplicas: two authenticators share a store and
// a coordinator; a token revoked through one is refused by the other while
// its cache would still trust it for an hour.
func TestRevocationReachesOtherReplicas(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := coord.NewLocal()
	a1, s, _ := setup(t, c, time.Hour)
	a2 := auth.New(auth.Options{Store: s, Coord: c, AdminToken: "admin-secret-token", CacheTTL: time.Hour,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	go a2.Run(ctx)
	secret, tok, err := a1.CreateToken(ctx, auth.TokenRequest{Name: "ci", Owner: "builder", OwnerKind: db.OwnerService, Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a2.Token(ctx, secret); err != nil {
		t.Fatal(err)
	}
	<-a2.Listening()
	if _, err := a2.Token(ctx, secret); err != nil { // cached, now that a2 listens
		t.Fatal(err)
	}
	if _, err := a1.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, err := a2.Token(ctx, secret)
		return errors.Is(err, auth.ErrUnauthorized)
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, 5*time.Second, "the condition", cond)
}

func basic(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

func kindOf(p *auth.Principal) string {
	if p == nil {
		return ""
	}
	return p.Kind
}
