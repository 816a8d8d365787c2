package cache

import (
	"context"
	"strings"
	"sync"
	"time"

	"artifactapi/db"
)

// memo keeps recently used metadata in memory so a warm hit needs no database
// round trip. Every change in this process updates it; changes in other
// replicas arrive on the "invalidate" topic; entries also age out.
type memo struct {
	mu  sync.Mutex
	m   map[string]memoEntry
	max int
	ttl time.Duration
	now func() time.Time
}

type memoEntry struct {
	a  db.Artifact
	at time.Time
}

func newMemo(max int, ttl time.Duration, now func() time.Time) *memo {
	return &memo{m: map[string]memoEntry{}, max: max, ttl: ttl, now: now}
}

// get looks up mkey(remote, p) without building the key string.
func (m *memo) get(remote, p string) (db.Artifact, bool) {
	var kb [256]byte
	k := append(append(append(kb[:0], remote...), 0), p...)
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.m[string(k)] // no allocation: the conversion is only a lookup key
	if !ok || m.now().Sub(e.at) > m.ttl {
		return db.Artifact{}, false
	}
	return e.a, true
}

func (m *memo) put(k string, a db.Artifact) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.max <= 0 {
		return
	}
	if len(m.m) >= m.max {
		for k := range m.m { // drop an arbitrary tenth
			delete(m.m, k)
			if len(m.m) < m.max*9/10 {
				break
			}
		}
	}
	m.m[k] = memoEntry{a: a, at: m.now()}
}

func (m *memo) del(k string) {
	m.mu.Lock()
	delete(m.m, k)
	m.mu.Unlock()
}

func (m *memo) clear() {
	m.mu.Lock()
	m.m = map[string]memoEntry{}
	m.mu.Unlock()
}

const invalidateTopic = "invalidate"

// invalidate tells every replica to drop its memo entry for remote/path.
func (e *Engine) invalidate(ctx context.Context, remote, p string) {
	if err := e.o.Coord.Publish(ctx, invalidateTopic, mkey(remote, p)); err != nil {
		e.coordFailed("publish invalidation", err)
	}
}

// listenInvalidations subscribes to other replicas' changes. If the
// subscription cannot be made, the memo is disabled (correct, slower).
func (e *Engine) listenInvalidations(ctx context.Context) error {
	sub, err := e.o.Coord.Subscribe(ctx, invalidateTopic)
	if err != nil {
		e.coordFailed("subscribe invalidations", err)
		e.memo.max = 0
		close(e.subDone)
		return nil
	}
	go func() {
		defer close(e.subDone)
		defer sub.Close()
		for {
			select {
			case k, ok := <-sub.C():
				if !ok {
					// Lost the subscription: stop trusting the memo.
					e.memo.clear()
					e.memo.mu.Lock()
					e.memo.ttl = 0
					e.memo.mu.Unlock()
					<-e.stop
					return
				}
				if strings.HasPrefix(k, "*") {
					e.memo.clear()
				} else {
					e.memo.del(k)
				}
			case <-e.stop:
				return
			}
		}
	}()
	return nil
}
