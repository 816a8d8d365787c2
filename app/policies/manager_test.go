package policies

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"artifactapi/app/cache"
	"artifactapi/app/config"
	"artifactapi/app/coord"
	"artifactapi/db"
)

// fakeEngine holds artifacts in memory and counts evictions.
type fakeEngine struct {
	mu      sync.Mutex
	arts    map[string][]db.Artifact // by remote
	evicted int
}

func (f *fakeEngine) Walk(_ context.Context, remote, _ string, fn func(db.Artifact) bool) error {
	f.mu.Lock()
	list := append([]db.Artifact(nil), f.arts[remote]...)
	f.mu.Unlock()
	for _, a := range list {
		if !fn(a) {
			break
		}
	}
	return nil
}

func (f *fakeEngine) Select(ctx context.Context, remote, q string, match func(db.Artifact) bool) ([]db.Artifact, error) {
	var out []db.Artifact
	err := f.Walk(ctx, remote, q, func(a db.Artifact) bool {
		if match(a) {
			out = append(out, a)
		}
		return true
	})
	return out, err
}

func (f *fakeEngine) EvictEach(_ context.Context, remote string, victims []db.Artifact, _ string) (cache.BulkResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var res cache.BulkResult
	for _, v := range victims {
		kept := f.arts[remote][:0]
		for _, a := range f.arts[remote] {
			if a.Path == v.Path {
				res.Count++
				res.Bytes += a.Size
				f.evicted++
				continue
			}
			kept = append(kept, a)
		}
		f.arts[remote] = kept
	}
	return res, nil
}

func setup(t *testing.T, now time.Time) (db.PolicyStore, coord.Coordinator, *fakeEngine, func(instance string) *Manager) {
	t.Helper()
	s, err := db.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f, err := config.ParseRemotes("remotes.yaml", []byte("remotes:\n  gen:\n    base_url: https://example.org\n    package: generic\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Remotes: f}
	co := coord.NewLocal()
	eng := &fakeEngine{arts: map[string][]db.Artifact{"gen": {
		{Remote: "gen", Path: "a.bin", Size: 10, CachedAt: now.Add(-time.Hour)},
		{Remote: "gen", Path: "b.bin", Size: 20, CachedAt: now.Add(-time.Hour), Pinned: true},
	}}}
	mk := func(instance string) *Manager {
		return New(Options{Store: s.Policies(), Engine: eng, Coord: co, Config: func() *config.Config { return cfg },
			Instance: instance, Now: func() time.Time { return now }})
	}
	return s.Policies(), co, eng, mk
}

// TestRunDueClaimsEachSlotOnce: replicas looking for due policies at the
// same moment run a slot once; the next slot is one interval after the
// one taken, or after now when the policy was overdue by more.
func TestRunDueClaimsEachSlotOnce(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		due      time.Time
		wantNext time.Time
	}{
		{name: "on time", due: now.Add(-time.Minute), wantNext: now.Add(59 * time.Minute)},
		{name: "overdue by hours", due: now.Add(-3 * time.Hour), wantNext: now.Add(time.Hour)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store, _, eng, mk := setup(t, now)
			p, err := store.CreatePolicy(context.Background(), db.Policy{Name: "sweep", Remote: "gen", Query: ".bin", Every: time.Hour, NextRunAt: tc.due})
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			for _, in := range []string{"a", "b", "c"} {
				m := mk(in)
				wg.Go(func() { m.RunDue(context.Background()) })
			}
			wg.Wait()
			runs, _ := store.PolicyRuns(context.Background(), p.ID, 0)
			if len(runs) != 1 || !runs[0].ScheduledFor.Equal(tc.due) || runs[0].Evicted != 1 || runs[0].Matched != 1 {
				t.Fatalf("runs %+v, want one of slot %v evicting the unpinned artifact", runs, tc.due)
			}
			if eng.evicted != 1 {
				t.Errorf("%d evictions, want 1 (the pinned artifact stays)", eng.evicted)
			}
			got, _ := store.GetPolicy(context.Background(), p.ID)
			if !got.NextRunAt.Equal(tc.wantNext) {
				t.Errorf("next run %v, want %v", got.NextRunAt, tc.wantNext)
			}
		})
	}
}

// TestRunsShowInterrupted: an unfinished run whose lock nobody holds (its
// replica stopped) reads as interrupted; one whose lock is held still runs.
func TestRunsShowInterrupted(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	store, co, _, mk := setup(t, now)
	ctx := context.Background()
	p, _ := store.CreatePolicy(ctx, db.Policy{Name: "x", Query: "a"})
	if _, err := store.StartPolicyRun(ctx, db.PolicyRun{PolicyID: p.ID, StartedBy: ByAPI, StartedAt: now.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	m := mk("a")
	l, err := co.TryLock(ctx, lockKey(p.ID), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if runs, _ := m.Runs(ctx, p.ID, 0); len(runs) != 1 || runs[0].Error != "" {
		t.Errorf("run with its lock held: %+v", runs)
	}
	if _, err := m.Run(ctx, p, ByAPI, time.Time{}); err != ErrRunning {
		t.Errorf("Run while the lock is held = %v, want ErrRunning", err)
	}
	_ = l.Release(ctx)
	if runs, _ := m.Runs(ctx, p.ID, 0); len(runs) != 1 || runs[0].Error == "" {
		t.Errorf("run without its lock: %+v, want interrupted", runs)
	}
}
