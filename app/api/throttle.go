package api

import (
	"sync"
	"time"
)

// maxGuessers bounds the addresses a Throttle tracks at once.
const maxGuessers = 10000

// Throttle limits failed credential checks per client address with a
// token bucket. An attempt takes a token before the credential is compared
// (so that concurrent guesses cannot overrun the bucket) and a successful
// one gives it back: valid credentials are never slowed down. Only
// addresses that failed recently are remembered, at most maxGuessers of
// them. A nil *Throttle allows everything. It is safe for concurrent use.
type Throttle struct {
	burst  float64
	refill time.Duration
	max    int
	now    func() time.Time

	mu sync.Mutex
	m  map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was computed
}

// NewThrottle lets each address fail perMinute times at once, then once
// more every minute/perMinute. perMinute <= 0 returns nil: no limit. now
// may be nil (time.Now).
func NewThrottle(perMinute int, now func() time.Time) *Throttle {
	if perMinute <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &Throttle{burst: float64(perMinute), refill: time.Minute / time.Duration(perMinute), max: maxGuessers, now: now, m: map[string]*bucket{}}
}

// level brings b up to date at now.
func (t *Throttle) level(b *bucket, now time.Time) {
	b.tokens = min(t.burst, b.tokens+float64(now.Sub(b.at))/float64(t.refill))
	b.at = now
}

// Take reserves one attempt for addr. It returns 0 when the attempt may
// go on, or how long until addr may try again.
func (t *Throttle) Take(addr string) time.Duration {
	if t == nil {
		return 0
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.m[addr]
	if b == nil {
		t.makeRoom(now)
		b = &bucket{tokens: t.burst, at: now}
		t.m[addr] = b
	}
	t.level(b, now)
	if b.tokens < 1 {
		wait := time.Duration((1 - b.tokens) * float64(t.refill))
		return max(wait, time.Second)
	}
	b.tokens--
	return 0
}

// Refund gives back the attempt reserved by Take: the credential was right.
func (t *Throttle) Refund(addr string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.m[addr]
	if b == nil {
		return
	}
	t.level(b, t.now())
	if b.tokens++; b.tokens >= t.burst {
		delete(t.m, addr)
	}
}

// makeRoom keeps the map under max entries: full buckets are forgotten
// (they are what an absent address gets), then, under a flood of
// addresses, an arbitrary one.
func (t *Throttle) makeRoom(now time.Time) {
	if len(t.m) < t.max {
		return
	}
	for k, b := range t.m {
		if t.level(b, now); b.tokens >= t.burst {
			delete(t.m, k)
		}
	}
	for k := range t.m {
		if len(t.m) < t.max {
			break
		}
		delete(t.m, k)
	}
}

// Len reports how many addresses are remembered.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}
