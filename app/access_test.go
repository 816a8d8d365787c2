package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/auth"
	"artifactapi/app/cache"
	"artifactapi/app/registry/registrytest"
	"artifactapi/app/testenv"
)

// accessRemotes: two local repositories, a public remote and a scoped one.
func accessRemotes(origin string) string {
	return fmt.Sprintf(`
remotes:
  local-a:
    type: local
  local-b:
    type: local
  pub:
    base_url: %[1]q
  private:
    base_url: %[1]q
    access: scoped
  members:
    base_url: %[1]q
    access: authenticated
`, origin)
}

// textOrigin is an upstream serving "content of <path>".
func textOrigin(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "content of %s", r.URL.Path)
	}))
	t.Cleanup(s.Close)
	return s
}

// call sends a JSON request and decodes a JSON answer into out (may be nil).
func call(t testing.TB, in *apptest.Instance, method, path string, hdr map[string]string, body any, out any) int {
	t.Helper()
	var r io.Reader
	h := map[string]string{}
	for k, v := range hdr {
		h[k] = v
	}
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
		h["Content-Type"] = "application/json"
	}
	resp := in.Do(t, method, path, r, h)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// newToken creates an API token through the management API.
func newToken(t testing.TB, in *apptest.Instance, req map[string]any) (secret, id string) {
	t.Helper()
	var out struct {
		Token, ID string
		Error     string
	}
	if st := call(t, in, http.MethodPost, "/admin/tokens", apptest.Admin(), req, &out); st != http.StatusCreated {
		t.Fatalf("create token %v: %d %s", req, st, out.Error)
	}
	if !strings.HasPrefix(out.Token, auth.TokenPrefix) {
		t.Fatalf("token %q lacks its prefix", out.Token)
	}
	return out.Token, out.ID
}

