package coordtest

import (
	"context"
	"testing"
	"time"

	"artifactapi/app/coord"
)

func wantValue(t *testing.T, ctx context.Context, c coord.Coordinator, key, want string) {
	t.Helper()
	got, ok, err := c.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if !ok || got != want {
		t.Fatalf("Get(%q) = %q, %v; want %q, true", key, got, ok, want)
	}
}

func wantMissing(t *testing.T, ctx context.Context, c coord.Coordinator, key string) {
	t.Helper()
	got, ok, err := c.Get(ctx, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if ok || got != "" {
		t.Fatalf("Get(%q) = %q, %v; want \"\", false", key, got, ok)
	}
}

func kvCases() []testCase {
	return []testCase{
		{name: "kv/set and get across instances", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			must(t, "Set", a.Set(ctx, "k", "v", longTTL))
			wantValue(t, ctx, b, "k", "v")
		}},
		{name: "kv/missing key", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			wantMissing(t, ctx, a, "nothing")
		}},
		{name: "kv/empty value is present", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			must(t, "Set", a.Set(ctx, "k", "", longTTL))
			wantValue(t, ctx, b, "k", "")
		}},
		{name: "kv/overwrite", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			must(t, "Set v1", a.Set(ctx, "k", "v1", longTTL))
			must(t, "Set v2", b.Set(ctx, "k", "v2", longTTL))
			wantValue(t, ctx, a, "k", "v2")
		}},
		{name: "kv/ttl expiry and no expiry", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			must(t, "Set short", a.Set(ctx, "short", "v", ShortTTL))
			must(t, "Set long", a.Set(ctx, "long", "v", longTTL))
			must(t, "Set ttl 0", a.Set(ctx, "forever", "v", 0))
			must(t, "Set ttl <0", a.Set(ctx, "negative", "v", -time.Second))
			WaitFor(t, "short value to expire", func() (bool, error) {
				_, ok, err := b.Get(ctx, "short")
				return !ok, err
			})
			for _, k := range []string{"long", "forever", "negative"} {
				wantValue(t, ctx, b, k, "v")
			}
		}},
		{name: "kv/set replaces the ttl", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			must(t, "Set short", a.Set(ctx, "k", "v1", ShortTTL))
			must(t, "Set forever", a.Set(ctx, "k", "v2", 0))
			must(t, "Set control", a.Set(ctx, "control", "v", ShortTTL))
			WaitFor(t, "control value to expire", func() (bool, error) {
				_, ok, err := b.Get(ctx, "control")
				return !ok, err
			})
			wantValue(t, ctx, b, "k", "v2")
		}},
		{name: "kv/del", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			must(t, "Set", a.Set(ctx, "k", "v", 0))
			must(t, "Del", b.Del(ctx, "k"))
			wantMissing(t, ctx, a, "k")
			must(t, "Del of a missing key", a.Del(ctx, "k"))
		}},
		{name: "kv/values and locks do not collide", run: func(t *testing.T, ctx context.Context, a, b coord.Coordinator) {
			must(t, "Set", a.Set(ctx, "shared", "v", 0))
			l := mustLock(t, ctx, b, "shared", longTTL)
			wantValue(t, ctx, a, "shared", "v")
			must(t, "Del", a.Del(ctx, "shared"))
			wantLocked(t, ctx, a, "shared", true)
			must(t, "Set again", a.Set(ctx, "shared", "v2", 0))
			must(t, "Release", l.Release(ctx))
			wantValue(t, ctx, b, "shared", "v2")
			wantLocked(t, ctx, b, "shared", false)
		}},
	}
}
