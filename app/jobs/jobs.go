// Package jobs runs batch cache jobs (PRODUCT §2 /cache-artifact, /jobs):
// a job is stored in the metadata store with one item per artifact, and
// the workers of every replica claim items under a lease and fetch them
// through the cache engine, with at most JOB_CONCURRENCY items of one
// remote at a time per replica. An item whose replica stopped is claimed
// again (at once after a graceful stop, when its lease expires otherwise),
// so a job survives restarts.
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"artifactapi/app/cache"
	"artifactapi/app/config"
	"artifactapi/app/coord"
	"artifactapi/app/metrics"
	"artifactapi/app/upstream"
	"artifactapi/db"
)

// Topic is the coordination topic announcing new jobs to every replica.
const Topic = "jobs"

// Store is the part of the metadata store the manager uses.
type Store interface {
	db.JobStore
	GetArtifact(ctx context.Context, remote, path string) (db.Artifact, error)
}

// Engine fetches artifacts; *cache.Engine implements it.
type Engine interface {
	Get(ctx context.Context, req cache.Request) (*cache.Result, error)
}

// Options configures a Manager.
type Options struct {
	// Store is the metadata store; it must implement db.JobStore.
	Store    db.Store
	Engine   Engine
	Upstream *upstream.Client
	Coord    coord.Coordinator
	Config   func() *config.Config // the current config; Env.JobConcurrency bounds the workers
	Log      *slog.Logger
	Metrics  *metrics.Metrics // counts coordination failures; optional
	// Instance names this replica in item claims (default: host name and a random suffix).
	Instance string
	// Lease is how long a claim lasts without renewal (default 30s); it is
	// renewed every third of it.
	Lease time.Duration
	// Poll is how often the queue is checked without a notification (default 3s).
	Poll time.Duration
	// Progress is how often a running item's byte count is written (default 1s).
	Progress time.Duration
	// Retries is how many times an item is tried again after a transient
	// upstream failure (0: the default, 2; negative: never); RetryWait is the first pause (default
	// 1s), doubled each time.
	Retries   int
	RetryWait time.Duration
}

// Manager accepts jobs and runs this replica's workers.
type Manager struct {
	o     Options
	store Store
	wake  chan struct{}

	mu      sync.Mutex
	running map[string]int // items being worked on here, per remote
	swept   time.Time      // last retention sweep
	cancel  context.CancelFunc
	done    chan struct{} // closed when the dispatcher has returned
	workers sync.WaitGroup
}

