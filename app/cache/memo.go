package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"artifactapi/app/metrics"
	"artifactapi/db"
)

// memo keeps recently used metadata in memory so a warm hit needs no database
// round trip. Every change in this process updates it; changes in other
// replicas arrive on the "invalidate" topic; entries also age out.
//
// The memo is trusted only while this replica provably receives the topic:
// the engine publishes a numbered probe on it every probeEvery and must see
// each of its own probes come back in order. A probe missing, out of order
// or late (Redis down, the subscription lost and re-made, a partition) means
// notices may have been lost: the memo is emptied and bypassed until probes
// flow again, and emptied once more when they do.
type memo struct {
	mu  sync.Mutex
	m   map[string]memoEntry
	max int
	ttl time.Duration
	now func() time.Time
	// gen counts removals: a lookup that raced with one does not store
	// what it read before it.
	gen     uint64
	trusted atomic.Bool
	losses  atomic.Uint64 // times trust was lost
	onTrust func(bool)    // reports changes of trusted
}

type memoEntry struct {
	a  db.Artifact
	at time.Time
	// renewing: a read-ahead of this entry has been asked for (get).
	renewing bool
}

func newMemo(max int, ttl time.Duration, now func() time.Time) *memo {
	m := &memo{m: map[string]memoEntry{}, max: max, ttl: ttl, now: now}
	m.trusted.Store(true)
	return m
}

// get looks up mkey(remote, p) without building the key string. With
// claim, renew reports — once per stored entry — that the entry is past
// three quarters of its time to live: the caller has it read again off the
// request path (Engine.refreshSoon), so an entry in use is replaced before
// it ages out and no hit on it waits for the database.
func (m *memo) get(remote, p string, claim bool) (a db.Artifact, ok, renew bool) {
	if !m.trusted.Load() {
		return db.Artifact{}, false, false
	}
	var kb [256]byte
	k := append(append(append(kb[:0], remote...), 0), p...)
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.m[string(k)] // no allocation: the conversion is only a lookup key
	if !ok {
		return db.Artifact{}, false, false
	}
	age := m.now().Sub(e.at)
	if age > m.ttl {
		return db.Artifact{}, false, false
	}
	if claim && age > m.ttl*3/4 && !e.renewing {
		e.renewing = true
		m.m[string(k)] = e
		renew = true
	}
	return e.a, true, renew
}

// generation returns the removal count, to pass to putAt.
func (m *memo) generation() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gen
}

// put stores a, read after every removal so far.
func (m *memo) put(k string, a db.Artifact) { m.putAt(k, a, m.generation()) }

