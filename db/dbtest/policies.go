package dbtest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"artifactapi/db"
)

// RunPolicies runs the db.PolicyStore contract suite. open must return a
// fresh, empty, migrated store.
func RunPolicies(t *testing.T, open func(t *testing.T) db.PolicyStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s db.PolicyStore)
	}{
		{name: "crud", fn: testPolicyCRUD},
		{name: "unique_name", fn: testPolicyUnique},
		{name: "due_and_claim", fn: testPolicyDue},
		{name: "claim_concurrent", fn: testPolicyClaimRace},
		{name: "runs", fn: testPolicyRuns},
		{name: "delete_with_runs", fn: testPolicyDelete},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func samplePolicy(name string) db.Policy {
	return db.Policy{Name: name, Remote: "files", CachedBefore: 30 * 24 * time.Hour, AccessedBefore: 7 * 24 * time.Hour,
		UnusedFor: 48 * time.Hour, LargerThan: 10 << 20, Query: `^tmp/.*\.iso$`, Regex: true, Every: 24 * time.Hour,
		NextRunAt: base.Add(time.Hour), Declared: true}
}

// samePolicy compares what a caller sets (not ID and times).
func samePolicy(a, b db.Policy) bool {
	return a.Name == b.Name && a.Remote == b.Remote && a.CachedBefore == b.CachedBefore && a.AccessedBefore == b.AccessedBefore &&
		a.UnusedFor == b.UnusedFor && a.LargerThan == b.LargerThan && a.Query == b.Query && a.Regex == b.Regex &&
		a.Every == b.Every && a.NextRunAt.Equal(b.NextRunAt) && a.Declared == b.Declared
}

func testPolicyCRUD(t *testing.T, s db.PolicyStore) {
	c := ctx(t)
	want := samplePolicy("big isos")
	p, err := s.CreatePolicy(c, want)
	if err != nil || p.ID == 0 || p.CreatedAt.IsZero() || !samePolicy(p, want) {
		t.Fatalf("CreatePolicy = %+v, %v", p, err)
	}
	got, err := s.GetPolicy(c, p.ID)
	if err != nil || !samePolicy(got, want) || got.ID != p.ID {
		t.Fatalf("GetPolicy = %+v, %v; want %+v", got, err, want)
	}
	plain := db.Policy{Name: "all old", Query: "snapshot"} // every remote, by hand, one criterion
	q, err := s.CreatePolicy(c, plain)
	if err != nil || !samePolicy(q, plain) || !q.NextRunAt.IsZero() {
		t.Fatalf("CreatePolicy(minimal) = %+v, %v", q, err)
	}
	list, err := s.ListPolicies(c)
	if err != nil || len(list) != 2 || list[0].Name != "all old" || list[1].Name != "big isos" {
		t.Fatalf("ListPolicies = %+v, %v (want by name)", list, err)
	}
	got.Query, got.Regex, got.Every, got.NextRunAt, got.Declared = "nightly", false, 0, time.Time{}, false
	upd, err := s.UpdatePolicy(c, got)
	if err != nil || !samePolicy(upd, got) || !upd.CreatedAt.Equal(p.CreatedAt) {
		t.Fatalf("UpdatePolicy = %+v, %v", upd, err)
	}
	if again, _ := s.GetPolicy(c, p.ID); !samePolicy(again, got) {
		t.Errorf("after update GetPolicy = %+v", again)
	}
	for name, err := range map[string]error{
		"get":    func() error { _, err := s.GetPolicy(c, 999999); return err }(),
		"update": func() error { _, err := s.UpdatePolicy(c, db.Policy{ID: 999999, Name: "x"}); return err }(),
		"delete": s.DeletePolicy(c, 999999),
	} {
		if !errors.Is(err, db.ErrNotFound) {
			t.Errorf("%s of a missing policy: %v, want ErrNotFound", name, err)
		}
	}
}

func testPolicyUnique(t *testing.T, s db.PolicyStore) {
	c := ctx(t)
	a, err := s.CreatePolicy(c, samplePolicy("a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreatePolicy(c, samplePolicy("a")); !errors.Is(err, db.ErrExists) {
		t.Errorf("second policy named a: %v, want ErrExists", err)
	}
	if _, err := s.CreatePolicy(c, samplePolicy("b")); err != nil {
		t.Fatal(err)
	}
	a.Name = "b"
	if _, err := s.UpdatePolicy(c, a); !errors.Is(err, db.ErrExists) {
		t.Errorf("renaming a to b: %v, want ErrExists", err)
	}
}

func testPolicyDue(t *testing.T, s db.PolicyStore) {
	c := ctx(t)
	mk := func(name string, every time.Duration, next time.Time) db.Policy {
		p, err := s.CreatePolicy(c, db.Policy{Name: name, Query: "x", Every: every, NextRunAt: next})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	due := mk("due", time.Hour, base.Add(-time.Minute))
	mk("later", time.Hour, base.Add(time.Minute))
	mk("manual", 0, time.Time{})
	dueNow := mk("due now", time.Hour, base)
	list, err := s.DuePolicies(c, base)
	if err != nil || len(list) != 2 || list[0].ID != due.ID || list[1].ID != dueNow.ID {
		t.Fatalf("DuePolicies = %+v, %v; want due, due now", list, err)
	}
	next := base.Add(59 * time.Minute)
	ok, err := s.ClaimPolicySlot(c, due.ID, due.NextRunAt, next)
	if err != nil || !ok {
		t.Fatalf("first claim = %v, %v", ok, err)
	}
	if ok, err := s.ClaimPolicySlot(c, due.ID, due.NextRunAt, next); err != nil || ok {
		t.Errorf("second claim of the same slot = %v, %v; want false", ok, err)
	}
	if p, _ := s.GetPolicy(c, due.ID); !p.NextRunAt.Equal(next) {
		t.Errorf("NextRunAt after claim = %v, want %v", p.NextRunAt, next)
	}
	if list, _ := s.DuePolicies(c, base); len(list) != 1 || list[0].ID != dueNow.ID {
		t.Errorf("DuePolicies after claim = %+v", list)
	}
}

func testPolicyClaimRace(t *testing.T, s db.PolicyStore) {
	c := ctx(t)
	p, err := s.CreatePolicy(c, db.Policy{Name: "race", Query: "x", Every: time.Minute, NextRunAt: base})
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range n {
		wg.Go(func() {
			ok, err := s.ClaimPolicySlot(c, p.ID, base, base.Add(time.Minute))
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Errorf("%d of %d concurrent claims of one slot won, want 1", won, n)
	}
}

func testPolicyRuns(t *testing.T, s db.PolicyStore) {
	c := ctx(t)
	p, err := s.CreatePolicy(c, samplePolicy("runs"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.StartPolicyRun(c, db.PolicyRun{PolicyID: p.ID, StartedBy: "schedule", ScheduledFor: base, Instance: "replica-1", StartedAt: base.Add(time.Second)})
	if err != nil || r.ID == 0 || !r.Running() || r.StartedBy != "schedule" || !r.ScheduledFor.Equal(base) || r.Instance != "replica-1" {
		t.Fatalf("StartPolicyRun = %+v, %v", r, err)
	}
	r.FinishedAt, r.Matched, r.Evicted, r.Bytes, r.Errors, r.Error = base.Add(2*time.Second), 5, 4, 4096, 1, "1 artifact could not be evicted"
	if err := s.FinishPolicyRun(c, r); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishPolicyRun(c, db.PolicyRun{ID: 999999, FinishedAt: base}); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("FinishPolicyRun(missing) = %v", err)
	}
	for i := range db.KeepPolicyRuns + 5 {
		if _, err := s.StartPolicyRun(c, db.PolicyRun{PolicyID: p.ID, StartedBy: "api", StartedAt: base.Add(time.Duration(i+3) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := s.PolicyRuns(c, p.ID, 0)
	if err != nil || len(runs) != db.KeepPolicyRuns {
		t.Fatalf("PolicyRuns = %d runs, %v; want the newest %d", len(runs), err, db.KeepPolicyRuns)
	}
	if runs[0].ID <= runs[1].ID || runs[0].StartedBy != "api" || !runs[0].ScheduledFor.IsZero() {
		t.Errorf("newest run %+v, next %+v", runs[0], runs[1])
	}
	first, _ := s.PolicyRuns(c, p.ID, 1)
	if len(first) != 1 || first[0].ID != runs[0].ID {
		t.Errorf("PolicyRuns(limit 1) = %+v", first)
	}

	// The finished run, read back before it was pruned, kept its counts.
	q, _ := s.CreatePolicy(c, samplePolicy("one run"))
	r2, _ := s.StartPolicyRun(c, db.PolicyRun{PolicyID: q.ID, StartedBy: "dashboard", StartedAt: base})
	r2.FinishedAt, r2.Matched, r2.Evicted, r2.Bytes = base.Add(time.Second), 3, 3, 300
	if err := s.FinishPolicyRun(c, r2); err != nil {
		t.Fatal(err)
	}
	got, err := s.PolicyRuns(c, q.ID, 10)
	if err != nil || len(got) != 1 || got[0].Running() || got[0].Matched != 3 || got[0].Evicted != 3 || got[0].Bytes != 300 ||
		!got[0].FinishedAt.Equal(base.Add(time.Second)) {
		t.Errorf("PolicyRuns(one run) = %+v, %v", got, err)
	}
}

func testPolicyDelete(t *testing.T, s db.PolicyStore) {
	c := ctx(t)
	p, _ := s.CreatePolicy(c, samplePolicy("gone"))
	if _, err := s.StartPolicyRun(c, db.PolicyRun{PolicyID: p.ID, StartedBy: "api", StartedAt: base}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePolicy(c, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetPolicy(c, p.ID); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("GetPolicy after delete = %v", err)
	}
	if runs, err := s.PolicyRuns(c, p.ID, 0); err != nil || len(runs) != 0 {
		t.Errorf("runs after delete = %+v, %v", runs, err)
	}
}
