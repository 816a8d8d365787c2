package db

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"
)

// ErrClaimLost is returned by RenewClaim and UpdateItem when the item is no
// longer running under the caller's claim (its lease expired and another
// instance took it over, or it was finished or released).
var ErrClaimLost = errors.New("db: job item claim lost")

// Job states. A job is done when every item is in a terminal state,
// whatever the outcome of each; the item states tell what happened.
const (
	JobQueued  = "queued"
	JobRunning = "running"
	JobDone    = "done"
)

// Outcomes of a done job, from its items: every item succeeded (cached or
// already cached); some failed or were denied while others succeeded;
// none succeeded; or the job was canceled (some items never ran).
const (
	OutcomeDone             = "done"
	OutcomeDoneWithFailures = "done_with_failures"
	OutcomeFailed           = "failed"
	OutcomeCanceled         = "canceled"
)

// Outcome is what a done job achieved ("" while it runs): a job whose
// items failed is not simply done.
func (j Job) Outcome() string {
	if j.State != JobDone {
		return ""
	}
	t := j.Totals
	ok := t.ByState[ItemCached] + t.ByState[ItemAlreadyCached]
	bad := t.ByState[ItemFailed] + t.ByState[ItemDenied]
	switch {
	case t.ByState[ItemCanceled] > 0:
		return OutcomeCanceled
	case bad == 0:
		return OutcomeDone
	case ok == 0:
		return OutcomeFailed
	}
	return OutcomeDoneWithFailures
}

// Item states. Queued and running are pending; the others are terminal.
const (
	ItemQueued        = "queued"
	ItemRunning       = "running"
	ItemCached        = "cached"
	ItemAlreadyCached = "already_cached"
	ItemDenied        = "denied"
	ItemFailed        = "failed"
	ItemCanceled      = "canceled"
)

// ItemStates lists every item state, pending ones first.
var ItemStates = []string{ItemQueued, ItemRunning, ItemCached, ItemAlreadyCached, ItemDenied, ItemFailed, ItemCanceled}

// ItemTerminal reports whether state is final.
func ItemTerminal(state string) bool {
	switch state {
	case ItemCached, ItemAlreadyCached, ItemDenied, ItemFailed, ItemCanceled:
		return true
	}
	return false
}

// Job is a batch cache job.
type Job struct {
	ID        string
	Remote    string // "" for a job of URLs
	State     string // JobQueued, JobRunning or JobDone
	Pin       bool   // artifacts it caches are exempt from quota eviction
	CreatedAt time.Time
	UpdatedAt time.Time
	Totals    JobTotals
	Items     []JobItem // GetJob only, in index order
}

// JobTotals aggregates a job's items.
type JobTotals struct {
	Items      int
	ByState    map[string]int // every item state, zero counts included
	BytesDone  int64
	BytesTotal int64
}

// Finished returns the number of items in a terminal state.
func (t JobTotals) Finished() int {
	n := 0
	for s, c := range t.ByState {
		if ItemTerminal(s) {
			n += c
		}
	}
	return n
}

// JobItem is one artifact of a job.
type JobItem struct {
	JobID  string
	Idx    int
	Remote string // "" when a URL matched no remote
	Path   string // cache key: clean path plus "?query" when present
	URL    string // as submitted, for a job of URLs
	State  string
	Reason string
	// BytesDone counts bytes downloaded; BytesTotal is the size, 0 while unknown.
	BytesDone  int64
	BytesTotal int64
	Attempts   int // how many times the item was claimed
	StartedAt  time.Time
	FinishedAt time.Time
	// ClaimedBy is the instance working on the item (kept once it is finished).
	ClaimedBy    string
	ClaimedUntil time.Time
	Pin          bool // the job's pin flag (ClaimItem only)
}

// ItemUpdate is a worker's report on the item it claimed.
type ItemUpdate struct {
	JobID      string
	Idx        int
	State      string // ItemRunning (progress), ItemQueued (release) or a terminal state
	Reason     string
	BytesDone  int64
	BytesTotal int64
	// Retries counts the downloads tried again within this claim after a
	// transient failure; they are added to the item's attempts.
	Retries int
}

