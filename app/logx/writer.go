package logx

import (
	"io"
	"sync"
)

// Writer batches log lines on their way to a slow destination (a pipe to
// the container runtime, a terminal, a file). A caller appends its line to a
// buffer and goes on; one goroutine writes what has gathered, so under load
// many lines leave in one write(2) instead of one each, and a stalled reader
// of stderr does not stall requests until the buffer is full. When it is
// full (Max bytes), callers wait for the next write: memory stays bounded
// and no line is dropped. Close writes what is left.
//
// Lines buffered at the moment the process is killed with SIGKILL are lost;
// a clean exit (SIGTERM, error return) flushes them.
type Writer struct {
	out io.Writer
	max int

	mu      sync.Mutex
	drained *sync.Cond // broadcast after each write to out
	buf     []byte     // lines waiting
	spare   []byte     // the other buffer, written by the flusher
	closed  bool
	writing bool

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

// DefaultMax is the buffer bound of NewWriter.
const DefaultMax = 256 << 10

// NewWriter starts a Writer in front of out.
func NewWriter(out io.Writer) *Writer {
	w := &Writer{out: out, max: DefaultMax, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	w.drained = sync.NewCond(&w.mu)
	go w.loop()
	return w
}

// Write queues p, which should be whole lines. It never fails: an error of
// the destination cannot be reported to the request that logged.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	for !w.closed && len(w.buf) > 0 && len(w.buf)+len(p) > w.max {
		w.drained.Wait()
	}
	if w.closed {
		// After Close, lines go straight through (shutdown messages).
		defer w.mu.Unlock()
		return w.out.Write(p)
	}
	w.buf = append(w.buf, p...)
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
	return len(p), nil
}

// Flush returns once every line queued before the call has been written.
func (w *Writer) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for !w.closed && (len(w.buf) > 0 || w.writing) {
		select {
		case w.kick <- struct{}{}:
		default:
		}
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
	for {
		select {
		case <-w.kick:
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
