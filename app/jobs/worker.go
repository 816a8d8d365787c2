package jobs

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
	"strings"
	"sync/atomic"
	"time"

	"artifactapi/app/cache"
	"artifactapi/app/config"
	"artifactapi/db"
)

// ReasonDenied is the reason of an item refused by the remote's patterns.
const ReasonDenied = "path not allowed by the remote's patterns"

// outcome is a worker's result for an item; the zero outcome means the
// work was interrupted and the item goes back to the queue.
type outcome struct {
	state  string
	reason string
	done   int64
	total  int64
	// retries is how many times the download was tried again after a
	// transient failure (recorded in the item's attempts).
	retries int
}

func (o outcome) interrupted() bool { return o.state == "" }

// failed is the outcome of an item that failed for reason.
func failed(reason string) outcome { return outcome{state: db.ItemFailed, reason: reason} }

// progress is the byte count of a running download.
type progress struct{ done, total atomic.Int64 }

func (p *progress) Write(b []byte) (int, error) {
	p.done.Add(int64(len(b)))
	return len(b), nil
}

// work processes one claimed item and records its outcome.
func (m *Manager) work(ctx context.Context, it db.JobItem) {
	defer m.finished(it.Remote)
	ictx, cancel := context.WithCancel(ctx)
	var lost atomic.Bool
	prog := &progress{}
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		m.keep(ictx, it, prog, &lost, cancel)
	}()
	out := m.run(ictx, it, prog)
	cancel()
	<-kept
	log := m.o.Log.With("job", it.JobID, "item", it.Idx, "remote", it.Remote, "path", it.Path)
	if lost.Load() {
		log.Warn("jobs: item claim lost to another replica; leaving the item to it")
		return
	}
	u := db.ItemUpdate{JobID: it.JobID, Idx: it.Idx, State: out.state, Reason: out.reason, BytesDone: out.done, BytesTotal: out.total,
		Retries: out.retries}
	if out.interrupted() {
		u.State, u.BytesDone, u.BytesTotal = db.ItemQueued, prog.done.Load(), prog.total.Load()
	}
	if err := m.record(ctx, it, u, log); err != nil {
		log.Error("jobs: item outcome not recorded; the item is left to its lease", "state", u.State, "err", err)
		return
	}
	if out.interrupted() {
		log.Info("jobs: item interrupted; released for any replica to resume")
		return
	}
	m.o.Metrics.JobItems.WithLabelValues(it.Remote, out.state).Inc()
	log.Debug("jobs: item finished", "state", out.state, "reason", out.reason, "bytes", out.done)
}

// recordFor bounds how long a worker keeps retrying to record an item's
// outcome before leaving the item to its lease.
const recordFor = 5 * time.Minute

// record writes an item's outcome. A failure (the metadata store blipped)
// is retried with backoff while the worker keeps the claim, so the item
// settles as soon as the store answers again: it is neither left running
// until its lease expires nor handed to another worker that would download
// it again. It gives up when the claim is lost, after recordFor, or when
// the manager stops (the item then goes back to the queue by its lease).
func (m *Manager) record(ctx context.Context, it db.JobItem, u db.ItemUpdate, log *slog.Logger) error {
	deadline := time.Now().Add(recordFor)
	wait := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		// Recorded even when stopping: a detached context with its own bound.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err := m.store.UpdateItem(wctx, m.o.Instance, u)
		cancel()
		switch {
		case err == nil:
			if attempt > 1 {
				log.Info("jobs: item outcome recorded after a retry", "state", u.State, "attempts", attempt)
			}
			return nil
		case errors.Is(err, db.ErrClaimLost), ctx.Err() != nil, time.Now().After(deadline):
			return err
		}
		log.Warn("jobs: record item outcome failed; retrying", "state", u.State, "attempt", attempt, "in", wait.String(), "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
		// Keep the claim meanwhile (it fails too while the store is away).
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = m.store.RenewClaim(rctx, m.o.Instance, it.JobID, it.Idx, m.o.Lease)
		cancel()
		if errors.Is(err, db.ErrClaimLost) {
			return err
		}
	}
}

// keep renews the item's claim and writes its progress until ctx ends. A
// lost claim cancels the work.
func (m *Manager) keep(ctx context.Context, it db.JobItem, prog *progress, lost *atomic.Bool, cancel func()) {
	every := min(m.o.Progress, m.o.Lease/3)
	t := time.NewTicker(every)
	defer t.Stop()
	renewed := time.Now()
	var wrote, wroteTotal int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var err error
		if time.Since(renewed) >= m.o.Lease/3 {
			err = m.store.RenewClaim(ctx, m.o.Instance, it.JobID, it.Idx, m.o.Lease)
			renewed = time.Now()
		}
		if done, total := prog.done.Load(), prog.total.Load(); err == nil && (done != wrote || total != wroteTotal) {
			err = m.store.UpdateItem(ctx, m.o.Instance, db.ItemUpdate{JobID: it.JobID, Idx: it.Idx,
				State: db.ItemRunning, BytesDone: done, BytesTotal: total})
			wrote, wroteTotal = done, total
		}
		switch {
		case errors.Is(err, db.ErrClaimLost):
			lost.Store(true)
			cancel()
			return
		case err != nil && ctx.Err() == nil:
			m.o.Log.Warn("jobs: renew claim or write progress", "job", it.JobID, "item", it.Idx, "err", err)
		}
	}
}

