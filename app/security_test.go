package app_test

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// recorder is an HTTP server that records every request it receives.
type recorder struct {
	URL  string
	Host string
	mu   sync.Mutex
	reqs []*http.Request
	// conns counts accepted TCP connections, even ones that never send a request.
	conns   int
	handler http.HandlerFunc
}

func newRecorder(t *testing.T, h http.HandlerFunc) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{URL: "http://" + ln.Addr().String(), Host: ln.Addr().String(), handler: h}
	srv := &http.Server{Handler: r, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			r.mu.Lock()
			r.conns++
			r.mu.Unlock()
		}
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Clone(req.Context()))
	r.mu.Unlock()
	if r.handler != nil {
		r.handler(w, req)
		return
	}
	fmt.Fprintf(w, "from-origin %s", req.URL.RequestURI())
}

// seen returns the request URIs received so far and the connection count.
func (r *recorder) seen() ([]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	uris := make([]string, len(r.reqs))
	for i, q := range r.reqs {
		uris[i] = q.URL.RequestURI()
	}
	return uris, r.conns
}

func (r *recorder) authHeaders() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, q := range r.reqs {
		if a := q.Header.Get("Authorization"); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// rawGet writes target verbatim on the request line, so no client library
// normalises or re-encodes it, and reads the answer.
func rawGet(t *testing.T, in *apptest.Instance, target, host string) (int, http.Header, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(in.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, host); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %.120s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// secCorpus is the hostile path corpus (see app/config/paths_test.go); host is
// a server no request may reach.
func secCorpus(host string) []struct{ name, raw string } {
	return []struct{ name, raw string }{
		{"dot-dot", "../x"},
		{"dot-dot to the canary", "../../../" + host + "/x"},
		{"escaping dot-dot", "a/../../b"},
		{"encoded dot-dot", "%2e%2e/x"},
		{"encoded dot-dot and slash", "%2E%2E%2Fx"},
		{"dot-dot with encoded slashes", "..%2f..%2fetc"},
		{"encoded slash", "a%2Fb"},
		{"encoded slash to the canary", "%2F%2F" + host + "%2Fx"},
		{"double slash host", "//" + host + "/x"},
		{"userinfo host", "@" + host + "/x"},
		{"encoded userinfo host", "%40" + host},
		{"absolute URL", "http://" + host + "/x"},
		{"absolute URL encoded", "http:%2F%2F" + host + "%2Fx"},
		{"backslash", `..\..\x`},
		{"backslash host", `\\` + host + `\x`},
		{"encoded backslash", "%5c%5c" + host + "%5cx"},
		{"NUL", "x%00.bin"},
		{"CRLF", "x%0d%0aHost:%20" + host},
		{"invalid escape", "%zz"},
		{"very long path", strings.Repeat("a/", 2500) + "x"},
		{"encoded question mark", "x%3F@" + host},
		{"encoded hash", "x%23@" + host},
		{"plain file", "dir/file.bin"},
	}
}

// TestHostilePathsReachOnlyTheRemote sends the corpus raw to /api/<remote>/…
// of an instance whose remote is a counting origin; a canary server on another
// port must never be contacted.
func TestHostilePathsReachOnlyTheRemote(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		canary := newRecorder(t, nil)
		org := newRecorder(t, nil)
		remotes := fmt.Sprintf("remotes:\n  gen:\n    base_url: %q\n    negative_ttl: 0\n", org.URL+"/base")
		in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: remotes})

		type target struct{ name, target string }
		var targets []target
		for _, prefix := range []string{"/api/gen/", "/api/v1/remote/gen/"} {
			for _, c := range secCorpus(canary.Host) {
				targets = append(targets, target{prefix + c.name, prefix + c.raw})
			}
		}
		// Request-targets that are not plain paths.
		targets = append(targets,
			target{"absolute-form to the canary", canary.URL + "/api/gen/abs.bin"},
			target{"absolute-form with userinfo", "http://x@" + canary.Host + "/api/gen/abs2.bin"},
			target{"dot-dot before the remote", "/api/../api/gen/x.bin"},
			target{"encoded remote separator", "/api/gen%2F..%2F..%2Fx"},
			target{"remote name is a host", "/api/" + canary.Host + "/x"},
			target{"double slash after /api", "/api//" + canary.Host + "/x"},
		)
		served := 0
		for _, tc := range targets {
			before, _ := org.seen()
			// The Host header names the canary: nothing may use it to build an upstream URL.
			status, hdr, body := rawGet(t, in, tc.target, canary.Host)
			settle(t, in) // a repeated clean path is then a cache hit, not a joined download
			after, _ := org.seen()
			switch status {
			case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound:
			case http.StatusOK:
				served++
				// Only the origin writes "from-origin /base/…"; a cache hit
				// serves bytes the origin sent earlier for the same clean path.
				src := hdr.Get("X-Artifact-Source")
				fromOrigin := src == "remote" && len(after) == len(before)+1 || src == "cache" && len(after) == len(before)
				if !strings.HasPrefix(body, "from-origin /base/") || !fromOrigin {
					t.Errorf("%s: 200 not served from the origin (source %q, origin requests %d → %d): %.200q", tc.name, src, len(before), len(after), body)
				}
			default:
				t.Errorf("%s: GET %.100s → %d %.200q; want 400/403/404 or the origin's file", tc.name, tc.target, status, body)
			}
		}
		uris, _ := org.seen()
		for _, u := range uris {
			if !strings.HasPrefix(u, "/base/") || strings.Contains(u, "/../") || strings.HasSuffix(u, "/..") {
				t.Errorf("origin received %q, outside the remote's base path", u)
			}
		}
		if served == 0 {
			t.Fatal("no request was served: the test proves nothing")
		}
		if reqs, conns := canary.seen(); conns != 0 || len(reqs) != 0 {
			t.Fatalf("the canary was contacted: %d connections, requests %q", conns, reqs)
		}
	})
}

