package jobs

import (
	"time"

	"artifactapi/db"
)

// Progress is how far a job is, as an operator reads it.
type Progress struct {
	// Percent is the share of the work finished, 0 to 100. ByBytes reports
	// whether it is weighted by the items' sizes (every pending item's size
	// is known, or estimated from the known sizes); otherwise each item
	// counts the same.
	Percent float64
	ByBytes bool
	// Rate is the download rate in bytes per second since the first item
	// started (0 when nothing was downloaded yet).
	Rate float64
	// ETA is the time left at Rate (pending items of unknown size count
	// the mean known size); zero when there is no rate yet or the job is done.
	ETA time.Duration
}

// Measure computes a job's progress from its items (GetJob). A finished
// item weighs its size (or the mean known size when unknown); a running
// item counts its downloaded bytes. Without any known size, or without
// items (a list of jobs), the progress is the share of items finished.
func Measure(j db.Job, now time.Time) Progress {
	var p Progress
	t := j.Totals
	if t.Items > 0 {
		p.Percent = 100 * float64(t.Finished()) / float64(t.Items)
	}
	if len(j.Items) == 0 {
		return p
	}
	var known, sized int64
	var downloaded int64
	var first time.Time
	for _, it := range j.Items {
		if it.BytesTotal > 0 {
			known += it.BytesTotal
			sized++
		}
		if it.State == db.ItemRunning || it.State == db.ItemCached {
			downloaded += it.BytesDone
		}
		if !it.StartedAt.IsZero() && (first.IsZero() || it.StartedAt.Before(first)) {
			first = it.StartedAt
		}
	}
	if sized > 0 {
		mean := float64(known) / float64(sized)
		var total, done, pendingLeft float64
		for _, it := range j.Items {
			w := float64(it.BytesTotal)
			if w <= 0 {
				w = mean
			}
			total += w
			switch {
			case db.ItemTerminal(it.State):
				done += w
			case it.BytesTotal > 0:
				d := float64(min(it.BytesDone, it.BytesTotal))
				done += d
				pendingLeft += w - d
			default:
				done += float64(min(it.BytesDone, int64(w)))
				pendingLeft += w - float64(min(it.BytesDone, int64(w)))
			}
		}
		if total > 0 {
			p.Percent, p.ByBytes = 100*done/total, true
		}
		if el := now.Sub(first).Seconds(); !first.IsZero() && el > 0 && downloaded > 0 {
			p.Rate = float64(downloaded) / el
			// Items of unknown size are estimated at the mean known size.
			if j.State != db.JobDone && pendingLeft > 0 {
				p.ETA = time.Duration(pendingLeft / p.Rate * float64(time.Second)).Round(time.Second)
			}
		}
	}
	p.Percent = float64(int(p.Percent*10)) / 10
	return p
}
