package coord_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"artifactapi/app/coord"
	"artifactapi/app/coord/coordtest"
)

func TestLocalConformance(t *testing.T) {
	coordtest.Run(t, func(t *testing.T) (a, b coord.Coordinator) {
		c := coord.NewLocal()
		t.Cleanup(func() { _ = c.Close() })
		return c, c
	})
}

func TestLocalSlowSubscriberDoesNotBlockPublish(t *testing.T) {
	ctx := t.Context()
	c := coord.NewLocal()
	defer c.Close()
	slow, err := c.Subscribe(ctx, "topic")
	if err != nil {
		t.Fatal(err)
	}
	const extra = 10
	done := make(chan error, 1)
	go func() {
		for i := range coord.SubscriptionBuffer + extra {
			if err := c.Publish(ctx, "topic", fmt.Sprint(i)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(coordtest.WaitLimit):
		t.Fatal("Publish blocked on a subscriber that does not read")
	}
	// The buffer holds the first messages in order; the overflow was dropped.
	for i := range coord.SubscriptionBuffer {
		if got := <-slow.C(); got != fmt.Sprint(i) {
			t.Fatalf("message %d = %q", i, got)
		}
	}
	select {
	case m := <-slow.C():
		t.Fatalf("overflow message %q was buffered", m)
	default:
	}
}

func TestLocalClosedCoordinatorFails(t *testing.T) {
	ctx := context.Background()
	c := coord.NewLocal()
	l, err := c.TryLock(ctx, "k", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	checks := map[string]error{
		"Refresh": l.Refresh(ctx, time.Minute),
		"Publish": c.Publish(ctx, "t", "m"),
		"Set":     c.Set(ctx, "k", "v", 0),
		"Ping":    c.Ping(ctx),
	}
	for name, err := range checks {
		if err != coord.ErrClosed {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	if _, err := c.TryLock(ctx, "other", time.Minute); err != coord.ErrClosed {
		t.Errorf("TryLock after Close = %v, want ErrClosed", err)
	}
}
