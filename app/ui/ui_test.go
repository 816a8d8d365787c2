package ui

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/cache"
	"artifactapi/app/config"
	"artifactapi/app/jobs"
	"artifactapi/db"
)

const testToken = "unit-test-admin-token-0123456789"

const testRemotes = `
remotes:
  files:
    base_url: "https://example.com/dl"
    type: remote
    package: generic
    password: "upstream-secret-value"
    username: "bob"
    immutable_patterns: ["\\.tar\\.gz$"]
    mutable_patterns: ["index\\.json$"]
  mine:
    type: local
    package: generic
`

// fakeStore is an in-memory Listing.
type fakeStore struct {
	mu    sync.Mutex
	items map[string][]db.Artifact
	err   error
}

func (s *fakeStore) ListArtifacts(_ context.Context, q db.ListQuery) (db.ListPage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return db.ListPage{}, s.err
	}
	var out []db.Artifact
	for _, a := range s.items[q.Remote] {
		if strings.Contains(a.Path, q.Q) {
			out = append(out, a)
		}
	}
	if q.Limit > 0 && len(out) > q.Limit {
		return db.ListPage{Items: out[:q.Limit], NextCursor: "more"}, nil
	}
	return db.ListPage{Items: out}, nil
}

func (s *fakeStore) SearchArtifacts(_ context.Context, q db.SearchQuery) ([]db.SearchGroup, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []db.SearchGroup
	for _, r := range q.Remotes {
		g := db.SearchGroup{Remote: r}
		for _, a := range s.items[r] {
			if strings.Contains(a.Path, q.Q) || strings.HasPrefix(a.SHA256, q.Q) {
				if len(g.Items) == q.Limit {
					g.More = true
					break
				}
				g.Items = append(g.Items, a)
			}
		}
		if len(g.Items) > 0 {
			out = append(out, g)
		}
	}
	return out, s.err
}

func (s *fakeStore) GetArtifact(_ context.Context, remote, p string) (db.Artifact, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.items[remote] {
		if a.Path == p {
			return a, nil
		}
	}
	return db.Artifact{}, db.ErrNotFound
}

func (s *fakeStore) Totals(_ context.Context, remote, q string) (db.Totals, error) {
	p, err := s.ListArtifacts(context.Background(), db.ListQuery{Remote: remote, Q: q})
	var t db.Totals
	for _, a := range p.Items {
		t.Count++
		t.Bytes += a.Size
	}
	return t, err
}

// fakeEngine counts the operations the dashboard asks for.
type fakeEngine struct {
	mu       sync.Mutex
	evicted  []string
	bulk     []bool // dryRun of each EvictMatching
	uploaded map[string]string
}

func (e *fakeEngine) Evict(_ context.Context, remote, p, _ string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evicted = append(e.evicted, remote+"/"+p)
	return nil
}

func (e *fakeEngine) EvictMatching(_ context.Context, _, _ string, dryRun bool) (cache.BulkResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.bulk = append(e.bulk, dryRun)
	return cache.BulkResult{Count: 2, Bytes: 2048, DryRun: dryRun}, nil
}