// run decides and, when needed, fetches one item.
func (m *Manager) run(ctx context.Context, it db.JobItem, prog *progress) outcome {
	r := m.o.Config().Remotes.Remotes[it.Remote]
	if r == nil {
		return failed(fmt.Sprintf("unknown remote %q", it.Remote))
	}
	if why := unfetchable(r); why != "" {
		return failed(why)
	}
	p, q, _ := strings.Cut(it.Path, "?")
	v := r.Classify(p)
	if !v.Allowed {
		return outcome{state: db.ItemDenied, reason: ReasonDenied}
	}
	a, err := m.store.GetArtifact(ctx, r.Name, it.Path)
	switch {
	case err == nil && fresh(a):
		state := db.ItemAlreadyCached
		if it.Attempts > 1 {
			// An earlier, interrupted attempt started the download the
			// engine then finished.
			state = db.ItemCached
		}
		return m.pinned(ctx, it, a, outcome{state: state, done: a.Size, total: a.Size})
	case err != nil && !errors.Is(err, db.ErrNotFound):
		if ctx.Err() != nil {
			return outcome{}
		}
		return failed("metadata store unavailable")
	}
	u, err := r.UpstreamURL(p, q)
	if err != nil {
		return failed(err.Error())
	}
	// A failure that may pass on its own (upstream unreachable, 5xx, 429, a
	// body cut short) is retried after a pause, with the claim kept.
	for attempt := 0; ; attempt++ {
		out, transient := m.fetch(ctx, it, r, v, u, prog)
		out.retries = attempt
		if !transient || attempt >= m.o.Retries {
			if transient && attempt > 0 {
				out.reason = fmt.Sprintf("%s (%d attempts)", out.reason, attempt+1)
				m.o.Log.Warn("jobs: item failed after retries", "job", it.JobID, "item", it.Idx, "remote", it.Remote,
					"path", it.Path, "reason", out.reason, "attempts", it.Attempts+attempt)
			}
			return out
		}
		wait := m.o.RetryWait << attempt
		m.o.Log.Info("jobs: transient failure; retrying", "job", it.JobID, "item", it.Idx, "remote", it.Remote,
			"path", it.Path, "reason", out.reason, "in", wait.String())
		prog.done.Store(0)
		prog.total.Store(0)
		select {
		case <-ctx.Done():
			return outcome{}
		case <-time.After(wait):
		}
	}
}

// fetch downloads one item through the engine. transient reports a failure
// worth retrying.
func (m *Manager) fetch(ctx context.Context, it db.JobItem, r *config.Remote, v config.Verdict, u *url.URL, prog *progress) (out outcome, transient bool) {
	origin := cache.OriginFor(m.o.Upstream, r, u)
	res, err := m.o.Engine.Get(ctx, cache.Request{Remote: r, Path: it.Path, Verdict: v, Method: http.MethodGet, Pin: it.Pin, Origin: &origin})
	if err != nil {
		if ctx.Err() != nil {
			return outcome{}, false
		}
		return failed(reason(err)), cache.Transient(err)
	}
	defer res.Release()
	if res.Source == "cache" { // revalidated, or committed meanwhile by another request or replica
		if res.Stale {
			return failed("upstream unreachable; the expired copy was kept"), true
		}
		return m.pinned(ctx, it, res.Artifact, outcome{state: db.ItemCached, done: res.Artifact.Size, total: res.Artifact.Size}), false
	}
	if res.SizeKnown {
		prog.total.Store(res.Artifact.Size)
	}
	sum, n, err := m.read(ctx, res, prog)
	if err != nil {
		if ctx.Err() != nil {
			return outcome{}, false
		}
		return failed(reason(err)), cache.Transient(err)
	}
	a, err := res.Committed(ctx)
	if err == nil && a.SHA256 != sum {
		err = errors.New("the cached artifact differs from the download")
	}
	if err != nil {
		if ctx.Err() != nil {
			return outcome{}, false
		}
		return failed(reason(err)), cache.Transient(err)
	}
	return m.pinned(ctx, it, a, outcome{state: db.ItemCached, done: n, total: n}), false
}

// read consumes the engine's stream to its end (the engine withholds the
// last byte until the download is verified), counting and hashing it.
func (m *Manager) read(ctx context.Context, res *cache.Result, prog *progress) (sum string, n int64, err error) {
	rc, err := res.Open(ctx, 0, -1)
	if err != nil {
		return "", 0, err
	}
	defer rc.Close()
	// The stream does not watch ctx: closing it makes the read return.
	stop := context.AfterFunc(ctx, func() { rc.Close() })
	defer stop()
	h := sha256.New()
	n, err = io.Copy(io.MultiWriter(h, prog), rc)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// pinned marks the artifact pinned when the job asks for it (a download
// the job joined, or a cache hit, may not be).
func (m *Manager) pinned(ctx context.Context, it db.JobItem, a db.Artifact, out outcome) outcome {
	if !it.Pin || a.Pinned {
		return out
	}
	if err := m.store.PinArtifact(ctx, it.Remote, it.Path); err != nil {
		if ctx.Err() != nil {
			return outcome{}
		}
		return outcome{state: db.ItemFailed, reason: "cached, but could not be pinned", done: out.done, total: out.total}
	}
	return out
}

// fresh reports whether a cached artifact needs no refresh.
func fresh(a db.Artifact) bool {
	return a.ExpiresAt.IsZero() || time.Now().Before(a.ExpiresAt)
}

// reason is the client-facing text of an engine error, with the upstream
// status of a missing artifact spelled out.
func reason(err error) string {
	msg := cache.PublicMessage(err)
	if st := cache.StatusOf(err); st == http.StatusNotFound && !strings.Contains(msg, "(") {
		msg = fmt.Sprintf("%s (HTTP %d)", msg, st)
	}
	return msg
}
