package cache

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"artifactapi/app/coord"
	"artifactapi/app/metrics"
	"artifactapi/app/upstream"
	"artifactapi/db"
)

// fetch joins the running fill for req's artifact or starts one, then waits
// until it has headers (stream it) or is resolved (serve from cache).
func (e *Engine) fetch(ctx context.Context, req Request, prev *db.Artifact) (*Result, error) {
	key := mkey(req.Remote.Name, req.Path)
	e.mu.Lock()
	f, joined := e.inflight[key]
	if joined {
		// A fill whose failure is already known has answered its clients; its
		// leader may still be releasing the lock. A new request asks again.
		f.mu.Lock()
		joined = f.failed == nil
		f.mu.Unlock()
	}
	if joined {
		f.ref()
	} else {
		select {
		case <-e.stop:
			e.mu.Unlock()
			return nil, &Error{Status: http.StatusServiceUnavailable, Msg: "shutting down"}
		default:
		}
		if e.o.MaxFills > 0 && len(e.inflight) >= e.o.MaxFills {
			e.mu.Unlock()
			e.o.Metrics.FillsRefused.Inc()
			return nil, ErrBusy
		}
		f = newFill(key, req, prev)
		f.refs = 2 // the leader's and this caller's
		e.inflight[key] = f
		e.wg.Add(1)
		go e.lead(f)
	}
	e.mu.Unlock()
	if joined {
		e.o.Metrics.Coalesced.WithLabelValues(req.Remote.Name).Inc()
	}
	if err := f.waitReady(ctx); err != nil {
		f.unref()
		return nil, err
	}
	f.mu.Lock()
	failed, cached, stale, art, sized := f.failed, f.cached, f.stale, f.art, f.sized
	f.mu.Unlock()
	if joined && failed == nil && !cached && req.Acceptable != nil && !req.Acceptable(art) {
		// The fill was started for a client accepting another representation
		// (a manifest media type outside this client's Accept): let it end,
		// then fetch for this client.
		err := f.waitDone(ctx)
		f.unref()
		if err != nil {
			return nil, err
		}
		return e.fetch(ctx, req, nil)
	}
	switch {
	case failed != nil:
		f.unref()
		return nil, failed
	case cached:
		f.unref()
		a, err := e.o.Meta.GetArtifact(ctx, req.Remote.Name, req.Path)
		if err != nil {
			return nil, &Error{Status: http.StatusBadGateway, Msg: "artifact vanished after refresh", Err: err}
		}
		e.memo.put(key, a)
		if stale {
			e.o.Metrics.StaleServes.WithLabelValues(req.Remote.Name).Inc()
		}
		return e.hit(a, stale), nil
	}
	res := streamResult(f, art, sized)
	res.engine = e
	return res, nil
}

// streamResult reads f's spool; it owns one reference to f.
func streamResult(f *fill, art db.Artifact, sized bool) *Result {
	res := &Result{Source: "remote", Artifact: art, SizeKnown: sized, fill: f}
	var releaseOnce sync.Once
	res.release = func() { releaseOnce.Do(f.unref) }
	res.open = func(ctx context.Context, off, length int64) (io.ReadCloser, error) {
		f.ref()
		end := int64(-1)
		if length >= 0 {
			end = off + length
		}
		return &spoolReader{f: f, off: off, end: end, closed: make(chan struct{})}, nil
	}
	return res
}

