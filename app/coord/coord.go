// Package coord provides cross-replica coordination: locks, notifications and
// a small expiring key/value cache. Redis in production, in-process otherwise.
package coord

import (
	"context"
	"errors"
	"time"
)

// ErrNotObtained is returned by TryLock when another holder has the lock.
var ErrNotObtained = errors.New("coord: lock not obtained")

// ErrLockLost is returned by Refresh when the lock expired or was taken over.
var ErrLockLost = errors.New("coord: lock lost")

// Coordinator is the set of coordination primitives the engine needs.
type Coordinator interface {
	// TryLock takes the named lock for ttl without waiting. ErrNotObtained if held.
	TryLock(ctx context.Context, key string, ttl time.Duration) (Lock, error)
	// Locked reports whether the named lock is currently held by anyone.
	Locked(ctx context.Context, key string) (bool, error)
	// Subscribe starts listening on topic. The subscription is active when
	// Subscribe returns (messages published afterwards are delivered).
	Subscribe(ctx context.Context, topic string) (Subscription, error)
	// Publish sends msg to every current subscriber of topic, in every replica.
	Publish(ctx context.Context, topic, msg string) error
	// Set stores value under key for ttl (ttl <= 0: no expiry).
	Set(ctx context.Context, key, value string, ttl time.Duration) error
	// Get returns the value and true, or "" and false when missing or expired.
	Get(ctx context.Context, key string) (string, bool, error)
	// Del removes key.
	Del(ctx context.Context, key string) error
	// Ping reports whether the coordinator can be reached.
	Ping(ctx context.Context) error
	// Describe is a one-line, secret-free description for logs and /config.
	Describe() string
	// Close releases resources.
	Close() error
}

// Lock is a held lock.
type Lock interface {
	// Refresh extends the lock to ttl from now. ErrLockLost if no longer held.
	Refresh(ctx context.Context, ttl time.Duration) error
	// Release frees the lock if still held by this holder.
	Release(ctx context.Context) error
}

// Subscription receives messages for one topic.
type Subscription interface {
	// C delivers messages. It is closed after Close.
	C() <-chan string
	// Close stops the subscription.
	Close() error
}
