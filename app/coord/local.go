package coord

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrClosed is returned by a Coordinator used after Close.
var ErrClosed = errors.New("coord: closed")

// SubscriptionBuffer is how many undelivered messages a subscription holds.
// The in-process coordinator drops messages for a subscriber whose buffer is
// full rather than block Publish; the Redis one forwards with back-pressure
// into a buffer of the same size.
const SubscriptionBuffer = 1024

// sweepInterval bounds how often the in-process coordinator purges expired
// locks and values that nobody looked up again.
const sweepInterval = time.Minute

// Local is an in-process Coordinator for a single replica and for tests.
// Locks and values expire lazily by wall-clock (monotonic) time. The zero value
// is not usable; call NewLocal.
type Local struct {
	mu        sync.Mutex
	closed    bool
	nextToken uint64
	lastSweep time.Time
	locks     map[string]localLockEntry
	values    map[string]localValue
	subs      map[string]map[*localSub]struct{}
}

type localLockEntry struct {
	token   uint64
	expires time.Time
}

type localValue struct {
	value   string
	expires time.Time // zero: never
}

var _ Coordinator = (*Local)(nil)

// NewLocal returns an empty in-process coordinator.
func NewLocal() *Local {
	return &Local{
		lastSweep: time.Now(),
		locks:     map[string]localLockEntry{},
		values:    map[string]localValue{},
		subs:      map[string]map[*localSub]struct{}{},
	}
}

// lockTTL validates a lock ttl; sub-millisecond ttls are rounded up to 1ms so
// both implementations agree (Redis counts in milliseconds).
func lockTTL(ttl time.Duration) (time.Duration, error) {
	if ttl <= 0 {
		return 0, fmt.Errorf("coord: lock ttl must be positive, got %s", ttl)
	}
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	return ttl, nil
}

// begin locks l and checks ctx and the closed state; on nil error the caller
// must unlock l.mu.
func (l *Local) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// sweep drops expired entries at most once per sweepInterval. Caller holds mu.
func (l *Local) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < sweepInterval {
		return
	}
	l.lastSweep = now
	for k, e := range l.locks {
		if !now.Before(e.expires) {
			delete(l.locks, k)
		}
	}
	for k, v := range l.values {
		if !v.expires.IsZero() && !now.Before(v.expires) {
			delete(l.values, k)
		}
	}
}

// heldLocked returns the live lock entry for key. Caller holds mu.
func (l *Local) heldLocked(key string, now time.Time) (localLockEntry, bool) {
	e, ok := l.locks[key]
	if !ok {
		return localLockEntry{}, false
	}
	if !now.Before(e.expires) {
		delete(l.locks, key)
		return localLockEntry{}, false
	}
	return e, true
}

// TryLock takes the named lock for ttl. ErrNotObtained if it is held.
func (l *Local) TryLock(ctx context.Context, key string, ttl time.Duration) (Lock, error) {
	ttl, err := lockTTL(ttl)
	if err != nil {
		return nil, err
	}
	if err := l.begin(ctx); err != nil {
		return nil, err
	}
	defer l.mu.Unlock()
	now := time.Now()
	l.sweep(now)
	if _, held := l.heldLocked(key, now); held {
		return nil, ErrNotObtained
	}
	l.nextToken++
	l.locks[key] = localLockEntry{token: l.nextToken, expires: now.Add(ttl)}
	return &localLock{c: l, key: key, token: l.nextToken}, nil
}

// Locked reports whether the named lock is held and not expired.
func (l *Local) Locked(ctx context.Context, key string) (bool, error) {
	if err := l.begin(ctx); err != nil {
		return false, err
	}
	defer l.mu.Unlock()
	_, held := l.heldLocked(key, time.Now())
	return held, nil
}

type localLock struct {
	c     *Local
	key   string
	token uint64
}

// Refresh extends the lock to ttl from now, or returns ErrLockLost if it
// expired or another holder took it.
func (k *localLock) Refresh(ctx context.Context, ttl time.Duration) error {
	ttl, err := lockTTL(ttl)
	if err != nil {
		return err
	}
	if err := k.c.begin(ctx); err != nil {
		return err
	}
	defer k.c.mu.Unlock()
	now := time.Now()
	e, held := k.c.heldLocked(k.key, now)
	if !held || e.token != k.token {
		return ErrLockLost
	}
	e.expires = now.Add(ttl)
	k.c.locks[k.key] = e
	return nil
}

