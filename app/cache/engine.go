// Package cache is the artifact engine: lookup → freshness → one shared
// download per artifact (streamed to every waiting client while it is spooled
// and hashed) → verify → atomic commit; conditional revalidation,
// stale-on-upstream-error and negative caching (PRODUCT §4, §5).
package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"artifactapi/app/blob"
	"artifactapi/app/config"
	"artifactapi/app/coord"
	"artifactapi/app/metrics"
	"artifactapi/app/upstream"
	"artifactapi/db"
)

// Meta is the part of the metadata store the engine uses.
type Meta interface {
	GetArtifact(ctx context.Context, remote, path string) (db.Artifact, error)
	PutArtifact(ctx context.Context, a db.Artifact) error
	DeleteArtifact(ctx context.Context, remote, path string) (db.Artifact, error)
	SetExpiry(ctx context.Context, remote, path string, expires time.Time) error
	SetBlobVersion(ctx context.Context, remote, path, storageKey, from, to string) (bool, error)
	RecordHits(ctx context.Context, hits []db.Hit) error
	ListArtifacts(ctx context.Context, q db.ListQuery) (db.ListPage, error)
	Totals(ctx context.Context, remote, q string) (db.Totals, error)
}

// Origin fetches one artifact from its upstream.
type Origin interface {
	// Fetch issues method (GET or HEAD) with the extra headers (conditional
	// headers when revalidating).
	Fetch(ctx context.Context, method string, h http.Header) (*upstream.Response, error)
}

// Preparer is implemented by origins that build and check their request
// only when the engine is about to need it: a fresh hit skips the work, and
// an error (a path refused for the remote) is returned to the caller as is,
// before anything is looked up or fetched.
type Preparer interface {
	Prepare() error
}

// Revalidator is implemented by origins with their own cheap freshness check
// (the registry compares a tag's digest with a HEAD).
type Revalidator interface {
	Revalidate(ctx context.Context, cached db.Artifact) (current bool, err error)
}

// Request asks the engine for one artifact.
type Request struct {
	Remote  *config.Remote
	Path    string // cache key: clean path, plus "?query" when present
	Verdict config.Verdict
	Origin  Origin
	Method  string // GET or HEAD
	// ExpectDigest ("sha256:<hex>", "sha512:<hex>" or "sha1:<hex>") is
	// verified before commit when set: a mismatch discards the download (502).
	ExpectDigest string
	// Expect, when set and ExpectDigest is empty, looks up the digest to
	// verify (in ExpectDigest's form, "" for none). It is called only when
	// the artifact is downloaded, never on a hit, with the fill's context.
	Expect func(ctx context.Context) string
	// Acceptable, when set, rejects a cached entry the client cannot use
	// (e.g. a manifest media type outside the client's Accept): it is fetched again.
	Acceptable func(db.Artifact) bool
	// Pin marks the committed artifact as exempt from quota eviction.
	Pin bool
	// NegativeKey is the path an upstream 404 is remembered under (default
	// Path): representations of one resource (e.g. a tag asked for with
	// another Accept) share one negative entry, cleared by evicting it.
	NegativeKey string
}

// Options configures an Engine.
type Options struct {
	Meta     Meta
	Blobs    blob.Store
	Coord    coord.Coordinator
	Metrics  *metrics.Metrics
	Log      *slog.Logger
	SpoolDir string
	// LockTTL is the cross-replica fill lock lifetime; refreshed every third.
	LockTTL time.Duration
	// HitFlush is how often batched hit counts are written (default 2s).
	HitFlush time.Duration
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// PeerURL is this replica's base URL as other replicas reach it
	// (ADVERTISE_URL). When set, replicas stream a download that another
	// replica is running instead of waiting for its commit.
	PeerURL string
	// PeerSecret authenticates replicas to each other.
	PeerSecret string
	// Peers is the HTTP client used to reach other replicas.
	Peers *upstream.Client
	// OnCommit is called after an artifact is committed (quota enforcement).
	OnCommit func(ctx context.Context, a db.Artifact)
	// MaxFills caps the downloads running at once in this process; a miss
	// beyond it is refused with 503 and Retry-After (0: no limit).
	MaxFills int
}