// New returns a Manager; Start runs its workers.
func New(o Options) (*Manager, error) {
	st, ok := o.Store.(Store)
	if !ok {
		return nil, fmt.Errorf("jobs: metadata store %T does not keep jobs", o.Store)
	}
	if o.Instance == "" {
		o.Instance = instanceName()
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 3 * time.Second
	}
	if o.Progress <= 0 {
		o.Progress = time.Second
	}
	switch {
	case o.Retries == 0:
		o.Retries = 2
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.RetryWait <= 0 {
		o.RetryWait = time.Second
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	return &Manager{o: o, store: st, wake: make(chan struct{}, 1), running: map[string]int{}}, nil
}

// instanceName is the host name (the pod name on Kubernetes) with a random
// suffix, so that two processes on one host are told apart.
func instanceName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "artifactapi"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

// Instance is the name this replica claims items under.
func (m *Manager) Instance() string { return m.o.Instance }

// Start runs the dispatcher until Stop. It listens for new jobs on the
// coordination topic; when that fails it relies on polling.
func (m *Manager) Start(ctx context.Context) {
	run, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var msgs <-chan string
	sub, err := m.o.Coord.Subscribe(ctx, Topic)
	if err != nil {
		m.coordFailed()
		m.o.Log.Warn("jobs: no notifications of new jobs; polling only", "err", err)
	} else {
		msgs = sub.C()
	}
	m.mu.Lock()
	m.cancel, m.done = cancel, make(chan struct{})
	m.mu.Unlock()
	go func() {
		defer close(m.done)
		if sub != nil {
			defer sub.Close()
		}
		m.loop(run, msgs)
	}()
}

// Stop stops claiming items and interrupts the running ones, which are
// given back to the queue for any replica to resume (the engine finishes
// their downloads on its own). It waits for the workers until ctx ends.
func (m *Manager) Stop(ctx context.Context) error {
	m.mu.Lock()
	cancel, done := m.cancel, m.done
	m.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	stopped := make(chan struct{})
	go func() {
		<-done
		m.workers.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("jobs: workers still running at shutdown: %w", ctx.Err())
	}
}

// Wake makes the dispatcher look for claimable items now.
func (m *Manager) Wake() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// loop claims work whenever woken, notified or polled.
func (m *Manager) loop(ctx context.Context, msgs <-chan string) {
	tick := time.NewTicker(m.o.Poll)
	defer tick.Stop()
	for {
		m.dispatch(ctx)
		m.sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		case <-tick.C:
		case _, ok := <-msgs:
			if !ok {
				m.o.Log.Warn("jobs: notifications of new jobs ended; polling only")
				msgs = nil
			}
		}
	}
}

// sweep deletes finished jobs older than JOB_RETENTION, at most every
// half of it (and at most hourly); every replica may, the deletes agree.
func (m *Manager) sweep(ctx context.Context) {
	keep := m.o.Config().Env.JobRetention
	if keep <= 0 {
		return
	}
	every := min(max(keep/2, 100*time.Millisecond), time.Hour)
	m.mu.Lock()
	due := time.Since(m.swept) >= every
	if due {
		m.swept = time.Now()
	}
	m.mu.Unlock()
	if !due {
		return
	}
	n, err := m.store.DeleteJobsDoneBefore(ctx, time.Now().Add(-keep))
	switch {
	case err != nil && ctx.Err() == nil:
		m.o.Log.Warn("jobs: delete finished jobs past retention", "err", err)
	case n > 0:
		m.o.Log.Info("jobs: deleted finished jobs past retention", "jobs", n, "retention", keep.String())
	}
}

// dispatch claims items and starts a worker for each until nothing is
// claimable or every remote with queued items is at its concurrency limit.
func (m *Manager) dispatch(ctx context.Context) {
	for ctx.Err() == nil {
		it, err := m.store.ClaimItem(ctx, m.o.Instance, m.o.Lease, m.busyRemotes()...)
		if errors.Is(err, db.ErrNotFound) {
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				m.o.Log.Warn("jobs: claim item", "err", err)
			}
			return
		}
		m.mu.Lock()
		m.running[it.Remote]++
		m.mu.Unlock()
		m.workers.Add(1)
		go m.work(ctx, it)
	}
}

// busyRemotes lists the remotes at their concurrency limit here.
func (m *Manager) busyRemotes() []string {
	limit := max(1, m.o.Config().Env.JobConcurrency)
	m.mu.Lock()
	defer m.mu.Unlock()
	var busy []string
	for r, n := range m.running {
		if n >= limit {
			busy = append(busy, r)
		}
	}
	return busy
}

// finished is called when a worker ends.
func (m *Manager) finished(remote string) {
	m.mu.Lock()
	if m.running[remote]--; m.running[remote] <= 0 {
		delete(m.running, remote)
	}
	m.mu.Unlock()
	m.workers.Done()
	m.Wake()
}

// coordFailed counts a failed coordination operation (Redis is an
// accelerator: polling finds the work without it).
func (m *Manager) coordFailed() {
	m.o.Metrics.CoordFailures.Inc()
	m.o.Metrics.Errors.WithLabelValues("coord").Inc()
}

// Job returns a job with its items, or db.ErrNotFound.
func (m *Manager) Job(ctx context.Context, id string) (db.Job, error) {
	return m.store.GetJob(ctx, id)
}

// Cancel ends the job's queued items (items already running finish) and
// returns how many it ended; db.ErrNotFound for an unknown job.
func (m *Manager) Cancel(ctx context.Context, id string) (int, error) {
	n, err := m.store.CancelJob(ctx, id)
	if err == nil && n > 0 {
		m.o.Log.Info("jobs: job canceled", "job", id, "items", n)
	}
	return n, err
}

// Jobs returns up to limit jobs, newest first.
func (m *Manager) Jobs(ctx context.Context, limit int) ([]db.Job, error) {
	return m.store.ListJobs(ctx, limit)
}
