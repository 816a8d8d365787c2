package httpserve

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"mime"
	"testing"
	"time"
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