// Engine serves artifacts from the cache and fills it from upstreams.
type Engine struct {
	o        Options
	mu       sync.Mutex
	inflight map[string]*fill
	hits     *hitBatcher
	memo     *memo
	wg       sync.WaitGroup // running fills
	stop     chan struct{}
	stopOnce sync.Once
	subDone  chan struct{}
	// notices are invalidations not yet published (retried until they are).
	noticeMu sync.Mutex
	notices  map[string]struct{}
	own      map[string]int // notices this replica published, not yet seen back (tier.go)
	disk     diskState      // the last "no space left" of the spool (disk.go)
	// refresh takes memo keys to read again after this replica's own
	// notice dropped them (memo.go, refreshLoop).
	refresh     chan string
	refreshDone chan struct{}
}

// New builds an Engine, clears leftovers of a previous process from the spool
// directory and starts the background hit flusher and invalidation listener.
func New(ctx context.Context, o Options) (*Engine, error) {
	if o.LockTTL <= 0 {
		o.LockTTL = 10 * time.Second
	}
	if o.HitFlush <= 0 {
		o.HitFlush = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	// Spool files of a killed process are never served: remove them.
	if err := os.RemoveAll(o.SpoolDir); err != nil {
		return nil, fmt.Errorf("cache: clean spool %s: %w", o.SpoolDir, err)
	}
	if err := os.MkdirAll(o.SpoolDir, 0o750); err != nil {
		return nil, fmt.Errorf("cache: create spool %s: %w", o.SpoolDir, err)
	}
	e := &Engine{o: o, inflight: map[string]*fill{}, stop: make(chan struct{}), subDone: make(chan struct{}),
		notices: map[string]struct{}{}, own: map[string]int{},
		refresh: make(chan string, refreshQueue), refreshDone: make(chan struct{})}
	e.memo = newMemo(20000, 30*time.Second, o.Now)
	e.memo.onTrust = func(ok bool) {
		if ok {
			o.Metrics.MetadataTrusted.Set(1)
		} else {
			o.Metrics.MetadataTrusted.Set(0)
		}
	}
	o.Metrics.MetadataTrusted.Set(1)
	e.hits = newHitBatcher(o.Meta, o.HitFlush, o.Log)
	go e.refreshLoop()
	if err := e.listenInvalidations(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// Close stops accepting new fills, waits for running downloads up to ctx's
// deadline, and flushes hit counters.
func (e *Engine) Close(ctx context.Context) error {
	e.stopOnce.Do(func() { close(e.stop) })
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("cache: downloads still running at shutdown: %w", ctx.Err())
	}
	e.hits.close()
	<-e.subDone
	<-e.refreshDone
	return err
}

// InFlight returns the number of downloads running in this process.
func (e *Engine) InFlight() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.inflight)
}

// Result is what the engine answers for a request.
type Result struct {
	Source   string // "cache" or "remote"
	Stale    bool   // served expired because the upstream was unreachable
	Artifact db.Artifact
	// SizeKnown is false while streaming a download without Content-Length.
	SizeKnown bool
	// Upstream is set for a HEAD on a miss: the upstream's own answer.
	Upstream *upstream.Response
	open     func(ctx context.Context, off, length int64) (io.ReadCloser, error)
	release  func()
	// stored marks a cache hit, whose body is the stored object named by
	// Artifact (StorageKey, BlobVersion); other results read through open.
	stored bool
	// remembered: the hit's metadata came from the memo (tier.go).
	remembered bool
	// fill is the download a streaming result reads; engine waits on it.
	fill   *fill
	engine *Engine
}

// Open returns the body from off for length bytes (length < 0: to the end).
// A cache hit reads exactly the stored object its metadata was recorded
// with: one that vanished returns blob.ErrNotFound, one replaced under the
// same key blob.ErrVersionMismatch (Engine.Serve recovers from both).
func (r *Result) Open(ctx context.Context, off, length int64) (io.ReadCloser, error) {
	if r.stored {
		return r.engine.openStored(ctx, r.Artifact, r.remembered, off, length)
	}
	if r.open == nil {
		return nil, errors.New("cache: result has no body")
	}
	return r.open(ctx, off, length)
}

