// Package blobtest is the conformance suite every blob.Store must pass.
package blobtest

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"artifactapi/app/blob"
)

const (
	mib = 1 << 20
	// large is above the S3 part size, so it takes the multipart path.
	large = 40 * mib
)

// Run runs the conformance suite. newStore must return an empty store that
// is independent of the stores returned for other tests (subtests run in
// parallel).
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s blob.Store)
	}{
		{"roundtrip", testRoundtrip},
		{"large object streamed", testLarge},
		{"ranged open", testRanges},
		{"missing key", testMissing},
		{"delete is idempotent", testDelete},
		{"overwrite replaces", testOverwrite},
		{"failing reader publishes nothing", testFailingReader},
		{"ctx cancel during put publishes nothing", testCancel},
		{"list by prefix", testList},
		{"nested and unicode keys", testOddKeys},
		{"invalid keys rejected", testInvalidKeys},
		{"concurrent puts to one key", testConcurrentPuts},
		{"ping and describe", testPing},
		{"versions: a read never serves a replaced object", testVersions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newStore(t))
		})
	}
}

func testRoundtrip(t *testing.T, s blob.Store) {
	for _, tc := range []struct {
		name  string
		size  int64
		known bool
	}{
		{"small known size", 1000, true},
		{"small unknown size", 1000, false},
		{"empty known size", 0, true},
		{"empty unknown size", 0, false},
		{"one MiB unknown size", mib + 7, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "rt/" + strings.ReplaceAll(tc.name, " ", "-") + "/file.bin"
			data := genBytes(1, tc.size)
			size := int64(-1)
			if tc.known {
				size = tc.size
			}
			if _, err := s.Put(t.Context(), key, gen(1, tc.size), size); err != nil {
				t.Fatalf("Put: %v", err)
			}
			wantContent(t, s, key, data)
		})
	}
}

func testLarge(t *testing.T, s blob.Store) {
	for _, tc := range []struct {
		name string
		size int64
	}{
		{"known size", large},
		{"unknown size", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "large/" + strings.ReplaceAll(tc.name, " ", "-")
			if _, err := s.Put(t.Context(), key, gen(2, large), tc.size); err != nil {
				t.Fatalf("Put: %v", err)
			}
			info, err := s.Stat(t.Context(), key)
			if err != nil || info.Size != large {
				t.Fatalf("Stat = %+v, %v; want size %d", info, err, large)
			}
			if sum(t, s, key) != genSum(2, large) {
				t.Fatal("sha256 differs from what was written")
			}
			tail := read(t, s, key, large-mib-3, -1)
			if want := genBytes(2, large)[large-mib-3:]; !bytes.Equal(tail, want) {
				t.Fatal("ranged read of a large object differs")
			}
		})
	}
}

func testRanges(t *testing.T, s blob.Store) {
	data := genBytes(3, 1000)
	put(t, s, "r/obj", data)
	put(t, s, "r/empty", nil)
	for _, tc := range []struct {
		name        string
		key         string
		off, length int64
		want        []byte
	}{
		{"start", "r/obj", 0, 10, data[:10]},
		{"middle", "r/obj", 100, 200, data[100:300]},
		{"end", "r/obj", 990, 10, data[990:]},
		{"tail to end", "r/obj", 500, -1, data[500:]},
		{"whole", "r/obj", 0, -1, data},
		{"whole with exact length", "r/obj", 0, 1000, data},
		{"length past end is clamped", "r/obj", 990, 100, data[990:]},
		{"zero length", "r/obj", 10, 0, nil},
		{"offset at end", "r/obj", 1000, -1, nil},
		{"offset at end with length", "r/obj", 1000, 5, nil},
		{"empty object whole", "r/empty", 0, -1, nil},
		{"empty object with length", "r/empty", 0, 10, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := read(t, s, tc.key, tc.off, tc.length); !bytes.Equal(got, tc.want) {
				t.Fatalf("got %d bytes, want %d", len(got), len(tc.want))
			}
		})
	}
	for _, tc := range []struct {
		name string
		off  int64
	}{
		{"negative offset", -1},
		{"offset past end", 1001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := s.Open(t.Context(), "r/obj", tc.off, -1)
			if err == nil {
				rc.Close()
				t.Fatalf("Open at %d succeeded", tc.off)
			}
			if errors.Is(err, blob.ErrNotFound) {
				t.Fatalf("Open at %d = %v, want a range error, not ErrNotFound", tc.off, err)
			}
		})
	}
}

func testMissing(t *testing.T, s blob.Store) {
	put(t, s, "m/dir/obj", []byte("x"))
	for _, key := range []string{"m/none", "m/dir", "m", "m/dir/obj/below", "other/x"} {
		t.Run(key, func(t *testing.T) {
			wantMissing(t, s, key)
			for _, r := range [][2]int64{{0, 10}, {5, -1}, {0, 0}} {
				if _, err := s.Open(t.Context(), key, r[0], r[1]); !errors.Is(err, blob.ErrNotFound) {
					t.Fatalf("Open(%q, %d, %d) = %v, want ErrNotFound", key, r[0], r[1], err)
				}
			}
		})
	}
}

