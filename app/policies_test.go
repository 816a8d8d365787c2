package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
	"artifactapi/db"
)

// policyCall sends a JSON request to /api/policies… as admin and decodes the answer.
func policyCall(t *testing.T, in *apptest.Instance, method, path, body string, out any) int {
	t.Helper()
	hdr := apptest.Admin()
	var r io.Reader
	if body != "" {
		hdr["Content-Type"] = "application/json"
		r = strings.NewReader(body)
	}
	resp := in.Do(t, method, path, r, hdr)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s = %d %q: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

type previewAnswer struct {
	Count   int64 `json:"count"`
	Bytes   int64 `json:"bytes"`
	Matches []struct {
		Remote string `json:"remote"`
		Path   string `json:"path"`
	} `json:"matches"`
}

type policyAnswer struct {
	ID   int64 `json:"id"`
	Runs []struct {
		StartedBy    string     `json:"started_by"`
		ScheduledFor *time.Time `json:"scheduled_for"`
		Instance     string     `json:"instance"`
		FinishedAt   *time.Time `json:"finished_at"`
		Matched      int64      `json:"matched"`
		Evicted      int64      `json:"evicted"`
		BytesFreed   int64      `json:"bytes_freed"`
		Errors       int64      `json:"errors"`
	} `json:"runs"`
}

// fixture is one cached artifact, its size and how it was used.
type fixture struct {
	remote, path string
	size         int
	age, idle    time.Duration // since cached, since last access
	hits         int64
	pinned       bool
}

var policyFixtures = []fixture{
	{remote: "gen", path: "files/old.bin", size: 10_000, age: 40 * 24 * time.Hour, idle: time.Hour, hits: 5},
	{remote: "gen", path: "files/stale.bin", size: 11_000, age: 10 * 24 * time.Hour, idle: 10 * 24 * time.Hour, hits: 3},
	{remote: "gen", path: "files/unused.bin", size: 12_000, age: 3 * 24 * time.Hour, idle: 3 * 24 * time.Hour},
	{remote: "gen", path: "files/fresh.bin", size: 13_000},
	{remote: "gen", path: "files/big.bin", size: 300_000, hits: 1},
	{remote: "gen", path: "files/report-2024.tar.gz", size: 14_000, hits: 2},
	{remote: "gen", path: "files/Report-old.tar.gz", size: 15_000, hits: 2},
	{remote: "gen", path: "files/pinned-old.bin", size: 16_000, age: 40 * 24 * time.Hour, idle: 40 * 24 * time.Hour, pinned: true},
	{remote: "plain", path: "files/old.bin", size: 17_000, age: 40 * 24 * time.Hour, idle: 40 * 24 * time.Hour, hits: 1},
}

// seedPolicyFixtures caches every fixture through /api, then backdates
// its cached and access times and sets its hits and pin in the metadata
// store, as if it had been cached and used that long ago.
func seedPolicyFixtures(t *testing.T, in *apptest.Instance, o *origin) {
	t.Helper()
	ctx := context.Background()
	for i, f := range policyFixtures {
		o.set("/"+f.path, randBody(f.size, byte(i+1)))
		if err := in.App.Engine.Evict(ctx, f.remote, f.path, "test"); err != nil && !errors.Is(err, db.ErrNotFound) {
			t.Fatal(err)
		}
		if st, _, _ := in.Get(t, "/api/"+f.remote+"/"+f.path, nil); st != http.StatusOK {
			t.Fatalf("cache %s/%s: %d", f.remote, f.path, st)
		}
	}
	settle(t, in)
	in.App.Engine.FlushHits()
	now := time.Now()
	for _, f := range policyFixtures {
		a, ok := artifact(t, in, f.remote, f.path)
		if !ok {
			t.Fatalf("%s/%s not cached", f.remote, f.path)
		}
		a.CachedAt, a.LastAccess, a.Hits, a.Pinned = now.Add(-f.age), now.Add(-f.idle), f.hits, f.pinned
		if err := in.App.Meta.PutArtifact(ctx, a); err != nil {
			t.Fatal(err)
		}
		if got, _ := artifact(t, in, f.remote, f.path); got.Hits != f.hits || !got.CachedAt.Equal(a.CachedAt.Truncate(time.Microsecond)) && got.CachedAt.Sub(a.CachedAt).Abs() > time.Millisecond {
			t.Fatalf("%s/%s backdated to %+v", f.remote, f.path, got)
		}
	}
}

// TestPolicyCriteria: each criterion of a cleanup policy, alone or
// combined, per remote or across remotes, selects exactly the right
// artifacts (never a pinned one); the preview lists what a run then evicts,
// with the same totals, and the run is recorded in the policy's history.
func TestPolicyCriteria(t *testing.T) {
	tests := []struct {
		name string
		spec string
		want []string // remote/path
	}{
		{name: "cached before", spec: `"remote": "gen", "cached_before": "30d"`, want: []string{"gen/files/old.bin"}},
		{name: "last access", spec: `"remote": "gen", "accessed_before": "7d"`, want: []string{"gen/files/stale.bin"}},
		{name: "never accessed since", spec: `"remote": "gen", "unused_for": "2d"`, want: []string{"gen/files/unused.bin"}},
		{name: "larger than", spec: `"remote": "gen", "larger_than": "200KB"`, want: []string{"gen/files/big.bin"}},
		{name: "substring, any case", spec: `"remote": "gen", "query": "REPORT"`, want: []string{"gen/files/Report-old.tar.gz", "gen/files/report-2024.tar.gz"}},
		{name: "regex", spec: `"remote": "gen", "query": "^files/report-\\d{4}\\.tar\\.gz$", "regex": true`, want: []string{"gen/files/report-2024.tar.gz"}},
		{name: "across remotes", spec: `"cached_before": "30d"`, want: []string{"gen/files/old.bin", "plain/files/old.bin"}},
		{name: "combined", spec: `"accessed_before": "2d", "larger_than": "11500"`, want: []string{"gen/files/unused.bin", "plain/files/old.bin"}},
	}
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		o := newOrigin(t)
		in := start(t, mode, o)
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				seedPolicyFixtures(t, in, o)
				spec := fmt.Sprintf(`{"name": "p%d", %s}`, i, tc.spec)
				var pv previewAnswer
				if st := policyCall(t, in, http.MethodPost, "/api/policies/preview", spec, &pv); st != http.StatusOK {
					t.Fatalf("preview = %d", st)
				}
				var got []string
				for _, m := range pv.Matches {
					got = append(got, m.Remote+"/"+m.Path)
				}
				slices.Sort(got)
				var wantBytes int64
				for _, f := range policyFixtures {
					if slices.Contains(tc.want, f.remote+"/"+f.path) {
						wantBytes += int64(f.size)
					}
				}
				if !slices.Equal(got, tc.want) || pv.Count != int64(len(tc.want)) || pv.Bytes != wantBytes {
					t.Fatalf("preview = %v (count %d, %d bytes), want %v (%d bytes)", got, pv.Count, pv.Bytes, tc.want, wantBytes)
				}

				var saved policyAnswer
				if st := policyCall(t, in, http.MethodPost, "/api/policies", spec, &saved); st != http.StatusCreated || saved.ID == 0 {
					t.Fatalf("save = %d %+v", st, saved)
				}
				var stored previewAnswer
				policyCall(t, in, http.MethodGet, fmt.Sprintf("/api/policies/%d/preview", saved.ID), "", &stored)
				if stored.Count != pv.Count || stored.Bytes != pv.Bytes {
					t.Errorf("preview of the saved policy %+v differs from the unsaved one %+v", stored, pv)
				}
				if st := policyCall(t, in, http.MethodPost, fmt.Sprintf("/api/policies/%d/run", saved.ID), "", nil); st != http.StatusOK {
					t.Fatalf("run = %d", st)
				}
				for _, f := range policyFixtures {
					_, cached := artifact(t, in, f.remote, f.path)
					if gone := slices.Contains(tc.want, f.remote+"/"+f.path); cached == gone {
						t.Errorf("%s/%s cached %v after the run, want evicted %v", f.remote, f.path, cached, gone)
					}
				}
				var hist policyAnswer
				policyCall(t, in, http.MethodGet, fmt.Sprintf("/api/policies/%d", saved.ID), "", &hist)
				if len(hist.Runs) != 1 {
					t.Fatalf("history %+v, want one run", hist.Runs)
				}
				r := hist.Runs[0]
				if r.StartedBy != "api" || r.FinishedAt == nil || r.Matched != pv.Count || r.Evicted != pv.Count || r.BytesFreed != pv.Bytes || r.Errors != 0 {
					t.Errorf("run %+v, want %d matched and evicted, %d bytes freed", r, pv.Count, pv.Bytes)
				}
			})
		}
	})
}