// Release frees the lock if this holder still has it; otherwise it does
// nothing and returns nil.
func (k *localLock) Release(ctx context.Context) error {
	if err := k.c.begin(ctx); err != nil {
		return err
	}
	defer k.c.mu.Unlock()
	if e, held := k.c.heldLocked(k.key, time.Now()); held && e.token == k.token {
		delete(k.c.locks, k.key)
	}
	return nil
}

type localSub struct {
	c      *Local
	topic  string
	ch     chan string
	closed bool // guarded by c.mu
}

// Subscribe registers a subscriber on topic. Messages published after it
// returns are delivered unless the subscriber's buffer is full.
func (l *Local) Subscribe(ctx context.Context, topic string) (Subscription, error) {
	if err := l.begin(ctx); err != nil {
		return nil, err
	}
	defer l.mu.Unlock()
	s := &localSub{c: l, topic: topic, ch: make(chan string, SubscriptionBuffer)}
	set := l.subs[topic]
	if set == nil {
		set = map[*localSub]struct{}{}
		l.subs[topic] = set
	}
	set[s] = struct{}{}
	return s, nil
}

// Publish delivers msg to every subscriber of topic without blocking; a
// subscriber whose buffer is full misses the message.
func (l *Local) Publish(ctx context.Context, topic, msg string) error {
	if err := l.begin(ctx); err != nil {
		return err
	}
	defer l.mu.Unlock()
	for s := range l.subs[topic] {
		select {
		case s.ch <- msg:
		default: // slow subscriber: drop rather than block the publisher
		}
	}
	return nil
}

// C delivers messages; it is closed by Close.
func (s *localSub) C() <-chan string { return s.ch }

// Close unsubscribes and closes C. It is safe to call more than once.
func (s *localSub) Close() error {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	s.closeLocked()
	return nil
}

// closeLocked unregisters and closes s. Caller holds s.c.mu.
func (s *localSub) closeLocked() {
	if s.closed {
		return
	}
	s.closed = true
	if set := s.c.subs[s.topic]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(s.c.subs, s.topic)
		}
	}
	close(s.ch)
}

// Set stores value under key for ttl (ttl <= 0: no expiry).
func (l *Local) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if err := l.begin(ctx); err != nil {
		return err
	}
	defer l.mu.Unlock()
	now := time.Now()
	l.sweep(now)
	v := localValue{value: value}
	if ttl > 0 {
		v.expires = now.Add(ttl)
	}
	l.values[key] = v
	return nil
}

// Get returns the value and true, or "" and false when missing or expired.
func (l *Local) Get(ctx context.Context, key string) (string, bool, error) {
	if err := l.begin(ctx); err != nil {
		return "", false, err
	}
	defer l.mu.Unlock()
	v, ok := l.values[key]
	if !ok {
		return "", false, nil
	}
	if !v.expires.IsZero() && !time.Now().Before(v.expires) {
		delete(l.values, key)
		return "", false, nil
	}
	return v.value, true, nil
}

// Del removes key; a missing key is not an error.
func (l *Local) Del(ctx context.Context, key string) error {
	if err := l.begin(ctx); err != nil {
		return err
	}
	defer l.mu.Unlock()
	delete(l.values, key)
	return nil
}

// Ping returns nil until Close, then ErrClosed.
func (l *Local) Ping(ctx context.Context) error {
	if err := l.begin(ctx); err != nil {
		return err
	}
	l.mu.Unlock()
	return nil
}

// Describe reports "local (in-process)".
func (l *Local) Describe() string { return "local (in-process)" }

// Close closes every subscription and makes further calls fail with
// ErrClosed. It is safe to call more than once.
func (l *Local) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	for _, set := range l.subs {
		for s := range set {
			s.closeLocked()
		}
	}
	l.locks = map[string]localLockEntry{}
	l.values = map[string]localValue{}
	return nil
}
