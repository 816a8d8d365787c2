// Package coordtest is the conformance suite every coord.Coordinator
// implementation must pass: locks, pub/sub and the expiring key/value store.
package coordtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"artifactapi/app/coord"
)

// Factory returns two handles on one shared backend, as two replicas would
// see it: for Redis two clients with the same prefix, for the in-process
// coordinator the same instance twice. Each call must return a backend no
// other call shares, so subtests may run in parallel. The factory registers
// the Close of both handles with t.Cleanup; Close must be idempotent because
// the suite may already have closed them.
type Factory func(t *testing.T) (a, b coord.Coordinator)

// ShortTTL is the lifetime used where a test waits for something to expire.
const ShortTTL = 200 * time.Millisecond

// longTTL outlives any test.
const longTTL = time.Minute

// WaitLimit bounds every wait for a message or an expiry.
const WaitLimit = 10 * time.Second

// testCase is one named conformance check.
type testCase struct {
	name string
	run  func(t *testing.T, ctx context.Context, a, b coord.Coordinator)
}

// Run runs the conformance suite, each case in its own parallel subtest with
// a fresh backend from newCoord.
func Run(t *testing.T, newCoord Factory) {
	var cases []testCase
	cases = append(cases, lockCases()...)
	cases = append(cases, pubsubCases()...)
	cases = append(cases, kvCases()...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := newCoord(t)
			ctx, cancel := context.WithTimeout(t.Context(), 3*WaitLimit)
			defer cancel()
			tc.run(t, ctx, a, b)
		})
	}
}

// WaitFor polls cond every 10ms until it reports true, failing the test on an
// error or when WaitLimit passes.
func WaitFor(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(WaitLimit)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", WaitLimit, what)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not an assertion
	}
}

func mustLock(t *testing.T, ctx context.Context, c coord.Coordinator, key string, ttl time.Duration) coord.Lock {
	t.Helper()
	l, err := c.TryLock(ctx, key, ttl)
	if err != nil {
		t.Fatalf("TryLock(%q): %v", key, err)
	}
	return l
}

func wantNotObtained(t *testing.T, ctx context.Context, c coord.Coordinator, key string) {
	t.Helper()
	l, err := c.TryLock(ctx, key, longTTL)
	if !errors.Is(err, coord.ErrNotObtained) {
		t.Fatalf("TryLock(%q) = %v, %v; want ErrNotObtained", key, l, err)
	}
}

func wantLocked(t *testing.T, ctx context.Context, c coord.Coordinator, key string, want bool) {
	t.Helper()
	got, err := c.Locked(ctx, key)
	if err != nil {
		t.Fatalf("Locked(%q): %v", key, err)
	}
	if got != want {
		t.Fatalf("Locked(%q) = %v, want %v", key, got, want)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// takeOver waits until c obtains key (after the current holder's TTL ran out).
func takeOver(t *testing.T, ctx context.Context, c coord.Coordinator, key string) coord.Lock {
	t.Helper()
	var l coord.Lock
	WaitFor(t, "lock "+key+" to expire and be taken over", func() (bool, error) {
		got, err := c.TryLock(ctx, key, longTTL)
		if errors.Is(err, coord.ErrNotObtained) {
			return false, nil
		}
		l = got
		return err == nil, err
	})
	return l
}

func lockCases() []testCase {
	return []testCase{
		{name: "lock/exclusive", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			mustLock(t, ctx, a, "k", longTTL)
			wantNotObtained(t, ctx, a, "k")
			wantNotObtained(t, ctx, b, "k")
		}},
		{name: "lock/keys are independent", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			mustLock(t, ctx, a, "k1", longTTL)
			mustLock(t, ctx, b, "k2", longTTL)
		}},
		{name: "lock/release then re-obtain", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			l := mustLock(t, ctx, a, "k", longTTL)
			must(t, "Release", l.Release(ctx))
			mustLock(t, ctx, b, "k", longTTL)
			wantNotObtained(t, ctx, a, "k")
			must(t, "second Release of a released lock", l.Release(ctx))
			wantLocked(t, ctx, a, "k", true)
		}},
		{name: "lock/locked reports any holder", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			wantLocked(t, ctx, b, "k", false)
			l := mustLock(t, ctx, a, "k", longTTL)
			wantLocked(t, ctx, a, "k", true)
			wantLocked(t, ctx, b, "k", true)
			must(t, "Release", l.Release(ctx))
			wantLocked(t, ctx, b, "k", false)
		}},
		{name: "lock/ttl expiry lets another take it and the first loses it", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			first := mustLock(t, ctx, a, "k", ShortTTL)
			second := takeOver(t, ctx, b, "k")
			if err := first.Refresh(ctx, longTTL); !errors.Is(err, coord.ErrLockLost) {
				t.Fatalf("Refresh after takeover = %v, want ErrLockLost", err)
			}
			must(t, "new holder's Refresh", second.Refresh(ctx, longTTL))
		}},
		{name: "lock/refresh after expiry fails", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			l := mustLock(t, ctx, a, "k", ShortTTL)
			WaitFor(t, "lock to expire", func() (bool, error) {
				held, err := b.Locked(ctx, "k")
				return !held, err
			})
			if err := l.Refresh(ctx, longTTL); !errors.Is(err, coord.ErrLockLost) {
				t.Fatalf("Refresh after expiry = %v, want ErrLockLost", err)
			}
			wantLocked(t, ctx, b, "k", false)
		}},
		{name: "lock/refresh extends", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			subject := mustLock(t, ctx, a, "subject", ShortTTL)
			must(t, "Refresh", subject.Refresh(ctx, longTTL))
			// A control lock taken later with the short TTL: once it has
			// expired, the subject would have too without the refresh.
			mustLock(t, ctx, a, "control", ShortTTL)
			WaitFor(t, "control lock to expire", func() (bool, error) {
				held, err := b.Locked(ctx, "control")
				return !held, err
			})
			wantLocked(t, ctx, b, "subject", true)
			wantNotObtained(t, ctx, b, "subject")
			must(t, "second Refresh", subject.Refresh(ctx, longTTL))
		}},
		{name: "lock/release by a non-holder after takeover keeps the new lock", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			first := mustLock(t, ctx, a, "k", ShortTTL)
			second := takeOver(t, ctx, b, "k")
			must(t, "stale Release", first.Release(ctx))
			wantLocked(t, ctx, a, "k", true)
			wantNotObtained(t, ctx, a, "k")
			must(t, "new holder's Refresh", second.Refresh(ctx, longTTL))
		}},
		{name: "lock/non-positive ttl is rejected", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			for _, ttl := range []time.Duration{0, -time.Second} {
				l, err := a.TryLock(ctx, "k", ttl)
				if err == nil || errors.Is(err, coord.ErrNotObtained) {
					t.Fatalf("TryLock(ttl=%s) = %v, %v; want a validation error", ttl, l, err)
				}
			}
			wantLocked(t, ctx, b, "k", false)
			l := mustLock(t, ctx, a, "k", longTTL)
			if err := l.Refresh(ctx, 0); err == nil {
				t.Fatal("Refresh(0) succeeded, want a validation error")
			}
		}},
		{name: "ping and describe", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			for _, c := range []coord.Coordinator{a, b} {
				must(t, "Ping", c.Ping(ctx))
				if c.Describe() == "" {
					t.Fatal("Describe is empty")
				}
			}
		}},
	}
}
