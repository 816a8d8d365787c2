package ui

import (
	"context"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"artifactapi/app/testenv"
	"artifactapi/db"
)

// benchArtifacts is the size of the remote the remote page is measured on.
const benchArtifacts = 10000

// BenchmarkRemotePage renders the first page of a remote holding 10,000
// cached artifacts, from SQLite and from PostgreSQL, as a browser asks for
// it (full page) and as the listing's live poll does when something changed
// (the htmx partial). It reports the server time per page (ns/op) and the
// bytes of HTML (html-bytes). Run by `make bench`; PostgreSQL on
// 127.0.0.1:5432 (TEST_PG_DSN) is required.
func BenchmarkRemotePage(b *testing.B) {
	stores := []struct {
		name string
		open func(b *testing.B) db.Store
	}{
		{name: "sqlite", open: func(b *testing.B) db.Store {
			s, err := db.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "meta.db"))
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{name: "postgres", open: func(b *testing.B) db.Store {
			s, err := db.OpenPostgres(context.Background(), testenv.Postgres(b).DSN)
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			store := st.open(b)
			b.Cleanup(func() { store.Close() })
			hs := newHarness(b)
			fillStore(b, store, seed(hs, "files", benchArtifacts))
			hs.h.d.Meta = store
			session, csrfSeed, _ := hs.signIn()
			pages := []struct {
				name string
				hdr  map[string]string
			}{
				{name: "page"},
				{name: "partial", hdr: map[string]string{"HX-Request": "true"}},
			}
			for _, pg := range pages {
				b.Run(pg.name, func(b *testing.B) {
					var size int
					for b.Loop() {
						resp, body := hs.do(http.MethodGet, "/ui/remotes/files", nil, pg.hdr, session, csrfSeed)
						if resp.StatusCode != http.StatusOK {
							b.Fatalf("%d", resp.StatusCode)
						}
						size = len(body)
					}
					b.ReportMetric(float64(size), "html-bytes")
				})
			}
		})
	}
}

// fillStore writes as into s, a few at a time.
func fillStore(b *testing.B, s db.Store, as []db.Artifact) {
	b.Helper()
	work := make(chan db.Artifact)
	var wg sync.WaitGroup
	var once sync.Once
	var failed error
	for range 8 {
		wg.Go(func() {
			for a := range work {
				a.ID = 0
				if err := s.PutArtifact(context.Background(), a); err != nil {
					once.Do(func() { failed = err })
				}
			}
		})
	}
	for _, a := range as {
		work <- a
	}
	close(work)
	wg.Wait()
	if failed != nil {
		b.Fatal(failed)
	}
}
