package cache_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"artifactapi/app/cache"
	"artifactapi/app/coord"
	"artifactapi/app/metrics"
	"artifactapi/app/testenv"
	"artifactapi/db"
)

// mutableCoord is an in-process coordinator whose subscriptions can be made
// to stop delivering without any error, like a Redis subscription lost
// between two reconnects.
type mutableCoord struct {
	*coord.Local
	mute atomic.Bool
}

type mutedSub struct {
	coord.Subscription
	out  chan string
	done chan struct{}
}

func (s *mutedSub) C() <-chan string { return s.out }
func (s *mutedSub) Close() error {
	err := s.Subscription.Close()
	<-s.done
	return err
}

func (c *mutableCoord) Subscribe(ctx context.Context, topic string) (coord.Subscription, error) {
	sub, err := c.Local.Subscribe(ctx, topic)
	if err != nil {
		return nil, err
	}
	s := &mutedSub{Subscription: sub, out: make(chan string, 64), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(s.out)
		for m := range sub.C() {
			if !c.mute.Load() {
				s.out <- m
			}
		}
	}()
	return s, nil
}

// TestMemoDistrustedWhileNoticesCannotArrive: metadata remembered in memory
// is used only while the replica provably receives invalidations; when its
// subscription silently stops delivering, a change made by another replica
// (without any notice reaching this one) is seen on the next request.
func TestMemoDistrustedWhileNoticesCannotArrive(t *testing.T) {
	c := &mutableCoord{Local: coord.NewLocal()}
	e, m, meta := newEngineMeta(t, c)
	r := remote(t)
	o := &countingOrigin{body: []byte("bytes of the artifact")}
	req := cache.Request{Remote: r, Path: "a/file.bin", Verdict: r.Classify("a/file.bin"), Origin: o, Method: "GET"}
	readAll(t, e, req)
	testenv.Eventually(t, 5*time.Second, "commit", func() bool { return e.InFlight() == 0 })
	testenv.Eventually(t, 5*time.Second, "memo trusted", func() bool { return testutil.ToFloat64(m.MetadataTrusted) == 1 })
	res, _ := readAll(t, e, req)
	if res.Source != "cache" {
		t.Fatalf("second GET: %s", res.Source)
	}

	// Another replica changes the entry; its notice never arrives here.
	c.mute.Store(true)
	changed := res.Artifact
	changed.ContentType = "application/x-changed-elsewhere"
	if err := meta.PutArtifact(context.Background(), changed); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "memo distrusted once probes stop", func() bool {
		return testutil.ToFloat64(m.MetadataTrusted) == 0
	})
	if res, _ := readAll(t, e, req); res.Artifact.ContentType != changed.ContentType {
		t.Fatalf("served remembered metadata (%q) while invalidations could not arrive", res.Artifact.ContentType)
	}
	c.mute.Store(false)
	testenv.Eventually(t, 10*time.Second, "memo trusted again once probes flow", func() bool {
		return testutil.ToFloat64(m.MetadataTrusted) == 1
	})
	if o.calls.Load() != 1 {
		t.Fatalf("origin fetched %d times", o.calls.Load())
	}
}

// failingPublish is a coordinator whose publishes fail while down is set.
type failingPublish struct {
	*coord.Local
	down atomic.Bool
}

func (c *failingPublish) Publish(ctx context.Context, topic, msg string) error {
	if c.down.Load() {
		return errDown
	}
	return c.Local.Publish(ctx, topic, msg)
}

// TestFailedInvalidationIsRetried: an eviction notice that cannot be sent is
// queued and delivered once the coordinator answers again.
func TestFailedInvalidationIsRetried(t *testing.T) {
	c := &failingPublish{Local: coord.NewLocal()}
	e, m := newEngine(t, c)
	r := remote(t)
	o := &countingOrigin{body: []byte("x")}
	req := cache.Request{Remote: r, Path: "a/evicted.bin", Verdict: r.Classify("a/evicted.bin"), Origin: o, Method: "GET"}
	readAll(t, e, req)
	testenv.Eventually(t, 5*time.Second, "commit", func() bool { return e.InFlight() == 0 })
	other, err := c.Subscribe(context.Background(), "invalidate") // another replica's ear
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	c.down.Store(true)
	if err := e.Evict(context.Background(), "gen", "a/evicted.bin", "test"); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.PendingNotices); got != 1 {
		t.Fatalf("pending notices = %v, want 1", got)
	}
	c.down.Store(false)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case k := <-other.C():
			if k == "gen\x00a/evicted.bin" {
				testenv.Eventually(t, 5*time.Second, "queue emptied", func() bool { return testutil.ToFloat64(m.PendingNotices) == 0 })
				return
			}
		case <-deadline:
			t.Fatal("the queued invalidation was never delivered")
		}
	}
}