// DefaultJobListLimit and MaxJobListLimit bound ListJobs.
const (
	DefaultJobListLimit = 50
	MaxJobListLimit     = 1000
)

// JobStore keeps batch cache jobs. Every replica's workers share it: an
// item is claimed by one instance at a time, under a lease the claimant
// renews; an item whose lease expired is claimed again, so a job survives
// the loss of the instance working on it.
type JobStore interface {
	// CreateJob stores j with j.Items (their Idx is their position) and
	// returns it with its ID, times and state. Items may be created in a
	// terminal state (a URL refused up front). A job with no pending item
	// is created done.
	CreateJob(ctx context.Context, j Job) (Job, error)
	// GetJob returns the job with its items and totals, or ErrNotFound.
	GetJob(ctx context.Context, id string) (Job, error)
	// ListJobs returns up to limit jobs (0: DefaultJobListLimit), newest
	// first, with totals but without items.
	ListJobs(ctx context.Context, limit int) ([]Job, error)
	// ClaimItem marks the oldest claimable item running for instance until
	// lease from now and returns it (Attempts counts this claim). Claimable:
	// queued, or running with an expired lease. Items of skipRemotes are
	// left alone. ErrNotFound when there is none. Concurrent callers, in
	// any number of processes, never get the same item.
	ClaimItem(ctx context.Context, instance string, lease time.Duration, skipRemotes ...string) (JobItem, error)
	// RenewClaim extends the lease of a running item claimed by instance,
	// or returns ErrClaimLost.
	RenewClaim(ctx context.Context, instance, jobID string, idx int, lease time.Duration) error
	// UpdateItem applies u to a running item claimed by instance, or
	// returns ErrClaimLost. A terminal state ends the claim (and makes the
	// job done after its last item); ItemQueued gives the item back
	// (the next claim counts a new attempt).
	UpdateItem(ctx context.Context, instance string, u ItemUpdate) error
	// PinArtifact marks a cached artifact pinned, or returns ErrNotFound.
	PinArtifact(ctx context.Context, remote, path string) error
	// CancelJob ends the job's queued items as ItemCanceled (reason
	// CancelReason) and returns how many; running items finish on their
	// own. The job is done once none is pending. ErrNotFound for no job.
	CancelJob(ctx context.Context, id string) (int, error)
	// DeleteJobsDoneBefore deletes done jobs, with their items, whose last
	// change is older than before, and returns how many.
	DeleteJobsDoneBefore(ctx context.Context, before time.Time) (int, error)
}

// CancelReason is the reason of an item ended by CancelJob.
const CancelReason = "job canceled"

// NewJobID returns a random (version 4) UUID.
func NewJobID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// validJobID reports whether id has the form NewJobID produces (any
// version, lower or upper case hex).
func validJobID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i, c := range id {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// checkUpdate validates an ItemUpdate.
func checkUpdate(u ItemUpdate) error {
	if u.State != ItemRunning && u.State != ItemQueued && !ItemTerminal(u.State) {
		return fmt.Errorf("db: update job item: invalid state %q", u.State)
	}
	return nil
}

// jobLimit normalises a ListJobs limit.
func jobLimit(limit int) int {
	switch {
	case limit <= 0:
		return DefaultJobListLimit
	case limit > MaxJobListLimit:
		return MaxJobListLimit
	}
	return limit
}

// newTotals returns totals with every state present.
func newTotals() JobTotals {
	t := JobTotals{ByState: make(map[string]int, len(ItemStates))}
	for _, s := range ItemStates {
		t.ByState[s] = 0
	}
	return t
}

// add counts n items in state with their bytes.
func (t *JobTotals) add(state string, n int, done, total int64) {
	t.Items += n
	t.ByState[state] += n
	t.BytesDone += done
	t.BytesTotal += total
}

// derivedState is the job state its totals imply when they disagree with
// the stored one (the last item finished but the process stopped before
// the job row was updated).
func derivedState(stored string, t JobTotals) string {
	if t.ByState[ItemQueued]+t.ByState[ItemRunning] == 0 {
		return JobDone
	}
	return stored
}
