package app_test

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"artifactapi/app/apptest"
)

// dashboard is a browser's cookies on one instance.
type dashboard struct {
	t       *testing.T
	in      *apptest.Instance
	cookies []*http.Cookie
	csrf    string
}

// signInDashboard signs in through the form (user "" with the admin token).
func signInDashboard(t *testing.T, in *apptest.Instance, user, secret string) *dashboard {
	t.Helper()
	d := &dashboard{t: t, in: in}
	resp, _ := d.do(http.MethodGet, "/ui/login", nil, nil)
	seed := cookieOf(resp, "artifactapi_csrf")
	d.cookies, d.csrf = []*http.Cookie{seed}, csrfFor(t, in, seed)
	resp, _ = d.do(http.MethodPost, "/ui/login", url.Values{"username": {user}, "token": {secret}, "_csrf": {d.csrf}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in as %q: %d", user, resp.StatusCode)
	}
	d.cookies = append(d.cookies, cookieOf(resp, "artifactapi_session"))
	return d
}

// do sends a request with the browser's cookies (a form when form is not nil).
func (d *dashboard) do(method, path string, form url.Values, hdr map[string]string) (*http.Response, string) {
	d.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, d.in.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	for _, c := range d.cookies {
		req.AddCookie(c)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var secretField = regexp.MustCompile(`id="token-secret"[^>]*value="([^"]+)"`)

// TestDashboardAccessScreens: the users, tokens and audit screens are for
// global admins only (and linked only for them); their forms need the CSRF
// token; a token's secret is in the answer to its creation, works, and is
// never shown again; the dashboard's changes are in the audit log.
func TestDashboardAccessScreens(t *testing.T) {
	o := textOrigin(t)
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: accessRemotes(o.URL)})
	adm := signInDashboard(t, in, "", apptest.AdminToken)
	for _, p := range []string{"/ui/users", "/ui/tokens", "/ui/audit"} {
		if resp, body := adm.do(http.MethodGet, p, nil, nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, `href="/ui/users"`) {
			t.Fatalf("admin GET %s: %d (nav link to users: %v)", p, resp.StatusCode, strings.Contains(body, `href="/ui/users"`))
		}
	}
	create := url.Values{"name": {"dora"}, "password": {"dora-password-1"}, "scopes": {"read:private, write:local-a"}}
	if resp, _ := adm.do(http.MethodPost, "/ui/users", create, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("create a user without the CSRF token: %d, want 403", resp.StatusCode)
	}
	create.Set("_csrf", adm.csrf)
	if resp, _ := adm.do(http.MethodPost, "/ui/users", create, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create a user: %d, want 303", resp.StatusCode)
	}
	var users struct {
		Users []struct {
			Name   string
			Scopes []string
		}
	}
	call(t, in, http.MethodGet, "/admin/users", apptest.Admin(), nil, &users)
	if len(users.Users) != 1 || strings.Join(users.Users[0].Scopes, " ") != "read:private write:local-a" {
		t.Fatalf("users after the dashboard created dora: %+v", users.Users)
	}

	dora := signInDashboard(t, in, "dora", "dora-password-1")
	resp, body := dora.do(http.MethodGet, "/ui/", nil, nil)
	if resp.StatusCode != http.StatusOK || strings.Contains(body, `href="/ui/users"`) || strings.Contains(body, `href="/ui/config"`) {
		t.Fatalf("a reader's overview: %d, with admin links: %v", resp.StatusCode, strings.Contains(body, `href="/ui/users"`))
	}
	for _, p := range []string{"/ui/users", "/ui/tokens", "/ui/audit"} {
		if resp, _ := dora.do(http.MethodGet, p, nil, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("reader GET %s: %d, want 403", p, resp.StatusCode)
		}
	}
	if resp, _ := dora.do(http.MethodPost, "/ui/tokens", url.Values{"name": {"mine"}, "owner": {"dora"}, "scopes": {"read"}, "_csrf": {dora.csrf}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("reader creates a token: %d, want 403", resp.StatusCode)
	}

	// A user's token gets no scope its user lacks; a refused form keeps what was typed.
	tok := url.Values{"name": {"dora-ci"}, "owner": {"dora"}, "owner_kind": {"user"}, "scopes": {"write:local-b"}, "expires": {"24h"}, "_csrf": {adm.csrf}}
	resp, body = adm.do(http.MethodPost, "/ui/tokens", tok, map[string]string{"HX-Request": "true"})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "does not have it") || !strings.Contains(body, `value="dora-ci"`) {
		t.Fatalf("token beyond the user's scopes: %d\n%s", resp.StatusCode, body)
	}
	tok.Set("scopes", "write:local-a")
	resp, body = adm.do(http.MethodPost, "/ui/tokens", tok, map[string]string{"HX-Request": "true"})
	m := secretField.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusCreated || m == nil || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create a token: %d, Cache-Control %q, secret shown: %v", resp.StatusCode, resp.Header.Get("Cache-Control"), m != nil)
	}
	secret := html.UnescapeString(m[1])
	file := filepath.Join(t.TempDir(), "f.txt")
	if err := os.WriteFile(file, []byte("from the dashboard's token"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st := curl(t, "-u", "ci:"+secret, "-T", file, in.URL+"/api/local-a/from-dashboard.txt"); st != http.StatusCreated {
		t.Fatalf("upload with the dashboard's token: %d", st)
	}
	if _, body := adm.do(http.MethodGet, "/ui/tokens", nil, nil); strings.Contains(body, secret) || !strings.Contains(body, "dora-ci") {
		t.Fatalf("the tokens screen shows the secret again (or not the token)")
	}

	// Revoked from the dashboard, the token is refused.
	var tokens struct{ Tokens []struct{ ID string } }
	call(t, in, http.MethodGet, "/admin/tokens", apptest.Admin(), nil, &tokens)
	if resp, _ := adm.do(http.MethodPost, "/ui/tokens/"+tokens.Tokens[0].ID+"/revoke", url.Values{"_csrf": {adm.csrf}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if st := curl(t, "-u", "ci:"+secret, "-T", file, in.URL+"/api/local-a/after-revoke.txt"); st != http.StatusUnauthorized {
		t.Fatalf("upload with the revoked token: %d, want 401", st)
	}

	// Disabling from the dashboard ends dora's session.
	if resp, _ := adm.do(http.MethodPost, "/ui/users/dora/disable", url.Values{"_csrf": {adm.csrf}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d", resp.StatusCode)
	}
	if resp, _ := dora.do(http.MethodGet, "/ui/", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("a disabled user's session: %d, want 303 to the sign-in page", resp.StatusCode)
	}

	// The audit screen lists the dashboard's changes, filtered.
	_, body = adm.do(http.MethodGet, "/ui/audit?actor=admin&action=token.create&outcome=failed", nil, nil)
	if !strings.Contains(body, "dora/dora-ci") || strings.Contains(body, `data-outcome="ok"`) {
		t.Fatalf("audit screen, failed token creations by admin:\n%s", body)
	}
	_, body = adm.do(http.MethodGet, "/ui/audit?action=user.update&since=2000-01-01T00:00&until=2999-01-01T00:00", nil, nil)
	if !strings.Contains(body, "disabled true") {
		t.Fatalf("audit screen, user updates: no disabling of dora:\n%s", body)
	}
	if resp, _ := adm.do(http.MethodGet, "/ui/audit?since=yesterday", nil, nil); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a bad time filter: %d, want 400", resp.StatusCode)
	}
}
