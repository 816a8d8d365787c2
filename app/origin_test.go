package app_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// origin is a real HTTP upstream whose behaviour each test sets per path, and
// which counts the requests it receives.
type origin struct {
	t     testing.TB
	srv   *http.Server
	ln    net.Listener
	URL   string
	mu    sync.Mutex
	files map[string]*file
	hits  map[string]int
	conds map[string]int // conditional requests seen
	heads map[string]int
}

// file is what the origin serves for one path.
type file struct {
	body    []byte
	etag    string
	lastMod time.Time
	ctype   string
	status  int // non-zero: answer this status with no body
	// gate, when set, makes the handler send half of the body, flush, and
	// wait for the channel before sending the rest.
	gate chan struct{}
	// sentHalf is closed when the first half has been written.
	sentHalf chan struct{}
	// short: send only half the body, then end the connection.
	short bool
	// failFirst: answer 503 to this many GETs before serving the body.
	failFirst int
}

func newOrigin(t testing.TB) *origin {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &origin{t: t, ln: ln, URL: "http://" + ln.Addr().String(), files: map[string]*file{}, hits: map[string]int{}, conds: map[string]int{}, heads: map[string]int{}}
	o.srv = &http.Server{Handler: http.HandlerFunc(o.serve)}
	go o.srv.Serve(ln)
	t.Cleanup(func() { o.srv.Close() })
	return o
}

// set installs body at path with a strong ETag.
func (o *origin) set(path string, body []byte) *file {
	sum := sha256.Sum256(body)
	f := &file{body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, lastMod: time.Now().UTC().Truncate(time.Second)}
	o.mu.Lock()
	o.files[path] = f
	o.mu.Unlock()
	return f
}

func (o *origin) setStatus(path string, status int) {
	o.mu.Lock()
	o.files[path] = &file{status: status}
	o.mu.Unlock()
}

func (o *origin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[path]
}

func (o *origin) condCount(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.conds[path]
}

// stop closes the origin so connections are refused.
func (o *origin) stop() { o.srv.Close() }

func (o *origin) serve(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if r.URL.RawQuery != "" {
		p += "?" + r.URL.RawQuery
	}
	o.mu.Lock()
	f := o.files[p]
	if r.Method == http.MethodHead {
		o.heads[p]++
	} else {
		o.hits[p]++
	}
	cond := r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != ""
	if cond {
		o.conds[p]++
	}
	failing := f != nil && f.failFirst > 0 && r.Method == http.MethodGet
	if failing {
		f.failFirst--
	}
	o.mu.Unlock()
	if f == nil {
		http.NotFound(w, r)
		return
	}
	if failing {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if f.status != 0 {
		w.WriteHeader(f.status)
		return
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && inm == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", f.etag)
	w.Header().Set("Last-Modified", f.lastMod.Format(http.TimeFormat))
	if f.ctype != "" {
		w.Header().Set("Content-Type", f.ctype)
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(f.body)))
	if r.Method == http.MethodHead {
		return
	}
	half := len(f.body) / 2
	if f.gate == nil && !f.short {
		w.Write(f.body)
		return
	}
	w.Write(f.body[:half])
	w.(http.Flusher).Flush()
	if f.sentHalf != nil {
		close(f.sentHalf)
	}
	if f.short {
		// End the connection without the rest: a broken upstream.
		if hj, ok := w.(http.Hijacker); ok {
			c, _, _ := hj.Hijack()
			c.Close()
		}
		return
	}
	select {
	case <-f.gate:
	case <-r.Context().Done():
		return
	}
	w.Write(f.body[half:])
}

func randBody(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// remotesFor returns a remotes.yaml with a generic remote "gen" and an rpm
// remote "rpm" on the origin, plus a local repository.
func remotesFor(o *origin, extra string) string {
	return fmt.Sprintf(`remotes:
  gen:
    base_url: %q
    package: generic
    immutable_patterns: ["\\.bin$", "\\.tar\\.gz$", "^files/"]
    mutable_patterns: ["index\\.yaml$", "branch\\.tar\\.gz$"]
    check_mutable_updates: true
    cache:
      mutable_ttl: 1
  plain:
    base_url: %q
    package: generic
    mutable_patterns: ["index\\.yaml$"]
    cache:
      mutable_ttl: 1
  rpm:
    base_url: %q
    package: rpm
    check_mutable_updates: true
    cache:
      mutable_ttl: 1
  local:
    type: local
%s`, o.URL, o.URL, o.URL, extra)
}
