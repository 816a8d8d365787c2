package formats_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/mod/sumdb/note"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// goModule is one module version a test proxy serves.
type goModule struct {
	path, version string
	info, mod     []byte
	zip           []byte
	// sum holds its two go.sum lines (zip and go.mod hashes).
	sum string
}

// newGoModule builds a module version as the go command expects it: the
// zip's files under "<path>@<version>/" (the path not case-encoded), and
// its go.sum hashes.
func newGoModule(t *testing.T, path, version string) goModule {
	t.Helper()
	m := goModule{path: path, version: version}
	m.mod = []byte("module " + path + "\n\ngo 1.21\n")
	m.info = []byte(fmt.Sprintf(`{"Version":%q,"Time":"2026-11-29T00:00:00Z"}`, version))
	prefix := path + "@" + version + "/"
	files := map[string][]byte{
		prefix + "go.mod": m.mod,
		prefix + "mod.go": []byte("package mod\n\n// Version is the module's version.\nconst Version = \"" + version + "\"\n"),
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(files[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	m.zip = buf.Bytes()
	open := func(src map[string][]byte) func(string) (io.ReadCloser, error) {
		return func(n string) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(src[n])), nil }
	}
	zipSum, err := dirhash.Hash1(names, open(files))
	if err != nil {
		t.Fatal(err)
	}
	modSum, err := dirhash.Hash1([]string{"go.mod"}, open(map[string][]byte{"go.mod": m.mod}))
	if err != nil {
		t.Fatal(err)
	}
	m.sum = fmt.Sprintf("%s %s %s\n%s %s/go.mod %s\n", path, version, zipSum, path, version, modSum)
	return m
}

// goProxyHost is a local GOPROXY upstream with its own checksum database
// (signed with a throwaway key) under /sumdb/<name>/. It counts requests
// by client like fakeHost; paths are kept decoded ("!" case encoding
// included) whatever escaping the client used.
type goProxyHost struct {
	srv      *httptest.Server
	sumdb    string // the database's name
	verifier string // its verifier key, for GOSUMDB
	mu       sync.Mutex
	modules  map[string][]goModule // by module path
	gone     map[string]bool       // escaped module paths answered 410
	hits     []hit
}

func newGoProxyHost(t *testing.T) *goProxyHost {
	t.Helper()
	h := &goProxyHost{sumdb: "sum.test.example", modules: map[string][]goModule{}, gone: map[string]bool{}}
	skey, vkey, err := note.GenerateKey(nil, h.sumdb)
	if err != nil {
		t.Fatal(err)
	}
	h.verifier = vkey
	db := sumdb.NewServer(sumdb.NewTestServer(skey, h.goSum))
	mux := http.NewServeMux()
	mux.HandleFunc("/sumdb/"+h.sumdb+"/supported", func(w http.ResponseWriter, r *http.Request) {})
	mux.Handle("/sumdb/"+h.sumdb+"/", http.StripPrefix("/sumdb/"+h.sumdb, db))
	mux.HandleFunc("/", h.serveModule)
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.hits = append(h.hits, hit{path: r.URL.Path, ua: r.UserAgent()})
		h.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// publish adds a module version.
func (h *goProxyHost) publish(m goModule) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.modules[m.path] = append(h.modules[m.path], m)
}

// goSum is the checksum database's source of records.
func (h *goProxyHost) goSum(path, version string) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.modules[path] {
		if m.version == version {
			return []byte(m.sum), nil
		}
	}
	return nil, fmt.Errorf("%s@%s: not found", path, version)
}

// serveModule answers the GOPROXY protocol: <escaped path>/@v/list,
// /@v/<version>.info|.mod|.zip; everything else is 404.
func (h *goProxyHost) serveModule(w http.ResponseWriter, r *http.Request) {
	esc, rest, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/@v/")
	path, err := module.UnescapePath(esc)
	if !ok || err != nil {
		http.NotFound(w, r)
		return
	}
	h.mu.Lock()
	versions := append([]goModule(nil), h.modules[path]...)
	gone := h.gone[esc]
	h.mu.Unlock()
	if gone {
		http.Error(w, "gone", http.StatusGone)
		return
	}
	if rest == "list" {
		for _, m := range versions {
			fmt.Fprintln(w, m.version)
		}
		return
	}
	for _, m := range versions {
		switch rest {
		case m.version + ".info":
			w.Header().Set("Content-Type", "application/json")
			w.Write(m.info)
			return
		case m.version + ".mod":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write(m.mod)
			return
		case m.version + ".zip":
			w.Header().Set("Content-Type", "application/zip")
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(m.zip))
			return
		}
	}
	http.Error(w, "not found: "+path+" "+rest, http.StatusNotFound)
}