// TestPolicyRefused: invalid policies are refused with every problem named;
// a duplicate name is a conflict; the API needs the admin credential.
func TestPolicyRefused(t *testing.T) {
	o := newOrigin(t)
	in := start(t, apptest.Embedded, o)
	tests := []struct {
		name, body string
		status     int
		errParts   []string
	}{
		{name: "no criteria", body: `{"name": "all"}`, status: 400, errParts: []string{"at least one"}},
		{name: "local remote", body: `{"name": "x", "remote": "local", "query": "a"}`, status: 400, errParts: []string{"local repository"}},
		{name: "unknown remote", body: `{"name": "x", "remote": "nope", "query": "a"}`, status: 400, errParts: []string{`no remote "nope"`}},
		{name: "bad regex and duration", body: `{"name": "x", "query": "(", "regex": true, "every": "daily"}`, status: 400,
			errParts: []string{"every:", `"daily"`}},
		{name: "bad regex", body: `{"name": "x", "query": "(a", "regex": true}`, status: 400, errParts: []string{"regular expression"}},
		{name: "unknown field", body: `{"name": "x", "query": "a", "older": "1d"}`, status: 400, errParts: []string{"unknown field"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			st := policyCall(t, in, http.MethodPost, "/api/policies", tc.body, &m)
			msg, _ := m["error"].(string)
			if st != tc.status {
				t.Fatalf("status %d (%q), want %d", st, msg, tc.status)
			}
			for _, p := range tc.errParts {
				if !strings.Contains(msg, p) {
					t.Errorf("error %q lacks %q", msg, p)
				}
			}
		})
	}
	if st := policyCall(t, in, http.MethodPost, "/api/policies", `{"name": "dup", "query": "a"}`, nil); st != http.StatusCreated {
		t.Fatalf("create = %d", st)
	}
	if st := policyCall(t, in, http.MethodPost, "/api/policies", `{"name": "dup", "query": "b"}`, nil); st != http.StatusConflict {
		t.Errorf("duplicate name = %d, want 409", st)
	}
	if st, _, _ := in.Get(t, "/api/policies", nil); st != http.StatusUnauthorized {
		t.Errorf("GET /api/policies without a credential = %d, want 401", st)
	}

	// Saving, running and deleting are audited, refusals as failed.
	var list struct {
		Policies []struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		} `json:"policies"`
	}
	policyCall(t, in, http.MethodGet, "/api/policies", "", &list)
	if len(list.Policies) != 1 || list.Policies[0].Name != "dup" {
		t.Fatalf("policies = %+v", list.Policies)
	}
	id := list.Policies[0].ID
	if st := policyCall(t, in, http.MethodPost, fmt.Sprintf("/api/policies/%d/run", id), "", nil); st != http.StatusOK {
		t.Fatalf("run = %d", st)
	}
	if st := policyCall(t, in, http.MethodDelete, fmt.Sprintf("/api/policies/%d", id), "", nil); st != http.StatusNoContent {
		t.Fatalf("delete = %d", st)
	}
	if st := policyCall(t, in, http.MethodGet, fmt.Sprintf("/api/policies/%d", id), "", nil); st != http.StatusNotFound {
		t.Errorf("deleted policy = %d, want 404", st)
	}
	var audit struct {
		Entries []struct {
			Action, Target, Outcome, Actor string
		} `json:"entries"`
	}
	_, _, b := in.Get(t, "/audit?limit=100", apptest.Admin())
	if err := json.Unmarshal(b, &audit); err != nil {
		t.Fatalf("GET /audit: %s", b)
	}
	seen := map[string]int{}
	for _, e := range audit.Entries {
		if strings.HasPrefix(e.Action, "policy.") {
			seen[e.Action+" "+e.Outcome]++
		}
	}
	// Refused saves: the table's, but the body that is not read (unknown
	// field), and the duplicate name.
	refused := len(tests) - 1 + 1
	want := map[string]int{"policy.save ok": 1, "policy.save failed": refused, "policy.run ok": 1, "policy.delete ok": 1}
	for k, n := range want {
		if seen[k] != n {
			t.Errorf("audit %q recorded %d times, want %d (all: %v)", k, seen[k], n, seen)
		}
	}
}

