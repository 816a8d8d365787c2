package policies

import (
	"context"
	"errors"
	"fmt"
	"time"

	"artifactapi/app/auth"
	"artifactapi/db"
)

// Save validates p and stores it (a new policy when p.ID is 0), then tells
// every replica's scheduler. A scheduled policy is first due one interval
// after it is saved.
func (m *Manager) Save(ctx context.Context, p db.Policy) (db.Policy, error) {
	if err := m.Validate(p); err != nil {
		return p, err
	}
	if p.ID != 0 {
		if old, err := m.o.Store.GetPolicy(ctx, p.ID); err != nil {
			return p, err
		} else if old.Declared {
			return p, ErrDeclared
		}
	}
	p.Declared = false
	p.NextRunAt = time.Time{}
	if p.Every > 0 {
		p.NextRunAt = m.o.Now().Add(p.Every)
	}
	var err error
	if p.ID == 0 {
		p, err = m.o.Store.CreatePolicy(ctx, p)
	} else {
		p, err = m.o.Store.UpdatePolicy(ctx, p)
	}
	if err != nil {
		return p, err
	}
	m.announce(ctx)
	return p, nil
}

// Delete deletes a policy and its history.
func (m *Manager) Delete(ctx context.Context, id int64) error {
	if old, err := m.o.Store.GetPolicy(ctx, id); err != nil {
		return err
	} else if old.Declared {
		return ErrDeclared
	}
	if err := m.o.Store.DeletePolicy(ctx, id); err != nil {
		return err
	}
	m.announce(ctx)
	return nil
}

// announce wakes the schedulers; they also poll, so a lost message only delays.
func (m *Manager) announce(ctx context.Context) {
	m.Wake()
	if err := m.o.Coord.Publish(ctx, Topic, "changed"); err != nil {
		m.o.Log.Warn("policies: announce a change to other replicas; they will see it by polling", "err", err)
	}
}

// Wake makes the scheduler look for due policies now.
func (m *Manager) Wake() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Start runs the scheduler until ctx ends or the returned stop is called
// (stop waits for a running scheduled run to be recorded).
func (m *Manager) Start(ctx context.Context) (stop func()) {
	run, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var msgs <-chan string
	sub, err := m.o.Coord.Subscribe(ctx, Topic)
	if err != nil {
		m.o.Log.Warn("policies: no notifications of changed policies; polling only", "err", err)
	} else {
		msgs = sub.C()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if sub != nil {
			defer sub.Close()
		}
		m.loop(run, msgs)
	}()
	return func() {
		cancel()
		<-done
	}
}

func (m *Manager) loop(ctx context.Context, msgs <-chan string) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		case <-t.C:
		case _, ok := <-msgs:
			if !ok {
				msgs = nil
			}
		}
		next := m.RunDue(ctx)
		wait := m.o.Poll
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(m.o.Now()), 10*time.Millisecond))
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(wait)
	}
}

// RunDue runs every due policy whose slot this replica claims, and returns
// when the next scheduled policy is due (zero when none is scheduled).
//
// A slot is claimed in the metadata store by moving the policy's next run
// time on (a compare-and-set): of all replicas, one wins each slot, with or
// without Redis, and a restart loses nothing since the time is stored. A
// policy overdue by more than its interval (every replica was down) runs
// once and is next due one interval later, not once per missed slot.
func (m *Manager) RunDue(ctx context.Context) time.Time {
	now := m.o.Now()
	due, err := m.o.Store.DuePolicies(ctx, now)
	if err != nil {
		if ctx.Err() == nil {
			m.o.Log.Warn("policies: look for due policies", "err", err)
		}
		return time.Time{}
	}
	for _, p := range due {
		if ctx.Err() != nil {
			return time.Time{}
		}
		next := p.NextRunAt.Add(p.Every)
		if !next.After(now) {
			next = now.Add(p.Every)
		}
		won, err := m.o.Store.ClaimPolicySlot(ctx, p.ID, p.NextRunAt, next)
		if err != nil {
			m.o.Log.Warn("policies: claim a scheduled run", "policy", p.Name, "err", err)
			continue
		}
		if !won {
			continue // another replica took this slot
		}
		r, err := m.Run(ctx, p, BySchedule, p.NextRunAt)
		switch {
		case errors.Is(err, ErrRunning):
			m.o.Log.Info("policies: scheduled run skipped: the previous run is still going", "policy", p.Name)
		case err != nil:
			m.o.Log.Error("policies: scheduled run", "policy", p.Name, "err", err)
		}
		ev := auth.Event{Action: auth.ActPolicyRun, Remote: p.Remote, Target: p.Name, Count: r.Evicted,
			Detail: fmt.Sprintf("schedule: matched %d, bytes freed %d", r.Matched, r.Bytes)}
		if err != nil || r.Error != "" {
			ev.Outcome = auth.OutcomeFailed
		}
		m.o.Audit.Record(ctx, auth.System(), "", ev)
	}
	return m.nextDue(ctx)
}

// nextDue is the earliest next run time of the scheduled policies.
func (m *Manager) nextDue(ctx context.Context) time.Time {
	list, err := m.o.Store.ListPolicies(ctx)
	if err != nil {
		return time.Time{}
	}
	var first time.Time
	for _, p := range list {
		if p.Every > 0 && !p.NextRunAt.IsZero() && (first.IsZero() || p.NextRunAt.Before(first)) {
			first = p.NextRunAt
		}
	}
	return first
}

// Get returns a policy, or db.ErrNotFound.
func (m *Manager) Get(ctx context.Context, id int64) (db.Policy, error) {
	return m.o.Store.GetPolicy(ctx, id)
}

// List returns every policy, by name.
func (m *Manager) List(ctx context.Context) ([]db.Policy, error) { return m.o.Store.ListPolicies(ctx) }

// Runs returns up to limit runs of a policy, newest first. A run left
// unfinished by a replica that stopped (its lock is no longer held) reads
// as interrupted.
func (m *Manager) Runs(ctx context.Context, id int64, limit int) ([]db.PolicyRun, error) {
	runs, err := m.o.Store.PolicyRuns(ctx, id, limit)
	if err != nil {
		return nil, err
	}
	for i, r := range runs {
		if !r.Running() || m.o.Now().Sub(r.StartedAt) < runLease {
			continue
		}
		if held, err := m.o.Coord.Locked(ctx, lockKey(id)); err == nil && !held {
			runs[i].Error = "interrupted: the replica running it stopped"
		}
	}
	return runs, nil
}
