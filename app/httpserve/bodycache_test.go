package httpserve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"testing"

	"artifactapi/app/blob"
	"artifactapi/db"
)

// store is a fake blob store holding one body; it counts opens.
type store struct {
	body  []byte
	opens int
	err   error
}

func (s *store) open(_ context.Context, off, length int64) (io.ReadCloser, error) {
	s.opens++
	if s.err != nil {
		return nil, s.err
	}
	end := int64(len(s.body))
	if length >= 0 && off+length < end {
		end = off + length
	}
	return io.NopCloser(bytes.NewReader(s.body[off:end])), nil
}

func artifactOf(body []byte) db.Artifact {
	sum := sha256.Sum256(body)
	return db.Artifact{Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:])}
}

// read serves a through bc, falling back to the store as httpserve.Write does.
func read(t *testing.T, bc *BodyCache, a db.Artifact, s *store, off, length int64) []byte {
	t.Helper()
	b, ok, err := bc.slice(context.Background(), a, s.open, off, length)
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		return b
	}
	rc, err := s.open(context.Background(), off, length)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, err = io.ReadAll(rc); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBodyCache(t *testing.T) {
	small := bytes.Repeat([]byte("0123456789abcdef"), 256) // 4 KiB
	tests := []struct {
		name      string
		cache     *BodyCache
		stored    []byte      // what the store holds
		art       db.Artifact // what the metadata says
		off, len  int64
		want      []byte
		wantOpens int // after two identical requests
	}{
		{name: "small body is read once", cache: NewBodyCache(64<<10, 1<<20), stored: small, art: artifactOf(small),
			off: 0, len: -1, want: small, wantOpens: 1},
		{name: "range from memory", cache: NewBodyCache(64<<10, 1<<20), stored: small, art: artifactOf(small),
			off: 100, len: 50, want: small[100:150], wantOpens: 1},
		{name: "suffix range to the end", cache: NewBodyCache(64<<10, 1<<20), stored: small, art: artifactOf(small),
			off: 4000, len: 96, want: small[4000:], wantOpens: 1},
		{name: "larger than maxObject goes to the store", cache: NewBodyCache(1024, 1<<20), stored: small, art: artifactOf(small),
			off: 0, len: -1, want: small, wantOpens: 2},
		{name: "nil cache goes to the store", cache: nil, stored: small, art: artifactOf(small),
			off: 0, len: -1, want: small, wantOpens: 2},
		{name: "no digest goes to the store", cache: NewBodyCache(64<<10, 1<<20), stored: small, art: db.Artifact{Size: 4096},
			off: 0, len: -1, want: small, wantOpens: 2},
		{name: "blob differing from its digest is served but never cached", cache: NewBodyCache(64<<10, 1<<20),
			stored: small, art: artifactOf([]byte("other")), off: 0, len: -1, want: small, wantOpens: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &store{body: tc.stored}
			for range 2 {
				if got := read(t, tc.cache, tc.art, s, tc.off, tc.len); !bytes.Equal(got, tc.want) {
					t.Fatalf("got %d bytes, want %d", len(got), len(tc.want))
				}
			}
			if s.opens != tc.wantOpens {
				t.Fatalf("store opened %d times, want %d", s.opens, tc.wantOpens)
			}
		})
	}
}

func TestBodyCacheBudget(t *testing.T) {
	bc := NewBodyCache(4096, 3*4096)
	stores := make([]*store, 4)
	for i := range stores {
		stores[i] = &store{body: bytes.Repeat([]byte{byte('a' + i)}, 4096)}
		read(t, bc, artifactOf(stores[i].body), stores[i], 0, -1)
	}
	if n, used := bc.Len(); n != 3 || used != 3*4096 {
		t.Fatalf("cache holds %d bodies, %d bytes; want 3 and %d", n, used, 3*4096)
	}
	// The first body was the least recently used: it is read again.
	read(t, bc, artifactOf(stores[0].body), stores[0], 0, -1)
	if stores[0].opens != 2 {
		t.Fatalf("evicted body opened %d times, want 2", stores[0].opens)
	}
	read(t, bc, artifactOf(stores[3].body), stores[3], 0, -1)
	if stores[3].opens != 1 {
		t.Fatalf("recent body opened %d times, want 1", stores[3].opens)
	}
}

func TestBodyCacheMissingBlob(t *testing.T) {
	bc := NewBodyCache(64<<10, 1<<20)
	s := &store{err: blob.ErrNotFound}
	_, _, err := bc.slice(context.Background(), artifactOf([]byte("x")), s.open, 0, -1)
	if !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("err = %v, want blob.ErrNotFound (the handler forgets the entry and refetches)", err)
	}
}
