package app_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// jobView is GET /jobs/{id} as a client sees it.
type jobView struct {
	ID     string `json:"id"`
	URL    string `json:"url"`
	Remote string `json:"remote"`
	State  string `json:"state"`
	Pin    bool   `json:"pin"`
	Totals struct {
		Items      int            `json:"items"`
		Finished   int            `json:"finished"`
		ByState    map[string]int `json:"by_state"`
		BytesDone  int64          `json:"bytes_done"`
		BytesTotal int64          `json:"bytes_total"`
		Progress   float64        `json:"progress"`
	} `json:"totals"`
	Items []struct {
		Idx        int    `json:"idx"`
		Remote     string `json:"remote"`
		Path       string `json:"path"`
		URL        string `json:"url"`
		State      string `json:"state"`
		Reason     string `json:"reason"`
		BytesDone  int64  `json:"bytes_done"`
		BytesTotal int64  `json:"bytes_total"`
		Attempts   int    `json:"attempts"`
		Worker     string `json:"worker"`
	} `json:"items"`
}

// postJob sends POST /cache-artifact and decodes the JSON answer.
func postJob(t *testing.T, in *apptest.Instance, body string, hdr map[string]string) (int, http.Header, map[string]any) {
	t.Helper()
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range hdr {
		h[k] = v
	}
	resp := in.Do(t, http.MethodPost, "/cache-artifact", strings.NewReader(body), h)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("POST /cache-artifact: status %d, body %q is not JSON", resp.StatusCode, b)
	}
	return resp.StatusCode, resp.Header, m
}

// submitJob queues a job as admin and returns its id.
func submitJob(t *testing.T, in *apptest.Instance, body string) string {
	t.Helper()
	st, h, m := postJob(t, in, body, apptest.Admin())
	id, _ := m["id"].(string)
	if st != http.StatusAccepted || id == "" || h.Get("Location") != "/jobs/"+id || m["url"] != "/jobs/"+id {
		t.Fatalf("POST /cache-artifact = %d, Location %q, %v", st, h.Get("Location"), m)
	}
	return id
}

func getJobView(t *testing.T, in *apptest.Instance, id string) jobView {
	t.Helper()
	st, _, b := in.Get(t, "/jobs/"+id, nil)
	var v jobView
	if err := json.Unmarshal(b, &v); st != http.StatusOK || err != nil {
		t.Fatalf("GET /jobs/%s = %d %s (%v)", id, st, b, err)
	}
	return v
}

// waitJobDone polls GET /jobs/{id} until the job is done.
func waitJobDone(t *testing.T, in *apptest.Instance, id string) jobView {
	t.Helper()
	var v jobView
	testenv.Eventually(t, 60*time.Second, "job "+id+" to finish", func() bool {
		v = getJobView(t, in, id)
		return v.State == "done"
	})
	return v
}

func quoted(paths []string) string {
	b, _ := json.Marshal(paths)
	return string(b)
}

