package registrytest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"artifactapi/app/oci"
)

// Proxy is a reverse proxy in front of an upstream registry that counts the
// requests it forwards and can flip one byte of blob bodies (corruption in
// transit) or drop every connection (an upstream that is down). When the
// upstream itself is unreachable it drops the connection too, so the client
// sees a network failure, not a 502.
type Proxy struct {
	URL     string
	srv     *httptest.Server
	mu      sync.Mutex
	counts  map[string]int // "GET blob", "HEAD manifest", ...
	log     []string
	corrupt atomic.Bool
	down    atomic.Bool
}

// NewProxy starts a proxy forwarding to target (an http URL). When wrap is
// not nil it wraps the forwarding handler (e.g. a Bearer front).
func NewProxy(target string, wrap func(http.Handler) http.Handler) (*Proxy, error) {
	tu, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &Proxy{counts: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(tu)
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { hangUp(w) }
	rp.ModifyResponse = func(resp *http.Response) error {
		if p.corrupt.Load() && resp.StatusCode == http.StatusOK && Kind(resp.Request.URL.Path) == "blob" &&
			resp.Request.Method == http.MethodGet {
			resp.Body = &flipper{rc: resp.Body, at: 100}
		}
		return nil
	}
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.down.Load() {
			hangUp(w)
			return
		}
		p.mu.Lock()
		p.counts[r.Method+" "+Kind(r.URL.Path)]++
		p.log = append(p.log, r.Method+" "+r.URL.RequestURI())
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	})
	if wrap != nil {
		h = wrap(h)
	}
	p.srv = httptest.NewServer(h)
	p.URL = p.srv.URL
	return p, nil
}

func hangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// Kind names the registry surface of a path: "manifest", "blob", "tags",
// "base" or "other".
func Kind(p string) string {
	switch {
	case strings.Contains(p, "/manifests/"):
		return "manifest"
	case strings.Contains(p, "/blobs/uploads"):
		return "upload"
	case strings.Contains(p, "/blobs/"):
		return "blob"
	case strings.HasSuffix(p, "/tags/list"):
		return "tags"
	case p == "/v2/" || p == "/v2":
		return "base"
	}
	return "other"
}

// Count returns how many requests of method (or "" for any) on kind were forwarded.
func (p *Proxy) Count(method, kind string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for k, v := range p.counts {
		m, kd, _ := strings.Cut(k, " ")
		if kd == kind && (method == "" || m == method) {
			n += v
		}
	}
	return n
}

// Total returns how many requests were forwarded.
func (p *Proxy) Total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, v := range p.counts {
		n += v
	}
	return n
}

// Reset zeroes the counters.
func (p *Proxy) Reset() {
	p.mu.Lock()
	p.counts = map[string]int{}
	p.log = nil
	p.mu.Unlock()
}

// Log returns the forwarded requests, oldest first.
func (p *Proxy) Log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log...)
}

// SetCorrupt makes blob GET bodies arrive with one byte flipped.
func (p *Proxy) SetCorrupt(on bool) { p.corrupt.Store(on) }

// SetDown makes the proxy drop every connection without an answer.
func (p *Proxy) SetDown(on bool) { p.down.Store(on) }

// Close stops the proxy.
func (p *Proxy) Close() { p.srv.Close() }

// flipper flips the byte at offset at of the stream.
type flipper struct {
	rc  io.ReadCloser
	at  int64
	off int64
}

func (f *flipper) Read(b []byte) (int, error) {
	n, err := f.rc.Read(b)
	if f.at >= f.off && f.at < f.off+int64(n) {
		b[f.at-f.off] ^= 0xff
	}
	f.off += int64(n)
	return n, err
}

func (f *flipper) Close() error { return f.rc.Close() }

// BearerFront wraps a registry handler with the token challenge of Docker
// Hub style registries: requests without a valid token get 401 and
// `WWW-Authenticate: Bearer realm=…,service=…,scope=…`; the realm (served by
// the front itself at /token) hands out tokens, to Basic user:pass when
// User is set.
type BearerFront struct {
	User, Pass string
	// TokenRequests counts requests to the token endpoint.
	TokenRequests atomic.Int64
	mu            sync.Mutex
	tokens        map[string]string // token → scope
	n             int
}

// Wrap returns the handler; use it as NewProxy's wrap argument.
func (b *BearerFront) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			b.token(w, r)
			return
		}
		scope := ""
		if rt := oci.SplitPath(strings.TrimPrefix(r.URL.Path, "/v2")); rt.Name != "" {
			scope = "repository:" + rt.Name + ":pull"
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		b.mu.Lock()
		granted, known := b.tokens[tok]
		b.mu.Unlock()
		// A token is good for the repository it was issued for (like Docker Hub's).
		if !ok || !known || (scope != "" && granted != scope) {
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="registrytest",scope="%s"`, r.Host, scope))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
			return
		}
		r.Header.Del("Authorization")
		next.ServeHTTP(w, r)
	})
}

func (b *BearerFront) token(w http.ResponseWriter, r *http.Request) {
	b.TokenRequests.Add(1)
	if b.User != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != b.User || p != b.Pass {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	}
	b.mu.Lock()
	if b.tokens == nil {
		b.tokens = map[string]string{}
	}
	b.n++
	scope := r.URL.Query().Get("scope")
	tok := fmt.Sprintf("token-%d-%s", b.n, strings.ReplaceAll(scope, ":", "_"))
	b.tokens[tok] = scope
	b.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token": tok, "expires_in": 300})
}