// lead runs one fill to completion on a detached context: a client that
// leaves does not stop it.
func (e *Engine) lead(f *fill) {
	defer e.wg.Done()
	ctx := metrics.Context(metrics.PhaseFill)
	defer func() {
		e.mu.Lock()
		if e.inflight[f.key] == f { // a new fill may have taken the slot after this one failed
			delete(e.inflight, f.key)
		}
		e.mu.Unlock()
		f.update(func() {
			f.done = true
			if !f.ready {
				f.ready = true
				if f.failed == nil && !f.cached {
					f.failed = &Error{Status: http.StatusBadGateway, Msg: "download ended without a result"}
				}
			}
		})
		f.unref()
	}()
	for attempt := 0; attempt < 3; attempt++ {
		lock, err := e.o.Coord.TryLock(ctx, "fill:"+f.key, e.o.LockTTL)
		if errors.Is(err, coord.ErrNotObtained) {
			if e.waitRemote(ctx, f) {
				return
			}
			continue
		}
		if err != nil {
			e.coordFailed("fill lock", err)
			lock = nil
		}
		e.leadLocked(ctx, f, lock)
		return
	}
	f.update(func() {
		f.ready = true
		f.failed = &Error{Status: http.StatusBadGateway, Msg: "another replica's download kept failing"}
	})
}

// waitRemote waits for another replica's download of the artifact. It
// returns true when the fill is resolved (the artifact is now cached).
func (e *Engine) waitRemote(ctx context.Context, f *fill) bool {
	e.o.Metrics.Coalesced.WithLabelValues(f.req.Remote.Name).Inc()
	topic := "filled:" + f.key
	sub, err := e.o.Coord.Subscribe(ctx, topic)
	if err != nil {
		e.coordFailed("subscribe", err)
	}
	if sub != nil {
		defer sub.Close()
	}
	// Re-check after subscribing: the leader may have finished before we listened.
	if e.resolvedElsewhere(ctx, f) {
		return true
	}
	// Stream from the replica that is downloading, when it advertises itself.
	switch e.relayFromPeer(ctx, f) {
	case relayDone:
		return true
	case relayPeerDead:
		// Its lock may live on for LockTTL: download here now, without it
		// (the commit is atomic, a rare second download harmless).
		e.leadLocked(ctx, f, nil)
		return true
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var msgs <-chan string
	if sub != nil {
		msgs = sub.C()
	}
	for {
		select {
		case <-msgs:
			return e.resolvedElsewhere(ctx, f)
		case <-tick.C:
			// A crashed leader never publishes: watch its lock too.
			held, err := e.o.Coord.Locked(ctx, "fill:"+f.key)
			if err != nil || !held {
				return e.resolvedElsewhere(ctx, f)
			}
		case <-e.stop:
			f.update(func() {
				f.ready = true
				f.failed = &Error{Status: http.StatusServiceUnavailable, Msg: "shutting down"}
			})
			return true
		}
	}
}

// resolvedElsewhere checks storage for an entry committed by another replica.
func (e *Engine) resolvedElsewhere(ctx context.Context, f *fill) bool {
	a, err := e.o.Meta.GetArtifact(ctx, f.req.Remote.Name, f.req.Path)
	if err != nil || !e.fresh(a) || (f.req.Acceptable != nil && !f.req.Acceptable(a)) {
		return false
	}
	if f.prev != nil && !a.CachedAt.After(f.prev.CachedAt) && !a.ExpiresAt.After(f.prev.ExpiresAt) {
		return false
	}
	e.memo.put(f.key, a)
	f.update(func() { f.ready, f.cached = true, true })
	return true
}

// leadLocked is the leader's work while holding the fill lock (or without it
// when coordination is down).
func (e *Engine) leadLocked(ctx context.Context, f *fill, lock coord.Lock) {
	if lock != nil {
		stopRefresh := e.keepLock(lock)
		defer func() {
			stopRefresh()
			if err := lock.Release(ctx); err != nil {
				e.coordFailed("release fill lock", err)
			}
			if err := e.o.Coord.Publish(ctx, "filled:"+f.key, "done"); err != nil {
				e.coordFailed("publish fill", err)
			}
		}()
	}
	// Another replica may have committed between our lookup and the lock.
	if a, err := e.o.Meta.GetArtifact(ctx, f.req.Remote.Name, f.req.Path); err == nil && e.fresh(a) &&
		(f.req.Acceptable == nil || f.req.Acceptable(a)) {
		e.memo.put(f.key, a)
		f.update(func() { f.ready, f.cached = true, true })
		return
	}
	e.o.Metrics.DownloadsInFlight.Inc()
	defer e.o.Metrics.DownloadsInFlight.Dec()
	start := time.Now()
	outcome := e.download(ctx, f)
	e.o.Metrics.UpstreamFetch.WithLabelValues(f.req.Remote.Name, outcome).Observe(time.Since(start).Seconds())
}

// keepLock refreshes the lock every third of its TTL until stopped. A failed
// refresh is logged: the atomic commit keeps a rare double download harmless.
func (e *Engine) keepLock(lock coord.Lock) func() {
	return every(e.o.LockTTL/3, func() {
		if err := lock.Refresh(context.Background(), e.o.LockTTL); err != nil {
			e.coordFailed("refresh fill lock", err)
		}
	})
}

// every runs fn at each interval until the returned stop function is called.
func every(interval time.Duration, fn func()) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fn()
			}
		}
	}()
	return func() { close(done) }
}