// TestSecretsNeverShown configures every kind of secret, exercises success
// and error paths, and looks for the values in /config, the management
// routes, every response (headers and body) and the logs.
func TestSecretsNeverShown(t *testing.T) {
	const (
		upstreamUser = "deploy"
		upstreamPW   = "upstream-pw-SECRET-1"
		downPW       = "down-pw-SECRET-2"
		adminToken   = "admin-token-SECRET-3-0123456789abcdef"
	)
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		b := apptest.NewBackends(t, mode)
		env := map[string]string{"ADMIN_TOKEN": adminToken}
		secrets := []string{upstreamPW, downPW, adminToken}
		if mode == apptest.Production {
			// The local PostgreSQL trusts 127.0.0.1 and Redis's default user
			// takes any password: both can be set without breaking the run.
			env["DBPASS"] = "db-pw-SECRET-4"
			ru, err := url.Parse(b.Env["REDIS_URL"])
			if err != nil {
				t.Fatal(err)
			}
			ru.User = url.UserPassword("default", "redis-pw-SECRET-5")
			env["REDIS_URL"] = ru.String()
			secrets = append(secrets, env["DBPASS"], "redis-pw-SECRET-5", b.Env["MINIO_SECRET_KEY"])
		} else {
			env["MINIO_SECRET_KEY"] = "minio-SECRET-6"
			secrets = append(secrets, env["MINIO_SECRET_KEY"])
		}

		elsewhere := newRecorder(t, nil)
		wantAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte(upstreamUser+":"+upstreamPW))
		org := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasSuffix(r.URL.Path, "/denied.bin"):
				w.Header().Set("WWW-Authenticate", `Basic realm="origin"`)
				http.Error(w, "bad credentials "+r.Header.Get("Authorization"), http.StatusUnauthorized)
			case r.Header.Get("Authorization") != wantAuth:
				http.Error(w, "unauthorized", http.StatusUnauthorized)
			case strings.HasSuffix(r.URL.Path, "/redirect.bin"):
				http.Redirect(w, r, elsewhere.URL+"/cdn/file.bin", http.StatusFound)
			case strings.HasSuffix(r.URL.Path, "/fail.bin"):
				http.Error(w, "boom "+r.Header.Get("Authorization"), http.StatusInternalServerError)
			default:
				fmt.Fprint(w, "private bytes")
			}
		})
		closed, err := testenv.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		remotes := fmt.Sprintf(`remotes:
  private:
    base_url: %q
    username: %s
    password: %q
    negative_ttl: 0
    allow_private_redirects: true # the "other host" is another port of 127.0.0.1
  down:
    base_url: "http://%s/repo"
    username: someone
    password: %q
  local:
    type: local
`, org.URL+"/private", upstreamUser, upstreamPW, closed, downPW)
		in := apptest.Start(t, b, apptest.Options{Remotes: remotes, Env: env})

		var seen strings.Builder
		check := func(name, method, path string, hdr map[string]string, wantStatus int) {
			t.Helper()
			var body io.Reader
			if method == http.MethodPut {
				body = strings.NewReader("payload")
			}
			resp := in.Do(t, method, path, body, hdr)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != wantStatus {
				t.Errorf("%s: %s %s → %d %s; want %d", name, method, path, resp.StatusCode, b, wantStatus)
			}
			var hs []string
			for k, v := range resp.Header {
				hs = append(hs, k+": "+strings.Join(v, ", "))
			}
			sort.Strings(hs)
			fmt.Fprintf(&seen, "== %s\n%s\n%s\n", name, strings.Join(hs, "\n"), b)
		}
		admin := map[string]string{"Authorization": "Bearer " + adminToken}
		check("credentials accepted upstream", "GET", "/api/private/ok.bin", nil, 200)
		settle(t, in)
		check("cache hit", "GET", "/api/private/ok.bin", nil, 200)
		check("redirect to another host", "GET", "/api/private/redirect.bin", nil, 200)
		check("upstream 401", "GET", "/api/private/denied.bin", nil, http.StatusBadGateway)
		check("upstream 401 on HEAD", "HEAD", "/api/private/denied-head/denied.bin", nil, http.StatusBadGateway)
		check("upstream 500", "GET", "/api/private/fail.bin", nil, http.StatusBadGateway)
		check("upstream unreachable", "GET", "/api/down/x.bin", nil, http.StatusBadGateway)
		check("upstream unreachable on HEAD", "HEAD", "/api/down/y.bin", nil, http.StatusBadGateway)
		check("hostile path", "GET", "/api/private/..%2fx", nil, http.StatusBadRequest)
		check("unknown remote", "GET", "/api/nope/x", nil, http.StatusNotFound)
		check("upload without credential", "PUT", "/api/local/a.bin", nil, http.StatusUnauthorized)
		check("upload with a wrong token", "PUT", "/api/local/a.bin", map[string]string{"Authorization": "Bearer " + adminToken + "x"}, http.StatusUnauthorized)
		check("upload to a remote", "PUT", "/api/private/a.bin", admin, http.StatusMethodNotAllowed)
		check("upload", "PUT", "/api/local/a.bin", admin, http.StatusCreated)
		check("overwrite", "PUT", "/api/local/a.bin", admin, http.StatusConflict)
		for _, p := range []string{"/", "/config", "/health", "/ready", "/metrics"} {
			check("management "+p, "GET", p, nil, 200)
		}
		check("listing", "GET", "/artifacts/private", nil, 200)
		check("listing of an unknown remote", "GET", "/artifacts/nope", nil, 404)

		// The test is only meaningful if the credentials were really used.
		if got := org.authHeaders(); len(got) == 0 || got[0] != wantAuth {
			t.Fatalf("origin never saw the remote's credentials: %q", got)
		}
		if got := elsewhere.authHeaders(); len(got) != 0 {
			t.Errorf("credentials were sent to another host after a redirect: %q", got)
		}
		if !strings.Contains(seen.String(), "REDACTED") {
			t.Errorf("/config shows no redacted secret:\n%s", seen.String())
		}
		settle(t, in)
		in.Stop() // flush every log line
		logs := in.Logs.String()
		for _, want := range []string{"Cache MISS", "Cache HIT", "denied.bin", "x.bin"} {
			if !strings.Contains(logs, want) {
				t.Errorf("logs lack %q: the requests were not logged", want)
			}
		}
		for _, s := range secrets {
			if s == "" {
				t.Fatal("empty secret in the test setup")
			}
			if i := strings.Index(seen.String(), s); i >= 0 {
				t.Errorf("a response contains the secret %q: …%s…", s, around(seen.String(), i))
			}
			if i := strings.Index(logs, s); i >= 0 {
				t.Errorf("the logs contain the secret %q: …%s…", s, around(logs, i))
			}
		}
	})
}

