package formats_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeHost is a local upstream host serving files from a map that the
// test may change (publishing a new version). It counts the requests it
// answers, by client: artifactapi's requests carry its own User-Agent, so
// a request from anyone else is a client that went around the cache.
type fakeHost struct {
	srv *httptest.Server
	mu  sync.Mutex
	// files by request path (escaped as the client sent it).
	files map[string]file
	hits  []hit
}

type file struct {
	body        []byte
	contentType string
	// byAccept holds other representations, chosen when the request's
	// Accept header contains the key.
	byAccept map[string]file
}

type hit struct {
	path, ua string
	// conditional: the request carried If-None-Match.
	conditional bool
}

func newFakeHost(t *testing.T) *fakeHost {
	t.Helper()
	h := &fakeHost{files: map[string]file{}}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *fakeHost) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.hits = append(h.hits, hit{path: r.URL.EscapedPath(), ua: r.UserAgent(), conditional: r.Header.Get("If-None-Match") != ""})
	f, ok := h.files[r.URL.EscapedPath()]
	h.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	for k, alt := range f.byAccept {
		if strings.Contains(r.Header.Get("Accept"), k) {
			f = alt
			break
		}
	}
	if f.contentType != "" {
		w.Header().Set("Content-Type", f.contentType)
	}
	sum := sha256.Sum256(f.body)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// put publishes body at path.
func (h *fakeHost) put(path string, body []byte, contentType string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.files[path] = file{body: body, contentType: contentType}
}

// putVariants publishes body at path, and other representations chosen by Accept.
func (h *fakeHost) putVariants(path string, f file) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.files[path] = f
}

// URL is the host's base URL.
func (h *fakeHost) URL() string { return h.srv.URL }

// Host is host:port.
func (h *fakeHost) Host() string { return strings.TrimPrefix(h.srv.URL, "http://") }

// count returns how many requests the host answered for paths with the
// prefix, and how many of them did not come from artifactapi.
func (h *fakeHost) count(prefix string) (all, direct int) {
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

// conditionals returns how many requests for path carried If-None-Match.
func (h *fakeHost) conditionals(path string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, x := range h.hits {
		if x.path == path && x.conditional {
			n++
		}
	}
	return n
}

// stop shuts the host down: every later connection is refused.
func (h *fakeHost) stop() {
	h.srv.CloseClientConnections()
	h.srv.Close()
}

// runTool runs a client command with env added to a clean environment,
// returning its combined output; a failure fails the test.
func runTool(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// requireTool fails (never skips) the test when a client is not installed.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required for this test (install %s): %v", name, pkg, err)
	}
	return p
}