func testDelete(t *testing.T, s blob.Store) {
	put(t, s, "d/a/obj", []byte("data"))
	put(t, s, "d/a/sibling", []byte("keep"))
	for i := range 2 {
		if err := s.Delete(t.Context(), "d/a/obj"); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
		wantMissing(t, s, "d/a/obj")
	}
	for _, key := range []string{"d/never", "d/a", "nothing/here/at/all"} {
		if err := s.Delete(t.Context(), key); err != nil {
			t.Fatalf("Delete(%q) of a missing key: %v", key, err)
		}
	}
	wantContent(t, s, "d/a/sibling", []byte("keep"))
	put(t, s, "d/a/obj", []byte("again"))
	wantContent(t, s, "d/a/obj", []byte("again"))
}

func testOverwrite(t *testing.T, s blob.Store) {
	put(t, s, "o/obj", genBytes(4, 5000))
	put(t, s, "o/obj", []byte("two"))
	wantContent(t, s, "o/obj", []byte("two"))
	if _, err := s.Put(t.Context(), "o/obj", gen(5, 3*mib), -1); err != nil {
		t.Fatal(err)
	}
	wantContent(t, s, "o/obj", genBytes(5, 3*mib))
}

func testList(t *testing.T, s blob.Store) {
	objs := map[string]int64{
		"r1/aaaa/f1": 1, "r1/aaaa/f2": 2, "r1/bbbb/f": 3,
		"r10/x": 4, "r2/cccc/deep/er/f": 5,
	}
	for k, n := range objs {
		put(t, s, k, genBytes(9, n))
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", []string{"r1/aaaa/f1", "r1/aaaa/f2", "r1/bbbb/f", "r10/x", "r2/cccc/deep/er/f"}},
		{"r1/", []string{"r1/aaaa/f1", "r1/aaaa/f2", "r1/bbbb/f"}},
		{"r1", []string{"r1/aaaa/f1", "r1/aaaa/f2", "r1/bbbb/f", "r10/x"}},
		{"r1/aa", []string{"r1/aaaa/f1", "r1/aaaa/f2"}},
		{"r1/aaaa/f1", []string{"r1/aaaa/f1"}},
		{"r2/cccc/", []string{"r2/cccc/deep/er/f"}},
		{"nope/", nil},
		{"r1/zz/", nil},
	} {
		t.Run(fmt.Sprintf("prefix %q", tc.prefix), func(t *testing.T) {
			want := map[string]int64{}
			for _, k := range tc.want {
				want[k] = objs[k]
			}
			if got := keys(t, s, tc.prefix); !maps.Equal(got, want) {
				t.Fatalf("List(%q) = %v, want %v", tc.prefix, got, want)
			}
		})
	}
	t.Run("fn error stops the listing", func(t *testing.T) {
		stop, calls := errors.New("stop"), 0
		err := s.List(t.Context(), "", func(blob.Info) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Fatalf("List = %v after %d calls, want the fn error after 1 call", err, calls)
		}
	})
}

func testOddKeys(t *testing.T, s blob.Store) {
	for i, key := range []string{
		"a/b/c/d/e/f/g/file.txt",
		"github/0123456789abcdef/file with spaces.tar.gz",
		"npm/über/日本語 ファイル.tgz",
		"x/y+z=1&q@#%!~'(),;$.bin",
		"single",
		"dots/.hidden/..double/a..b/v1.2.3.",
	} {
		t.Run(key, func(t *testing.T) {
			data := genBytes(uint64(10+i), 100)
			put(t, s, key, data)
			wantContent(t, s, key, data)
			if got := keys(t, s, key); !maps.Equal(got, map[string]int64{key: 100}) {
				t.Fatalf("List(%q) = %v", key, got)
			}
			if err := s.Delete(t.Context(), key); err != nil {
				t.Fatal(err)
			}
			wantMissing(t, s, key)
		})
	}
}

func testInvalidKeys(t *testing.T, s blob.Store) {
	for _, key := range []string{
		"", "/abs/key", "a/../b", "..", "../escape", "a/..", `a\b`, "a\x00b",
		"a//b", "a/", "./a", "a/./b", ".tmp/x",
	} {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			if _, err := s.Put(t.Context(), key, strings.NewReader("x"), 1); err == nil {
				t.Fatalf("Put(%q) succeeded", key)
			}
			if rc, err := s.Open(t.Context(), key, 0, -1); err == nil {
				rc.Close()
				t.Fatalf("Open(%q) succeeded", key)
			}
			if _, err := s.Stat(t.Context(), key); err == nil {
				t.Fatalf("Stat(%q) succeeded", key)
			}
			if err := s.Delete(t.Context(), key); err == nil {
				t.Fatalf("Delete(%q) succeeded", key)
			}
		})
	}
	if got := keys(t, s, ""); len(got) != 0 {
		t.Fatalf("invalid keys left objects: %v", got)
	}
}

func testPing(t *testing.T, s blob.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if d := s.Describe(); d == "" || strings.Contains(d, "\n") {
		t.Fatalf("Describe() = %q, want one non-empty line", d)
	}
}