func around(s string, i int) string {
	return s[max(0, i-200):min(len(s), i+100)]
}

// TestRefusedBodyIsNeverParsedAsARequest sends, on one raw connection, a
// request whose body the server refuses to read and whose tail is itself an
// HTTP request. The server must answer once and close: answering the tail
// would desynchronise every keep-alive proxy in front of it.
func TestRefusedBodyIsNeverParsedAsARequest(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: localRemotes})
		if st, b := put(t, in, "/api/local/exists.txt", strings.NewReader("x"), 1, apptest.Admin()); st != http.StatusCreated {
			t.Fatalf("setup upload: %d %s", st, b)
		}
		smuggled := "GET /api/local/exists.txt HTTP/1.1\r\nHost: x\r\n\r\n"
		// The tail starts at several offsets so that it is a request wherever
		// the server stops reading.
		var body strings.Builder
		for _, pad := range []int{4096, 8192, 16384, 32768} {
			body.WriteString(strings.Repeat("A", pad-body.Len()))
			body.WriteString(smuggled)
		}
		admin := "Authorization: Bearer " + apptest.AdminToken + "\r\n"
		tests := []struct {
			name, method, target, headers string
			chunked                       bool
			want                          int
		}{
			{"upload without credential", "PUT", "/api/local/new.bin", "", false, http.StatusUnauthorized},
			{"chunked upload without credential", "PUT", "/api/local/new.bin", "", true, http.StatusUnauthorized},
			{"upload to a remote", "PUT", "/api/gen/new.bin", admin, false, http.StatusMethodNotAllowed},
			{"overwrite", "PUT", "/api/local/exists.txt", admin, false, http.StatusConflict},
			{"chunked overwrite", "PUT", "/api/local/exists.txt", admin, true, http.StatusConflict},
			{"unknown remote", "PUT", "/api/nope/new.bin", admin, false, http.StatusNotFound},
			{"hostile path", "PUT", "/api/local/..%2fnew.bin", admin, false, http.StatusBadRequest},
			{"GET with a body", "GET", "/health", "", false, http.StatusOK},
			{"POST to a GET route", "POST", "/config", "", false, http.StatusMethodNotAllowed},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				conn, err := net.Dial("tcp", strings.TrimPrefix(in.URL, "http://"))
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
				var req strings.Builder
				fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: x\r\n%s", tc.method, tc.target, tc.headers)
				if tc.chunked {
					fmt.Fprintf(&req, "Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", body.Len(), body.String())
				} else {
					fmt.Fprintf(&req, "Content-Length: %d\r\n\r\n%s", body.Len(), body.String())
				}
				if _, err := io.WriteString(conn, req.String()); err != nil {
					t.Fatal(err)
				}
				br := bufio.NewReader(conn)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.want && !(tc.want == http.StatusMethodNotAllowed && resp.StatusCode == http.StatusNotFound) {
					t.Fatalf("%s %s: %d, want %d", tc.method, tc.target, resp.StatusCode, tc.want)
				}
				// Anything after the first answer is the body answered as a request.
				rest, err := io.ReadAll(br)
				if len(rest) > 0 {
					t.Fatalf("a second answer followed on the connection: %.300q", rest)
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatal("the server kept the connection open to read the rest of the body as a request")
				}
			})
		}
	})
}