func (e *fakeEngine) Upload(_ context.Context, r *config.Remote, p string, body io.Reader, _ string, _ int64) (db.Artifact, error) {
	h := sha256.New()
	n, err := io.Copy(h, body)
	if err != nil {
		return db.Artifact{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.uploaded == nil {
		e.uploaded = map[string]string{}
	}
	e.uploaded[r.Name+"/"+p] = hex.EncodeToString(h.Sum(nil))
	return db.Artifact{Remote: r.Name, Path: p, Size: n, SHA256: e.uploaded[r.Name+"/"+p]}, nil
}

func (e *fakeEngine) calls() (int, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.evicted), len(e.bulk)
}

type harness struct {
	t      testing.TB
	app    *fiber.App
	h      *Handler
	store  *fakeStore
	engine *fakeEngine
	now    time.Time
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	f, err := config.ParseRemotes("test", []byte(testRemotes))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Env: config.Env{AdminToken: testToken}, Remotes: f}
	hs := &harness{t: t, store: &fakeStore{items: map[string][]db.Artifact{}}, engine: &fakeEngine{},
		now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	hs.h = New(Deps{Config: func() *config.Config { return cfg }, Meta: hs.store, Engine: hs.engine,
		AdminToken: testToken, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Version: "test",
		Now: func() time.Time { return hs.now }})
	hs.app = fiber.New(fiber.Config{StreamRequestBody: true})
	hs.h.Mount(hs.app)
	return hs
}

// do sends a request; cookies and headers are given as maps.
func (hs *harness) do(method, target string, body io.Reader, hdr map[string]string, cookies ...*http.Cookie) (*http.Response, string) {
	hs.t.Helper()
	req := httptest.NewRequest(method, target, body)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := hs.app.Test(req, -1)
	if err != nil {
		hs.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func cookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var metaToken = regexp.MustCompile(`name="csrf-token" content="([^"]+)"`)

// signIn returns the session and CSRF cookies and the page's CSRF token.
func (hs *harness) signIn() (session, seed *http.Cookie, token string) {
	hs.t.Helper()
	resp, body := hs.do(http.MethodGet, "/ui/login", nil, nil)
	seed = cookieNamed(resp, CSRFCookie)
	m := metaToken.FindStringSubmatch(body)
	if seed == nil || m == nil {
		hs.t.Fatalf("login page without CSRF seed or token: %d", resp.StatusCode)
	}
	token = html.UnescapeString(m[1])
	form := url.Values{"token": {testToken}, CSRFField: {token}, "next": {"/ui/config"}}
	resp, _ = hs.do(http.MethodPost, "/ui/login", strings.NewReader(form.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, seed)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/config" {
		hs.t.Fatalf("sign in: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	session = cookieNamed(resp, SessionCookie)
	if session == nil {
		hs.t.Fatal("sign in set no session cookie")
	}
	return session, seed, token
}

func TestSignedOutIsSentToSignIn(t *testing.T) {
	hs := newHarness(t)
	for _, tc := range []struct{ name, target, want string }{
		{"root", "/ui/", "/ui/login"},
		{"bare", "/ui", "/ui/login"},
		{"page", "/ui/config?x=1", "/ui/login?next=%2Fui%2Fconfig%3Fx%3D1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := hs.do(http.MethodGet, tc.target, nil, nil)
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tc.want {
				t.Fatalf("got %d to %q, want 303 to %q", resp.StatusCode, resp.Header.Get("Location"), tc.want)
			}
		})
	}
	resp, _ := hs.do(http.MethodGet, "/ui/config", nil, map[string]string{"HX-Request": "true"})
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("HX-Redirect"), "/ui/login") {
		t.Fatalf("htmx request without session: %d, HX-Redirect %q", resp.StatusCode, resp.Header.Get("HX-Redirect"))
	}
}

func TestLoginCookie(t *testing.T) {
	hs := newHarness(t)
	session, seed, token := hs.signIn()
	if !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Path != "/ui" || session.Secure {
		t.Fatalf("session cookie flags: %+v", session)
	}
	if int(session.MaxAge) != int(SessionTTL/time.Second) {
		t.Fatalf("session MaxAge %d", session.MaxAge)
	}
	if strings.Contains(session.Value, testToken) {
		t.Fatal("the session cookie contains the admin token")
	}
	resp, body := hs.do(http.MethodGet, "/ui/config", nil, nil, session, seed)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Pattern tester") {
		t.Fatalf("signed in: %d", resp.StatusCode)
	}
	if strings.Contains(body, "upstream-secret-value") || strings.Contains(body, testToken) {
		t.Fatal("the configuration page shows a secret")
	}

	// Wrong token: refused, no session.
	form := url.Values{"token": {"wrong"}, CSRFField: {token}}
	resp, body = hs.do(http.MethodPost, "/ui/login", strings.NewReader(form.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, seed)
	if resp.StatusCode != http.StatusUnauthorized || cookieNamed(resp, SessionCookie) != nil || !strings.Contains(body, "not the admin token") {
		t.Fatalf("wrong token: %d", resp.StatusCode)
	}

	// Over HTTPS (behind a proxy) the cookie is Secure.
	form = url.Values{"token": {testToken}, CSRFField: {token}}
	resp, _ = hs.do(http.MethodPost, "/ui/login", strings.NewReader(form.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-Proto": "https"}, seed)
	if c := cookieNamed(resp, SessionCookie); c == nil || !c.Secure {
		t.Fatalf("HTTPS sign in: cookie %+v", c)
	}

	// Sign out clears the cookie.
	resp, _ = hs.do(http.MethodPost, "/ui/logout", nil, map[string]string{CSRFHeader: token}, session, seed)
	if c := cookieNamed(resp, SessionCookie); resp.StatusCode != http.StatusSeeOther || c == nil || c.Value != "" {
		t.Fatalf("logout: %d, cookie %+v", resp.StatusCode, c)
	}
}

func TestSessionValues(t *testing.T) {
	hs := newHarness(t)
	now := hs.now
	good := hs.h.newSession(now)
	other := New(Deps{AdminToken: "another-token", Config: hs.h.d.Config}).newSession(now)
	body, sig, _ := strings.Cut(good, ".")
	_ = sig
	for _, tc := range []struct {
		name  string
		value string
		at    time.Time
		ok    bool
	}{
		{"valid", good, now, true},
		{"valid until expiry", good, now.Add(SessionTTL - time.Second), true},
		{"expired", good, now.Add(SessionTTL), false},
		{"signed with another admin token (every replica must share it)", other, now, false},
		{"tampered expiry", strings.Replace(good, "v1."+strings.Split(good, ".")[1], "v1.9999999999", 1), now, false},
		{"tampered signature", good[:len(good)-2] + "AA", now, false},
		{"no signature", body, now, false},
		{"empty", "", now, false},
		{"garbage", "a.b.c.d.e", now, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := hs.h.checkSession(tc.value, tc.at); ok != tc.ok {
				t.Fatalf("checkSession = %t, want %t", ok, tc.ok)
			}
		})
	}
	// Any handler built from the same admin token accepts the session (stateless, cross-replica).
	replica := New(Deps{AdminToken: testToken, Config: hs.h.d.Config})
	if _, ok := replica.checkSession(good, now); !ok {
		t.Fatal("another replica refused the session")
	}
}

func TestCSRF(t *testing.T) {
	hs := newHarness(t)
	session, seed, token := hs.signIn()
	_, otherSeed, _ := newHarness(t).signIn()
	form := func(extra url.Values) io.Reader {
		v := url.Values{"path": {"a.tar.gz"}}
		for k, vs := range extra {
			v[k] = vs
		}
		return strings.NewReader(v.Encode())
	}
	urlencoded := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for _, tc := range []struct {
		name    string
		body    io.Reader
		hdr     map[string]string
		cookies []*http.Cookie
		status  int
	}{
		{"no token", form(nil), urlencoded, []*http.Cookie{session, seed}, http.StatusForbidden},
		{"wrong field", form(url.Values{CSRFField: {"forged"}}), urlencoded, []*http.Cookie{session, seed}, http.StatusForbidden},
		{"token of another seed", form(url.Values{CSRFField: {token}}), urlencoded, []*http.Cookie{session, otherSeed}, http.StatusForbidden},
		{"no seed cookie", form(url.Values{CSRFField: {token}}), urlencoded, []*http.Cookie{session}, http.StatusForbidden},
		{"text/plain body", strings.NewReader(CSRFField + "=" + token), map[string]string{"Content-Type": "text/plain"}, []*http.Cookie{session, seed}, http.StatusForbidden},
		{"form field", form(url.Values{CSRFField: {token}}), urlencoded, []*http.Cookie{session, seed}, http.StatusSeeOther},
		{"header", form(nil), map[string]string{"Content-Type": "application/x-www-form-urlencoded", CSRFHeader: token}, []*http.Cookie{session, seed}, http.StatusSeeOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := hs.engine.calls()
			resp, body := hs.do(http.MethodPost, "/ui/remotes/files/evict", tc.body, tc.hdr, tc.cookies...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			after, _ := hs.engine.calls()
			if refused := tc.status == http.StatusForbidden; refused {
				if after != before {
					t.Fatal("a refused request reached the engine")
				}
				if !strings.Contains(body, "CSRF token is missing or invalid") {
					t.Fatalf("403 without a clear message: %s", body)
				}
			} else if after != before+1 {
				t.Fatalf("engine called %d times", after-before)
			}
		})
	}
	// Safe methods need no token.
	if resp, _ := hs.do(http.MethodGet, "/ui/remotes/files", nil, nil, session, seed); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
}

func TestRenderPicksPageOrPartial(t *testing.T) {
	hs := newHarness(t)
	hs.store.items["files"] = []db.Artifact{{Remote: "files", Path: "v1/a.tar.gz", Size: 10, SHA256: strings.Repeat("ab", 32), Kind: db.KindImmutable, CachedAt: hs.now}}
	session, seed, token := hs.signIn()
	ck := []*http.Cookie{session, seed}
	for _, tc := range []struct {
		name     string
		hdr      map[string]string
		fullPage bool
	}{
		{"browser", nil, true},
		{"htmx", map[string]string{"HX-Request": "true"}, false},
		{"boosted", map[string]string{"HX-Request": "true", "HX-Boosted": "true"}, true},
		{"history restore", map[string]string{"HX-Request": "true", "HX-History-Restore-Request": "true"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := hs.do(http.MethodGet, "/ui/remotes/files?q=a", nil, tc.hdr, ck...)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, `data-path="v1/a.tar.gz"`) {
				t.Fatalf("status %d, body without the row", resp.StatusCode)
			}
			if got := strings.Contains(body, "<html"); got != tc.fullPage {
				t.Fatalf("full page = %t, want %t", got, tc.fullPage)
			}
			if tc.fullPage && !strings.Contains(body, token) {
				t.Fatal("full page without the CSRF token")
			}
		})
	}

	// Errors are shown in place: a partial for htmx, a page otherwise.
	hs.store.err = errors.New("connection refused to db-secret-host")
	resp, body := hs.do(http.MethodGet, "/ui/remotes/files", nil, map[string]string{"HX-Request": "true"}, ck...)
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, `class="alert alert-error"`) ||
		strings.Contains(body, "<html") || strings.Contains(body, "db-secret-host") || resp.Header.Get("HX-Retarget") != "#flash" {
		t.Fatalf("htmx error: %d %s", resp.StatusCode, body)
	}
	resp, body = hs.do(http.MethodGet, "/ui/remotes/files", nil, nil, ck...)
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, "<html") || strings.Contains(body, "db-secret-host") {
		t.Fatalf("page error: %d", resp.StatusCode)
	}
	resp, body = hs.do(http.MethodGet, "/ui/remotes/nope", nil, nil, ck...)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "no repository with this name") {
		t.Fatalf("unknown remote: %d", resp.StatusCode)
	}
	resp, _ = hs.do(http.MethodGet, "/ui/no/such/page", nil, nil, ck...)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown page: %d", resp.StatusCode)
	}
	resp, body = hs.do(http.MethodGet, "/ui/remotes/files?limit=abc", nil, map[string]string{"HX-Request": "true"}, ck...)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "limit must be") {
		t.Fatalf("bad limit: %d %s", resp.StatusCode, body)
	}
}

