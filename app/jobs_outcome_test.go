package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"artifactapi/app/apptest"
)

// jobOutcome is what GET /jobs/{id} adds to a job: its outcome and the
// weighted progress.
type jobOutcome struct {
	State   string `json:"state"`
	Outcome string `json:"outcome"`
	Totals  struct {
		Weighted   float64 `json:"weighted_progress"`
		WeightedBy string  `json:"weighted_by"`
	} `json:"totals"`
	Items []struct {
		Path  string `json:"path"`
		State string `json:"state"`
	} `json:"items"`
}

func getOutcome(t *testing.T, in *apptest.Instance, id string) jobOutcome {
	t.Helper()
	st, _, b := in.Get(t, "/jobs/"+id, nil)
	var v jobOutcome
	if err := json.Unmarshal(b, &v); st != http.StatusOK || err != nil {
		t.Fatalf("GET /jobs/%s = %d %s", id, st, b)
	}
	return v
}

// retryJob sends POST /jobs/{id}/retry as admin.
func retryJob(t *testing.T, in *apptest.Instance, id string) (int, map[string]any) {
	t.Helper()
	resp := in.Do(t, http.MethodPost, "/jobs/"+id+"/retry", nil, apptest.Admin())
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

// TestJobOutcomeAndRetry: a job whose items partly failed ends "done with
// failures", not plain "done"; retrying it queues a new job of the failed
// items only, which fetches nothing else again, and the original job keeps
// its outcome. A job where nothing succeeded is "failed", one where all
// succeeded "done", and a job without failures has nothing to retry.
func TestJobOutcomeAndRetry(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		o := newOrigin(t)
		in := start(t, mode, o)
		o.set("/files/ok-a.bin", randBody(30_000, 1))
		o.set("/files/ok-b.bin", randBody(50_000, 2))
		o.setStatus("/files/broken.bin", http.StatusInternalServerError)

		id := submitJob(t, in, `{"remote": "gen", "paths": ["files/ok-a.bin", "files/broken.bin", "files/ok-b.bin"]}`)
		waitJobDone(t, in, id)
		v := getOutcome(t, in, id)
		if v.State != "done" || v.Outcome != "done_with_failures" {
			t.Fatalf("job state %q outcome %q, want done / done_with_failures", v.State, v.Outcome)
		}
		if v.Totals.Weighted != 100 || v.Totals.WeightedBy != "bytes" {
			t.Errorf("weighted progress %v by %q, want 100 by bytes", v.Totals.Weighted, v.Totals.WeightedBy)
		}
		before := o.count("/files/broken.bin")

		// The upstream is repaired: the retry fetches the failed item only.
		o.set("/files/broken.bin", randBody(20_000, 3))
		st, m := retryJob(t, in, id)
		retry, _ := m["id"].(string)
		if st != http.StatusAccepted || retry == "" || retry == id || m["retry_of"] != id {
			t.Fatalf("POST /jobs/%s/retry = %d %v", id, st, m)
		}
		waitJobDone(t, in, retry)
		r := getOutcome(t, in, retry)
		if r.Outcome != "done" || len(r.Items) != 1 || r.Items[0].Path != "files/broken.bin" || r.Items[0].State != "cached" {
			t.Errorf("retry job: outcome %q, items %+v; want done with files/broken.bin cached", r.Outcome, r.Items)
		}
		if n := o.count("/files/broken.bin"); n != before+1 {
			t.Errorf("broken.bin fetched %d more times, want 1", n-before)
		}
		for _, p := range []string{"/files/ok-a.bin", "/files/ok-b.bin"} {
			if n := o.count(p); n != 1 {
				t.Errorf("%s fetched %d times, want 1 (the retry must not fetch it)", p, n)
			}
		}
		if got := getOutcome(t, in, id).Outcome; got != "done_with_failures" {
			t.Errorf("original job outcome after the retry = %q", got)
		}
		_, _, ab := in.Get(t, "/audit?action=job.retry", apptest.Admin())
		if !strings.Contains(string(ab), `"target":"`+id+`"`) || !strings.Contains(string(ab), "new job "+retry) {
			t.Errorf("the retry is not in the audit log: %s", ab)
		}
		if st, _ := retryJob(t, in, retry); st != http.StatusConflict {
			t.Errorf("retry of a job without failures = %d, want 409", st)
		}
		if st, _ := retryJob(t, in, "00000000-0000-4000-8000-000000000000"); st != http.StatusNotFound {
			t.Errorf("retry of an unknown job = %d, want 404", st)
		}

		gone := submitJob(t, in, `{"remote": "gen", "paths": ["files/missing-x.bin", "files/missing-y.bin"]}`)
		waitJobDone(t, in, gone)
		if got := getOutcome(t, in, gone).Outcome; got != "failed" {
			t.Errorf("job where every item failed: outcome %q, want failed", got)
		}
	})
}

// TestJobSubmitListsEveryInvalidPath: a submission with paths the remote's
// patterns deny, or that are invalid, is refused as a whole with every bad
// path listed (index, path, reason), and no job is created.
func TestJobSubmitListsEveryInvalidPath(t *testing.T) {
	o := newOrigin(t)
	in := start(t, apptest.Embedded, o)
	// "gen" allows .bin, .tar.gz and files/ only.
	body := `{"remote": "gen", "paths": ["files/a.bin", "docs/readme.txt", "../../etc/passwd", "files/b.bin", "notes.md"]}`
	st, _, m := postJob(t, in, body, apptest.Admin())
	if st != http.StatusBadRequest {
		t.Fatalf("status %d, want 400 (%v)", st, m)
	}
	inv, _ := m["invalid"].([]any)
	type line struct {
		idx    float64
		path   string
		reason string
	}
	var got []line
	for _, x := range inv {
		e := x.(map[string]any)
		got = append(got, line{e["index"].(float64), e["path"].(string), e["reason"].(string)})
	}
	want := []line{
		{1, "docs/readme.txt", "path not allowed by the remote's patterns"},
		{2, "../../etc/passwd", "invalid path: '..' segment not allowed"},
		{4, "notes.md", "path not allowed by the remote's patterns"},
	}
	if len(got) != len(want) {
		t.Fatalf("invalid = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("invalid[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	if msg, _ := m["error"].(string); !strings.Contains(msg, "3 of 5 paths refused") || m["path"] != "docs/readme.txt" {
		t.Errorf("error %q, path %v", msg, m["path"])
	}
	if st, _, b := in.Get(t, "/jobs", nil); st != http.StatusOK || strings.Contains(string(b), `"id"`) {
		t.Errorf("a refused submission created a job: %s", b)
	}
}