// TestJobMixedItems: a job of 16 paths mixing cacheable, already cached
// and missing artifacts gives each item the right state, fetches each
// needed artifact once and pins what it caches. (Paths the patterns deny
// are refused at submit: TestJobSubmitListsEveryInvalidPath.)
func TestJobMixedItems(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		o := newOrigin(t)
		in := start(t, mode, o)
		want := map[string]string{} // path → state
		var paths []string
		add := func(p, state string) {
			paths = append(paths, p)
			want[p] = state
		}
		for i := range 8 {
			o.set(fmt.Sprintf("/files/c%d.bin", i), randBody(50_000+i*1000, byte(i)))
			add(fmt.Sprintf("files/c%d.bin", i), "cached")
		}
		for i := range 4 {
			p := fmt.Sprintf("files/pre%d.bin", i)
			o.set("/"+p, randBody(10_000, byte(20+i)))
			if st, _, _ := in.Get(t, "/api/gen/"+p, nil); st != http.StatusOK {
				t.Fatalf("warm %s: %d", p, st)
			}
			add(p, "already_cached")
		}
		settle(t, in)
		for i := range 4 {
			add(fmt.Sprintf("files/missing%d.bin", i), "failed")
		}
		id := submitJob(t, in, `{"remote": "gen", "pin": true, "paths": `+quoted(paths)+`}`)
		v := waitJobDone(t, in, id)

		if v.Remote != "gen" || !v.Pin || len(v.Items) != 16 {
			t.Fatalf("job remote %q pin %v with %d items", v.Remote, v.Pin, len(v.Items))
		}
		for i, it := range v.Items {
			p := paths[i]
			if it.Idx != i || it.Path != p || it.Remote != "gen" || it.State != want[p] {
				t.Errorf("item %d: %s/%s %s (%s), want %s %s", i, it.Remote, it.Path, it.State, it.Reason, p, want[p])
				continue
			}
			n := o.count("/" + p)
			switch it.State {
			case "cached", "already_cached":
				a, ok := artifact(t, in, "gen", p)
				if !ok || !a.Pinned || it.BytesDone != a.Size || it.BytesTotal != a.Size || a.Size == 0 {
					t.Errorf("%s: artifact %+v (cached %v), item bytes %d/%d", p, a, ok, it.BytesDone, it.BytesTotal)
				}
				if n != 1 {
					t.Errorf("%s fetched %d times upstream, want 1", p, n)
				}
			case "failed":
				if it.Reason != "not found upstream (HTTP 404)" || n != 1 {
					t.Errorf("%s: reason %q, fetched %d times", p, it.Reason, n)
				}
				if _, ok := artifact(t, in, "gen", p); ok {
					t.Errorf("%s cached although missing upstream", p)
				}
			}
		}
		tot := v.Totals
		if tot.Items != 16 || tot.Finished != 16 || tot.Progress != 100 || tot.ByState["cached"] != 8 ||
			tot.ByState["already_cached"] != 4 || tot.ByState["denied"] != 0 || tot.ByState["failed"] != 4 ||
			tot.BytesDone != tot.BytesTotal || tot.BytesDone == 0 {
			t.Errorf("totals %+v", tot)
		}

		// GET /jobs lists jobs newest first.
		second := submitJob(t, in, `{"remote": "gen", "paths": ["files/c0.bin"]}`)
		waitJobDone(t, in, second)
		st, _, b := in.Get(t, "/jobs", nil)
		var list struct{ Jobs []jobView }
		if err := json.Unmarshal(b, &list); st != http.StatusOK || err != nil || len(list.Jobs) != 2 {
			t.Fatalf("GET /jobs = %d %s", st, b)
		}
		if list.Jobs[0].ID != second || list.Jobs[1].ID != id || list.Jobs[1].Totals.ByState["cached"] != 8 || list.Jobs[1].Items != nil {
			t.Errorf("GET /jobs = %s", b)
		}
	})
}

// TestJobRetriesTransientFailures: an upstream 5xx is tried again after a
// pause (the item then caches), a lasting one fails after the retries with
// the count in its reason, and a 404 is never retried.
func TestJobRetriesTransientFailures(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		o := newOrigin(t)
		in := start(t, mode, o)
		flaky := o.set("/files/flaky.bin", randBody(40_000, 3))
		o.mu.Lock()
		flaky.failFirst = 2
		o.mu.Unlock()
		o.setStatus("/files/down.bin", http.StatusServiceUnavailable)
		id := submitJob(t, in, `{"remote": "gen", "paths": ["files/flaky.bin", "files/down.bin", "files/gone.bin"]}`)
		v := waitJobDone(t, in, id)
		want := []struct {
			path, state, reason string
			gets                int
		}{
			{"files/flaky.bin", "cached", "", 3},
			{"files/down.bin", "failed", "upstream error (HTTP 503) (3 attempts)", 3},
			{"files/gone.bin", "failed", "not found upstream (HTTP 404)", 1},
		}
		for i, w := range want {
			it := v.Items[i]
			if it.Path != w.path || it.State != w.state || it.Reason != w.reason {
				t.Errorf("item %d: %s %s %q, want %s %s %q", i, it.Path, it.State, it.Reason, w.path, w.state, w.reason)
			}
			// Every try is counted: attempts equals the upstream GETs made.
			if it.Attempts != w.gets {
				t.Errorf("%s: attempts %d, want %d", w.path, it.Attempts, w.gets)
			}
			if n := o.count("/" + w.path); n != w.gets {
				t.Errorf("%s: %d upstream GETs, want %d", w.path, n, w.gets)
			}
		}
		if st, h, b := in.Get(t, "/api/gen/files/flaky.bin", nil); st != http.StatusOK || h.Get("X-Artifact-Source") != "cache" || sha(b) != sha(flaky.body) {
			t.Fatalf("after the job: %d from %q", st, h.Get("X-Artifact-Source"))
		}
		if logs := in.Logs.String(); !strings.Contains(logs, "jobs: item failed after retries") || !strings.Contains(logs, "files/down.bin") {
			t.Errorf("the final failure of a retried item is not logged:\n%s", logs)
		}
	})
}

