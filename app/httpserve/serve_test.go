package httpserve

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"os"
	"path/filepath"
	"testing"
	"time"

	"artifactapi/app/blob"
)

func discardAccess() *Access {
	return &Access{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Start: time.Now()}
}

// A live download reaches the client piece by piece: WriteTo must not wait
// to fill its buffer while the upstream has sent only part of the body.
func TestWriteToLiveForwardsEachPiece(t *testing.T) {
	src, upstream := io.Pipe()
	client, conn := io.Pipe()
	w := bufio.NewWriterSize(conn, 4096) // fasthttp's write buffer
	b := &countingBody{rc: src, acc: discardAccess(), size: 1 << 20, live: true}
	done := make(chan error, 1)
	go func() { _, err := b.WriteTo(w); done <- err }()

	piece := bytes.Repeat([]byte("x"), 100)
	go upstream.Write(piece) // the upstream sends 100 bytes, then nothing
	got := make(chan []byte, 1)
	go func() {
		buf := make([]byte, len(piece))
		_, _ = io.ReadFull(client, buf)
		got <- buf
	}()
	select {
	case buf := <-got:
		if !bytes.Equal(buf, piece) {
			t.Fatalf("client got %q", buf)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first 100 bytes never reached the client: WriteTo waits for more")
	}
	upstream.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if b.n != int64(len(piece)) {
		t.Fatalf("counted %d bytes, want %d", b.n, len(piece))
	}
}

func TestWriteToCopiesWholeBody(t *testing.T) {
	for _, size := range []int{0, 1, 4096, 256 << 10, 256<<10 + 1, 1 << 20} {
		body := bytes.Repeat([]byte("ab"), size/2+1)[:size]
		var out bytes.Buffer
		w := bufio.NewWriterSize(&out, 4096)
		b := &countingBody{rc: io.NopCloser(bytes.NewReader(body)), acc: discardAccess(), size: int64(size)}
		n, err := b.WriteTo(w)
		if err == nil {
			err = w.Flush()
		}
		if err != nil || n != int64(size) || b.n != int64(size) || !bytes.Equal(out.Bytes(), body) {
			t.Fatalf("size %d: wrote %d (counted %d, got %d bytes), err %v", size, n, b.n, out.Len(), err)
		}
	}
}

func TestAttachmentMatchesMime(t *testing.T) {
	for _, name := range []string{"app.tar.gz", "a b.txt", "naïve.bin", `q"uote`, "semi;colon", "x=y", "", "tab\there", "ok-name_1.2+3~"} {
		want := mime.FormatMediaType("attachment", map[string]string{"filename": name})
		if got := attachment(name); got != want {
			t.Errorf("attachment(%q) = %q, want %q", name, got, want)
		}
	}
}

// chunkRecorder is a connection that takes bodies through ReadFrom.
type chunkRecorder struct {
	bytes.Buffer
	calls   int
	biggest int64
}

func (c *chunkRecorder) ReadFrom(r io.Reader) (int64, error) {
	c.calls++
	lr, ok := r.(*io.LimitedReader)
	if !ok {
		return 0, fmt.Errorf("ReadFrom got %T, want a size-bounded file", r)
	}
	if _, ok := lr.R.(*os.File); !ok {
		return 0, fmt.Errorf("ReadFrom got a %T inside the limit, want *os.File", lr.R)
	}
	c.biggest = max(c.biggest, lr.N)
	return c.Buffer.ReadFrom(r)
}

// A stored file body goes to a ReaderFrom connection as bounded pieces of
// the file itself (what net.TCPConn turns into sendfile), whole or ranged.
func TestWriteToFileUsesReaderFrom(t *testing.T) {
	data := make([]byte, 2*sendfileChunk+12345)
	for i := range data {
		data[i] = byte(i * 7)
	}
	p := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	store, err := blob.NewFS(filepath.Dir(p))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		off, n    int64
		wantCalls int
	}{
		{"whole", 0, int64(len(data)), 3},
		{"range", 100, sendfileChunk + 10, 2},
		{"small range copies", 5, 1000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := store.Open(context.Background(), "blob", tc.off, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			body := &countingBody{rc: rc, acc: discardAccess(), size: tc.n}
			var w chunkRecorder
			n, err := body.WriteTo(&w)
			body.Close()
			if err != nil || n != tc.n || body.n != tc.n {
				t.Fatalf("WriteTo: %d (counted %d) bytes, %v; want %d", n, body.n, err, tc.n)
			}
			if !bytes.Equal(w.Bytes(), data[tc.off:tc.off+tc.n]) {
				t.Fatal("bytes differ")
			}
			if w.calls != tc.wantCalls || w.biggest > sendfileChunk {
				t.Fatalf("%d ReadFrom calls (largest %d bytes), want %d of at most %d", w.calls, w.biggest, tc.wantCalls, sendfileChunk)
			}
		})
	}
}
