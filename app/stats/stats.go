// Package stats keeps each remote's upstream health and traffic for the
// dashboard, the JSON API and the metrics. The request path only updates
// counters in memory (upstream observations, and the Prometheus counters it
// already keeps); every few seconds each replica adds what it saw to the
// metadata store and reads back the sum of all replicas, so every replica
// shows the same state and the same figures.
package stats

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"artifactapi/app/config"
	"artifactapi/app/metrics"
	"artifactapi/app/upstream"
	"artifactapi/db"
)

// Store is the part of the metadata store the recorder uses.
type Store interface {
	RecordRemoteStats(ctx context.Context, deltas []db.StatsDelta) error
	RemoteHealth(ctx context.Context) ([]db.RemoteHealth, error)
	RemoteTraffic(ctx context.Context, since time.Time) ([]db.TrafficCounts, error)
	PruneRemoteTraffic(ctx context.Context, before time.Time) (int64, error)
}

// Options configure a Recorder.
type Options struct {
	Store   Store
	Metrics *metrics.Metrics
	Config  func() *config.Config // the remotes (reloadable)
	Log     *slog.Logger
	// Flush is how often this replica writes what it saw and reads the
	// others' (default 5s).
	Flush time.Duration
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Window is the span the error rate and the mean latency are computed on.
const Window = 5 * time.Minute

// History is how far back the per-minute traffic is read (sparklines).
const History = time.Hour

// retention is how long per-minute rows are kept (totals are kept forever).
const retention = 24 * time.Hour

// pruneEvery is how often a replica deletes minutes past retention.
const pruneEvery = 10 * time.Minute

// Recorder aggregates observations and shares them through the Store.
type Recorder struct {
	o       Options
	mu      sync.Mutex
	pending map[pendingKey]*db.StatsDelta
	seen    map[counterKey]float64 // counter values at the last flush
	view    atomic.Pointer[view]
	syncMu  sync.Mutex // one Sync at a time
	pruned  time.Time  // under syncMu
	running atomic.Bool
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

type pendingKey struct {
	remote string
	minute int64
}

// New returns a Recorder; Start runs its flush loop.
func New(o Options) *Recorder {
	if o.Flush <= 0 {
		o.Flush = 5 * time.Second
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
	r := &Recorder{o: o, pending: map[pendingKey]*db.StatsDelta{}, seen: map[counterKey]float64{},
		stop: make(chan struct{}), done: make(chan struct{})}
	r.view.Store(&view{remotes: map[string]*remoteView{}})
	o.Metrics.Registry.MustRegister(&stateCollector{r: r})
	return r
}

// Start reads the shared state once, then flushes and refreshes every
// Options.Flush until Close.
func (r *Recorder) Start(ctx context.Context) {
	if err := r.refresh(ctx); err != nil {
		r.o.Log.Warn("reading upstream health and traffic failed", "err", err)
	}
	r.running.Store(true)
	go r.loop()
}

func (r *Recorder) loop() {
	defer close(r.done)
	t := time.NewTicker(r.o.Flush)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			r.tick()
		case <-r.stop:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			r.syncMu.Lock()
			err := r.flush(ctx)
			r.syncMu.Unlock()
			if err != nil {
				r.o.Log.Warn("writing upstream health and traffic at shutdown failed", "err", err)
			}
			cancel()
			return
		}
	}
}

func (r *Recorder) tick() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Sync(ctx); err != nil {
		r.o.Log.Warn("sharing upstream health and traffic failed; kept for the next try", "err", err)
	}
}

// Sync writes what this replica saw since the last flush, then reads the
// figures of all replicas (tests call it to skip the wait).
func (r *Recorder) Sync(ctx context.Context) error {
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	if err := r.flush(ctx); err != nil {
		return err
	}
	now := r.o.Now()
	if now.Sub(r.pruned) > pruneEvery {
		r.pruned = now
		if _, err := r.o.Store.PruneRemoteTraffic(ctx, now.Add(-retention)); err != nil {
			r.o.Log.Warn("pruning old traffic minutes failed", "err", err)
		}
	}
	return r.refresh(ctx)
}

// Close stops the loop after a last flush.
func (r *Recorder) Close() {
	if !r.running.Load() {
		return
	}
	r.once.Do(func() {
		close(r.stop)
		<-r.done
	})
}

// Observe records one upstream exchange. It is the upstream client's
// Observer: cheap, in memory.
func (r *Recorder) Observe(o upstream.Observation) {
	r.o.Metrics.UpstreamRequests.WithLabelValues(o.Remote, o.Outcome()).Inc()
	if !o.Body {
		r.o.Metrics.UpstreamLatency.WithLabelValues(o.Remote).Observe(o.Latency.Seconds())
	}
	now := r.o.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.deltaLocked(o.Remote, now)
	if !o.Body {
		d.LatencyMicros += o.Latency.Microseconds()
		d.LatencyCount++
	}
	if o.Failed() {
		d.UpstreamErrors++
		if !networkKind(o.Kind) {
			d.BadAnswers++
		}
		d.LastError, d.ErrorKind, d.ErrorMessage = now, o.Kind, o.Detail
		return
	}
	d.UpstreamOK++
	d.LastSuccess = now
}

// deltaLocked returns the pending delta of remote for the minute of now.
func (r *Recorder) deltaLocked(remote string, now time.Time) *db.StatsDelta {
	m := now.UTC().Truncate(time.Minute)
	k := pendingKey{remote, m.Unix()}
	d := r.pending[k]
	if d == nil {
		d = &db.StatsDelta{TrafficCounts: db.TrafficCounts{Remote: remote, Minute: m}}
		r.pending[k] = d
	}
	return d
}

// flush writes the pending deltas and the counters' growth since the last
// flush; on failure they stay pending, merged with what comes meanwhile.
func (r *Recorder) flush(ctx context.Context) error {
	now := r.o.Now()
	r.mu.Lock()
	r.addCountersLocked(now)
	batch := make([]db.StatsDelta, 0, len(r.pending))
	for _, d := range r.pending {
		batch = append(batch, *d)
	}
	r.pending = map[pendingKey]*db.StatsDelta{}
	r.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := r.o.Store.RecordRemoteStats(ctx, batch)
	if err == nil {
		return nil
	}
	r.mu.Lock()
	for _, d := range batch {
		r.mergeLocked(d)
	}
	r.mu.Unlock()
	return err
}

// mergeLocked puts d back into the pending deltas.
func (r *Recorder) mergeLocked(d db.StatsDelta) {
	p := r.deltaLocked(d.Remote, d.Minute)
	p.TrafficCounts.Add(d.TrafficCounts)
	if d.LastSuccess.After(p.LastSuccess) {
		p.LastSuccess = d.LastSuccess
	}
	if d.LastError.After(p.LastError) {
		p.LastError, p.ErrorKind, p.ErrorMessage = d.LastError, d.ErrorKind, d.ErrorMessage
	}
	if d.LastStale.After(p.LastStale) {
		p.LastStale = d.LastStale
	}
}
