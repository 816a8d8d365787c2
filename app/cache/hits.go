package cache

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"artifactapi/db"
)

// hitBatcher aggregates cache hits in memory and writes them in batches, so a
// cache hit never waits on a database write.
type hitBatcher struct {
	meta  Meta
	log   *slog.Logger
	mu    sync.Mutex
	m     map[[2]string]*db.Hit
	stop  chan struct{}
	done  chan struct{}
	every time.Duration
}

func newHitBatcher(meta Meta, every time.Duration, log *slog.Logger) *hitBatcher {
	b := &hitBatcher{meta: meta, log: log, m: map[[2]string]*db.Hit{}, stop: make(chan struct{}), done: make(chan struct{}), every: every}
	go b.loop()
	return b
}

func (b *hitBatcher) add(remote, p string, at time.Time) {
	k := [2]string{remote, p}
	b.mu.Lock()
	h := b.m[k]
	if h == nil {
		h = &db.Hit{Remote: remote, Path: p}
		b.m[k] = h
	}
	h.Count++
	h.Last = at
	b.mu.Unlock()
}

func (b *hitBatcher) loop() {
	defer close(b.done)
	t := time.NewTicker(b.every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.flush()
		case <-b.stop:
			b.flush()
			return
		}
	}
}

// Flush writes pending hits now.
func (b *hitBatcher) flush() {
	b.mu.Lock()
	if len(b.m) == 0 {
		b.mu.Unlock()
		return
	}
	batch := make([]db.Hit, 0, len(b.m))
	for _, h := range b.m {
		batch = append(batch, *h)
	}
	b.m = map[[2]string]*db.Hit{}
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.meta.RecordHits(ctx, batch); err != nil {
		b.log.Warn("recording hit counts failed", "n", len(batch), "err", err)
	}
}

func (b *hitBatcher) close() {
	close(b.stop)
	<-b.done
}

// FlushHits writes batched hit counts now (tests, shutdown).
func (e *Engine) FlushHits() { e.hits.flush() }
