package logx

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"artifactapi/app/testenv"
)

// recorder is a destination that counts its writes and can be held shut.
type recorder struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	gate   chan struct{} // when set, each write waits for a receive
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.gate != nil {
		<-r.gate
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes++
	return r.buf.Write(p)
}

func (r *recorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

// TestWriterKeepsEveryLineWhole: concurrent loggers, every line arrives
// once, whole, and each writer's lines in its own order.
func TestWriterKeepsEveryLineWhole(t *testing.T) {
	rec := &recorder{}
	w := NewWriter(rec)
	const writers, lines = 8, 2000
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				fmt.Fprintf(w, "writer=%d line=%d %s\n", g, i, strings.Repeat("x", i%300))
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]int, writers)
	got := strings.Split(strings.TrimSuffix(rec.String(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines arrived, want %d", len(got), writers*lines)
	}
	for _, l := range got {
		var g, i int
		var pad string
		if _, err := fmt.Sscanf(l, "writer=%d line=%d %s", &g, &i, &pad); err != nil && i%300 != 0 {
			t.Fatalf("torn line %q: %v", l, err)
		}
		if i != next[g] || len(pad) != i%300 {
			t.Fatalf("writer %d: line %d arrived when %d was due (or torn: %q)", g, i, next[g], l)
		}
		next[g]++
	}
	if rec.writes >= writers*lines {
		t.Fatalf("%d destination writes for %d lines: nothing was batched", rec.writes, writers*lines)
	}
}

// TestWriterFlushAndClose: Flush returns with everything written; after
// Close, lines go straight through.
func TestWriterFlushAndClose(t *testing.T) {
	rec := &recorder{}
	w := NewWriter(rec)
	fmt.Fprintln(w, "one")
	w.Flush()
	if rec.String() != "one\n" {
		t.Fatalf("after Flush: %q", rec.String())
	}
	fmt.Fprintln(w, "two")
	_ = w.Close()
	_ = w.Close() // twice is harmless
	fmt.Fprintln(w, "three")
	w.Flush()
	if rec.String() != "one\ntwo\nthree\n" {
		t.Fatalf("after Close: %q", rec.String())
	}
}

// TestWriterBoundsMemory: with the destination stalled, what is held never
// exceeds the bound, and nothing is lost once it drains.
func TestWriterBoundsMemory(t *testing.T) {
	rec := &recorder{gate: make(chan struct{})}
	w := NewWriter(rec)
	w.max = 1024
	line := strings.Repeat("y", 99) + "\n"
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 { // 10 KiB, ten times the bound
			_, _ = w.Write([]byte(line))
		}
	}()
	released := 0
	for {
		w.mu.Lock()
		held := len(w.buf)
		w.mu.Unlock()
		if held > w.max {
			t.Fatalf("%d bytes held, bound %d", held, w.max)
		}
		select {
		case rec.gate <- struct{}{}:
			released++
			continue
		case <-done:
		}
		break
	}
	close(rec.gate) // let the rest through
	_ = w.Close()
	if got := strings.Count(rec.String(), line); got != 100 {
		t.Fatalf("%d lines arrived, want 100", got)
	}
	if released == 0 {
		t.Fatal("the destination was never written while the writer ran")
	}
}

// TestWriterGathersLines: a line reaches the destination on its own within
// the delay, with no Flush; lines written meanwhile leave in the same write.
func TestWriterGathersLines(t *testing.T) {
	rec := &recorder{}
	w := newWriter(rec, 200*time.Millisecond)
	defer w.Close()
	for i := range 50 {
		fmt.Fprintf(w, "line %d\n", i)
	}
	testenv.Eventually(t, 5*time.Second, "the lines are written", func() bool {
		return strings.Count(rec.String(), "\n") == 50
	})
	rec.mu.Lock()
	writes := rec.writes
	rec.mu.Unlock()
	if writes != 1 {
		t.Fatalf("50 lines written within the delay took %d destination writes, want 1", writes)
	}
}
