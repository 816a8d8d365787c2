package dbtest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"artifactapi/db"
)

// AuthBackend is a metadata store that also keeps users, tokens, sessions
// and the audit log.
type AuthBackend interface {
	db.Store
	db.AuthStore
}

// RunAuth runs the db.AuthStore contract suite. open must return a fresh,
// empty, migrated store; RunAuth closes it when the subtest ends.
func RunAuth(t *testing.T, open func(t *testing.T) AuthBackend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s AuthBackend)
	}{
		{name: "users", fn: testUsers},
		{name: "delete_user_cascades", fn: testDeleteUserCascades},
		{name: "tokens", fn: testTokens},
		{name: "sessions", fn: testSessions},
		{name: "audit_filters_and_paging", fn: testAudit},
		{name: "audit_retention", fn: testAuditRetention},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// tr truncates t to Precision (what every store keeps).
func tr(t time.Time) time.Time { return t.Truncate(Precision) }

func truncUser(u db.User) db.User {
	u.CreatedAt, u.UpdatedAt = tr(u.CreatedAt), tr(u.UpdatedAt)
	return u
}

func truncToken(t db.Token) db.Token {
	t.CreatedAt, t.ExpiresAt, t.LastUsed, t.RevokedAt = tr(t.CreatedAt), tr(t.ExpiresAt), tr(t.LastUsed), tr(t.RevokedAt)
	return t
}

func truncSession(s db.Session) db.Session {
	s.CreatedAt, s.ExpiresAt = tr(s.CreatedAt), tr(s.ExpiresAt)
	return s
}

func testUsers(t *testing.T, s AuthBackend) {
	c := ctx(t)
	u := db.User{Name: "alice", PasswordHash: "$argon2id$x", Scopes: []string{"read", "write:local-*"}, CreatedAt: base}
	if err := s.CreateUser(c, u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if err := s.CreateUser(c, u); !errors.Is(err, db.ErrExists) {
		t.Fatalf("CreateUser twice = %v, want ErrExists", err)
	}
	got, err := s.GetUser(c, "alice")
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	want := u
	want.CreatedAt, want.UpdatedAt = base.Truncate(Precision), base.Truncate(Precision)
	if !reflect.DeepEqual(truncUser(got), want) {
		t.Fatalf("GetUser = %+v, want %+v", got, want)
	}
	if _, err := s.GetUser(c, "bob"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("GetUser(missing) = %v, want ErrNotFound", err)
	}
	later := base.Add(time.Hour)
	u.Scopes, u.Disabled, u.PasswordHash, u.UpdatedAt = []string{}, true, "$argon2id$y", later
	if err := s.UpdateUser(c, u); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	got, _ = s.GetUser(c, "alice")
	if !got.Disabled || len(got.Scopes) != 0 || got.PasswordHash != "$argon2id$y" || !tr(got.UpdatedAt).Equal(tr(later)) ||
		!tr(got.CreatedAt).Equal(tr(base)) {
		t.Fatalf("after UpdateUser: %+v", got)
	}
	if err := s.UpdateUser(c, db.User{Name: "bob"}); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("UpdateUser(missing) = %v, want ErrNotFound", err)
	}
	if err := s.CreateUser(c, db.User{Name: "aaron"}); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListUsers(c)
	if err != nil || len(list) != 2 || list[0].Name != "aaron" || list[1].Name != "alice" {
		t.Fatalf("ListUsers = %+v, %v", list, err)
	}
	if err := s.DeleteUser(c, "alice"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if err := s.DeleteUser(c, "alice"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("DeleteUser twice = %v, want ErrNotFound", err)
	}
}

func testDeleteUserCascades(t *testing.T, s AuthBackend) {
	c := ctx(t)
	if err := s.CreateUser(c, db.User{Name: "carol"}); err != nil {
		t.Fatal(err)
	}
	for i, owner := range []struct{ name, kind string }{{"carol", db.OwnerUser}, {"ci", db.OwnerService}} {
		tk := db.Token{ID: fmt.Sprint("t", i), Name: "n", Owner: owner.name, OwnerKind: owner.kind, Hash: fmt.Sprint("h", i)}
		if err := s.CreateToken(c, tk); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateSession(c, db.Session{IDHash: "s1", Principal: "carol", Kind: "user", ExpiresAt: base.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(c, "carol"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetToken(c, "t0"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("the deleted user's token remains: %v", err)
	}
	if _, err := s.GetToken(c, "t1"); err != nil {
		t.Errorf("a service token went with the user: %v", err)
	}
	if _, err := s.GetSession(c, "s1"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("the deleted user's session remains: %v", err)
	}
}

func testTokens(t *testing.T, s AuthBackend) {
	c := ctx(t)
	tk := db.Token{ID: "id1", Name: "ci", Owner: "builder", OwnerKind: db.OwnerService, Hash: "abc", Scopes: []string{"write:local-a"},
		CreatedAt: base, ExpiresAt: base.Add(24 * time.Hour)}
	if err := s.CreateToken(c, tk); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	dup := tk
	dup.ID = "id2"
	if err := s.CreateToken(c, dup); !errors.Is(err, db.ErrExists) {
		t.Fatalf("CreateToken with a taken hash = %v, want ErrExists", err)
	}
	want := tk
	want.CreatedAt, want.ExpiresAt = base.Truncate(Precision), tk.ExpiresAt.Truncate(Precision)
	for _, get := range []func() (db.Token, error){
		func() (db.Token, error) { return s.TokenByHash(c, "abc") },
		func() (db.Token, error) { return s.GetToken(c, "id1") },
	} {
		got, err := get()
		if err != nil || !reflect.DeepEqual(truncToken(got), want) {
			t.Fatalf("token = %+v, %v; want %+v", got, err, want)
		}
	}
	if _, err := s.TokenByHash(c, "nope"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("TokenByHash(missing) = %v", err)
	}
	// LastUsed only moves forward.
	for _, at := range []time.Time{base.Add(time.Minute), base} {
		if err := s.TouchToken(c, "id1", at); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.GetToken(c, "id1")
	if !tr(got.LastUsed).Equal(tr(base.Add(time.Minute))) {
		t.Fatalf("LastUsed = %v", got.LastUsed)
	}
	// Revocation is kept at its first time.
	for _, at := range []time.Time{base.Add(2 * time.Minute), base.Add(3 * time.Minute)} {
		if err := s.RevokeToken(c, "id1", at); err != nil {
			t.Fatal(err)
		}
	}
	got, _ = s.GetToken(c, "id1")
	if !tr(got.RevokedAt).Equal(tr(base.Add(2 * time.Minute))) {
		t.Fatalf("RevokedAt = %v", got.RevokedAt)
	}
	if err := s.RevokeToken(c, "missing", base); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("RevokeToken(missing) = %v", err)
	}
	other := db.Token{ID: "id3", Name: "laptop", Owner: "dave", OwnerKind: db.OwnerUser, Hash: "def", CreatedAt: base.Add(time.Second)}
	if err := s.CreateToken(c, other); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		owner string
		want  []string
	}{{"", []string{"id1", "id3"}}, {"dave", []string{"id3"}}, {"nobody", nil}} {
		list, err := s.ListTokens(c, tc.owner)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, x := range list {
			ids = append(ids, x.ID)
		}
		if !reflect.DeepEqual(ids, tc.want) {
			t.Errorf("ListTokens(%q) = %v, want %v", tc.owner, ids, tc.want)
		}
	}
}

func testSessions(t *testing.T, s AuthBackend) {
	c := ctx(t)
	se := db.Session{IDHash: "h1", Principal: "erin", Kind: "user", Address: "10.0.0.1", CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
	if err := s.CreateSession(c, se); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(c, se); !errors.Is(err, db.ErrExists) {
		t.Fatalf("CreateSession twice = %v", err)
	}
	got, err := s.GetSession(c, "h1")
	want := se
	want.CreatedAt, want.ExpiresAt = base.Truncate(Precision), se.ExpiresAt.Truncate(Precision)
	if err != nil || !reflect.DeepEqual(truncSession(got), want) {
		t.Fatalf("GetSession = %+v, %v", got, err)
	}
	for _, id := range []string{"h2", "h3"} {
		if err := s.CreateSession(c, db.Session{IDHash: id, Principal: "erin", Kind: "user", ExpiresAt: base.Add(-time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.DeleteSessionsExpiredBefore(c, base); err != nil || n != 2 {
		t.Fatalf("DeleteSessionsExpiredBefore = %d, %v; want 2", n, err)
	}
	if err := s.DeleteSession(c, "h1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(c, "h1"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("DeleteSession twice = %v", err)
	}
	for _, id := range []string{"a", "b"} {
		if err := s.CreateSession(c, db.Session{IDHash: id, Principal: "frank", Kind: "user", ExpiresAt: base}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.DeleteSessionsOf(c, "frank"); err != nil || n != 2 {
		t.Fatalf("DeleteSessionsOf = %d, %v", n, err)
	}
}

func testAudit(t *testing.T, s AuthBackend) {
	c := ctx(t)
	entries := []db.AuditEntry{
		{At: base, Actor: "alice", ActorKind: "user", Action: "artifact.upload", Remote: "local-a", Target: "x.bin", Outcome: "ok", Address: "10.0.0.1"},
		{At: base.Add(time.Minute), Actor: "bob", ActorKind: "token", TokenID: "t1", Action: "artifact.upload", Remote: "local-b", Target: "y.bin", Outcome: "denied"},
		{At: base.Add(2 * time.Minute), Actor: "alice", ActorKind: "user", Action: "artifact.evict_bulk", Remote: "local-a", Count: 7, Outcome: "ok"},
		{At: base.Add(3 * time.Minute), Actor: "", Action: "login", Target: "mallory", Outcome: "failed", Detail: "wrong password"},
	}
	for _, e := range entries {
		if err := s.AppendAudit(c, e); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
	all, err := s.ListAudit(c, db.AuditQuery{})
	if err != nil || len(all) != 4 {
		t.Fatalf("ListAudit = %d entries, %v", len(all), err)
	}
	if all[0].Action != "login" || all[3].Target != "x.bin" || all[1].Count != 7 || !tr(all[3].At).Equal(tr(base)) {
		t.Fatalf("ListAudit newest first: %+v", all)
	}
	targets := func(l []db.AuditEntry) []string {
		var out []string
		for _, e := range l {
			out = append(out, e.Target+e.Action)
		}
		return out
	}
	tests := []struct {
		name string
		q    db.AuditQuery
		want []string
	}{
		{name: "actor", q: db.AuditQuery{Actor: "alice"}, want: []string{"artifact.evict_bulk", "x.binartifact.upload"}},
		{name: "action", q: db.AuditQuery{Action: "artifact.upload"}, want: []string{"y.binartifact.upload", "x.binartifact.upload"}},
		{name: "remote", q: db.AuditQuery{Remote: "local-b"}, want: []string{"y.binartifact.upload"}},
		{name: "outcome", q: db.AuditQuery{Outcome: "failed"}, want: []string{"mallorylogin"}},
		{name: "since until", q: db.AuditQuery{Since: base.Add(time.Minute), Until: base.Add(2 * time.Minute)}, want: []string{"y.binartifact.upload"}},
		{name: "limit", q: db.AuditQuery{Limit: 1}, want: []string{"mallorylogin"}},
		{name: "before (next page)", q: db.AuditQuery{Before: all[1].ID, Limit: 2}, want: []string{"y.binartifact.upload", "x.binartifact.upload"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListAudit(c, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(targets(got), tc.want) {
				t.Fatalf("got %v, want %v", targets(got), tc.want)
			}
		})
	}
}

func testAuditRetention(t *testing.T, s AuthBackend) {
	c := ctx(t)
	for i := range 3 {
		if err := s.AppendAudit(c, db.AuditEntry{At: base.Add(time.Duration(i) * time.Hour), Action: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DeleteAuditBefore(c, base.Add(90*time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("DeleteAuditBefore = %d, %v; want 2", n, err)
	}
	left, _ := s.ListAudit(c, db.AuditQuery{})
	if len(left) != 1 || !tr(left[0].At).Equal(tr(base.Add(2*time.Hour))) {
		t.Fatalf("left: %+v", left)
	}
}