// TestHardeningHeaders: every /api answer — miss, hit, HEAD, 304, 416 and
// each kind of error — says nosniff and sandboxes any document opened from
// it, so an HTML artifact (or an error echoing a path) never runs as a page
// of this origin.
func TestHardeningHeaders(t *testing.T) {
	o := newOrigin(t)
	f := o.set("/files/page.html", []byte("<html><script>alert(document.cookie)</script></html>"))
	f.ctype = "text/html"
	in := start(t, apptest.Embedded, o)
	tests := []struct {
		name, method, path string
		hdr                map[string]string
		status             int
	}{
		{name: "miss", method: "GET", path: "/api/gen/files/page.html", status: 200},
		{name: "hit", method: "GET", path: "/api/gen/files/page.html", status: 200},
		{name: "HEAD", method: "HEAD", path: "/api/gen/files/page.html", status: 200},
		{name: "not modified", method: "GET", path: "/api/gen/files/page.html", hdr: map[string]string{"If-None-Match": f.etag}, status: 304},
		{name: "range not satisfiable", method: "GET", path: "/api/gen/files/page.html", hdr: map[string]string{"Range": "bytes=9999-"}, status: 416},
		{name: "not found upstream", method: "GET", path: "/api/gen/files/missing.bin", status: 404},
		{name: "hostile path", method: "GET", path: "/api/gen/..%2f<script>", status: 400},
		{name: "unknown remote", method: "GET", path: "/api/<script>/x", status: 404},
		{name: "method not allowed", method: "POST", path: "/api/gen/files/page.html", status: 405},
		{name: "upload without credential", method: "PUT", path: "/api/local/a.html", status: 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := in.Do(t, tc.method, tc.path, nil, tc.hdr)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s = %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
			}
			if v := resp.Header.Get("X-Content-Type-Options"); v != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", v)
			}
			if v := resp.Header.Get("Content-Security-Policy"); v != "sandbox" {
				t.Errorf("Content-Security-Policy = %q", v)
			}
			settle(t, in)
		})
	}
}
