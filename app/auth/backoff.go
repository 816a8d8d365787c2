package auth

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"artifactapi/app/coord"
)

// Backoff slows down password guessing against one user name, on every
// replica (the counts are kept in the coordinator): after Free failures in
// a row, each further attempt must wait Base, then twice as long, up to
// Max. A success resets the count. When the coordinator fails, attempts
// are let through (the per-address throttle still applies).
type Backoff struct {
	Coord coord.Coordinator
	Free  int
	Base  time.Duration
	Max   time.Duration
	Now   func() time.Time
}

func (b *Backoff) key(user string) string { return "loginfail:" + user }

// state reads the failures and the time before which no attempt is allowed.
func (b *Backoff) state(ctx context.Context, user string) (int, time.Time) {
	v, ok, err := b.Coord.Get(ctx, b.key(user))
	if err != nil || !ok {
		return 0, time.Time{}
	}
	n, until, _ := strings.Cut(v, ":")
	count, _ := strconv.Atoi(n)
	ns, _ := strconv.ParseInt(until, 10, 64)
	return count, time.Unix(0, ns)
}

// Wait returns how long user must wait before the next attempt (0: go on).
func (b *Backoff) Wait(ctx context.Context, user string) time.Duration {
	if b == nil || user == "" {
		return 0
	}
	_, until := b.state(ctx, user)
	if d := until.Sub(b.Now()); d > 0 {
		return d
	}
	return 0
}

// Fail counts a failed attempt for user.
func (b *Backoff) Fail(ctx context.Context, user string) {
	if b == nil || user == "" {
		return
	}
	count, _ := b.state(ctx, user)
	count++
	var until int64
	if over := count - b.Free; over > 0 {
		d := b.Base << min(over-1, 20)
		if d <= 0 || d > b.Max {
			d = b.Max
		}
		until = b.Now().Add(d).UnixNano()
	}
	// The count is forgotten a while after the last failure.
	_ = b.Coord.Set(ctx, b.key(user), fmt.Sprintf("%d:%d", count, until), b.Max+time.Hour)
}

// Reset forgets the failures of user.
func (b *Backoff) Reset(ctx context.Context, user string) {
	if b == nil || user == "" {
		return
	}
	_ = b.Coord.Del(ctx, b.key(user))
}