// curl runs the real curl and returns the HTTP status it got.
func curl(t *testing.T, args ...string) int {
	t.Helper()
	out, err := exec.Command("curl", append([]string{"-sS", "-o", "/dev/null", "-w", "%{http_code}"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %v: %v\n%s", args, err, out)
	}
	var code int
	fmt.Sscan(string(out), &code)
	return code
}

// TestScopedWriteToken: a write token limited to local-a uploads there with
// curl -u and gets 403 on local-b; anonymous uploads are 401; the audit log
// records both with who and the outcome, and no secret shows anywhere.
func TestScopedWriteToken(t *testing.T) {
	o := textOrigin(t)
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: accessRemotes(o.URL)})
	secret, id := newToken(t, in, map[string]any{"name": "ci", "owner": "builder", "owner_kind": "service", "scopes": []string{"write:local-a"}})
	file := filepath.Join(t.TempDir(), "app.tar.gz")
	if err := os.WriteFile(file, []byte("release bytes"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user, url string
		want            int
	}{
		{name: "scoped remote", user: "ci:" + secret, url: "/api/local-a/app/1.0/app.tar.gz", want: http.StatusCreated},
		{name: "other remote", user: "ci:" + secret, url: "/api/local-b/app/1.0/app.tar.gz", want: http.StatusForbidden},
		{name: "anonymous", url: "/api/local-a/app/1.0/other.tar.gz", want: http.StatusUnauthorized},
		{name: "wrong token", user: "ci:" + secret + "x", url: "/api/local-a/app/1.0/other.tar.gz", want: http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"-T", file, in.URL + tc.url}
			if tc.user != "" {
				args = append([]string{"-u", tc.user}, args...)
			}
			if got := curl(t, args...); got != tc.want {
				t.Fatalf("curl upload: %d, want %d", got, tc.want)
			}
		})
	}
	// The upload is there for anyone (local-a is public to read).
	if st, _, b := in.Get(t, "/api/local-a/app/1.0/app.tar.gz", nil); st != http.StatusOK || string(b) != "release bytes" {
		t.Fatalf("download: %d %q", st, b)
	}
	// The write token may not delete, nor manage.
	if st := call(t, in, http.MethodDelete, "/api/local-a/app/1.0/app.tar.gz", bearer(secret), nil, nil); st != http.StatusForbidden {
		t.Fatalf("delete with a write token: %d", st)
	}
	if st := call(t, in, http.MethodGet, "/audit", bearer(secret), nil, nil); st != http.StatusForbidden {
		t.Fatalf("/audit with a write token: %d", st)
	}

	var audit struct {
		Entries []map[string]any `json:"entries"`
	}
	if st := call(t, in, http.MethodGet, "/audit?action="+auth.ActUpload, apptest.Admin(), nil, &audit); st != http.StatusOK {
		t.Fatalf("/audit: %d", st)
	}
	got := map[string]string{}
	for _, e := range audit.Entries {
		got[fmt.Sprint(e["remote"], " ", e["actor"])] = fmt.Sprint(e["outcome"])
		if e["token_id"] != "" && e["token_id"] != id {
			t.Errorf("audit entry names token %v, want %s", e["token_id"], id)
		}
	}
	want := map[string]string{"local-a builder": "ok", "local-b builder": "denied", "local-a ": "denied"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("audit %q = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	noSecrets(t, in, secret)
}

// noSecrets looks for a token secret and its hash in the logs, /config and
// the audit log.
func noSecrets(t *testing.T, in *apptest.Instance, secret string) {
	t.Helper()
	hash := auth.HashToken(secret)
	_, _, cfg := in.Get(t, "/config", apptest.Admin())
	_, _, audit := in.Get(t, "/audit?limit=1000", apptest.Admin())
	_, _, tokens := in.Get(t, "/admin/tokens", apptest.Admin())
	for name, text := range map[string]string{"logs": in.Logs.String(), "/config": string(cfg), "/audit": string(audit), "/admin/tokens": string(tokens)} {
		for _, s := range []string{secret, hash, secret[len(auth.TokenPrefix):]} {
			if strings.Contains(text, s) {
				t.Errorf("%s shows a token secret or its hash", name)
			}
		}
	}
}

// TestReadPolicies: public, authenticated and scoped remotes on /api and in
// the listings, with user + password and tokens through curl -u.
func TestReadPolicies(t *testing.T) {
	o := textOrigin(t)
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: accessRemotes(o.URL)})
	if st := call(t, in, http.MethodPost, "/admin/users", apptest.Admin(),
		map[string]any{"name": "reader", "password": "reader-password-1", "scopes": []string{"read:priv*"}}, nil); st != http.StatusCreated {
		t.Fatalf("create user: %d", st)
	}
	other, _ := newToken(t, in, map[string]any{"name": "other", "owner": "svc", "owner_kind": "service", "scopes": []string{"read:local-*"}})
	tests := []struct {
		name, user, path string
		want             int
	}{
		{name: "public, anonymous", path: "/api/pub/a.txt", want: 200},
		{name: "authenticated, anonymous", path: "/api/members/a.txt", want: 401},
		{name: "authenticated, any token", user: "x:" + other, path: "/api/members/a.txt", want: 200},
		{name: "scoped, anonymous", path: "/api/private/a.txt", want: 401},
		{name: "scoped, user and password", user: "reader:reader-password-1", path: "/api/private/a.txt", want: 200},
		{name: "scoped, wrong password", user: "reader:reader-password-2", path: "/api/private/a.txt", want: 401},
		{name: "scoped, token without the scope", user: "x:" + other, path: "/api/private/a.txt", want: 403},
		{name: "scoped listing, anonymous", path: "/artifacts/private", want: 401},
		{name: "scoped listing, reader", user: "reader:reader-password-1", path: "/artifacts/private", want: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{in.URL + tc.path}
			if tc.user != "" {
				args = append([]string{"-u", tc.user}, args...)
			}
			if got := curl(t, args...); got != tc.want {
				t.Fatalf("curl: %d, want %d", got, tc.want)
			}
		})
	}
	// GET / lists only what the caller may read.
	var root struct{ Remotes []struct{ Name string } }
	call(t, in, http.MethodGet, "/", nil, nil, &root)
	for _, r := range root.Remotes {
		if r.Name == "private" || r.Name == "members" {
			t.Errorf("anonymous GET / lists %s", r.Name)
		}
	}
	// An anonymous 401 names the schemes.
	_, hdr, _ := in.Get(t, "/api/private/a.txt", nil)
	if !strings.Contains(hdr.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("WWW-Authenticate %q", hdr.Get("WWW-Authenticate"))
	}
}