// TestJobCancel: canceling ends the queued items without fetching them,
// lets the running one finish and cache, and then the job is done. Only the
// admin may cancel; an unknown job is 404.
func TestJobCancel(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		o := newOrigin(t)
		in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: remotesFor(o, ""), Env: map[string]string{"JOB_CONCURRENCY": "1"}})
		slow := o.set("/files/slow.bin", randBody(60_000, 5))
		slow.gate, slow.sentHalf = make(chan struct{}), make(chan struct{})
		paths := []string{"files/slow.bin"}
		for i := range 5 {
			p := fmt.Sprintf("files/q%d.bin", i)
			o.set("/"+p, randBody(1000, byte(i)))
			paths = append(paths, p)
		}
		id := submitJob(t, in, `{"remote": "gen", "paths": `+quoted(paths)+`}`)
		<-slow.sentHalf // the first item is running; one at a time, the rest wait

		cancel := func(hdr map[string]string, jobID string) (int, map[string]any) {
			resp := in.Do(t, http.MethodPost, "/jobs/"+jobID+"/cancel", nil, hdr)
			defer resp.Body.Close()
			var m map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&m)
			return resp.StatusCode, m
		}
		if st, _ := cancel(nil, id); st != http.StatusUnauthorized {
			t.Fatalf("cancel without credentials: %d", st)
		}
		st, m := cancel(apptest.Admin(), id)
		if st != http.StatusOK || m["canceled"] != float64(5) || m["id"] != id || m["state"] == "done" {
			t.Fatalf("cancel: %d %v", st, m)
		}
		close(slow.gate)
		v := waitJobDone(t, in, id)
		for i, it := range v.Items {
			want, reason := "canceled", "job canceled"
			if i == 0 {
				want, reason = "cached", ""
			}
			if it.State != want || it.Reason != reason {
				t.Errorf("item %d (%s): %s %q, want %s", i, it.Path, it.State, it.Reason, want)
			}
			if n := o.count("/" + it.Path); n != map[bool]int{true: 1, false: 0}[i == 0] {
				t.Errorf("%s fetched %d times upstream", it.Path, n)
			}
		}
		if v.Totals.ByState["canceled"] != 5 || v.Totals.ByState["cached"] != 1 {
			t.Errorf("totals %+v", v.Totals)
		}
		if st, m := cancel(apptest.Admin(), id); st != http.StatusOK || m["canceled"] != float64(0) {
			t.Errorf("second cancel: %d %v", st, m)
		}
		if st, _ := cancel(apptest.Admin(), "00000000-0000-4000-8000-000000000000"); st != http.StatusNotFound {
			t.Errorf("cancel of an unknown job: %d", st)
		}
	})
}

// TestJobItemsSelection: GET /jobs/{id} pages through a job's items and
// filters them by state; bad parameters are refused.
func TestJobItemsSelection(t *testing.T) {
	o := newOrigin(t)
	in := start(t, apptest.Embedded, o)
	var paths []string
	for i := range 7 {
		p := fmt.Sprintf("files/s%d.bin", i)
		if i%3 == 0 {
			o.set("/"+p, randBody(1000, byte(i)))
		}
		paths = append(paths, p) // s0, s3, s6 exist; the others fail
	}
	id := submitJob(t, in, `{"remote": "gen", "paths": `+quoted(paths)+`}`)
	waitJobDone(t, in, id)

	type page struct {
		Items []struct {
			Idx   int    `json:"idx"`
			State string `json:"state"`
		} `json:"items"`
		NextAfter *int `json:"next_after"`
		Totals    struct {
			Items int `json:"items"`
		} `json:"totals"`
	}
	get := func(query string) (int, page) {
		st, _, b := in.Get(t, "/jobs/"+id+query, nil)
		var p page
		if st == http.StatusOK {
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatalf("%s: %v: %s", query, err, b)
			}
		}
		return st, p
	}
	idxs := func(p page) string {
		var out []string
		for _, it := range p.Items {
			out = append(out, fmt.Sprint(it.Idx))
		}
		return strings.Join(out, ",")
	}
	if _, p := get(""); idxs(p) != "0,1,2,3,4,5,6" || p.NextAfter != nil {
		t.Fatalf("all items: %s, next %v", idxs(p), p.NextAfter)
	}
	if _, p := get("?state=failed"); idxs(p) != "1,2,4,5" || p.Totals.Items != 7 {
		t.Fatalf("failed items: %s (totals %d)", idxs(p), p.Totals.Items)
	}
	// Pages of 3 of the failed items: 1,2,4 then 5.
	_, p := get("?state=failed&limit=3")
	if idxs(p) != "1,2,4" || p.NextAfter == nil || *p.NextAfter != 4 {
		t.Fatalf("first page: %s, next %v", idxs(p), p.NextAfter)
	}
	if _, p = get(fmt.Sprintf("?state=failed&limit=3&after=%d", *p.NextAfter)); idxs(p) != "5" || p.NextAfter != nil {
		t.Fatalf("second page: %s, next %v", idxs(p), p.NextAfter)
	}
	if _, p = get("?state=canceled,denied"); len(p.Items) != 0 || p.Items == nil {
		t.Fatalf("no canceled or denied items: %+v", p.Items)
	}
	for _, bad := range []string{"?state=broken", "?limit=0", "?limit=x", "?after=-2"} {
		if st, _ := get(bad); st != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, st)
		}
	}
}

