package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"artifactapi/app/upstream"
)

// rangeless answers every request with the whole body, ignoring Range, like
// an upstream without range support.
type rangeless struct{ body []byte }

func (o rangeless) Fetch(ctx context.Context, method string, h http.Header) (*upstream.Response, error) {
	return &upstream.Response{StatusCode: 200, ContentLength: int64(len(o.body)), Header: http.Header{},
		Body: io.NopCloser(bytes.NewReader(o.body))}, nil
}

// ranged honours "bytes=N-".
type ranged struct{ body []byte }

func (o ranged) Fetch(ctx context.Context, method string, h http.Header) (*upstream.Response, error) {
	from, err := rangeStart(h.Get("Range"))
	if err != nil {
		return rangeless(o).Fetch(ctx, method, h)
	}
	return &upstream.Response{StatusCode: http.StatusPartialContent, ContentLength: int64(len(o.body) - from),
		Header: http.Header{"Content-Range": {"bytes " + strconv.Itoa(from) + "-" + strconv.Itoa(len(o.body)-1) + "/" + strconv.Itoa(len(o.body))}},
		Body:   io.NopCloser(bytes.NewReader(o.body[from:]))}, nil
}

// rangeStart parses "bytes=N-".
func rangeStart(v string) (int, error) {
	if len(v) < len("bytes=0-") {
		return 0, strconv.ErrSyntax
	}
	return strconv.Atoi(v[len("bytes=") : len(v)-1])
}

// TestResumeContinuesExactlyAfterTheSpooledBytes: a broken relay continues
// from the upstream with the missing bytes only (Range), or with the whole
// body when the upstream ignores Range — then only if its first bytes are
// the ones already streamed.
func TestResumeContinuesExactlyAfterTheSpooledBytes(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 KB
	changed := append([]byte("X"), body[1:]...)
	for _, tc := range []struct {
		name   string
		origin Origin
		ok     bool
	}{
		{"range honoured", ranged{body}, true},
		{"range ignored, same artifact", rangeless{body}, true},
		{"range ignored, artifact changed", rangeless{changed}, false},
		{"range ignored, other length", rangeless{body[:1000]}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Create(filepath.Join(t.TempDir(), "spool"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			const have = 100_000
			f.Write(body[:have])
			sp := &spooling{file: f, h: sha256.New(), total: have, want: int64(len(body))}
			sp.h.Write(body[:have])
			fl := &fill{req: Request{Origin: tc.origin}}
			e := &Engine{}
			resp, err := e.resume(context.Background(), fl, sp)
			if !tc.ok {
				if err == nil {
					t.Fatal("resume accepted a body that does not continue the streamed bytes")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rest, err := io.ReadAll(resp.Body)
			if err != nil || !bytes.Equal(rest, body[have:]) {
				t.Fatalf("resume continued with %d bytes (err %v), want the %d missing", len(rest), err, len(body)-have)
			}
		})
	}
}
