package coordtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"artifactapi/app/coord"
)

func mustSubscribe(t *testing.T, ctx context.Context, c coord.Coordinator, topic string) coord.Subscription {
	t.Helper()
	s, err := c.Subscribe(ctx, topic)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", topic, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// recv returns the next message or fails after WaitLimit.
func recv(t *testing.T, s coord.Subscription, what string) string {
	t.Helper()
	timer := time.NewTimer(WaitLimit)
	defer timer.Stop()
	select {
	case m, ok := <-s.C():
		if !ok {
			t.Fatalf("%s: channel closed", what)
		}
		return m
	case <-timer.C:
		t.Fatalf("%s: no message after %s", what, WaitLimit)
	}
	return ""
}

func wantRecv(t *testing.T, s coord.Subscription, what, want string) {
	t.Helper()
	if got := recv(t, s, what); got != want {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}

// waitClosed drains s until its channel is closed, failing after WaitLimit.
func waitClosed(t *testing.T, s coord.Subscription) {
	t.Helper()
	timer := time.NewTimer(WaitLimit)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-s.C():
			if !ok {
				return
			}
		case <-timer.C:
			t.Fatalf("subscription channel not closed after %s", WaitLimit)
		}
	}
}

func pubsubCases() []testCase {
	return []testCase{
		{name: "pubsub/delivers to every subscriber on every instance", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			subs := []coord.Subscription{
				mustSubscribe(t, ctx, a, "topic"),
				mustSubscribe(t, ctx, a, "topic"),
				mustSubscribe(t, ctx, b, "topic"),
			}
			must(t, "Publish from a", a.Publish(ctx, "topic", "from-a"))
			for i, s := range subs {
				wantRecv(t, s, fmt.Sprintf("subscriber %d", i), "from-a")
			}
			must(t, "Publish from b", b.Publish(ctx, "topic", "from-b"))
			for i, s := range subs {
				wantRecv(t, s, fmt.Sprintf("subscriber %d", i), "from-b")
			}
		}},
		{name: "pubsub/message published right after Subscribe returns is delivered", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			for i := range 25 {
				topic := fmt.Sprintf("t%d", i)
				s := mustSubscribe(t, ctx, b, topic)
				msg := fmt.Sprintf("m%d", i)
				must(t, "Publish", a.Publish(ctx, topic, msg))
				wantRecv(t, s, topic, msg)
				must(t, "Close", s.Close())
			}
		}},
		{name: "pubsub/topics are isolated", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			s := mustSubscribe(t, ctx, a, "t1")
			must(t, "Publish t2", b.Publish(ctx, "t2", "wrong"))
			must(t, "Publish t1", b.Publish(ctx, "t1", "right"))
			wantRecv(t, s, "t1", "right")
		}},
		{name: "pubsub/order is kept for one publisher", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			s := mustSubscribe(t, ctx, b, "topic")
			const n = 100
			for i := range n {
				must(t, "Publish", a.Publish(ctx, "topic", fmt.Sprint(i)))
			}
			for i := range n {
				wantRecv(t, s, "message", fmt.Sprint(i))
			}
		}},
		{name: "pubsub/publish without subscribers", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			must(t, "Publish", a.Publish(ctx, "nobody", "x"))
		}},
		{name: "pubsub/close closes the channel", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			closing := mustSubscribe(t, ctx, a, "topic")
			other := mustSubscribe(t, ctx, b, "topic")
			must(t, "Close", closing.Close())
			waitClosed(t, closing)
			must(t, "second Close", closing.Close())
			must(t, "Publish after Close", a.Publish(ctx, "topic", "still-there"))
			wantRecv(t, other, "other subscriber", "still-there")
		}},
		{name: "pubsub/closing the coordinator closes its subscriptions", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			s := mustSubscribe(t, ctx, a, "topic")
			must(t, "Close", a.Close())
			waitClosed(t, s)
			must(t, "second Close", a.Close())
			if err := a.Ping(ctx); err == nil {
				t.Fatal("Ping after Close succeeded")
			}
			if _, err := a.Subscribe(ctx, "topic"); err == nil {
				t.Fatal("Subscribe after Close succeeded")
			}
		}},
	}
}
