package jobs

import (
	"testing"
	"time"

	"artifactapi/db"
)

func TestMeasure(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 10, 0, time.UTC)
	start := now.Add(-10 * time.Second)
	item := func(state string, done, total int64) db.JobItem {
		return db.JobItem{State: state, BytesDone: done, BytesTotal: total, StartedAt: start}
	}
	job := func(state string, items ...db.JobItem) db.Job {
		j := db.Job{State: state, Items: items, Totals: db.JobTotals{Items: len(items), ByState: map[string]int{}}}
		for _, it := range items {
			j.Totals.ByState[it.State]++
		}
		return j
	}
	tests := []struct {
		name    string
		job     db.Job
		percent float64
		byBytes bool
		rate    float64
		eta     time.Duration
	}{
		{name: "no size known: by items", job: job(db.JobRunning, item(db.ItemFailed, 0, 0), item(db.ItemQueued, 0, 0)),
			percent: 50},
		{name: "a small item done, a large one half way: by bytes", job: job(db.JobRunning,
			item(db.ItemCached, 100, 100), item(db.ItemRunning, 450, 900)), percent: 55, byBytes: true, rate: 55, eta: 8 * time.Second},
		{name: "unknown sizes count the mean known size", job: job(db.JobRunning,
			item(db.ItemCached, 200, 200), item(db.ItemQueued, 0, 0)), percent: 50, byBytes: true, rate: 20, eta: 10 * time.Second},
		{name: "already cached bytes are not a download rate", job: job(db.JobRunning,
			item(db.ItemAlreadyCached, 1000, 1000), item(db.ItemRunning, 100, 1000)), percent: 55, byBytes: true, rate: 10, eta: 90 * time.Second},
		{name: "done: no time left", job: job(db.JobDone, item(db.ItemCached, 100, 100), item(db.ItemFailed, 0, 0)),
			percent: 100, byBytes: true, rate: 10},
		{name: "a list has no items: by item counts", job: db.Job{State: db.JobRunning, Totals: db.JobTotals{Items: 4,
			ByState: map[string]int{db.ItemCached: 1, db.ItemRunning: 3}}}, percent: 25},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Measure(tc.job, now)
			if got.Percent != tc.percent || got.ByBytes != tc.byBytes || got.Rate != tc.rate || got.ETA != tc.eta {
				t.Errorf("Measure = %+v, want percent %v by bytes %v, rate %v, ETA %v", got, tc.percent, tc.byBytes, tc.rate, tc.eta)
			}
		})
	}
}

func TestOutcome(t *testing.T) {
	tests := []struct {
		name  string
		state string
		by    map[string]int
		want  string
	}{
		{name: "running", state: db.JobRunning, by: map[string]int{db.ItemFailed: 1, db.ItemQueued: 1}, want: ""},
		{name: "all cached", state: db.JobDone, by: map[string]int{db.ItemCached: 2, db.ItemAlreadyCached: 1}, want: db.OutcomeDone},
		{name: "some failed", state: db.JobDone, by: map[string]int{db.ItemCached: 2, db.ItemFailed: 1}, want: db.OutcomeDoneWithFailures},
		{name: "denied counts as a failure", state: db.JobDone, by: map[string]int{db.ItemCached: 1, db.ItemDenied: 1}, want: db.OutcomeDoneWithFailures},
		{name: "none succeeded", state: db.JobDone, by: map[string]int{db.ItemFailed: 2}, want: db.OutcomeFailed},
		{name: "canceled", state: db.JobDone, by: map[string]int{db.ItemCached: 1, db.ItemCanceled: 3}, want: db.OutcomeCanceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := db.Job{State: tc.state, Totals: db.JobTotals{ByState: tc.by}}
			if got := j.Outcome(); got != tc.want {
				t.Errorf("Outcome = %q, want %q", got, tc.want)
			}
		})
	}
}