// revalidate handles an expired entry before any download. It returns true
// when the fill is resolved without a body.
func (e *Engine) revalidate(ctx context.Context, f *fill) (resolved bool, cond http.Header) {
	prev, req := f.prev, f.req
	if prev == nil {
		return false, nil
	}
	if rv, ok := req.Origin.(Revalidator); ok {
		current, err := rv.Revalidate(ctx, *prev)
		switch {
		case err != nil && (upstream.IsNetwork(err) || isTooMany(err)):
			return e.serveStale(ctx, f, err), nil
		case err == nil && current:
			return e.refreshed(ctx, f), nil
		}
		return false, nil
	}
	if req.Remote.CheckMutableUpdates && req.Verdict.UserMutable && (prev.ETag != "" || prev.LastModified != "") {
		cond = http.Header{}
		if prev.ETag != "" {
			cond.Set("If-None-Match", prev.ETag)
		}
		if prev.LastModified != "" {
			cond.Set("If-Modified-Since", prev.LastModified)
		}
	}
	return false, cond
}

// refreshed extends an unchanged entry's TTL in place (no blob write).
func (e *Engine) refreshed(ctx context.Context, f *fill) bool {
	exp := e.expiry(f.req.Remote, f.prev.Kind)
	if err := e.o.Meta.SetExpiry(ctx, f.req.Remote.Name, f.req.Path, exp); err != nil {
		e.fail(f, &Error{Status: http.StatusServiceUnavailable, Msg: "metadata store unavailable", Err: err})
		return true
	}
	e.memo.del(f.key)
	e.invalidate(ctx, f.req.Remote.Name, f.req.Path)
	f.update(func() { f.ready, f.cached = true, true })
	return true
}

// serveStale keeps an expired entry when the upstream cannot be reached.
func (e *Engine) serveStale(ctx context.Context, f *fill, cause error) bool {
	e.o.Log.Warn("upstream unreachable; serving stale copy", "remote", f.req.Remote.Name, "path", f.req.Path, "err", cause)
	e.o.Metrics.Errors.WithLabelValues("upstream_network").Inc()
	// Marked before refreshed resolves the fill: a waiting client reads the
	// flag as soon as the fill is ready.
	f.update(func() { f.stale = true })
	return e.refreshed(ctx, f)
}

func (e *Engine) fail(f *fill, err error) {
	f.update(func() {
		f.ready = true
		f.failed = err
	})
}

// evictExpired removes an expired entry whose upstream answered with an HTTP error.
func (e *Engine) evictExpired(ctx context.Context, f *fill, reason string) {
	if f.prev == nil {
		return
	}
	if err := e.Evict(ctx, f.req.Remote.Name, f.req.Path, reason); err != nil && !errors.Is(err, db.ErrNotFound) {
		e.o.Log.Warn("evict expired entry", "remote", f.req.Remote.Name, "path", f.req.Path, "err", err)
	}
}

func isTooMany(err error) bool {
	var he *upstream.HTTPError
	return errors.As(err, &he) && he.Status == http.StatusTooManyRequests
}