// TestJobRetention: a finished job is deleted once JOB_RETENTION has
// passed since it ended.
func TestJobRetention(t *testing.T) {
	o := newOrigin(t)
	o.set("/files/r.bin", randBody(1000, 1))
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: remotesFor(o, ""),
		Env: map[string]string{"JOB_RETENTION": "2s"}})
	id := submitJob(t, in, `{"remote": "gen", "paths": ["files/r.bin"]}`)
	waitJobDone(t, in, id)
	testenv.Eventually(t, 20*time.Second, "the finished job deleted", func() bool {
		st, _, _ := in.Get(t, "/jobs/"+id, nil)
		return st == http.StatusNotFound
	})
	if st, _, _ := in.Get(t, "/api/gen/files/r.bin", nil); st != http.StatusOK {
		t.Fatalf("the job's artifact after the job was deleted: %d", st)
	}
}

// TestJobURLs: each URL goes to the remote with the longest matching
// base_url; a URL of no remote is refused on its own.
func TestJobURLs(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		o := newOrigin(t)
		extra := fmt.Sprintf("  deep:\n    base_url: %q\n    package: generic\n  files:\n    base_url: %q\n    query_params: [\"v\"]\n",
			o.URL+"/deep", o.URL+"/files")
		in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: remotesFor(o, extra)})
		o.set("/files/u1.bin", randBody(1000, 1))
		o.set("/deep/u2.bin", randBody(2000, 2))
		o.set("/files/q.bin?v=1", randBody(3000, 3))
		urls := []string{o.URL + "/files/u1.bin", o.URL + "/deep/u2.bin", "http://elsewhere.invalid/files/x.bin",
			"::not a url", o.URL + "/files/q.bin?v=1"}
		id := submitJob(t, in, `{"urls": `+quoted(urls)+`}`)
		v := waitJobDone(t, in, id)
		want := []struct{ remote, path, state, reason string }{
			{"files", "u1.bin", "cached", ""},
			{"deep", "u2.bin", "cached", ""},
			{"", "", "failed", "URL matches no remote"},
			{"", "", "failed", "invalid URL"},
			{"files", "q.bin?v=1", "cached", ""}, // an allow-listed query parameter is kept
		}
		if v.Remote != "" || len(v.Items) != len(want) {
			t.Fatalf("job %+v", v)
		}
		for i, w := range want {
			it := v.Items[i]
			if it.URL != urls[i] || it.Remote != w.remote || it.Path != w.path || it.State != w.state || it.Reason != w.reason {
				t.Errorf("item %d = %+v, want %+v", i, it, w)
			}
		}
		for _, p := range []string{"/files/u1.bin", "/deep/u2.bin", "/files/q.bin?v=1"} {
			if n := o.count(p); n != 1 {
				t.Errorf("%s fetched %d times, want 1", p, n)
			}
		}
		if a, ok := artifact(t, in, "deep", "u2.bin"); !ok || a.Pinned {
			t.Errorf("deep/u2.bin: cached %v, %+v (not pinned: the job did not ask)", ok, a)
		}
	})
}

