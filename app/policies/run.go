package policies

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"artifactapi/app/coord"
	"artifactapi/db"
)

// Who started a run.
const (
	BySchedule  = "schedule"
	ByDashboard = "dashboard"
	ByAPI       = "api"
)

// runLease is how long a run's lock lasts without renewal; it is renewed
// every third of it while the run goes on.
const runLease = 30 * time.Second

func lockKey(id int64) string { return "policy-run:" + strconv.FormatInt(id, 10) }

// Run runs p now and records the run (scheduledFor is the due time a
// scheduled run took; zero by hand). One run of a policy at a time across
// replicas: ErrRunning while another holds the policy's lock. The run goes
// on when ctx's caller leaves (a detached context), and is recorded even
// when it fails.
func (m *Manager) Run(ctx context.Context, p db.Policy, startedBy string, scheduledFor time.Time) (db.PolicyRun, error) {
	ctx = context.WithoutCancel(ctx)
	lock, err := m.o.Coord.TryLock(ctx, lockKey(p.ID), runLease)
	switch {
	case errors.Is(err, coord.ErrNotObtained):
		return db.PolicyRun{}, ErrRunning
	case err != nil:
		// Redis is an accelerator: a scheduled run is already unique by
		// its slot claim in the metadata store; a manual one goes ahead.
		m.o.Log.Warn("policies: run lock unavailable; running without it", "policy", p.Name, "err", err)
		lock = nil
	}
	run, cancel := context.WithCancel(ctx)
	defer cancel()
	if lock != nil {
		defer lock.Release(ctx) //nolint:errcheck // it expires on its own
		go keepLock(run, lock, cancel, m)
	}
	r, err := m.o.Store.StartPolicyRun(run, db.PolicyRun{PolicyID: p.ID, StartedBy: startedBy, ScheduledFor: scheduledFor,
		Instance: m.o.Instance, StartedAt: m.o.Now()})
	if err != nil {
		return r, err
	}
	var failed error
	q, match, err := selector(p, m.o.Now())
	if err != nil {
		failed = err
	}
	for _, remote := range m.remotes(p) {
		if failed != nil {
			break
		}
		victims, err := m.o.Engine.Select(run, remote, q, match)
		if err != nil {
			failed = err
			break
		}
		r.Matched += int64(len(victims))
		res, err := m.o.Engine.EvictEach(run, remote, victims, "policy")
		r.Evicted, r.Bytes, r.Errors = r.Evicted+res.Count, r.Bytes+res.Bytes, r.Errors+res.Failed
		if err != nil {
			m.o.Log.Warn("policies: some artifacts could not be evicted", "policy", p.Name, "remote", remote, "failed", res.Failed, "err", err)
		}
	}
	switch {
	case failed != nil:
		m.o.Log.Error("policies: run failed", "policy", p.Name, "err", failed)
		r.Error = "the run stopped: the metadata store could not list the artifacts; see the log"
	case r.Errors > 0:
		r.Error = fmt.Sprintf("%d artifacts could not be evicted; see the log", r.Errors)
	}
	r.FinishedAt = m.o.Now()
	if err := m.o.Store.FinishPolicyRun(ctx, r); err != nil {
		return r, err
	}
	m.o.Log.Info("policies: run finished", "policy", p.Name, "by", startedBy, "matched", r.Matched, "evicted", r.Evicted,
		"bytes", r.Bytes, "errors", r.Errors)
	return r, nil
}

// keepLock renews the run's lock until ctx ends; a lost lock stops the run
// (another replica may run the policy meanwhile).
func keepLock(ctx context.Context, l coord.Lock, cancel func(), m *Manager) {
	t := time.NewTicker(runLease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := l.Refresh(ctx, runLease); errors.Is(err, coord.ErrLockLost) {
			m.o.Log.Warn("policies: run lock lost; stopping the run")
			cancel()
			return
		}
	}
}