// TestRevokedTokenRefusedOnEveryReplica: two instances on PostgreSQL +
// Redis both trust a token (for an hour, as far as their caches go);
// revoked through one, it is refused by that one when the answer comes
// back, and by the other as soon as the invalidation arrives.
func TestRevokedTokenRefusedOnEveryReplica(t *testing.T) {
	o := textOrigin(t)
	b := apptest.NewBackends(t, apptest.Production)
	opts := apptest.Options{Remotes: accessRemotes(o.URL), Env: map[string]string{"AUTH_CACHE_TTL": "1h"}}
	in1 := apptest.Start(t, b, opts)
	in2 := apptest.Start(t, b, opts)
	<-in2.App.Auth.Listening()
	secret, id := newToken(t, in1, map[string]any{"name": "deploy", "owner": "svc", "owner_kind": "service", "scopes": []string{"read"}})
	for _, in := range []*apptest.Instance{in1, in2} {
		if st, _, _ := in.Get(t, "/api/private/x.bin", bearer(secret)); st != http.StatusOK {
			t.Fatalf("%s before revocation: %d", in.URL, st)
		}
	}
	if st := call(t, in1, http.MethodDelete, "/admin/tokens/"+id, apptest.Admin(), nil, nil); st != http.StatusOK {
		t.Fatalf("revoke: %d", st)
	}
	if st, _, _ := in1.Get(t, "/api/private/x.bin", bearer(secret)); st != http.StatusUnauthorized {
		t.Fatalf("revoking replica still accepts the token: %d", st)
	}
	testenv.Eventually(t, 5*time.Second, "the other replica to refuse the revoked token", func() bool {
		st, _, _ := in2.Get(t, "/api/private/x.bin", bearer(secret))
		return st == http.StatusUnauthorized
	})
	noSecrets(t, in1, secret)
}

// TestReplicaCredentialIsNotAUserCredential: /_internal/fills refuses user
// tokens and the admin token, in the replica header or as Authorization.
func TestReplicaCredentialIsNotAUserCredential(t *testing.T) {
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: accessRemotes("http://127.0.0.1:9")})
	secret, _ := newToken(t, in, map[string]any{"name": "all", "owner": "svc", "owner_kind": "service", "scopes": []string{"admin"}})
	path := cache.PeerPath + cache.PeerKeyID("local-a\x00x")
	for _, hdr := range []map[string]string{
		nil, bearer(secret), apptest.Admin(), {cache.PeerHeader: secret}, {cache.PeerHeader: auth.HashToken(secret)},
	} {
		if st, _, _ := in.Get(t, path, hdr); st != http.StatusForbidden {
			t.Errorf("%v: %d, want 403", hdr, st)
		}
	}
}

// TestUserLifecycle: a user's password change and disabling end its
// sessions and refuse its old password and tokens at once.
func TestUserLifecycle(t *testing.T) {
	o := textOrigin(t)
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: accessRemotes(o.URL)})
	ctx := context.Background()
	_ = ctx
	if st := call(t, in, http.MethodPost, "/admin/users", apptest.Admin(),
		map[string]any{"name": "dana", "password": "dana-password-1", "scopes": []string{"read", "write:local-*"}}, nil); st != http.StatusCreated {
		t.Fatalf("create user: %d", st)
	}
	tok, _ := newToken(t, in, map[string]any{"name": "laptop", "owner": "dana", "scopes": []string{"read"}})
	if st := call(t, in, http.MethodPost, "/admin/tokens", apptest.Admin(),
		map[string]any{"name": "x", "owner": "dana", "scopes": []string{"delete"}}, nil); st != http.StatusBadRequest {
		t.Fatalf("token beyond the user's scopes: %d, want 400", st)
	}
	var who map[string]any
	call(t, in, http.MethodGet, "/whoami", map[string]string{"Authorization": basicAuth("dana", "dana-password-1")}, nil, &who)
	if who["name"] != "dana" || who["kind"] != auth.KindUser {
		t.Fatalf("whoami: %v", who)
	}
	call(t, in, http.MethodPatch, "/admin/users/dana", apptest.Admin(), map[string]any{"password": "dana-password-2"}, nil)
	if st := call(t, in, http.MethodGet, "/api/private/a", map[string]string{"Authorization": basicAuth("dana", "dana-password-1")}, nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("old password after the change: %d", st)
	}
	call(t, in, http.MethodPatch, "/admin/users/dana", apptest.Admin(), map[string]any{"disabled": true}, nil)
	for _, h := range []map[string]string{bearer(tok), {"Authorization": basicAuth("dana", "dana-password-2")}} {
		if st := call(t, in, http.MethodGet, "/api/private/a", h, nil, nil); st != http.StatusUnauthorized {
			t.Fatalf("disabled user's credential: %d", st)
		}
	}
	var users struct{ Users []map[string]any }
	call(t, in, http.MethodGet, "/admin/users", apptest.Admin(), nil, &users)
	b, _ := json.Marshal(users)
	if strings.Contains(string(b), "argon2") || strings.Contains(string(b), "password") {
		t.Fatalf("/admin/users shows a password hash: %s", b)
	}
}

