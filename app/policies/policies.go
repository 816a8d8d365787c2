// Package policies runs cleanup policies: saved criteria (age, last
// access, never used since cached, size, a substring or regular expression
// of the path) that evict cached artifacts of one remote or of every cached
// remote. A policy is previewed before it runs, run by hand, or run every
// interval by exactly one replica; each run is recorded in its history.
//
// Selection and eviction are the engine's (cache.Engine Select and
// EvictEach, as the dashboard's bulk eviction), so a preview lists what a
// run at the same moment would evict. Pinned artifacts are never evicted
// by a policy, and local repositories (the only copy of their files) are
// never cleaned.
package policies

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"time"

	"artifactapi/app/auth"
	"artifactapi/app/cache"
	"artifactapi/app/config"
	"artifactapi/app/coord"
	"artifactapi/db"
)

// Topic announces a saved or deleted policy to every replica's scheduler.
const Topic = "policies"

// PreviewLimit is how many matches a preview lists (the totals count all).
const PreviewLimit = 100

// MinEvery is the shortest schedule.
const MinEvery = time.Second

// ErrRunning is returned by Run while another run of the policy holds its lock.
var ErrRunning = errors.New("policies: the policy is already running")

// Engine selects and evicts artifacts; *cache.Engine implements it.
type Engine interface {
	Walk(ctx context.Context, remote, q string, fn func(db.Artifact) bool) error
	Select(ctx context.Context, remote, q string, match func(db.Artifact) bool) ([]db.Artifact, error)
	EvictEach(ctx context.Context, remote string, victims []db.Artifact, reason string) (cache.BulkResult, error)
}

// Options configures a Manager.
type Options struct {
	Store  db.PolicyStore
	Engine Engine
	Coord  coord.Coordinator
	Config func() *config.Config
	Log    *slog.Logger
	// Instance names this replica in the runs it records.
	Instance string
	// Poll bounds the wait between looks for due policies (default 30s);
	// the scheduler also wakes at the next due time and when a policy is saved.
	Poll time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Audit records scheduled runs (as the system); may be nil. Runs
	// asked for by hand are recorded by the handler that knows who asked.
	Audit *auth.Auditor
}

// Manager saves, previews and runs policies, and schedules them.
type Manager struct {
	o    Options
	wake chan struct{}
}

// New returns a Manager; Start runs its scheduler.
func New(o Options) *Manager {
	if o.Poll <= 0 {
		o.Poll = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return &Manager{o: o, wake: make(chan struct{}, 1)}
}

// InvalidError is a policy refused by Validate; its message is for the client.
type InvalidError struct{ Problems []string }

func (e *InvalidError) Error() string { return strings.Join(e.Problems, "; ") }

// Validate checks p against the current configuration.
func (m *Manager) Validate(p db.Policy) error {
	var probs []string
	if strings.TrimSpace(p.Name) == "" || len(p.Name) > 100 {
		probs = append(probs, "name: give a name of 1 to 100 characters")
	}
	if p.Remote != "" {
		r := m.o.Config().Remotes.Remotes[p.Remote]
		switch {
		case r == nil:
			probs = append(probs, fmt.Sprintf("remote: there is no remote %q", p.Remote))
		case r.IsLocal():
			probs = append(probs, fmt.Sprintf("remote: %q is a local repository; policies clean caches only", p.Remote))
		}
	}
	if p.CachedBefore < 0 || p.AccessedBefore < 0 || p.UnusedFor < 0 || p.LargerThan < 0 || p.Every < 0 {
		probs = append(probs, "durations and sizes cannot be negative")
	}
	if p.CachedBefore == 0 && p.AccessedBefore == 0 && p.UnusedFor == 0 && p.LargerThan == 0 && p.Query == "" {
		probs = append(probs, "criteria: give at least one (age, last access, unused, size or query)")
	}
	if p.Regex {
		if _, err := regexp.Compile(p.Query); err != nil {
			probs = append(probs, "query: not a valid regular expression: "+err.Error())
		}
	}
	if p.Every != 0 && p.Every < MinEvery {
		probs = append(probs, "every: at least 1s")
	}
	if len(probs) > 0 {
		return &InvalidError{Problems: probs}
	}
	return nil
}

// remotes lists the remotes p cleans: its remote, or every cached one.
func (m *Manager) remotes(p db.Policy) []string {
	f := m.o.Config().Remotes
	if p.Remote != "" {
		if r := f.Remotes[p.Remote]; r != nil && !r.IsLocal() {
			return []string{p.Remote}
		}
		return nil
	}
	var out []string
	for _, n := range f.Names() {
		if !f.Remotes[n].IsLocal() {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// selector is p's criteria at one moment: the substring handed to the
// store (q) and the test of each artifact the store returns.
func selector(p db.Policy, now time.Time) (q string, match func(db.Artifact) bool, err error) {
	var re *regexp.Regexp
	if p.Regex {
		if re, err = regexp.Compile(p.Query); err != nil {
			return "", nil, fmt.Errorf("policies: query of %q: %w", p.Name, err)
		}
	} else {
		q = p.Query
	}
	match = func(a db.Artifact) bool {
		last := a.LastAccess
		if last.IsZero() {
			last = a.CachedAt
		}
		switch {
		case a.Pinned:
			return false
		case p.CachedBefore > 0 && !a.CachedAt.Before(now.Add(-p.CachedBefore)):
			return false
		case p.AccessedBefore > 0 && !last.Before(now.Add(-p.AccessedBefore)):
			return false
		case p.UnusedFor > 0 && (a.Hits > 0 || !a.CachedAt.Before(now.Add(-p.UnusedFor))):
			return false
		case p.LargerThan > 0 && a.Size <= p.LargerThan:
			return false
		case re != nil && !re.MatchString(a.Path):
			return false
		}
		return true
	}
	return q, match, nil
}

// Preview is what a policy would evict now.
type Preview struct {
	Matches []db.Artifact // the first PreviewLimit, by remote then path
	Count   int64
	Bytes   int64
}

// Preview lists what p would evict if it ran now, without evicting.
func (m *Manager) Preview(ctx context.Context, p db.Policy) (Preview, error) {
	var pv Preview
	q, match, err := selector(p, m.o.Now())
	if err != nil {
		return pv, err
	}
	for _, r := range m.remotes(p) {
		err := m.o.Engine.Walk(ctx, r, q, func(a db.Artifact) bool {
			if match(a) {
				pv.Count++
				pv.Bytes += a.Size
				if len(pv.Matches) < PreviewLimit {
					pv.Matches = append(pv.Matches, a)
				}
			}
			return true
		})
		if err != nil {
			return pv, err
		}
	}
	return pv, nil
}