// count returns how many requests the host answered for paths with the
// prefix, and how many of them did not come from artifactapi.
func (h *goProxyHost) count(prefix string) (all, direct int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, x := range h.hits {
		if !strings.HasPrefix(x.path, prefix) {
			continue
		}
		all++
		if !strings.HasPrefix(x.ua, "artifactapi") {
			direct++
		}
	}
	return all, direct
}

func (h *goProxyHost) stop() {
	h.srv.CloseClientConnections()
	h.srv.Close()
}

// goDownload is what `go mod download -json` reports of one module.
type goDownload struct {
	Path, Version, Error string
	Info, GoMod, Zip     string
	Sum, GoModSum        string
}

// goEnv is a go command environment with its own module cache and
// checksum database state, the proxy list and the checksum database given.
func goEnv(t *testing.T, goproxy, gosumdb string) []string {
	t.Helper()
	home := t.TempDir()
	return []string{
		"GOPROXY=" + goproxy, "GOSUMDB=" + gosumdb, "GONOSUMDB=", "GONOSUMCHECK=", "GOPRIVATE=", "GONOPROXY=",
		"GOPATH=" + filepath.Join(home, "gopath"), "GOMODCACHE=" + filepath.Join(home, "modcache"),
		"GOFLAGS=-mod=mod -modcacherw", "GOTOOLCHAIN=local", "GOENV=off", "GOWORK=off", "GO111MODULE=on",
	}
}

// goModDownload runs `go mod download -json query` in an empty directory
// (no main module) and returns its report.
func goModDownload(t *testing.T, env []string, query string) goDownload {
	t.Helper()
	out := runTool(t, t.TempDir(), env, "go", "mod", "download", "-json", query)
	var d goDownload
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("go mod download -json %s: %v\n%s", query, err, out)
	}
	if d.Error != "" {
		t.Fatalf("go mod download %s: %s", query, d.Error)
	}
	return d
}

// checkDownload asserts the module cache holds exactly the upstream's
// bytes and the go.sum hashes the checksum database signed.
func checkDownload(t *testing.T, d goDownload, m goModule) {
	t.Helper()
	if d.Path != m.path || d.Version != m.version {
		t.Fatalf("downloaded %s@%s, want %s@%s", d.Path, d.Version, m.path, m.version)
	}
	for _, f := range []struct {
		name, file string
		want       []byte
	}{{"zip", d.Zip, m.zip}, {"go.mod", d.GoMod, m.mod}, {"info", d.Info, m.info}} {
		b, err := os.ReadFile(f.file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, f.want) {
			t.Fatalf("%s@%s %s: %d bytes differ from the upstream's %d", m.path, m.version, f.name, len(b), len(f.want))
		}
	}
	if want := fmt.Sprintf("%s %s %s\n%s %s/go.mod %s\n", m.path, m.version, d.Sum, m.path, m.version, d.GoModSum); want != m.sum {
		t.Fatalf("go.sum lines\n%s want\n%s", want, m.sum)
	}
}

// TestGoClient: `go mod download` through a go remote, with GOSUMDB
// verification through the remote's /sumdb/ passthrough. The cold download
// reaches the upstream only through artifactapi, a module path with
// upper-case letters (case-encoded "!") works, a new version appears in
// @v/list after mutable_ttl, a "not found" falls through to the next proxy
// of GOPROXY, and everything downloaded before is served with the upstream
// stopped to a client with a fresh module cache.
func TestGoClient(t *testing.T) {
	requireTool(t, "go", "golang-go")
	for _, mode := range apptest.Modes {
		t.Run(string(mode), func(t *testing.T) { testGoClient(t, mode) })
	}
}