// Release frees resources held by a result whose body is not read.
func (r *Result) Release() {
	if r.release != nil {
		r.release()
		r.release = nil
	}
	if r.Upstream != nil {
		r.Upstream.Body.Close()
	}
}

func mkey(remote, p string) string { return remote + "\x00" + p }

// splitKey is the inverse of mkey.
func splitKey(k string) (remote, p string, ok bool) { return strings.Cut(k, "\x00") }

// StorageKey is the blob key of SEED.md: {remote}/{first 16 hex of sha256(path)}/{filename}.
func StorageKey(remote, p string) string {
	sum := sha256.Sum256([]byte(p))
	return remote + "/" + hex.EncodeToString(sum[:8]) + "/" + Filename(p)
}

// Filename is the last path segment without query ("index" for a directory).
func Filename(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if strings.HasSuffix(p, "/") || p == "" {
		return "index"
	}
	return path.Base(p)
}

func (e *Engine) fresh(a db.Artifact) bool {
	return a.ExpiresAt.IsZero() || e.o.Now().Before(a.ExpiresAt)
}

func (e *Engine) expiry(r *config.Remote, kind string) time.Time {
	ttl := r.TTLSeconds(kind)
	if ttl <= 0 {
		return time.Time{}
	}
	return e.o.Now().Add(time.Duration(ttl) * time.Second)
}

// lookup reads metadata through the in-process memo.
func (e *Engine) lookup(ctx context.Context, remote, p string) (db.Artifact, error) {
	a, _, err := e.lookupFrom(ctx, remote, p)
	return a, err
}

// lookupFrom is lookup that also reports whether the entry came from the memo.
func (e *Engine) lookupFrom(ctx context.Context, remote, p string) (a db.Artifact, remembered bool, err error) {
	if a, ok, renew := e.memo.get(remote, p, true); ok {
		if renew {
			e.refreshSoon(mkey(remote, p))
		}
		return a, true, nil
	}
	gen := e.memo.generation()
	a, err = e.o.Meta.GetArtifact(ctx, remote, p)
	if err != nil {
		return a, false, err
	}
	e.memo.putAt(mkey(remote, p), a, gen)
	return a, false, nil
}

// Get answers req from the cache or the upstream.
func (e *Engine) Get(ctx context.Context, req Request) (*Result, error) {
	a, remembered, err := e.lookupFrom(ctx, req.Remote.Name, req.Path)
	if req.Origin == nil { // a local repository: nothing to fetch
		if err == nil {
			return e.hitFrom(a, remembered), nil
		}
		if errors.Is(err, db.ErrNotFound) {
			return nil, &Error{Status: http.StatusNotFound, Msg: "not found"}
		}
	}
	switch {
	case err == nil:
		if req.Acceptable != nil && !req.Acceptable(a) {
			if err := prepare(req.Origin); err != nil {
				return nil, err
			}
			return e.fetch(ctx, req, nil)
		}
		if e.fresh(a) {
			return e.hitFrom(a, remembered), nil
		}
		if err := prepare(req.Origin); err != nil {
			return nil, err
		}
		expired := a // only this copy escapes, and only on this path
		return e.fetch(ctx, req, &expired)
	case errors.Is(err, db.ErrNotFound):
	default:
		e.o.Metrics.Errors.WithLabelValues("metadata").Inc()
		return nil, &Error{Status: http.StatusServiceUnavailable, Msg: "metadata store unavailable", Err: err}
	}
	if err := prepare(req.Origin); err != nil {
		return nil, err
	}
	if e.negative(ctx, req) {
		return nil, &Error{Status: http.StatusNotFound, Msg: "not found upstream (remembered)"}
	}
	if req.Method == http.MethodHead {
		return e.headMiss(ctx, req)
	}
	return e.fetch(ctx, req, nil)
}

// OriginFor is the one way the upstream origin of an artifact of remote r is
// built: the remote's credentials, bound to its base_url host, and its
// redirect policy. u may be nil and set later (once the path is checked).
func OriginFor(c *upstream.Client, r *config.Remote, u *url.URL) upstream.Origin {
	return upstream.Origin{Client: c, URL: u, Auth: upstream.CredentialsFor(r.Username, r.Password, r.BaseURLParsed()),
		AllowPrivateRedirects: r.AllowPrivateRedirects, Remote: r.Name}
}

