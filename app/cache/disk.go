package cache

import (
	"sync/atomic"
	"time"
)

// diskState remembers when the spool last ran out of space, so that
// readiness can report a full disk that a free-space threshold misses.
type diskState struct {
	last atomic.Int64 // unix nanoseconds; 0: never
}

// noSpace reports whether err is a full disk, and remembers when it was.
func (e *Engine) noSpace(err error) bool {
	if !NoSpace(err) {
		return false
	}
	e.disk.last.Store(e.o.Now().UnixNano())
	return true
}

// NoSpaceAt returns when a download last failed because the spool's disk
// was full (the zero time when it never did).
func (e *Engine) NoSpaceAt() time.Time {
	n := e.disk.last.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