func basicAuth(user, pw string) string {
	req, _ := http.NewRequest(http.MethodGet, "http://x", nil)
	req.SetBasicAuth(user, pw)
	return req.Header.Get("Authorization")
}

// TestSkopeoLogsInToAnAuthenticatedDockerRemote: skopeo follows the 401
// bearer challenge to /v2/token with user + token (and user + password),
// then pulls; without credentials it is refused.
func TestSkopeoLogsInToAnAuthenticatedDockerRemote(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	up, err := registrytest.StartRegistry(ctx, registrytest.RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.Stop)
	img, err := registrytest.NewImage("linux/amd64", []int{4096}, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := (&registrytest.Pusher{Base: up.URL}).PushImage(ctx, "team/app", "v1", img); err != nil {
		t.Fatal(err)
	}
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: fmt.Sprintf(`
remotes:
  internal:
    base_url: %q
    package: docker
    access: authenticated
`, up.URL)})
	if st := call(t, in, http.MethodPost, "/admin/users", apptest.Admin(),
		map[string]any{"name": "puller", "password": "puller-password-1", "scopes": []string{"read"}}, nil); st != http.StatusCreated {
		t.Fatalf("create user: %d", st)
	}
	tok, _ := newToken(t, in, map[string]any{"name": "node", "owner": "puller", "scopes": []string{"read"}})
	host := strings.TrimPrefix(in.URL, "http://")
	src := "docker://" + host + "/internal/team/app:v1"
	for _, creds := range []string{"puller:" + tok, "puller:puller-password-1"} {
		if _, err := registrytest.Copy(ctx, src, "dir:"+t.TempDir(), "--src-creds", creds); err != nil {
			t.Fatalf("skopeo copy with %s…: %v", creds[:7], err)
		}
	}
	if out, err := registrytest.Copy(ctx, src, "dir:"+t.TempDir()); err == nil {
		t.Fatalf("anonymous pull from an authenticated remote succeeded:\n%s", out)
	}
	// The challenge names the token endpoint.
	_, hdr, _ := in.Get(t, "/v2/internal/team/app/manifests/v1", nil)
	if want := `Bearer realm="` + in.URL + `/v2/token",service="artifactapi"`; !strings.HasPrefix(hdr.Get("WWW-Authenticate"), want) {
		t.Fatalf("WWW-Authenticate %q, want prefix %q", hdr.Get("WWW-Authenticate"), want)
	}
	noSecrets(t, in, tok)
}