func prepare(o Origin) error {
	if p, ok := o.(Preparer); ok {
		return p.Prepare()
	}
	return nil
}

// hit serves a committed artifact whose metadata was read from the
// metadata store.
func (e *Engine) hit(a db.Artifact, stale bool) *Result {
	e.hits.add(a.Remote, a.Path, e.o.Now())
	return &Result{Source: "cache", Stale: stale, Artifact: a, SizeKnown: true, stored: true, engine: e}
}

// hitFrom is hit of a fresh entry that may come from the memo.
func (e *Engine) hitFrom(a db.Artifact, remembered bool) *Result {
	r := e.hit(a, false)
	r.remembered = remembered
	return r
}

// Forget drops metadata whose blob has vanished, so the next Get refetches it.
func (e *Engine) Forget(ctx context.Context, remote, p string) {
	e.memo.del(mkey(remote, p))
	if _, err := e.o.Meta.DeleteArtifact(ctx, remote, p); err == nil {
		e.o.Log.Warn("blob missing for cached artifact; entry dropped", "remote", remote, "path", p)
		e.invalidate(ctx, remote, p)
	}
}

func (e *Engine) headMiss(ctx context.Context, req Request) (*Result, error) {
	resp, err := req.Origin.Fetch(ctx, http.MethodHead, nil)
	if err != nil {
		return nil, upstreamErr(err)
	}
	if resp.StatusCode >= 400 {
		resp.Body.Close()
		return nil, answerErr(resp.StatusCode, resp.Header)
	}
	return &Result{Source: "remote", Upstream: resp}, nil
}

// negKey is where an upstream 404 of remote's path p is remembered. The
// key includes the remote's negative-cache epoch, so a bulk eviction forgets
// every remembered 404 of the remote at once (coordinators cannot list keys).
func (e *Engine) negKey(ctx context.Context, remote, p string) string {
	epoch, _, err := e.o.Coord.Get(ctx, negEpochKey(remote))
	if err != nil {
		e.coordFailed("negative cache epoch", err)
	}
	return "neg:" + remote + "/" + epoch + "/" + p
}

func negEpochKey(remote string) string { return "negepoch:" + remote }

func negPath(req Request) string {
	if req.NegativeKey != "" {
		return req.NegativeKey
	}
	return req.Path
}

func (e *Engine) negative(ctx context.Context, req Request) bool {
	if req.Remote.NegativeTTLSeconds() <= 0 {
		return false
	}
	_, ok, err := e.o.Coord.Get(ctx, e.negKey(ctx, req.Remote.Name, negPath(req)))
	if err != nil {
		e.coordFailed("negative cache get", err)
	}
	return ok
}

func (e *Engine) rememberMissing(ctx context.Context, req Request) {
	ttl := req.Remote.NegativeTTLSeconds()
	if ttl <= 0 {
		return
	}
	if err := e.o.Coord.Set(ctx, e.negKey(ctx, req.Remote.Name, negPath(req)), "404", time.Duration(ttl)*time.Second); err != nil {
		e.coordFailed("negative cache set", err)
	}
}

// forgetMissing drops the remembered 404 of remote's path p and reports
// whether there was one.
func (e *Engine) forgetMissing(ctx context.Context, remote, p string) bool {
	k := e.negKey(ctx, remote, p)
	_, ok, err := e.o.Coord.Get(ctx, k)
	if err != nil {
		e.coordFailed("negative cache get", err)
	}
	if err := e.o.Coord.Del(ctx, k); err != nil {
		e.coordFailed("negative cache delete", err)
	}
	return ok
}

// forgetAllMissing drops every remembered 404 of remote by moving it to a
// new negative-cache epoch.
func (e *Engine) forgetAllMissing(ctx context.Context, remote string) {
	if err := e.o.Coord.Set(ctx, negEpochKey(remote), randomID(), 0); err != nil {
		e.coordFailed("negative cache epoch", err)
	}
}

func (e *Engine) coordFailed(op string, err error) {
	e.o.Metrics.CoordFailures.Inc()
	e.o.Metrics.Errors.WithLabelValues("coord").Inc()
	e.o.Log.Warn("coordination failed; continuing without it", "op", op, "err", err)
}
