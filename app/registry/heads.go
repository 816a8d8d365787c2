package registry

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"artifactapi/app/upstream"
)

// headTTL is how long the upstream's answer to a blob HEAD is remembered.
// A blob is immutable, so the answer can only go stale by deletion upstream.
const headTTL = 30 * time.Second

// recentHeads remembers the upstream's 200 answers to HEADs of blobs that
// are not cached, keyed by remote, repository and digest, and lets
// concurrent HEADs of one blob share one upstream request. A client that
// checks a blob before pulling it (or checks it again and again, as
// `crane` and containerd do across layers) makes one upstream HEAD per
// headTTL instead of one each.
type recentHeads struct {
	mu       sync.Mutex
	m        map[string]headEntry
	inflight map[string]chan struct{}
	max      int
	now      func() time.Time
}

type headEntry struct {
	header http.Header
	length int64
	at     time.Time
}

func newRecentHeads(max int, now func() time.Time) *recentHeads {
	return &recentHeads{m: map[string]headEntry{}, inflight: map[string]chan struct{}{}, max: max, now: now}
}

// get returns a remembered answer younger than headTTL.
func (r *recentHeads) get(key string) (headEntry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.getLocked(key)
}

func (r *recentHeads) getLocked(key string) (headEntry, bool) {
	e, ok := r.m[key]
	if !ok || r.now().Sub(e.at) >= headTTL {
		return headEntry{}, false
	}
	return e, true
}

func (r *recentHeads) put(key string, e headEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.m) >= r.max {
		now := r.now()
		for k, v := range r.m {
			if now.Sub(v.at) >= headTTL {
				delete(r.m, k)
			}
		}
		for k := range r.m { // still full: drop an arbitrary tenth
			if len(r.m) < r.max*9/10 {
				break
			}
			delete(r.m, k)
		}
	}
	r.m[key] = e
}

// head answers a HEAD of key from memory, or by calling fetch: one call at a
// time per key, the others wait for it and take its remembered answer.
func (r *recentHeads) head(ctx context.Context, key string, fetch func() (*upstream.Response, error)) (*upstream.Response, error) {
	for {
		r.mu.Lock()
		if e, ok := r.getLocked(key); ok {
			r.mu.Unlock()
			return e.response(), nil
		}
		wait, busy := r.inflight[key]
		if !busy {
			done := make(chan struct{})
			r.inflight[key] = done
			r.mu.Unlock()
			resp, err := fetch()
			if err == nil && resp.StatusCode == http.StatusOK {
				r.put(key, headEntry{header: resp.Header.Clone(), length: resp.ContentLength, at: r.now()})
			}
			r.mu.Lock()
			delete(r.inflight, key)
			r.mu.Unlock()
			close(done)
			return resp, err
		}
		r.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if _, ok := r.get(key); !ok {
			// The leader's HEAD failed: ask for ourselves (failures are not shared).
			return fetch()
		}
	}
}

func (e headEntry) response() *upstream.Response {
	h := e.header.Clone()
	if e.length >= 0 {
		h.Set("Content-Length", strconv.FormatInt(e.length, 10))
	}
	return &upstream.Response{StatusCode: http.StatusOK, Header: h, ContentLength: e.length, Body: io.NopCloser(http.NoBody)}
}

// blobOrigin fetches a blob; its HEADs go through recentHeads.
type blobOrigin struct {
	*origin
	heads *recentHeads
	key   string
}

// Fetch implements cache.Origin.
func (o *blobOrigin) Fetch(ctx context.Context, method string, h http.Header) (*upstream.Response, error) {
	if method != http.MethodHead || len(h) > 0 {
		return o.origin.Fetch(ctx, method, h)
	}
	return o.heads.head(ctx, o.key, func() (*upstream.Response, error) { return o.origin.Fetch(ctx, method, nil) })
}