// putAt stores a unless something was removed since generation gen (a was
// read before that removal and may be what it removed).
func (m *memo) putAt(k string, a db.Artifact, gen uint64) {
	if !m.trusted.Load() {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.max <= 0 || m.gen != gen {
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
	m.gen++
	delete(m.m, k)
	m.mu.Unlock()
}

func (m *memo) clear() {
	m.mu.Lock()
	m.gen++
	m.m = map[string]memoEntry{}
	m.mu.Unlock()
}

// setTrusted switches the memo on or off; both directions empty it.
func (m *memo) setTrusted(ok bool) {
	if m.trusted.Swap(ok) != ok {
		if !ok {
			m.losses.Add(1)
		}
		m.clear()
		if m.onTrust != nil {
			m.onTrust(ok)
		}
	}
}

// MemoTrust reports whether warm hits read metadata from memory now, and
// how many times this replica has stopped trusting its memo so far (a
// caller comparing two readings knows whether trust held in between).
func (e *Engine) MemoTrust() (trusted bool, losses uint64) {
	return e.memo.trusted.Load(), e.memo.losses.Load()
}

// Remembers reports whether a hit on remote/p would now read its metadata
// from memory (no database round trip).
func (e *Engine) Remembers(remote, p string) bool {
	_, ok, _ := e.memo.get(remote, p, false)
	return ok
}

const invalidateTopic = "invalidate"

// probeEvery is how often the engine checks that it receives invalidations.
const probeEvery = time.Second

// probePrefix marks probe messages on the invalidate topic ("\x01" never
// starts a remote name).
const probePrefix = "\x01probe:"

// invalidate tells every replica to drop its memo entry for remote/path. A
// notice that cannot be sent is kept and sent again until it is (see
// flushNotices); meanwhile the other replicas' probes through the same
// coordinator fail too, so they have stopped trusting their memos.
func (e *Engine) invalidate(ctx context.Context, remote, p string) {
	e.sendNotice(ctx, mkey(remote, p))
}

func (e *Engine) sendNotice(ctx context.Context, k string) {
	e.sentNotice(k)
	if err := e.o.Coord.Publish(ctx, invalidateTopic, k); err != nil {
		e.coordFailed("publish invalidation (queued for retry)", err)
		e.noticeMu.Lock()
		if len(e.notices) < maxPendingNotices {
			e.notices[k] = struct{}{}
		} else {
			e.notices = map[string]struct{}{"*": {}} // too many: everyone drops everything
		}
		e.o.Metrics.PendingNotices.Set(float64(len(e.notices)))
		e.noticeMu.Unlock()
	}
}

// maxPendingNotices bounds the retry queue; beyond it one "drop everything"
// notice replaces the queue.
const maxPendingNotices = 10000

// flushNotices sends the queued invalidation notices; each one stays queued
// until it is published.
func (e *Engine) flushNotices(ctx context.Context) {
	e.noticeMu.Lock()
	if len(e.notices) == 0 {
		e.noticeMu.Unlock()
		return
	}
	pending := e.notices
	e.notices = map[string]struct{}{}
	e.noticeMu.Unlock()
	for k := range pending {
		if err := e.o.Coord.Publish(ctx, invalidateTopic, k); err != nil {
			e.noticeMu.Lock()
			for k := range pending { // keep every one not yet sent
				e.notices[k] = struct{}{}
			}
			e.o.Metrics.PendingNotices.Set(float64(len(e.notices)))
			e.noticeMu.Unlock()
			return
		}
		delete(pending, k)
	}
	e.noticeMu.Lock()
	e.o.Metrics.PendingNotices.Set(float64(len(e.notices)))
	e.noticeMu.Unlock()
	e.o.Log.Info("queued invalidation notices delivered")
}

// listenInvalidations subscribes to other replicas' changes and watches
// that the subscription delivers (probes). If the subscription cannot be
// made, the memo is disabled until it can.
func (e *Engine) listenInvalidations(ctx context.Context) error {
	id := randomID()
	go func() {
		defer close(e.subDone)
		for {
			e.followInvalidations(id)
			select {
			case <-e.stop:
				return
			case <-time.After(probeEvery):
			}
		}
	}()
	return nil
}

// followInvalidations runs one subscription until it fails or the engine stops.
func (e *Engine) followInvalidations(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), probeEvery)
	sub, err := e.o.Coord.Subscribe(ctx, invalidateTopic)
	cancel()
	if err != nil {
		e.memo.setTrusted(false)
		e.coordFailed("subscribe invalidations", err)
		return
	}
	defer sub.Close()
	mine := probePrefix + id + ":"
	var sent, seen uint64 // probes published, and the last one received
	lastSeen := time.Now()
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	for {
		select {
		case k, ok := <-sub.C():
			if !ok {
				e.memo.setTrusted(false)
				return
			}
			switch {
			case strings.HasPrefix(k, mine):
				n, _ := strconv.ParseUint(k[len(mine):], 10, 64)
				if n != seen+1 {
					e.memo.setTrusted(false) // a gap: notices may be lost too
				} else if n == sent {
					e.memo.setTrusted(true)
				}
				seen, lastSeen = n, time.Now()
			case strings.HasPrefix(k, probePrefix): // another replica's probe
			case strings.HasPrefix(k, "*"):
				e.memo.clear()
			default:
				e.memo.del(k)
				if !e.ownNotice(k) {
					e.dropLocal(k)
				} else {
					e.refreshSoon(k)
				}
			}
		case <-tick.C:
			if sent > seen || time.Since(lastSeen) > 3*probeEvery {
				// The previous probe has not come back within a period.
				e.memo.setTrusted(false)
			}
			pctx, cancel := context.WithTimeout(context.Background(), probeEvery)
			err := e.o.Coord.Publish(pctx, invalidateTopic, mine+strconv.FormatUint(sent+1, 10))
			if err == nil {
				sent++
				e.flushNotices(pctx)
			} else {
				e.memo.setTrusted(false)
			}
			cancel()
			if sent > seen+3 {
				return // resubscribe: this subscription has stopped delivering
			}
		case <-e.stop:
			return
		}
	}
}

// randomID returns 16 random hex digits.
func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// refreshQueue bounds the keys waiting to be read again; beyond it a key is
// simply not refreshed (its next hit reads it).
const refreshQueue = 256

// refreshSoon reads k's entry again in the background. A replica's own
// change (a commit, an eviction) comes back to it as a notice on the topic,
// which drops its memo entry like anyone else's: a notice carries only the
// key, so this replica's notice cannot be told from another replica's
// change of the same key, and dropping is the only safe answer. The entry
// the replica just wrote is then the one most likely to be asked for next
// (a client installing what it just downloaded), so it is read again here,
// off the request path, instead of by that next hit. The read is a lookup
// like any other: it stores what it read only if nothing was dropped from
// the memo meanwhile. Hits ask for it too, once an entry they use is past
// three quarters of its time to live (memo.get): an entry in steady use is
// replaced before it ages out, and none of its hits waits for the
// database. A full queue drops the key: the entry then ages out as it
// would have anyway.
func (e *Engine) refreshSoon(k string) {
	select {
	case e.refresh <- k:
	default:
	}
}

// refreshLoop reads the keys of refreshSoon until the engine stops; a read
// in progress is abandoned then (a database that hangs does not hold up
// shutdown).
func (e *Engine) refreshLoop() {
	defer close(e.refreshDone)
	base, cancelAll := context.WithCancel(metrics.Context(metrics.PhaseBackground))
	defer cancelAll()
	go func() {
		select {
		case <-e.stop:
			cancelAll()
		case <-base.Done():
		}
	}()
	for {
		select {
		case <-e.stop:
			return
		case k := <-e.refresh:
			remote, p, ok := splitKey(k)
			if !ok {
				continue
			}
			gen := e.memo.generation()
			ctx, cancel := context.WithTimeout(base, 5*time.Second)
			a, err := e.o.Meta.GetArtifact(ctx, remote, p)
			cancel()
			if err == nil {
				e.memo.putAt(k, a, gen)
			}
		}
	}
}
