package logx

import (
	"io"
	"sync"
	"time"
)

// Writer batches log lines on their way to a slow destination (a pipe to
// the container runtime, a terminal, a file). A caller appends its line to a
// buffer and goes on; one goroutine writes what has gathered, so under load
// many lines leave in one write(2) instead of one each, and a stalled reader
// of stderr does not stall requests until the buffer is full. When it is
// full (Max bytes), callers wait for the next write: memory stays bounded
// and no line is dropped. Close writes what is left.
//
// The first line into an empty buffer wakes the writing goroutine, which
// then waits up to Delay (or until FlushAt bytes have gathered) before it
// writes: under load one wake-up and one write(2) carry hundreds of lines,
// instead of one goroutine wake-up per request (measured on warm 4 KiB hits
// at 256 connections: a quarter of the process's context switches).
//
// Lines buffered at the moment the process is killed with SIGKILL are lost
// (at most Delay's worth); a clean exit (SIGTERM, error return) flushes them.
type Writer struct {
	out     io.Writer
	max     int
	delay   time.Duration
	flushAt int

	mu      sync.Mutex
	drained *sync.Cond // broadcast after each write to out
	buf     []byte     // lines waiting
	spare   []byte     // the other buffer, written by the flusher
	closed  bool
	writing bool

	kick chan struct{} // a batch started
	now  chan struct{} // write without waiting out the delay
	stop chan struct{}
	done chan struct{}
}

// DefaultMax is the buffer bound of NewWriter.
const DefaultMax = 256 << 10

// DefaultDelay is how long NewWriter's lines may wait to be gathered.
const DefaultDelay = 50 * time.Millisecond

// NewWriter starts a Writer in front of out.
func NewWriter(out io.Writer) *Writer { return newWriter(out, DefaultDelay) }

func newWriter(out io.Writer, delay time.Duration) *Writer {
	w := &Writer{out: out, max: DefaultMax, delay: delay, flushAt: DefaultMax / 4,
		kick: make(chan struct{}, 1), now: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	w.drained = sync.NewCond(&w.mu)
	go w.loop()
	return w
}

// Write queues p, which should be whole lines. It never fails: an error of
// the destination cannot be reported to the request that logged.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	for !w.closed && len(w.buf) > 0 && len(w.buf)+len(p) > w.max {
		signal(w.kick)
		signal(w.now)
		w.drained.Wait()
	}
	if w.closed {
		// After Close, lines go straight through (shutdown messages).
		defer w.mu.Unlock()
		return w.out.Write(p)
	}
	first := len(w.buf) == 0
	w.buf = append(w.buf, p...)
	full := len(w.buf) >= w.flushAt
	w.mu.Unlock()
	if first {
		signal(w.kick)
	}
	if full {
		signal(w.now)
	}
	return len(p), nil
}

// signal wakes the flusher unless a wake-up is already pending.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Flush returns once every line queued before the call has been written.
func (w *Writer) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for !w.closed && (len(w.buf) > 0 || w.writing) {
		signal(w.kick)
		signal(w.now)
		w.drained.Wait()
	}
}

// Close writes what is queued and stops the flusher; later writes go
// straight to the destination.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	return nil
}

func (w *Writer) loop() {
	defer close(w.done)
	t := time.NewTimer(w.delay)
	t.Stop()
	for {
		select {
		case <-w.kick:
			// Gather more lines for up to delay, unless enough are in
			// (or Flush asks) already.
			t.Reset(w.delay)
			select {
			case <-t.C:
			case <-w.now:
				t.Stop()
			case <-w.stop: // the outer select takes it next
				t.Stop()
			}
			w.flushOnce()
		case <-w.stop:
			w.flushOnce()
			w.mu.Lock()
			// Anything queued between the last write and here goes out too.
			if len(w.buf) > 0 {
				_, _ = w.out.Write(w.buf)
				w.buf = w.buf[:0]
			}
			w.closed = true
			w.drained.Broadcast()
			w.mu.Unlock()
			return
		}
	}
}

func (w *Writer) flushOnce() {
	w.mu.Lock()
	b := w.buf
	if len(b) == 0 {
		w.drained.Broadcast()
		w.mu.Unlock()
		return
	}
	w.buf, w.writing = w.spare[:0], true
	w.mu.Unlock()

	_, _ = w.out.Write(b)

	w.mu.Lock()
	if cap(b) > 4*w.max { // one huge line must not pin its buffer forever
		b = nil
	}
	w.spare, w.writing = b[:0], false
	w.drained.Broadcast()
	w.mu.Unlock()
}
