package coord_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"artifactapi/app/coord"
	"artifactapi/app/coord/coordtest"
	"artifactapi/app/testenv"
)

// newRedisPair returns two clients on the same server and prefix.
func newRedisPair(t *testing.T) (url, prefix string, a, b *coord.Redis) {
	t.Helper()
	url, prefix = testenv.Redis(t)
	for _, p := range []**coord.Redis{&a, &b} {
		r, err := coord.NewRedis(t.Context(), url, prefix)
		if err != nil {
			t.Fatalf("NewRedis: %v", err)
		}
		t.Cleanup(func() { _ = r.Close() })
		*p = r
	}
	return url, prefix, a, b
}

func TestRedisConformance(t *testing.T) {
	coordtest.Run(t, func(t *testing.T) (a, b coord.Coordinator) {
		_, _, ra, rb := newRedisPair(t)
		return ra, rb
	})
}

func TestRedisKeysAndChannelsArePrefixed(t *testing.T) {
	ctx := t.Context()
	url, prefix, a, _ := newRedisPair(t)
	if _, err := a.TryLock(ctx, "l", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := a.Set(ctx, "v", "x", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Subscribe(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	raw := redis.NewClient(opt)
	defer raw.Close()
	keys, err := raw.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Errorf("keys under prefix = %v, want the lock and the value", keys)
	}
	chans, err := raw.PubSubChannels(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(chans) != 1 {
		t.Errorf("channels under prefix = %v, want one", chans)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Set(ctx, "v", "y", 0); !errors.Is(err, coord.ErrClosed) {
		t.Errorf("Set after Close = %v, want ErrClosed", err)
	}
	if d := a.Describe(); !strings.HasPrefix(d, "redis ") || strings.Contains(d, "://") {
		t.Errorf("Describe() = %q", d)
	}
}

const secret = "s3cret"

func checkNoSecret(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err.Error())} {
		if strings.Contains(s, secret) {
			t.Errorf("%s: error leaks the password: %s", what, s)
		}
	}
}

func TestRedisErrorsAndDescribeOmitPassword(t *testing.T) {
	t.Parallel() // go-redis retries the refused dials for a few seconds
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	const pwURL = "redis://:s3cretpw@127.0.0.1:1/0" // nothing listens on port 1

	r, err := coord.NewRedis(ctx, pwURL, "p:")
	if r != nil {
		t.Fatal("NewRedis returned a client for an unreachable server")
	}
	checkNoSecret(t, "NewRedis", err)
	t.Log(err)

	u, err := coord.NewRedisUnconnected("redis://admin:s3cretpw@127.0.0.1:1/3", "p:")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if got, want := u.Describe(), "redis 127.0.0.1:1/3"; got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
	checkNoSecret(t, "Ping", u.Ping(ctx))
	_, err = u.TryLock(ctx, "k", time.Second)
	checkNoSecret(t, "TryLock", err)
	_, err = u.Subscribe(ctx, "t")
	checkNoSecret(t, "Subscribe", err)
	checkNoSecret(t, "Set", u.Set(ctx, "k", "v", 0))
}

func TestRedisInvalidURLErrorsOmitPassword(t *testing.T) {
	for _, tc := range []struct{ name, url string }{
		{"bad port", "redis://:s3cretpw@127.0.0.1:notaport/0"},
		{"bad escape in password", "redis://:s3cret%zzpw@127.0.0.1:6379/0"},
		{"bad db", "redis://user:s3cretpw@127.0.0.1:6379/notadb"},
		{"bad scheme", "ftp://user:s3cretpw@127.0.0.1:6379/0"},
		{"control character", "redis://:s3cretpw@127.0.0.1:6379/\x7f"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := coord.NewRedis(t.Context(), tc.url, "p:")
			if r != nil {
				t.Fatal("NewRedis accepted an invalid URL")
			}
			checkNoSecret(t, "NewRedis", err)
			t.Log(err)
		})
	}
}
