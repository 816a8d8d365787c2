package dbtest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"artifactapi/app/testenv"
	"artifactapi/db"
)

// JobBackend is a metadata store that also keeps batch cache jobs.
type JobBackend interface {
	db.Store
	db.JobStore
}

// RunJobs runs the db.JobStore contract suite. open must return a fresh,
// empty, migrated store; RunJobs closes it when the subtest ends.
func RunJobs(t *testing.T, open func(t *testing.T) JobBackend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s JobBackend)
	}{
		{name: "create_get", fn: testJobCreateGet},
		{name: "created_done", fn: testJobCreatedDone},
		{name: "list_newest_first", fn: testJobList},
		{name: "claim_order", fn: testJobClaimOrder},
		{name: "claim_skip_remotes", fn: testJobClaimSkip},
		{name: "progress_and_finish", fn: testJobProgress},
		{name: "claim_lost", fn: testJobClaimLost},
		{name: "lease_expiry", fn: testJobLeaseExpiry},
		{name: "renew", fn: testJobRenew},
		{name: "release", fn: testJobRelease},
		{name: "concurrent_finish", fn: testJobConcurrentFinish},
		{name: "concurrent_claims", fn: func(t *testing.T, s JobBackend) { RaceClaims(t, s, s) }},
		{name: "pin_artifact", fn: testJobPin},
		{name: "cancel", fn: testJobCancel},
		{name: "retention", fn: testJobRetention},
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

// newJob creates a job of n queued items on remote r (paths p0, p1, …).
func newJob(t *testing.T, s db.JobStore, r string, n int, pin bool) db.Job {
	t.Helper()
	j := db.Job{Remote: r, Pin: pin}
	for i := range n {
		j.Items = append(j.Items, db.JobItem{Remote: r, Path: fmt.Sprintf("p%d", i)})
	}
	j, err := s.CreateJob(ctx(t), j)
	if err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	return j
}

func getJob(t *testing.T, s db.JobStore, id string) db.Job {
	t.Helper()
	j, err := s.GetJob(ctx(t), id)
	if err != nil {
		t.Fatalf("GetJob(%s): %v", id, err)
	}
	return j
}

func claim(t *testing.T, s db.JobStore, instance string, lease time.Duration, skip ...string) db.JobItem {
	t.Helper()
	it, err := s.ClaimItem(ctx(t), instance, lease, skip...)
	if err != nil {
		t.Fatalf("ClaimItem(%s): %v", instance, err)
	}
	return it
}

func noClaim(t *testing.T, s db.JobStore, instance string, skip ...string) {
	t.Helper()
	if it, err := s.ClaimItem(ctx(t), instance, time.Minute, skip...); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("ClaimItem = %+v, %v; want ErrNotFound", it, err)
	}
}

func update(t *testing.T, s db.JobStore, instance string, it db.JobItem, state, reason string, done, total int64) {
	t.Helper()
	u := db.ItemUpdate{JobID: it.JobID, Idx: it.Idx, State: state, Reason: reason, BytesDone: done, BytesTotal: total}
	if err := s.UpdateItem(ctx(t), instance, u); err != nil {
		t.Fatalf("UpdateItem(%s/%d → %s): %v", it.JobID, it.Idx, state, err)
	}
}