// TestJobAdminAndValidation: submitting needs the admin credential; bad
// submissions are refused whole with 400 and a JSON error.
func TestJobAdminAndValidation(t *testing.T) {
	o := newOrigin(t)
	o.set("/files/a.bin", randBody(100, 1))
	in := start(t, apptest.Embedded, o)
	ok := `{"remote": "gen", "paths": ["files/a.bin"]}`
	auth := []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{name: "no credential", want: http.StatusUnauthorized},
		{name: "wrong token", hdr: map[string]string{"Authorization": "Bearer nope"}, want: http.StatusUnauthorized},
		{name: "basic with the token", hdr: map[string]string{"Authorization": "Basic " + basic("admin", apptest.AdminToken)}, want: http.StatusAccepted},
		{name: "bearer", hdr: apptest.Admin(), want: http.StatusAccepted},
	}
	for _, tc := range auth {
		t.Run(tc.name, func(t *testing.T) {
			st, h, m := postJob(t, in, ok, tc.hdr)
			if st != tc.want {
				t.Fatalf("status %d, want %d (%v)", st, tc.want, m)
			}
			if st == http.StatusUnauthorized && (h.Get("WWW-Authenticate") == "" || m["error"] == nil) {
				t.Errorf("401 without challenge or error: %v %v", h, m)
			}
		})
	}
	if st, _, b := in.Get(t, "/jobs", nil); st != http.StatusOK || strings.Count(string(b), `"id"`) != 2 {
		t.Errorf("GET /jobs after two accepted jobs = %d %s", st, b)
	}

	many := make([]string, 10001)
	for i := range many {
		many[i] = fmt.Sprintf("files/%d.bin", i)
	}
	bad := []struct {
		name, body, errPart string
	}{
		{name: "not json", body: `{"remote": `, errPart: "invalid JSON"},
		{name: "neither", body: `{"remote": "gen"}`, errPart: `give "paths"`},
		{name: "both", body: `{"remote": "gen", "paths": ["a.bin"], "urls": ["http://x/a.bin"]}`, errPart: "not both"},
		{name: "empty paths", body: `{"remote": "gen", "paths": []}`, errPart: "empty"},
		{name: "empty urls", body: `{"urls": []}`, errPart: "empty"},
		{name: "no remote", body: `{"paths": ["files/a.bin"]}`, errPart: `"remote" is required`},
		{name: "unknown remote", body: `{"remote": "nope", "paths": ["files/a.bin"]}`, errPart: "unknown remote"},
		{name: "local remote", body: `{"remote": "local", "paths": ["files/a.bin"]}`, errPart: "local repository"},
		{name: "traversal", body: `{"remote": "gen", "paths": ["files/a.bin", "../../etc/passwd"]}`, errPart: "invalid path"},
		{name: "encoded traversal", body: `{"remote": "gen", "paths": ["files/%2e%2e/%2e%2e/x"]}`, errPart: "invalid path"},
		{name: "empty path", body: `{"remote": "gen", "paths": ["/"]}`, errPart: "invalid path"},
		{name: "remote with urls", body: `{"remote": "gen", "urls": ["http://x/a.bin"]}`, errPart: "not used"},
		{name: "too many", body: `{"remote": "gen", "paths": ` + quoted(many) + `}`, errPart: "too many"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			st, _, m := postJob(t, in, tc.body, apptest.Admin())
			msg, _ := m["error"].(string)
			if st != http.StatusBadRequest || !strings.Contains(msg, tc.errPart) {
				t.Errorf("status %d, error %q; want 400 with %q", st, msg, tc.errPart)
			}
		})
	}
	if st, _, b := in.Get(t, "/jobs", nil); st != http.StatusOK || strings.Count(string(b), `"id"`) != 2 {
		t.Errorf("refused submissions created jobs: %s", b)
	}
	for _, p := range []string{"/jobs/" + "00000000-0000-4000-8000-000000000000", "/jobs/not-a-job"} {
		if st, _, b := in.Get(t, p, nil); st != http.StatusNotFound || !strings.Contains(string(b), `"error"`) {
			t.Errorf("GET %s = %d %s, want 404", p, st, b)
		}
	}
	if st, _, _ := in.Get(t, "/jobs?limit=0", nil); st != http.StatusBadRequest {
		t.Errorf("GET /jobs?limit=0 = %d, want 400", st)
	}
}