func TestPanicsBecomeAnErrorPage(t *testing.T) {
	hs := newHarness(t)
	f := fiber.New()
	f.Use(hs.h.guard)
	f.Get("/x", func(c *fiber.Ctx) error { panic("secret internals") })
	resp, err := f.Test(httptest.NewRequest(http.MethodGet, "/x", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusInternalServerError || strings.Contains(string(b), "secret internals") ||
		!strings.Contains(string(b), "Something went wrong") {
		t.Fatalf("panic answer: %d %s", resp.StatusCode, b)
	}
}

func TestBulkEvictCountsFirst(t *testing.T) {
	hs := newHarness(t)
	session, seed, token := hs.signIn()
	hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded", CSRFHeader: token, "HX-Request": "true"}
	_, body := hs.do(http.MethodPost, "/ui/remotes/files/bulk-evict", strings.NewReader("q=v1"), hdr, session, seed)
	if !strings.Contains(body, `data-testid="bulk-count">2<`) || !strings.Contains(body, "Evict 2 artifacts") {
		t.Fatalf("dry run answer: %s", body)
	}
	resp, body := hs.do(http.MethodPost, "/ui/remotes/files/bulk-evict", strings.NewReader("q=v1&confirm=yes"), hdr, session, seed)
	if !strings.Contains(body, "Evicted 2 artifacts") || resp.Header.Get("HX-Trigger") != "artifacts-changed" {
		t.Fatalf("confirmed answer: %s", body)
	}
	hs.engine.mu.Lock()
	defer hs.engine.mu.Unlock()
	if len(hs.engine.bulk) != 2 || !hs.engine.bulk[0] || hs.engine.bulk[1] {
		t.Fatalf("dry runs: %v, want [true false]", hs.engine.bulk)
	}
}

func TestUploadStreamsToLocalRepositories(t *testing.T) {
	hs := newHarness(t)
	session, seed, token := hs.signIn()
	payload := strings.Repeat("x", 1<<20)
	sum := sha256.Sum256([]byte(payload))
	for _, tc := range []struct {
		name, target string
		status       int
		want         string
	}{
		{"local", "/ui/upload?remote=mine&path=" + url.QueryEscape("tools/a b.bin"), http.StatusCreated, hex.EncodeToString(sum[:])},
		{"not local", "/ui/upload?remote=files&path=a.tar.gz", http.StatusBadRequest, "local repositories only"},
		{"unknown", "/ui/upload?remote=nope&path=a", http.StatusNotFound, "no repository"},
		{"traversal", "/ui/upload?remote=mine&path=" + url.QueryEscape("../x"), http.StatusBadRequest, "invalid path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Refusals leave the body unread: close the connection as the app's middleware does.
			resp, body := hs.do(http.MethodPut, tc.target, strings.NewReader(payload), map[string]string{CSRFHeader: token, "Connection": "close"}, session, seed)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("status %d, want %d with %q: %s", resp.StatusCode, tc.status, tc.want, body)
			}
		})
	}
	if got := hs.engine.uploaded["mine/tools/a b.bin"]; got != hex.EncodeToString(sum[:]) {
		t.Fatalf("uploaded sha256 %q", got)
	}
	// Without the CSRF header nothing is stored.
	resp, _ := hs.do(http.MethodPut, "/ui/upload?remote=mine&path=z", strings.NewReader("z"), nil, session, seed)
	if resp.StatusCode != http.StatusForbidden || hs.engine.uploaded["mine/z"] != "" {
		t.Fatalf("upload without token: %d", resp.StatusCode)
	}
}