func testGoClient(t *testing.T, mode apptest.Mode) {
	up := newGoProxyHost(t)
	const modPath = "example.com/Upper/Mod"
	v100 := newGoModule(t, modPath, "v1.0.0")
	v110 := newGoModule(t, modPath, "v1.1.0")
	up.publish(v100)

	// The next proxy in GOPROXY: it alone has example.com/second.
	next := newGoProxyHost(t)
	second := newGoModule(t, "example.com/second", "v0.1.0")
	next.publish(second)
	up.publish(second) // only for the upstream's checksum database: see goSum
	up.mu.Lock()
	up.gone["example.com/second"] = true
	up.mu.Unlock()

	in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: fmt.Sprintf(`
remotes:
  gomods:
    base_url: %q
    package: go
    cache:
      mutable_ttl: 1
`, up.URL())})
	remote := in.URL + "/api/gomods"
	gosumdb := up.verifier

	// Cold: the module and its checksum database records through artifactapi.
	env := goEnv(t, remote, gosumdb)
	checkDownload(t, goModDownload(t, env, modPath+"@v1.0.0"), v100)
	if all, direct := up.count("/example.com/!upper/!mod/@v/v1.0.0.zip"); all != 1 || direct != 0 {
		t.Fatalf("zip: %d upstream requests, %d not from artifactapi; want 1 and 0", all, direct)
	}
	if all, direct := up.count("/sumdb/" + up.sumdb + "/lookup/"); all != 1 || direct != 0 {
		t.Fatalf("sumdb lookup: %d upstream requests, %d not from artifactapi; want 1 and 0", all, direct)
	}
	if all, _ := up.count("/sumdb/" + up.sumdb + "/tile/"); all == 0 {
		t.Fatal("no checksum database tile was fetched through artifactapi")
	}
	if _, direct := up.count("/"); direct != 0 {
		t.Fatalf("%d upstream requests did not come from artifactapi", direct)
	}

	// Not found here (410 upstream): the go command tries the next proxy.
	chained := goEnv(t, remote+","+next.URL(), gosumdb)
	checkDownload(t, goModDownload(t, chained, "example.com/second@v0.1.0"), second)

	// A new version appears in @v/list once mutable_ttl has passed, and
	// @latest resolves to it.
	up.publish(v110)
	testenv.Eventually(t, 30*time.Second, "@v/list through the remote to list v1.1.0", func() bool {
		_, _, b := in.Get(t, "/api/gomods/example.com/!upper/!mod/@v/list", nil)
		return bytes.Contains(b, []byte("v1.1.0"))
	})
	checkDownload(t, goModDownload(t, env, modPath+"@latest"), v110)

	// Upstream stopped: a client with a fresh module cache and checksum
	// database state gets both versions, verified, from the cache.
	up.stop()
	env = goEnv(t, remote, gosumdb)
	checkDownload(t, goModDownload(t, env, modPath+"@v1.0.0"), v100)
	checkDownload(t, goModDownload(t, env, modPath+"@v1.1.0"), v110)
	if _, direct := up.count("/"); direct != 0 {
		t.Fatalf("%d upstream requests did not come from artifactapi", direct)
	}
}

// URL is the host's base URL.
func (h *goProxyHost) URL() string { return h.srv.URL }

// TestGoProxyErrors: a go remote answers "not found" as the GOPROXY
// protocol expects — 404, or 410 when the upstream said 410, with a plain
// text body the go command shows — and its other errors in plain text too.
func TestGoProxyErrors(t *testing.T) {
	for _, mode := range apptest.Modes {
		t.Run(string(mode), func(t *testing.T) {
			up := newGoProxyHost(t)
			up.publish(newGoModule(t, "example.com/Here", "v1.0.0"))
			up.mu.Lock()
			up.gone["example.com/gone"] = true
			up.mu.Unlock()
			in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: fmt.Sprintf(`
remotes:
  gomods:
    base_url: %q
    package: go
  down:
    base_url: "http://127.0.0.1:1"
    package: go
`, up.URL())})
			tests := []struct {
				name   string
				path   string
				status int
				body   string
			}{
				{name: "case-encoded module", path: "/api/gomods/example.com/!here/@v/v1.0.0.info", status: 200, body: `"Version":"v1.0.0"`},
				{name: "case-encoded with an escaped !", path: "/api/gomods/example.com/%21here/@v/v1.0.0.mod", status: 200, body: "module example.com/Here"},
				{name: "unknown version", path: "/api/gomods/example.com/!here/@v/v9.9.9.info", status: 404, body: "not found"},
				{name: "unknown module list", path: "/api/gomods/example.com/nowhere/@v/list", status: 200, body: ""},
				{name: "gone upstream", path: "/api/gomods/example.com/gone/@v/v1.0.0.zip", status: 410, body: "not found"},
				{name: "unknown sumdb", path: "/api/gomods/sumdb/other.example/supported", status: 404, body: "not found"},
				{name: "sumdb supported", path: "/api/gomods/sumdb/" + up.sumdb + "/supported", status: 200, body: ""},
				{name: "upstream unreachable", path: "/api/down/example.com/x/@v/list", status: 502, body: "upstream unreachable"},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					status, hdr, body := in.Get(t, tc.path, nil)
					if status != tc.status || !strings.Contains(string(body), tc.body) {
						t.Fatalf("GET %s: %d %q, want %d containing %q", tc.path, status, body, tc.status, tc.body)
					}
					if ct := hdr.Get("Content-Type"); status >= 400 && !strings.HasPrefix(ct, "text/plain") {
						t.Fatalf("GET %s: error answered as %q, want text/plain", tc.path, ct)
					}
				})
			}
		})
	}
}