func basic(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// TestJobResumesAfterRestart: an instance stopped while a job's item is
// downloading gives the item back; the next instance on the same backends
// finishes the job, and nothing is fetched twice.
func TestJobResumesAfterRestart(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		o := newOrigin(t)
		slow := o.set("/files/slow.bin", randBody(200_000, 9))
		slow.gate, slow.sentHalf = make(chan struct{}), make(chan struct{})
		paths := []string{"files/slow.bin"}
		for i := range 5 {
			o.set(fmt.Sprintf("/files/r%d.bin", i), randBody(20_000, byte(i)))
			paths = append(paths, fmt.Sprintf("files/r%d.bin", i))
		}
		b := apptest.NewBackends(t, mode)
		opts := apptest.Options{Remotes: remotesFor(o, ""), DataDir: t.TempDir(), Env: map[string]string{"JOB_CONCURRENCY": "1"}}
		a := apptest.Start(t, b, opts)
		id := submitJob(t, a, `{"remote": "gen", "paths": `+quoted(paths)+`}`)
		select {
		case <-slow.sentHalf:
		case <-time.After(30 * time.Second):
			t.Fatal("the job never started downloading")
		}
		if v := getJobView(t, a, id); v.State != "running" || v.Items[0].State != "running" || v.Totals.ByState["queued"] != 5 {
			t.Fatalf("before the restart: job %s, items %+v", v.State, v.Items)
		}
		stopped := make(chan struct{})
		go func() { a.Stop(); close(stopped) }()
		testenv.Eventually(t, 20*time.Second, "the running item to be released", func() bool {
			return strings.Contains(a.Logs.String(), "released for any replica to resume")
		})
		close(slow.gate) // the stopping engine finishes and commits the download
		<-stopped

		bb := apptest.Start(t, b, opts)
		v := waitJobDone(t, bb, id)
		for i, it := range v.Items {
			if it.State != "cached" || it.Worker != bb.App.Jobs.Instance() {
				t.Errorf("item %d (%s): %s by %s (%s)", i, it.Path, it.State, it.Worker, it.Reason)
			}
			if n := o.count("/" + it.Path); n != 1 {
				t.Errorf("%s fetched %d times, want 1", it.Path, n)
			}
			if a, ok := artifact(t, bb, "gen", it.Path); !ok || a.Pinned {
				t.Errorf("%s: cached %v, pinned %v (the job did not ask to pin)", it.Path, ok, a.Pinned)
			}
		}
		if v.Items[0].Attempts != 2 {
			t.Errorf("interrupted item attempts = %d, want 2", v.Items[0].Attempts)
		}
	})
}

// TestJobTwoReplicasFetchOnce: two instances sharing PostgreSQL, Redis and
// MinIO both work on one job, each within its concurrency limit, and every
// artifact is fetched from upstream exactly once.
func TestJobTwoReplicasFetchOnce(t *testing.T) {
	o := newOrigin(t)
	gate := make(chan struct{})
	var paths []string
	for i := range 12 {
		f := o.set(fmt.Sprintf("/files/s%d.bin", i), randBody(40_000, byte(i)))
		f.gate = gate
		paths = append(paths, fmt.Sprintf("files/s%d.bin", i))
	}
	b := apptest.NewBackends(t, apptest.Production)
	opts := apptest.Options{Remotes: remotesFor(o, ""), Env: map[string]string{"JOB_CONCURRENCY": "2"}}
	a, bb := apptest.Start(t, b, opts), apptest.Start(t, b, opts)
	id := submitJob(t, a, `{"remote": "gen", "pin": true, "paths": `+quoted(paths)+`}`)
	// Both replicas fill up to their limit while the upstream holds back.
	testenv.Eventually(t, 20*time.Second, "both replicas to run two items each", func() bool {
		running := map[string]int{}
		for _, it := range getJobView(t, bb, id).Items {
			if it.State == "running" {
				running[it.Worker]++
			}
		}
		for w, n := range running {
			if n > 2 {
				t.Fatalf("%s runs %d items, limit 2", w, n)
			}
		}
		return len(running) == 2 && running[a.App.Jobs.Instance()] == 2 && running[bb.App.Jobs.Instance()] == 2
	})
	close(gate)
	v := waitJobDone(t, a, id)
	workers := map[string]int{}
	for _, it := range v.Items {
		workers[it.Worker]++
		if it.State != "cached" {
			t.Errorf("%s: %s (%s)", it.Path, it.State, it.Reason)
		}
		if n := o.count("/" + it.Path); n != 1 {
			t.Errorf("%s fetched %d times, want 1", it.Path, n)
		}
		if art, ok := artifact(t, bb, "gen", it.Path); !ok || !art.Pinned {
			t.Errorf("%s: cached %v, pinned %v", it.Path, ok, art.Pinned)
		}
	}
	if len(workers) != 2 {
		t.Errorf("items done by %v, want both replicas", workers)
	}
}