// TestDashboardSessionsAreServerSide: a user signs in with a password; the
// session ends on sign-out (the old cookie no longer works) and with a
// password change.
func TestDashboardSessionsAreServerSide(t *testing.T) {
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: accessRemotes("http://127.0.0.1:9")})
	if st := call(t, in, http.MethodPost, "/admin/users", apptest.Admin(),
		map[string]any{"name": "erin", "password": "erin-password-1", "scopes": []string{"read"}}, nil); st != http.StatusCreated {
		t.Fatalf("create user: %d", st)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string, form url.Values, cookies []*http.Cookie, hdr map[string]string) *http.Response {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, in.URL+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	signIn := func(pw string) (session *http.Cookie, seed *http.Cookie, csrf string) {
		t.Helper()
		resp := do(http.MethodGet, "/ui/login", nil, nil, nil)
		seed = cookieOf(resp, "artifactapi_csrf")
		csrf = csrfFor(t, in, seed)
		resp = do(http.MethodPost, "/ui/login", url.Values{"username": {"erin"}, "token": {pw}, "_csrf": {csrf}}, []*http.Cookie{seed}, nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in: %d", resp.StatusCode)
		}
		return cookieOf(resp, "artifactapi_session"), seed, csrf
	}
	session, seed, csrf := signIn("erin-password-1")
	if resp := do(http.MethodGet, "/ui/", nil, []*http.Cookie{session, seed}, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("overview: %d", resp.StatusCode)
	}
	if resp := do(http.MethodGet, "/ui/config", nil, []*http.Cookie{session, seed}, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("config page for a reader: %d, want 403", resp.StatusCode)
	}
	do(http.MethodPost, "/ui/logout", nil, []*http.Cookie{session, seed}, map[string]string{"X-CSRF-Token": csrf})
	if resp := do(http.MethodGet, "/ui/", nil, []*http.Cookie{session, seed}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the signed-out cookie still works: %d", resp.StatusCode)
	}
	session, seed, _ = signIn("erin-password-1")
	call(t, in, http.MethodPatch, "/admin/users/erin", apptest.Admin(), map[string]any{"password": "erin-password-2"}, nil)
	if resp := do(http.MethodGet, "/ui/", nil, []*http.Cookie{session, seed}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the session survived a password change: %d", resp.StatusCode)
	}
	var audit struct{ Entries []map[string]any }
	call(t, in, http.MethodGet, "/audit?action=login&actor=erin", apptest.Admin(), nil, &audit)
	if len(audit.Entries) != 2 {
		t.Fatalf("audit: %d sign-ins of erin, want 2: %v", len(audit.Entries), audit.Entries)
	}
}

func cookieOf(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return &http.Cookie{Name: name}
}

// csrfFor reads the CSRF token the login page shows for seed.
func csrfFor(t *testing.T, in *apptest.Instance, seed *http.Cookie) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, in.URL+"/ui/login", nil)
	req.AddCookie(seed)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`name="csrf-token" content="([^"]+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no CSRF token on the login page")
	}
	return html.UnescapeString(string(m[1]))
}

// TestRegistryPushAndDeleteScopes: pushing to a local docker repository
// needs the write scope on it, deleting from it the delete scope, as on /api
// and in the dashboard.
func TestRegistryPushAndDeleteScopes(t *testing.T) {
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: "remotes:\n  loc:\n    type: local\n    package: docker\n"})
	writer, _ := newToken(t, in, map[string]any{"name": "ci-push", "owner": "ci", "owner_kind": "service", "scopes": []string{"write:loc"}})
	deleter, _ := newToken(t, in, map[string]any{"name": "cleaner", "owner": "ops", "owner_kind": "service", "scopes": []string{"delete:loc"}})
	blob := []byte("layer bytes of a scoped push")
	sum := sha256.Sum256(blob)
	dig := "sha256:" + hex.EncodeToString(sum[:])
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	for _, tc := range []struct {
		name, method, path, token string
		body                      []byte
		want                      int
	}{
		{"delete token cannot push", http.MethodPost, "/v2/loc/app/blobs/uploads/?digest=" + dig, deleter, blob, http.StatusForbidden},
		{"write token pushes", http.MethodPost, "/v2/loc/app/blobs/uploads/?digest=" + dig, writer, blob, http.StatusCreated},
		{"write token cannot delete", http.MethodDelete, "/v2/loc/app/blobs/" + dig, writer, nil, http.StatusForbidden},
		{"delete token deletes", http.MethodDelete, "/v2/loc/app/blobs/" + dig, deleter, nil, http.StatusAccepted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != nil {
				body = bytes.NewReader(tc.body)
			}
			resp := in.Do(t, tc.method, tc.path, body, bearer(tc.token))
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%s %s: %d, want %d: %s", tc.method, tc.path, resp.StatusCode, tc.want, b)
			}
			if tc.want == http.StatusForbidden && !strings.Contains(string(b), "DENIED") {
				t.Fatalf("refusal is not DENIED: %s", b)
			}
		})
	}
}