// TestPolicyScheduledOnceAcrossReplicas: a policy scheduled every second on
// two replicas sharing PostgreSQL and Redis runs each slot once (its
// history has one run per scheduled time), its first run evicts what it
// matches and the later ones find nothing; after both replicas restart,
// the schedule goes on from the database.
func TestPolicyScheduledOnceAcrossReplicas(t *testing.T) {
	b := apptest.NewBackends(t, apptest.Production)
	o := newOrigin(t)
	opts := apptest.Options{Remotes: remotesFor(o, ""), Env: map[string]string{"POLICY_POLL": "200ms"}}
	a, c := apptest.Start(t, b, opts), apptest.Start(t, b, opts)
	for i, p := range []string{"files/s1.bin", "files/s2.bin", "files/s3.bin"} {
		o.set("/"+p, randBody(5_000, byte(i+1)))
		if st, _, _ := a.Get(t, "/api/gen/"+p, nil); st != http.StatusOK {
			t.Fatalf("cache %s: %d", p, st)
		}
	}
	settle(t, a)
	var saved policyAnswer
	if st := policyCall(t, a, http.MethodPost, "/api/policies", `{"name": "sweep", "remote": "gen", "query": "files/s", "every": "1s"}`, &saved); st != http.StatusCreated {
		t.Fatalf("save = %d", st)
	}
	path := fmt.Sprintf("/api/policies/%d", saved.ID)
	var h policyAnswer
	finished := func(in *apptest.Instance, n int) func() bool {
		return func() bool {
			h = policyAnswer{}
			policyCall(t, in, http.MethodGet, path, "", &h)
			done := 0
			for _, r := range h.Runs {
				if r.FinishedAt != nil {
					done++
				}
			}
			return done >= n
		}
	}
	testenv.Eventually(t, 60*time.Second, "four scheduled runs", finished(c, 4))
	check := func() {
		t.Helper()
		slots := map[time.Time]int{}
		var evicted int64
		for _, r := range h.Runs {
			if r.StartedBy != "schedule" || r.ScheduledFor == nil {
				t.Fatalf("run %+v is not a scheduled one", r)
			}
			slots[r.ScheduledFor.UTC()]++
			evicted += r.Evicted
		}
		for s, n := range slots {
			if n != 1 {
				t.Errorf("slot %v ran %d times, want once", s, n)
			}
		}
		if evicted != 3 {
			t.Errorf("runs evicted %d artifacts in all, want 3 (the first run only): %+v", evicted, h.Runs)
		}
		last := h.Runs[len(h.Runs)-1]
		if last.Matched != 3 || last.Evicted != 3 || last.BytesFreed != 15_000 {
			t.Errorf("first run %+v, want 3 matched and evicted, 15000 bytes freed", last)
		}
	}
	check()
	// Each scheduled run is audited as the system's (written just after
	// the run is recorded).
	testenv.Eventually(t, 20*time.Second, "the scheduled runs in the audit log", func() bool {
		_, _, ab := c.Get(t, "/audit?action=policy.run&actor=system", apptest.Admin())
		return strings.Count(string(ab), `"target":"sweep"`) >= 4
	})
	for _, p := range []string{"files/s1.bin", "files/s2.bin", "files/s3.bin"} {
		if _, ok := artifact(t, a, "gen", p); ok {
			t.Errorf("%s still cached", p)
		}
	}

	// Both replicas stop; one comes back and the schedule goes on.
	a.Stop()
	c.Stop()
	before := len(h.Runs)
	d := apptest.Start(t, b, opts)
	testenv.Eventually(t, 60*time.Second, "a scheduled run after the restart", finished(d, before+2))
	check()
}

