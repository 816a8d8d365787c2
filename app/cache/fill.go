package cache

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"

	"artifactapi/db"
)

// fill is one download of one artifact in this process. Every request for
// the artifact while it runs joins it: they read the spool file as it grows.
type fill struct {
	key  string
	req  Request
	prev *db.Artifact // the expired entry being refreshed, if any

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every state change
	ready   bool          // headers known, or resolved without a body
	art     db.Artifact   // header-derived metadata for streaming
	sized   bool          // Content-Length known
	file    *os.File
	spool   string
	written int64
	// verified: the body is complete and checked; readers may take the last byte.
	verified bool
	failed   error // the download failed: readers must error out
	// cached: no body from this fill; serve the (re)committed cache entry.
	cached  bool
	stale   bool
	done    bool // the leader has finished (readers may still run)
	refs    int
	adopted bool // the spool file now belongs to the blob store
	// committed is the entry this process committed; commitErr why it could
	// not; relayed marks a body relayed from the replica that commits it.
	committed *db.Artifact
	commitErr error
	relayed   bool
}

func newFill(key string, req Request, prev *db.Artifact) *fill {
	return &fill{key: key, req: req, prev: prev, changed: make(chan struct{}), refs: 1}
}

// broadcastLocked wakes every waiter. f.mu must be held.
func (f *fill) broadcastLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fill) update(fn func()) {
	f.mu.Lock()
	fn()
	f.broadcastLocked()
	f.mu.Unlock()
}

func (f *fill) ref() {
	f.mu.Lock()
	f.refs++
	f.mu.Unlock()
}

// unref drops one reference; the last one closes and removes the spool file.
func (f *fill) unref() {
	f.mu.Lock()
	f.refs--
	last := f.refs == 0
	file, spool, adopted := f.file, f.spool, f.adopted
	f.mu.Unlock()
	if !last {
		return
	}
	if file != nil {
		file.Close()
	}
	if spool != "" && !adopted {
		os.Remove(spool)
	}
}

// waitReady blocks until the fill has headers or is resolved.
func (f *fill) waitReady(ctx context.Context) error {
	for {
		f.mu.Lock()
		ready, ch := f.ready, f.changed
		f.mu.Unlock()
		if ready {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitDone blocks until the fill's leader has finished.
func (f *fill) waitDone(ctx context.Context) error {
	for {
		f.mu.Lock()
		done, ch := f.done, f.changed
		f.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

var errReaderClosed = errors.New("cache: reader closed")

// spoolReader streams a fill's spool from off to end. It withholds the final
// byte until the download is verified, so a client never receives a complete
// body that later fails verification.
type spoolReader struct {
	f         *fill
	off, end  int64 // end < 0: to the end of the body
	closed    chan struct{}
	closeOnce sync.Once
	onClose   func(n int64)
	n         int64
}

func (r *spoolReader) Read(p []byte) (int, error) {
	for {
		f := r.f
		f.mu.Lock()
		w, verified, failed, ch, file := f.written, f.verified, f.failed, f.changed, f.file
		sized, size := f.sized, f.art.Size
		f.mu.Unlock()
		if failed != nil {
			return 0, failed
		}
		limit := w
		// Hold back the final byte until the body is verified. While fewer
		// bytes than Content-Length have arrived, the body cannot be complete.
		if !verified && limit > 0 && (!sized || w >= size) {
			limit--
		}
		if r.end >= 0 && limit > r.end {
			limit = r.end
		}
		if r.off < limit {
			n := int64(len(p))
			if n > limit-r.off {
				n = limit - r.off
			}
			got, err := file.ReadAt(p[:n], r.off)
			r.off += int64(got)
			r.n += int64(got)
			if got > 0 {
				return got, nil
			}
			if err != nil && err != io.EOF {
				return 0, err
			}
			continue
		}
		if verified && (r.off >= w || (r.end >= 0 && r.off >= r.end)) {
			return 0, io.EOF
		}
		select {
		case <-ch:
		case <-r.closed:
			return 0, errReaderClosed
		}
	}
}

// Close detaches the reader; the download goes on for the others and the cache.
func (r *spoolReader) Close() error {
	r.closeOnce.Do(func() {
		close(r.closed)
		if r.onClose != nil {
			r.onClose(r.n)
		}
		r.f.unref()
	})
	return nil
}
