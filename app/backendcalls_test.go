package app_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/metrics"
	"artifactapi/app/testenv"
)

// backendCalls is what the metadata store and Redis were asked, by phase.
type backendCalls struct {
	queries, commands [3]uint64 // by metrics.Phase
}

func readCalls(in *apptest.Instance) backendCalls {
	var c backendCalls
	for _, p := range []metrics.Phase{metrics.PhaseBackground, metrics.PhaseRequest, metrics.PhaseFill} {
		c.queries[p] = in.App.Metrics.MetadataQueries.Count(p)
		c.commands[p] = in.App.Metrics.CoordCommands.Count(p)
	}
	return c
}

// sub returns the calls made on behalf of clients (request and fill phases)
// between c and later.
func (c backendCalls) sub(later backendCalls) (queries, commands uint64) {
	for _, p := range []metrics.Phase{metrics.PhaseRequest, metrics.PhaseFill} {
		queries += later.queries[p] - c.queries[p]
		commands += later.commands[p] - c.commands[p]
	}
	return queries, commands
}

// TestBackendCallsPerRequest pins the PostgreSQL statements and Redis
// commands of a cold fill and of a warm hit on the production backends, the
// figures docs/scaling.md sizes the servers with: a warm hit costs neither
// while the metadata memo is trusted, and a cold fill stays within the
// round trips counted when the table was made. A change that adds a round
// trip to either fails here.
func TestBackendCallsPerRequest(t *testing.T) {
	body := bytes.Repeat([]byte("b"), 4096)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		w.Write(body)
	}))
	defer up.Close()
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Production), apptest.Options{Remotes: accessRemotes(up.URL)})
	trusted := func() bool { ok, _ := in.App.Engine.MemoTrust(); return ok }
	testenv.Eventually(t, 10*time.Second, "the metadata memo is trusted", trusted)
	get := func() string {
		t.Helper()
		st, h, got := in.Get(t, "/api/pub/f.bin", nil)
		if st != http.StatusOK || !bytes.Equal(got, body) {
			t.Fatalf("GET: %d, %d bytes", st, len(got))
		}
		return h.Get("X-Artifact-Source")
	}

	before := readCalls(in)
	if src := get(); src != "remote" {
		t.Fatalf("first GET answered from %q, want the upstream", src)
	}
	testenv.Eventually(t, 10*time.Second, "the download committed", func() bool { return in.App.Engine.InFlight() == 0 })
	coldQ, coldC := before.sub(readCalls(in))
	t.Logf("cold fill: %d PostgreSQL statements, %d Redis commands", coldQ, coldC)
	// Counted when docs/scaling.md was written: lookup, commit (upsert),
	// and the Redis negative-cache check, fill lock, invalidation notice
	// and fill announcement.
	const maxColdQueries, maxColdCommands = 3, 8
	if coldQ == 0 || coldQ > maxColdQueries {
		t.Errorf("a cold fill made %d PostgreSQL statements, want 1..%d", coldQ, maxColdQueries)
	}
	if coldC == 0 || coldC > maxColdCommands {
		t.Errorf("a cold fill made %d Redis commands, want 1..%d", coldC, maxColdCommands)
	}

	// The memo is trusted only while invalidation probes come back within
	// a second: on a machine loaded enough to miss one, the hits read the
	// database (correctly) and the window is measured again.
	const hits = 50
	get() // the first hit may read the row the commit did not memoise
	for attempt := 1; ; attempt++ {
		testenv.Eventually(t, 10*time.Second, "the metadata memo is trusted", trusted)
		_, lost := in.App.Engine.MemoTrust()
		before = readCalls(in)
		for range hits {
			if src := get(); src != "cache" {
				t.Fatalf("warm GET answered from %q, want the cache", src)
			}
		}
		warmQ, warmC := before.sub(readCalls(in))
		ok, lostAfter := in.App.Engine.MemoTrust()
		if (!ok || lostAfter != lost) && attempt < 5 {
			t.Logf("the memo lost trust during the window (%d statements): measuring again", warmQ)
			continue
		}
		t.Logf("%d warm hits: %d PostgreSQL statements, %d Redis commands", hits, warmQ, warmC)
		if warmQ != 0 || warmC != 0 {
			t.Errorf("%d warm hits made %d PostgreSQL statements and %d Redis commands, want none (memo trusted)", hits, warmQ, warmC)
		}
		return
	}
}
