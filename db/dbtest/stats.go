package dbtest

import (
	"sync"
	"testing"
	"time"

	"artifactapi/db"
)

// StatsBackend is a metadata store that also keeps per-remote upstream
// health and traffic.
type StatsBackend interface {
	db.Store
	Stats() db.StatsStore
}

// RunStats runs the db.StatsStore contract suite. open must return a fresh,
// empty, migrated store; RunStats closes it when the subtest ends.
func RunStats(t *testing.T, open func(t *testing.T) StatsBackend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s StatsBackend)
	}{
		{name: "replicas_add_up", fn: testStatsAddUp},
		{name: "health_newest_wins", fn: testHealthNewestWins},
		{name: "concurrent_flushes", fn: testStatsConcurrent},
		{name: "since_and_prune", fn: testStatsPrune},
		{name: "top_artifacts", fn: testTopArtifacts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

func record(t *testing.T, st db.StatsStore, deltas ...db.StatsDelta) {
	t.Helper()
	if err := st.RecordRemoteStats(ctx(t), deltas); err != nil {
		t.Fatalf("RecordRemoteStats: %v", err)
	}
}

// traffic returns the totals and the minutes of each remote.
func traffic(t *testing.T, st db.StatsStore, since time.Time) (totals map[string]db.TrafficCounts, minutes map[string][]db.TrafficCounts) {
	t.Helper()
	rows, err := st.RemoteTraffic(ctx(t), since)
	if err != nil {
		t.Fatalf("RemoteTraffic: %v", err)
	}
	totals, minutes = map[string]db.TrafficCounts{}, map[string][]db.TrafficCounts{}
	for _, r := range rows {
		if r.Minute.IsZero() {
			totals[r.Remote] = r
		} else {
			minutes[r.Remote] = append(minutes[r.Remote], r)
		}
	}
	return totals, minutes
}

func health(t *testing.T, st db.StatsStore) map[string]db.RemoteHealth {
	t.Helper()
	rows, err := st.RemoteHealth(ctx(t))
	if err != nil {
		t.Fatalf("RemoteHealth: %v", err)
	}
	out := map[string]db.RemoteHealth{}
	for _, h := range rows {
		out[h.Remote] = h
	}
	return out
}

func counts(remote string, minute time.Time, n int64) db.TrafficCounts {
	return db.TrafficCounts{Remote: remote, Minute: minute, UpstreamOK: n, UpstreamErrors: 2 * n, BadAnswers: n, LatencyMicros: 1000 * n,
		LatencyCount: n, StaleServes: 3 * n, CacheRequests: 4 * n, RemoteRequests: 5 * n, CacheBytes: 6 * n,
		RemoteBytes: 7 * n, UpstreamBytes: 8 * n}
}

// sameCounts compares every field, Minute as an instant.
func sameCounts(a, b db.TrafficCounts) bool {
	if !a.Minute.Equal(b.Minute) {
		return false
	}
	a.Minute, b.Minute = time.Time{}, time.Time{}
	return a == b
}

func testStatsAddUp(t *testing.T, s StatsBackend) {
	st := s.Stats()
	m0 := base.Truncate(time.Minute)
	m1 := m0.Add(time.Minute)
	// Two replicas flush the same minute; one also the next; another remote.
	record(t, st, db.StatsDelta{TrafficCounts: counts("a", m0.Add(5*time.Second), 1)})
	record(t, st, db.StatsDelta{TrafficCounts: counts("a", m0.Add(40*time.Second), 10)},
		db.StatsDelta{TrafficCounts: counts("a", m1, 100)}, db.StatsDelta{TrafficCounts: counts("b", m1, 1000)})
	totals, minutes := traffic(t, st, m0)
	if got, want := totals["a"], counts("a", time.Time{}, 111); got != want {
		t.Errorf("totals of a = %+v, want %+v", got, want)
	}
	if got, want := totals["b"], counts("b", time.Time{}, 1000); got != want {
		t.Errorf("totals of b = %+v, want %+v", got, want)
	}
	want := []db.TrafficCounts{counts("a", m0, 11), counts("a", m1, 100)}
	if got := minutes["a"]; len(got) != 2 || !sameCounts(got[0], want[0]) || !sameCounts(got[1], want[1]) {
		t.Errorf("minutes of a = %+v, want %+v", got, want)
	}
	if len(health(t, st)) != 0 {
		t.Error("counts without times recorded a health row")
	}
}

func testHealthNewestWins(t *testing.T, s StatsBackend) {
	st := s.Stats()
	t0 := base
	record(t, st, db.StatsDelta{TrafficCounts: db.TrafficCounts{Remote: "r", Minute: t0}, LastSuccess: t0,
		LastError: t0.Add(time.Second), ErrorKind: "refused", ErrorMessage: "connection refused"})
	// A replica whose news are older changes nothing…
	record(t, st, db.StatsDelta{TrafficCounts: db.TrafficCounts{Remote: "r", Minute: t0}, LastSuccess: t0.Add(-time.Hour),
		LastError: t0.Add(-time.Minute), ErrorKind: "dns", ErrorMessage: "no such host"})
	h := health(t, st)["r"]
	if !h.LastSuccess.Equal(t0) || !h.LastError.Equal(t0.Add(time.Second)) || h.ErrorKind != "refused" || h.ErrorMessage != "connection refused" || !h.LastStale.IsZero() {
		t.Fatalf("after an older delta: %+v", h)
	}
	// …a newer error replaces kind and message together; a zero time keeps the stored one.
	record(t, st, db.StatsDelta{TrafficCounts: db.TrafficCounts{Remote: "r", Minute: t0}, LastError: t0.Add(time.Minute),
		ErrorKind: "tls", ErrorMessage: "certificate expired", LastStale: t0.Add(2 * time.Minute)})
	h = health(t, st)["r"]
	if !h.LastSuccess.Equal(t0) || !h.LastError.Equal(t0.Add(time.Minute)) || h.ErrorKind != "tls" ||
		h.ErrorMessage != "certificate expired" || !h.LastStale.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("after a newer error: %+v", h)
	}
	// Several deltas of one flush: the newest of each.
	record(t, st,
		db.StatsDelta{TrafficCounts: db.TrafficCounts{Remote: "q", Minute: t0}, LastError: t0, ErrorKind: "dns", ErrorMessage: "old"},
		db.StatsDelta{TrafficCounts: db.TrafficCounts{Remote: "q", Minute: t0}, LastError: t0.Add(time.Second), ErrorKind: "timeout", ErrorMessage: "new", LastSuccess: t0})
	if q := health(t, st)["q"]; q.ErrorKind != "timeout" || q.ErrorMessage != "new" || !q.LastSuccess.Equal(t0) {
		t.Errorf("one flush with two errors: %+v", q)
	}
}

func testStatsConcurrent(t *testing.T, s StatsBackend) {
	st := s.Stats()
	const replicas, flushes = 4, 20
	var wg sync.WaitGroup
	errs := make(chan error, replicas*flushes)
	for i := range replicas {
		wg.Go(func() {
			for j := range flushes {
				at := base.Add(time.Duration(i*flushes+j) * time.Millisecond)
				errs <- st.RecordRemoteStats(ctx(t), []db.StatsDelta{
					{TrafficCounts: counts("a", base, 1), LastSuccess: at},
					{TrafficCounts: counts("b", base, 2), LastError: at, ErrorKind: "refused", ErrorMessage: "m"},
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("RecordRemoteStats: %v", err)
		}
	}
	totals, _ := traffic(t, st, base)
	if got, want := totals["a"], counts("a", time.Time{}, replicas*flushes); got != want {
		t.Errorf("totals of a = %+v, want %+v", got, want)
	}
	if got, want := totals["b"], counts("b", time.Time{}, 2*replicas*flushes); got != want {
		t.Errorf("totals of b = %+v, want %+v", got, want)
	}
	last := base.Add(time.Duration(replicas*flushes-1) * time.Millisecond)
	if h := health(t, st); !h["a"].LastSuccess.Equal(last) || !h["b"].LastError.Equal(last) {
		t.Errorf("health = %+v, want the newest time %v", h, last)
	}
}

func testStatsPrune(t *testing.T, s StatsBackend) {
	st := s.Stats()
	m0 := base.Truncate(time.Minute)
	for i := range 5 {
		record(t, st, db.StatsDelta{TrafficCounts: counts("a", m0.Add(time.Duration(i)*time.Minute), 1)})
	}
	if _, minutes := traffic(t, st, m0.Add(3*time.Minute)); len(minutes["a"]) != 2 {
		t.Errorf("minutes since the fourth = %d, want 2", len(minutes["a"]))
	}
	n, err := st.PruneRemoteTraffic(ctx(t), m0.Add(2*time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("PruneRemoteTraffic = %d, %v; want 2 minutes deleted", n, err)
	}
	totals, minutes := traffic(t, st, time.Time{})
	if len(minutes["a"]) != 3 || !minutes["a"][0].Minute.Equal(m0.Add(2*time.Minute)) {
		t.Errorf("minutes left = %+v", minutes["a"])
	}
	if got, want := totals["a"], counts("a", time.Time{}, 5); got != want {
		t.Errorf("totals after pruning = %+v, want %+v (never pruned)", got, want)
	}
}

func testTopArtifacts(t *testing.T, s StatsBackend) {
	for i, p := range []string{"cold", "warm", "hot", "tie-b", "tie-a"} {
		a := sample("r", p)
		a.Hits, a.Size = 0, int64(100*(i+1))
		put(t, s, a)
	}
	put(t, s, sample("other", "hottest"))
	hits := []db.Hit{{Remote: "r", Path: "hot", Count: 9, Last: base}, {Remote: "r", Path: "warm", Count: 2, Last: base},
		{Remote: "r", Path: "tie-b", Count: 5, Last: base}, {Remote: "r", Path: "tie-a", Count: 5, Last: base},
		{Remote: "other", Path: "hottest", Count: 100, Last: base}}
	if err := s.RecordHits(ctx(t), hits); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		limit int
		want  []string
	}{
		{name: "all hit ones, most first, ties by path", limit: 10, want: []string{"hot", "tie-a", "tie-b", "warm"}},
		{name: "limited", limit: 2, want: []string{"hot", "tie-a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Stats().TopArtifacts(ctx(t), "r", tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, a := range got {
				paths = append(paths, a.Path)
				if a.Remote != "r" || a.Size == 0 || a.LastAccess.IsZero() {
					t.Errorf("row %+v lacks remote, size or last access", a)
				}
			}
			if len(paths) != len(tc.want) {
				t.Fatalf("TopArtifacts = %v, want %v", paths, tc.want)
			}
			for i := range paths {
				if paths[i] != tc.want[i] {
					t.Fatalf("TopArtifacts = %v, want %v", paths, tc.want)
				}
			}
			if got[0].Hits != 9 {
				t.Errorf("hits of the first = %d, want 9", got[0].Hits)
			}
		})
	}
}