func TestPatternTester(t *testing.T) {
	hs := newHarness(t)
	session, seed, _ := hs.signIn()
	for _, tc := range []struct{ path, kind, pattern string }{
		{"v1/tool.tar.gz", "immutable", `\.tar\.gz$`},
		{"v1/index.json", "mutable", `index\.json$`},
		{"v1/readme.txt", "denied", ""},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			_, body := hs.do(http.MethodGet, "/ui/config/test?remote=files&path="+url.QueryEscape(tc.path), nil,
				map[string]string{"HX-Request": "true"}, session, seed)
			if !strings.Contains(body, `data-kind="`+tc.kind+`"`) || !strings.Contains(html.UnescapeString(body), tc.pattern) {
				t.Fatalf("verdict for %s: %s", tc.path, body)
			}
		})
	}
}

func TestSafeNext(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/ui/config", "/ui/config"},
		{"/ui/remotes/a?q=b", "/ui/remotes/a?q=b"},
		{"", "/ui/"},
		{"https://evil.example/ui/", "/ui/"},
		{"//evil.example/ui/", "/ui/"},
		{"/ui/\r\nSet-Cookie: x", "/ui/"},
		{"/api/x", "/ui/"},
	} {
		if got := safeNext(tc.in); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestStaticAssetsAreCached(t *testing.T) {
	hs := newHarness(t)
	v := hs.h.assets.Version()
	resp, body := hs.do(http.MethodGet, "/ui/static/htmx.min.js?v="+v, nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") ||
		!strings.Contains(resp.Header.Get("Content-Type"), "javascript") || !strings.Contains(body, "htmx") {
		t.Fatalf("asset: %d %q %q", resp.StatusCode, resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Type"))
	}
	resp, _ = hs.do(http.MethodGet, "/ui/static/app.css", nil, map[string]string{"If-None-Match": resp.Header.Get("ETag")})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("css: %d", resp.StatusCode)
	}
	resp, _ = hs.do(http.MethodGet, "/ui/static/app.css", nil, map[string]string{"If-None-Match": resp.Header.Get("ETag")})
	if resp.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: %d", resp.StatusCode)
	}
	if resp, _ := hs.do(http.MethodGet, "/ui/static/nope.js", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("missing asset: %d", resp.StatusCode)
	}
}

// fakeJobs keeps submitted jobs in memory.
type fakeJobs struct {
	mu   sync.Mutex
	jobs map[string]db.Job
}

func (f *fakeJobs) Submit(_ context.Context, s jobs.Submission) (db.Job, error) {
	if strings.Contains(strings.Join(s.Paths, ""), "..") {
		return db.Job{}, &jobs.InvalidError{Msg: "invalid path: '..' segment not allowed", Path: s.Paths[0]}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	j := db.Job{ID: db.NewJobID(), Remote: s.Remote, State: db.JobQueued, Totals: db.JobTotals{Items: len(s.Paths), ByState: map[string]int{db.ItemQueued: len(s.Paths)}}}
	for i, p := range s.Paths {
		j.Items = append(j.Items, db.JobItem{JobID: j.ID, Idx: i, Remote: s.Remote, Path: p, State: db.ItemQueued})
	}
	f.jobs[j.ID] = j
	return j, nil
}

func (f *fakeJobs) Job(_ context.Context, id string) (db.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[id]
	if !ok {
		return j, db.ErrNotFound
	}
	return j, nil
}

func (f *fakeJobs) Jobs(context.Context, int) ([]db.Job, error) { return nil, nil }

// Retry is not exercised by these tests (app/jobs_test.go covers it).
func (f *fakeJobs) Retry(context.Context, string) (db.Job, error) {
	return db.Job{}, jobs.ErrNothingToRetry
}

// Cancel ends the queued items, as the stores do.
func (f *fakeJobs) Cancel(_ context.Context, id string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[id]
	if !ok {
		return 0, db.ErrNotFound
	}
	n := 0
	items := append([]db.JobItem(nil), j.Items...)
	for i := range items {
		if items[i].State == db.ItemQueued {
			items[i].State, items[i].Reason = db.ItemCanceled, db.CancelReason
			n++
		}
	}
	j.Items, j.State = items, db.JobDone
	j.Totals.ByState = map[string]int{db.ItemCanceled: n}
	f.jobs[id] = j
	return n, nil
}

func TestJobsStartAndPollUntilDone(t *testing.T) {
	hs := newHarness(t)
	fj := &fakeJobs{jobs: map[string]db.Job{}}
	hs.h.d.Jobs = fj
	session, seed, token := hs.signIn()
	hdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded", CSRFHeader: token, "HX-Request": "true"}
	post := func(form url.Values) (*http.Response, string) {
		return hs.do(http.MethodPost, "/ui/jobs", strings.NewReader(form.Encode()), hdr, session, seed)
	}

	resp, body := post(url.Values{"remote": {"files"}, "paths": {"  \n# comment\n"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Give at least one path") || strings.Contains(body, "<html") {
		t.Fatalf("empty job: %d %s", resp.StatusCode, body)
	}
	resp, body = post(url.Values{"remote": {"files"}, "paths": {"a/../../b.tar.gz"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(html.UnescapeString(body), "'..' segment not allowed") {
		t.Fatalf("refused job: %d %s", resp.StatusCode, body)
	}
	resp, _ = post(url.Values{"remote": {"files"}, "paths": {"v1/a.tar.gz\r\n\nv1/b.tar.gz\n"}})
	loc := resp.Header.Get("HX-Redirect")
	id := strings.TrimPrefix(loc, "/ui/jobs/")
	j, err := fj.Job(context.Background(), id)
	if err != nil || len(j.Items) != 2 || j.Items[1].Path != "v1/b.tar.gz" {
		t.Fatalf("submitted job %q: %+v %v", loc, j, err)
	}

	get := func() string {
		_, body := hs.do(http.MethodGet, loc, nil, map[string]string{"HX-Request": "true"}, session, seed)
		return body
	}
	if b := get(); !strings.Contains(b, `data-live="/ui/jobs/`+id+`"`) || strings.Contains(b, "<html") || !strings.Contains(b, "Cancel queued items") {
		t.Fatalf("running job does not poll or offers no cancel: %s", b)
	}
	fj.mu.Lock()
	saved := fj.jobs[id]
	fj.mu.Unlock()
	cancelURL := "/ui/jobs/" + id + "/cancel"
	if resp, _ := hs.do(http.MethodPost, cancelURL, strings.NewReader(""), map[string]string{"HX-Request": "true"}, session, seed); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cancel without the CSRF token: %d", resp.StatusCode)
	}
	resp, body = hs.do(http.MethodPost, cancelURL, strings.NewReader(""), hdr, session, seed)
	if resp.StatusCode != http.StatusOK || strings.Count(body, db.CancelReason) != 2 || strings.Contains(body, "data-live") ||
		strings.Contains(body, "Cancel queued items") || strings.Contains(body, "<html") {
		t.Fatalf("cancel: %d %s", resp.StatusCode, body)
	}
	fj.mu.Lock()
	fj.jobs[id] = saved // running again, for the rest of the test
	j.State = db.JobDone
	j.Items[0].State, j.Items[1].State, j.Items[1].Reason = db.ItemCached, db.ItemFailed, "not found upstream (HTTP 404)"
	fj.jobs[id] = j
	fj.mu.Unlock()
	if b := get(); strings.Contains(b, "data-live") || !strings.Contains(b, "not found upstream (HTTP 404)") {
		t.Fatalf("finished job still polls or hides the failure: %s", b)
	}
	if resp, _ := hs.do(http.MethodGet, "/ui/jobs/"+db.NewJobID(), nil, nil, session, seed); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown job: %d", resp.StatusCode)
	}
}