// phaseMeta counts the metadata reads made on behalf of a request; while
// down is set, reads made in the background fail.
type phaseMeta struct {
	*db.SQLite
	requestReads atomic.Int64
	reads        atomic.Int64
	down         atomic.Bool
}

func (m *phaseMeta) GetArtifact(ctx context.Context, remote, p string) (db.Artifact, error) {
	m.reads.Add(1)
	if metrics.PhaseOf(ctx) == metrics.PhaseRequest {
		m.requestReads.Add(1)
	} else if m.down.Load() {
		return db.Artifact{}, errDown
	}
	return m.SQLite.GetArtifact(ctx, remote, p)
}

// stepClock is a clock the test moves forward.
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestMemoRenewedBeforeItAgesOut: an entry in steady use is read again off
// the request path once it is past three quarters of the memo's time to
// live (30 s), so its hits never wait for the database however long it
// stays in use. When the database fails the renewal, the entry serves its
// hits until it ages out as before, and the next hit reads the database.
func TestMemoRenewedBeforeItAgesOut(t *testing.T) {
	ctx := context.Background()
	clock := &stepClock{now: time.Now()}
	var meta *phaseMeta
	e, _, _ := newEngineOpts(t, coord.NewLocal(), func(o *cache.Options) {
		meta = &phaseMeta{SQLite: o.Meta.(*db.SQLite)}
		o.Meta, o.Now = meta, clock.Now
	})

	r := remote(t)
	o := &countingOrigin{body: []byte("bytes of a file in steady use")}
	req := cache.Request{Remote: r, Path: "a/steady.bin", Verdict: r.Classify("a/steady.bin"), Origin: o, Method: "GET"}
	hit := func() {
		t.Helper()
		res, err := e.Get(metrics.WithPhase(ctx, metrics.PhaseRequest), req)
		if err != nil {
			t.Fatal(err)
		}
		source := res.Source
		res.Release()
		if source != "cache" {
			t.Fatalf("hit answered from %q", source)
		}
	}
	readAll(t, e, req)
	testenv.Eventually(t, 5*time.Second, "commit", func() bool { return e.InFlight() == 0 })
	testenv.Eventually(t, 5*time.Second, "entry remembered", func() bool { return e.Remembers(r.Name, req.Path) })

	// Eight hits 25 s apart: 200 s, over six times the memo's lifetime.
	for i := range 8 {
		clock.Add(25 * time.Second)
		before := meta.reads.Load()
		hit()
		if got := meta.requestReads.Load(); got != 0 {
			t.Fatalf("hit %d: %d metadata reads on the request path", i+1, got)
		}
		testenv.Eventually(t, 5*time.Second, "entry read again in the background", func() bool {
			at, ok := e.MemoStamp(r.Name, req.Path)
			return ok && at.Equal(clock.Now())
		})
		if meta.reads.Load() != before+1 {
			t.Fatalf("hit %d: %d metadata reads in the background, want 1", i+1, meta.reads.Load()-before)
		}
	}

	// The database fails the renewal: hits go on from memory until the
	// entry's lifetime ends (a renewal is asked for once per entry:
	// TestMemoRenewalAskedOnce).
	meta.down.Store(true)
	clock.Add(25 * time.Second)
	before := meta.reads.Load()
	hit()
	testenv.Eventually(t, 5*time.Second, "the renewal tried", func() bool { return meta.reads.Load() > before })
	for range 3 {
		hit()
	}
	if got := meta.requestReads.Load(); got != 0 {
		t.Fatalf("after a failed renewal: %d metadata reads on the request path", got)
	}
	meta.down.Store(false)

	// Past its lifetime, the entry is gone: the next hit reads it.
	clock.Add(6 * time.Second)
	hit()
	if got := meta.requestReads.Load(); got != 1 {
		t.Fatalf("a hit after the entry aged out made %d metadata reads on the request path, want 1", got)
	}
	if o.calls.Load() != 1 {
		t.Fatalf("origin fetched %d times", o.calls.Load())
	}
}
