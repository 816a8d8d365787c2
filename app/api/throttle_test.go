package api

import (
	"strconv"
	"testing"
	"time"
)

// clock is a fake time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestThrottle(t *testing.T) {
	type step struct {
		after time.Duration // the clock moves this far first
		addr  string
		ok    bool // the credential turns out right (Refund)
		wait  bool // Take must refuse
	}
	fail := func(addr string) step { return step{addr: addr} }
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "failures up to the limit are answered", steps: []step{fail("a"), fail("a"), fail("a")}},
		{name: "one more is refused", steps: []step{fail("a"), fail("a"), fail("a"), {addr: "a", wait: true}}},
		{name: "even with the right token", steps: []step{fail("a"), fail("a"), fail("a"), {addr: "a", ok: true, wait: true}}},
		{name: "other addresses are not affected", steps: []step{fail("a"), fail("a"), fail("a"), fail("b")}},
		{name: "right tokens never count", steps: []step{{addr: "a", ok: true}, {addr: "a", ok: true}, {addr: "a", ok: true},
			{addr: "a", ok: true}, fail("a"), fail("a"), fail("a"), {addr: "a", wait: true}}},
		{name: "one attempt comes back per refill", steps: []step{fail("a"), fail("a"), fail("a"),
			{after: 20 * time.Second, addr: "a"}, {addr: "a", wait: true}, {after: 20 * time.Second, addr: "a"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: time.Unix(1e9, 0)}
			th := NewThrottle(3, c.now) // one attempt back every 20 s
			for i, s := range tc.steps {
				c.t = c.t.Add(s.after)
				wait := th.Take(s.addr)
				if (wait > 0) != s.wait {
					t.Fatalf("step %d (%s): wait %s, want refused=%v", i, s.addr, wait, s.wait)
				}
				if wait > 0 && (wait < time.Second || wait > 20*time.Second) {
					t.Fatalf("step %d: wait %s, want 1..20 s", i, wait)
				}
				if wait == 0 && s.ok {
					th.Refund(s.addr)
				}
			}
		})
	}
}

func TestThrottleMemoryIsBounded(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	th := NewThrottle(3, c.now)
	th.max = 100
	for i := range 1000 {
		th.Take("10.0.0." + strconv.Itoa(i))
	}
	if n := th.Len(); n > 100 {
		t.Fatalf("%d addresses remembered, want at most 100", n)
	}
	// Addresses whose credentials were right are not remembered at all.
	th2 := NewThrottle(3, c.now)
	for i := range 1000 {
		addr := "10.1.0." + strconv.Itoa(i)
		th2.Take(addr)
		th2.Refund(addr)
	}
	if n := th2.Len(); n != 0 {
		t.Fatalf("%d addresses remembered after right credentials only, want 0", n)
	}
	if NewThrottle(0, nil).Take("a") != 0 {
		t.Fatal("a throttle of 0 per minute must not limit")
	}
}