// TestPolicyDeclaredInRemotesFile: policies declared in remotes.yaml appear
// (marked declared) and cannot be changed or deleted through the API; a
// reload applies a changed declaration, removes one no longer in the file,
// and leaves policies made by hand alone.
func TestPolicyDeclaredInRemotesFile(t *testing.T) {
	o := newOrigin(t)
	decl := func(query string) string {
		return remotesFor(o, "") + "policies:\n  nightly:\n    remote: gen\n    query: " + query + "\n    cached_before: 7d\n    every: 24h\n"
	}
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: decl("nightly/")})
	type listed struct {
		Policies []struct {
			ID           int64  `json:"id"`
			Name         string `json:"name"`
			Query        string `json:"query"`
			CachedBefore string `json:"cached_before"`
			Every        string `json:"every"`
			Declared     bool   `json:"declared"`
		} `json:"policies"`
	}
	get := func() listed {
		var l listed
		if st := policyCall(t, in, http.MethodGet, "/api/policies", "", &l); st != http.StatusOK {
			t.Fatalf("GET /api/policies = %d", st)
		}
		return l
	}
	l := get()
	if len(l.Policies) != 1 || l.Policies[0].Name != "nightly" || !l.Policies[0].Declared || l.Policies[0].Query != "nightly/" ||
		l.Policies[0].CachedBefore != "7d" || l.Policies[0].Every != "1d" {
		t.Fatalf("policies = %+v", l.Policies)
	}
	id := l.Policies[0].ID
	path := fmt.Sprintf("/api/policies/%d", id)
	if st := policyCall(t, in, http.MethodPut, path, `{"name": "nightly", "query": "x"}`, nil); st != http.StatusConflict {
		t.Errorf("PUT of a declared policy = %d, want 409", st)
	}
	if st := policyCall(t, in, http.MethodDelete, path, "", nil); st != http.StatusConflict {
		t.Errorf("DELETE of a declared policy = %d, want 409", st)
	}
	if st := policyCall(t, in, http.MethodPost, "/api/policies", `{"name": "by hand", "query": "tmp/"}`, nil); st != http.StatusCreated {
		t.Fatalf("create = %d", st)
	}

	// The file changes: the declaration is applied on reload.
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(in.DataDir, "remotes.yaml"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := in.App.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	write(decl("snapshots/"))
	l = get()
	if len(l.Policies) != 2 || l.Policies[1].Name != "nightly" || l.Policies[1].Query != "snapshots/" || l.Policies[1].ID != id {
		t.Fatalf("after the change: %+v", l.Policies)
	}
	write(remotesFor(o, ""))
	l = get()
	if len(l.Policies) != 1 || l.Policies[0].Name != "by hand" || l.Policies[0].Declared {
		t.Fatalf("after the removal: %+v", l.Policies)
	}
}
