package blobtest

// Atomicity tests: a Put that fails, is cancelled or races another Put must
// never publish a partial or mixed object.

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"artifactapi/app/blob"
)

func testFailingReader(t *testing.T, s blob.Store) {
	for _, tc := range []struct {
		name        string
		total, fail int64
		known       bool
	}{
		{"small known size", 1000, 500, true},
		{"small unknown size", 1000, 500, false},
		{"immediately", 1000, 0, true},
		{"after 20 MiB known size", 24 * mib, 20 * mib, true},
		{"after 20 MiB unknown size", 24 * mib, 20 * mib, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			size := int64(-1)
			if tc.known {
				size = tc.total
			}
			slug := strings.ReplaceAll(tc.name, " ", "-")
			fresh, old := "f/new/"+slug, "f/old/"+slug
			put(t, s, old, []byte("previous"))
			for _, key := range []string{fresh, old} {
				r := &failReader{r: gen(6, tc.total), after: tc.fail}
				if _, err := s.Put(t.Context(), key, r, size); err == nil {
					t.Fatalf("Put(%q) with a failing reader succeeded", key)
				}
			}
			wantMissing(t, s, fresh)
			wantContent(t, s, old, []byte("previous"))
		})
	}
	t.Run("shorter than declared size", func(t *testing.T) {
		if _, err := s.Put(t.Context(), "f/short", gen(7, 100), 200); err == nil {
			t.Fatal("Put of 100 bytes declared as 200 succeeded")
		}
		wantMissing(t, s, "f/short")
	})
	t.Run("longer than declared size", func(t *testing.T) {
		if _, err := s.Put(t.Context(), "f/long", gen(7, 300), 200); err == nil {
			t.Fatal("Put of 300 bytes declared as 200 succeeded")
		}
		wantMissing(t, s, "f/long")
	})
}

func testCancel(t *testing.T, s blob.Store) {
	for _, tc := range []struct {
		name          string
		total, cancel int64
		known         bool
	}{
		{"before put", 1000, -1, true},
		{"small known size", mib, 512 << 10, true},
		{"small unknown size", mib, 512 << 10, false},
		{"after 20 MiB known size", 24 * mib, 20 * mib, true},
		{"after 20 MiB unknown size", 24 * mib, 20 * mib, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			size := int64(-1)
			if tc.known {
				size = tc.total
			}
			slug := strings.ReplaceAll(tc.name, " ", "-")
			fresh, old := "c/new/"+slug, "c/old/"+slug
			put(t, s, old, []byte("previous"))
			for _, key := range []string{fresh, old} {
				ctx, cancel := context.WithCancel(t.Context())
				r := &cancelReader{r: gen(8, tc.total), after: tc.cancel, cancel: cancel}
				if tc.cancel < 0 {
					cancel()
				}
				_, err := s.Put(ctx, key, r, size)
				cancel()
				if err == nil {
					t.Fatalf("Put(%q) succeeded although ctx was cancelled", key)
				}
			}
			wantMissing(t, s, fresh)
			wantContent(t, s, old, []byte("previous"))
		})
	}
}

func testConcurrentPuts(t *testing.T, s blob.Store) {
	for _, tc := range []struct {
		name  string
		size  int64
		known bool
	}{
		{"known size", 3 * mib, true},
		{"unknown size", 3 * mib, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const writers = 6
			key := "cc/" + strings.ReplaceAll(tc.name, " ", "-")
			sums := map[[32]byte]int{}
			var wg sync.WaitGroup
			errs := make([]error, writers)
			for w := range writers {
				sums[genSum(uint64(100+w), tc.size)] = w
				size := int64(-1)
				if tc.known {
					size = tc.size
				}
				wg.Go(func() { _, errs[w] = s.Put(t.Context(), key, gen(uint64(100+w), tc.size), size) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("concurrent Put: %v", err)
			}
			if _, ok := sums[sum(t, s, key)]; !ok {
				t.Fatal("object matches none of the writers: writes were mixed")
			}
			if info, err := s.Stat(t.Context(), key); err != nil || info.Size != tc.size {
				t.Fatalf("Stat = %+v, %v", info, err)
			}
		})
	}
}