func testJobCreateGet(t *testing.T, s JobBackend) {
	before := time.Now().Add(-time.Minute)
	in := db.Job{Remote: "maven", Pin: true, Items: []db.JobItem{
		{Remote: "maven", Path: "a/b.jar"},
		{Remote: "maven", Path: "c.pom?x=1", URL: "https://repo.example/c.pom?x=1"},
		{URL: "https://elsewhere.example/x", State: db.ItemFailed, Reason: "URL matches no remote"},
	}}
	created, err := s.CreateJob(ctx(t), in)
	if err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	if created.ID == "" || created.State != db.JobQueued || created.CreatedAt.Before(before) {
		t.Fatalf("created job %+v", created)
	}
	j := getJob(t, s, created.ID)
	if j.ID != created.ID || j.Remote != "maven" || !j.Pin || j.State != db.JobQueued {
		t.Errorf("job %+v", j)
	}
	if !j.CreatedAt.Truncate(Precision).Equal(created.CreatedAt.Truncate(Precision)) {
		t.Errorf("CreatedAt = %v, CreateJob said %v", j.CreatedAt, created.CreatedAt)
	}
	if len(j.Items) != 3 {
		t.Fatalf("%d items, want 3", len(j.Items))
	}
	for i, it := range j.Items {
		want := in.Items[i]
		if it.JobID != j.ID || it.Idx != i || it.Remote != want.Remote || it.Path != want.Path || it.URL != want.URL {
			t.Errorf("item %d = %+v, want %+v", i, it, want)
		}
	}
	if it := j.Items[2]; it.State != db.ItemFailed || it.Reason != "URL matches no remote" || it.FinishedAt.IsZero() {
		t.Errorf("refused item %+v", it)
	}
	if it := j.Items[0]; it.State != db.ItemQueued || !it.StartedAt.IsZero() || it.ClaimedBy != "" || it.Attempts != 0 {
		t.Errorf("queued item %+v", it)
	}
	if j.Totals.Items != 3 || j.Totals.ByState[db.ItemQueued] != 2 || j.Totals.ByState[db.ItemFailed] != 1 ||
		j.Totals.ByState[db.ItemCached] != 0 || len(j.Totals.ByState) != len(db.ItemStates) || j.Totals.Finished() != 1 {
		t.Errorf("totals %+v", j.Totals)
	}
	for _, id := range []string{db.NewJobID(), "not-a-uuid", ""} {
		if _, err := s.GetJob(ctx(t), id); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("GetJob(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func testJobCreatedDone(t *testing.T, s JobBackend) {
	j, err := s.CreateJob(ctx(t), db.Job{Items: []db.JobItem{{URL: "ftp://x", State: db.ItemFailed, Reason: "URL matches no remote"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := getJob(t, s, j.ID); got.State != db.JobDone || got.Remote != "" {
		t.Errorf("job of refused items = %+v, want done", got)
	}
	noClaim(t, s, "a")
}

func testJobList(t *testing.T, s JobBackend) {
	if jobs, err := s.ListJobs(ctx(t), 0); err != nil || len(jobs) != 0 {
		t.Fatalf("ListJobs on empty store = %v, %v", jobs, err)
	}
	var ids []string
	for i := range 3 {
		ids = append(ids, newJob(t, s, "r", i+1, false).ID)
	}
	jobs, err := s.ListJobs(ctx(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 3 {
		t.Fatalf("%d jobs, want 3", len(jobs))
	}
	for i, j := range jobs {
		if want := ids[2-i]; j.ID != want {
			t.Errorf("jobs[%d] = %s, want %s (newest first)", i, j.ID, want)
		}
		if j.Totals.Items != 3-i || j.Totals.ByState[db.ItemQueued] != 3-i || j.Items != nil {
			t.Errorf("jobs[%d] totals %+v, items %v", i, j.Totals, j.Items)
		}
	}
	if jobs, err := s.ListJobs(ctx(t), 2); err != nil || len(jobs) != 2 || jobs[0].ID != ids[2] {
		t.Errorf("ListJobs(2) = %d jobs, %v", len(jobs), err)
	}
}

func testJobClaimOrder(t *testing.T, s JobBackend) {
	noClaim(t, s, "a")
	j1 := newJob(t, s, "r", 2, true)
	j2 := newJob(t, s, "r", 1, false)
	want := []struct {
		job string
		idx int
		pin bool
	}{{j1.ID, 0, true}, {j1.ID, 1, true}, {j2.ID, 0, false}}
	for _, w := range want {
		it := claim(t, s, "a", time.Minute)
		if it.JobID != w.job || it.Idx != w.idx || it.Pin != w.pin || it.State != db.ItemRunning ||
			it.ClaimedBy != "a" || it.Attempts != 1 || it.StartedAt.IsZero() || !it.ClaimedUntil.After(time.Now()) {
			t.Errorf("claimed %+v, want %s/%d pin=%v running for a", it, w.job, w.idx, w.pin)
		}
	}
	noClaim(t, s, "b")
	if j := getJob(t, s, j1.ID); j.State != db.JobRunning || j.Totals.ByState[db.ItemRunning] != 2 {
		t.Errorf("job after claims: %s, totals %+v", j.State, j.Totals)
	}
}

func testJobClaimSkip(t *testing.T, s JobBackend) {
	newJob(t, s, "busy", 2, false)
	other := newJob(t, s, "idle", 1, false)
	it := claim(t, s, "a", time.Minute, "busy", "full")
	if it.JobID != other.ID || it.Remote != "idle" {
		t.Errorf("claimed %+v, want the item of remote idle", it)
	}
	noClaim(t, s, "a", "busy")
	if it := claim(t, s, "a", time.Minute); it.Remote != "busy" || it.Idx != 0 {
		t.Errorf("claimed %+v without skip, want busy/0", it)
	}
}

func testJobProgress(t *testing.T, s JobBackend) {
	j := newJob(t, s, "r", 2, false)
	a := claim(t, s, "a", time.Minute)
	update(t, s, "a", a, db.ItemRunning, "", 100, 1000)
	got := getJob(t, s, j.ID)
	if it := got.Items[0]; it.State != db.ItemRunning || it.BytesDone != 100 || it.BytesTotal != 1000 || it.ClaimedUntil.IsZero() {
		t.Errorf("after progress: %+v", it)
	}
	update(t, s, "a", a, db.ItemCached, "", 1000, 1000)
	if got := getJob(t, s, j.ID); got.State != db.JobRunning {
		t.Errorf("job with a queued item is %s, want running", got.State)
	}
	b := claim(t, s, "b", time.Minute)
	update(t, s, "b", b, db.ItemFailed, "not found upstream (HTTP 404)", 0, 0)
	got = getJob(t, s, j.ID)
	if got.State != db.JobDone {
		t.Errorf("job state %s, want done", got.State)
	}
	first, second := got.Items[0], got.Items[1]
	if first.State != db.ItemCached || first.FinishedAt.IsZero() || !first.ClaimedUntil.IsZero() || first.ClaimedBy != "a" {
		t.Errorf("finished item %+v", first)
	}
	if second.State != db.ItemFailed || second.Reason != "not found upstream (HTTP 404)" || second.ClaimedBy != "b" {
		t.Errorf("failed item %+v", second)
	}
	if got.Totals.BytesDone != 1000 || got.Totals.BytesTotal != 1000 || got.Totals.Finished() != 2 {
		t.Errorf("totals %+v", got.Totals)
	}
	if jobs, err := s.ListJobs(ctx(t), 0); err != nil || jobs[0].State != db.JobDone || jobs[0].Totals.BytesDone != 1000 {
		t.Errorf("ListJobs = %+v, %v", jobs, err)
	}
	if err := s.UpdateItem(ctx(t), "a", db.ItemUpdate{JobID: j.ID, Idx: 0, State: "bogus"}); err == nil {
		t.Error("UpdateItem accepted an unknown state")
	}
}

func testJobClaimLost(t *testing.T, s JobBackend) {
	newJob(t, s, "r", 1, false)
	it := claim(t, s, "a", time.Minute)
	u := db.ItemUpdate{JobID: it.JobID, Idx: it.Idx, State: db.ItemCached}
	if err := s.UpdateItem(ctx(t), "b", u); !errors.Is(err, db.ErrClaimLost) {
		t.Errorf("UpdateItem by another instance = %v, want ErrClaimLost", err)
	}
	if err := s.RenewClaim(ctx(t), "b", it.JobID, it.Idx, time.Minute); !errors.Is(err, db.ErrClaimLost) {
		t.Errorf("RenewClaim by another instance = %v, want ErrClaimLost", err)
	}
	update(t, s, "a", it, db.ItemCached, "", 0, 0)
	if err := s.RenewClaim(ctx(t), "a", it.JobID, it.Idx, time.Minute); !errors.Is(err, db.ErrClaimLost) {
		t.Errorf("RenewClaim of a finished item = %v, want ErrClaimLost", err)
	}
	if err := s.UpdateItem(ctx(t), "a", u); !errors.Is(err, db.ErrClaimLost) {
		t.Errorf("UpdateItem of a finished item = %v, want ErrClaimLost", err)
	}
	for _, id := range []string{db.NewJobID(), "junk"} {
		if err := s.RenewClaim(ctx(t), "a", id, 0, time.Minute); !errors.Is(err, db.ErrClaimLost) {
			t.Errorf("RenewClaim(%q) = %v, want ErrClaimLost", id, err)
		}
	}
}

// testJobLeaseExpiry: an item whose claimant stopped renewing is claimed
// again by another instance; the first claimant's reports are refused.
func testJobLeaseExpiry(t *testing.T, s JobBackend) {
	j := newJob(t, s, "r", 1, false)
	first := claim(t, s, "a", 100*time.Millisecond)
	update(t, s, "a", first, db.ItemRunning, "", 50, 100)
	var second db.JobItem
	testenv.Eventually(t, 30*time.Second, "the expired claim to be taken over", func() bool {
		it, err := s.ClaimItem(ctx(t), "b", time.Minute)
		if err != nil && !errors.Is(err, db.ErrNotFound) {
			t.Fatal(err)
		}
		second = it
		return err == nil
	})
	if second.JobID != j.ID || second.ClaimedBy != "b" || second.Attempts != 2 || second.BytesDone != 0 {
		t.Errorf("taken over item %+v", second)
	}
	if err := s.UpdateItem(ctx(t), "a", db.ItemUpdate{JobID: j.ID, State: db.ItemCached}); !errors.Is(err, db.ErrClaimLost) {
		t.Errorf("old claimant's UpdateItem = %v, want ErrClaimLost", err)
	}
	update(t, s, "b", second, db.ItemCached, "", 100, 100)
	if got := getJob(t, s, j.ID); got.State != db.JobDone || got.Items[0].ClaimedBy != "b" {
		t.Errorf("job %+v", got)
	}
}

func testJobRenew(t *testing.T, s JobBackend) {
	j := newJob(t, s, "r", 1, false)
	it := claim(t, s, "a", time.Second)
	if err := s.RenewClaim(ctx(t), "a", it.JobID, it.Idx, time.Hour); err != nil {
		t.Fatalf("RenewClaim: %v", err)
	}
	if until := getJob(t, s, j.ID).Items[0].ClaimedUntil; until.Before(time.Now().Add(30 * time.Minute)) {
		t.Errorf("ClaimedUntil = %v after renewing for an hour", until)
	}
	noClaim(t, s, "b")
}

func testJobRelease(t *testing.T, s JobBackend) {
	j := newJob(t, s, "r", 1, false)
	it := claim(t, s, "a", time.Hour)
	update(t, s, "a", it, db.ItemQueued, "", 10, 100)
	got := getJob(t, s, j.ID).Items[0]
	if got.State != db.ItemQueued || got.ClaimedBy != "" || !got.ClaimedUntil.IsZero() || !got.FinishedAt.IsZero() {
		t.Errorf("released item %+v", got)
	}
	again := claim(t, s, "b", time.Hour)
	if again.Attempts != 2 || again.ClaimedBy != "b" || !again.StartedAt.Equal(it.StartedAt) {
		t.Errorf("reclaimed %+v (first claim started %v)", again, it.StartedAt)
	}
}

// testJobConcurrentFinish: workers finishing a job's last items at the same
// moment leave the job done.
func testJobConcurrentFinish(t *testing.T, s JobBackend) {
	for round := range 10 {
		j := newJob(t, s, "r", 4, false)
		items := make([]db.JobItem, 4)
		for i := range items {
			items[i] = claim(t, s, fmt.Sprintf("w%d", i), time.Minute)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, it := range items {
			wg.Go(func() {
				<-start
				u := db.ItemUpdate{JobID: it.JobID, Idx: it.Idx, State: db.ItemCached}
				if err := s.UpdateItem(ctx(t), fmt.Sprintf("w%d", i), u); err != nil {
					t.Errorf("UpdateItem: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		jobs, err := s.ListJobs(ctx(t), 1)
		if err != nil || len(jobs) != 1 || jobs[0].ID != j.ID || jobs[0].State != db.JobDone {
			t.Fatalf("round %d: ListJobs = %+v, %v; want job %s done", round, jobs, err, j.ID)
		}
	}
}

// RaceClaims has claimers on a and b (two handles on one database, or the
// same store twice) claim a job's items concurrently until none is left:
// each item must be claimed exactly once.
func RaceClaims(t *testing.T, a, b db.JobStore) {
	const items, perStore = 200, 4
	j := newJob(t, a, "r", items, false)
	var mu sync.Mutex
	claimed := map[int][]string{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 2 * perStore {
		s, name := a, fmt.Sprintf("a%d", i)
		if i%2 == 1 {
			s, name = b, fmt.Sprintf("b%d", i)
		}
		wg.Go(func() {
			<-start
			for {
				it, err := s.ClaimItem(ctx(t), name, time.Minute)
				if errors.Is(err, db.ErrNotFound) {
					return
				}
				if err != nil {
					t.Errorf("%s: ClaimItem: %v", name, err)
					return
				}
				mu.Lock()
				claimed[it.Idx] = append(claimed[it.Idx], name)
				mu.Unlock()
				if err := s.UpdateItem(ctx(t), name, db.ItemUpdate{JobID: it.JobID, Idx: it.Idx, State: db.ItemCached}); err != nil {
					t.Errorf("%s: UpdateItem: %v", name, err)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	for i := range items {
		if len(claimed[i]) != 1 {
			t.Errorf("item %d claimed by %v, want exactly one claimer", i, claimed[i])
		}
	}
	if got := getJob(t, a, j.ID); got.State != db.JobDone || got.Totals.ByState[db.ItemCached] != items {
		t.Errorf("job %s, totals %+v", got.State, got.Totals)
	}
}

func testJobPin(t *testing.T, s JobBackend) {
	put(t, s, sample("r", "a.jar"))
	if err := s.PinArtifact(ctx(t), "r", "a.jar"); err != nil {
		t.Fatalf("PinArtifact: %v", err)
	}
	if a := get(t, s, "r", "a.jar"); !a.Pinned {
		t.Error("artifact not pinned")
	}
	if err := s.PinArtifact(ctx(t), "r", "missing"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("PinArtifact(missing) = %v, want ErrNotFound", err)
	}
}

// testJobCancel: queued items end canceled, a running item finishes on its
// own and then the job is done; nothing canceled is claimed.
func testJobCancel(t *testing.T, s JobBackend) {
	j := newJob(t, s, "r", 3, false)
	other := newJob(t, s, "o", 1, false)
	running := claim(t, s, "a", time.Minute)
	n, err := s.CancelJob(ctx(t), j.ID)
	if err != nil || n != 2 {
		t.Fatalf("CancelJob = %d, %v; want 2 canceled", n, err)
	}
	got := getJob(t, s, j.ID)
	if got.State == db.JobDone || got.Totals.ByState[db.ItemCanceled] != 2 || got.Totals.ByState[db.ItemRunning] != 1 {
		t.Fatalf("after cancel: state %s, totals %+v", got.State, got.Totals)
	}
	for _, it := range got.Items[1:] {
		if it.State != db.ItemCanceled || it.Reason != db.CancelReason || it.FinishedAt.IsZero() {
			t.Errorf("canceled item %+v", it)
		}
	}
	// The other job's item is the only one left to claim.
	if it := claim(t, s, "b", time.Minute); it.JobID != other.ID {
		t.Fatalf("claimed %s/%d, want the other job's item", it.JobID, it.Idx)
	}
	noClaim(t, s, "b")
	update(t, s, "a", running, db.ItemCached, "", 10, 10)
	if got := getJob(t, s, j.ID); got.State != db.JobDone || got.Items[0].State != db.ItemCached {
		t.Fatalf("after the running item finished: job %s, item %s", got.State, got.Items[0].State)
	}
	// Again: nothing left to cancel. Unknown ids are not found.
	if n, err := s.CancelJob(ctx(t), j.ID); err != nil || n != 0 {
		t.Fatalf("second CancelJob = %d, %v", n, err)
	}
	for _, id := range []string{db.NewJobID(), "not-a-uuid"} {
		if _, err := s.CancelJob(ctx(t), id); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("CancelJob(%s) = %v, want ErrNotFound", id, err)
		}
	}
	// A job whose items are all queued is done at once.
	all := newJob(t, s, "q", 2, false)
	if _, err := s.CancelJob(ctx(t), all.ID); err != nil {
		t.Fatal(err)
	}
	if got := getJob(t, s, all.ID); got.State != db.JobDone || got.Totals.Finished() != 2 {
		t.Fatalf("all-queued job after cancel: %s %+v", got.State, got.Totals)
	}
}

// testJobRetention: done jobs older than the cut go with their items;
// pending and recent ones stay.
func testJobRetention(t *testing.T, s JobBackend) {
	done := newJob(t, s, "r", 2, false)
	for range 2 {
		it := claim(t, s, "a", time.Minute)
		update(t, s, "a", it, db.ItemCached, "", 1, 1)
	}
	pending := newJob(t, s, "r", 1, false)
	if n, err := s.DeleteJobsDoneBefore(ctx(t), time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("delete before an hour ago = %d, %v; want nothing", n, err)
	}
	if n, err := s.DeleteJobsDoneBefore(ctx(t), time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("delete = %d, %v; want the done job", n, err)
	}
	if _, err := s.GetJob(ctx(t), done.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("deleted job: %v", err)
	}
	if got := getJob(t, s, pending.ID); len(got.Items) != 1 || got.State == db.JobDone {
		t.Fatalf("pending job after retention: %+v", got)
	}
	// The pending job's item is still claimed as before.
	if it := claim(t, s, "b", time.Minute); it.JobID != pending.ID {
		t.Fatalf("claimed %s/%d", it.JobID, it.Idx)
	}
}
