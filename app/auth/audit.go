package auth

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"artifactapi/db"
)

// Audit actions.
const (
	ActUpload      = "artifact.upload"
	ActDelete      = "artifact.delete"
	ActEvict       = "artifact.evict"
	ActEvictBulk   = "artifact.evict_bulk"
	ActJobSubmit   = "job.submit"
	ActJobCancel   = "job.cancel"
	ActJobRetry    = "job.retry"
	ActPolicySave  = "policy.save"
	ActPolicyDel   = "policy.delete"
	ActPolicyRun   = "policy.run"
	ActRegistryGC  = "registry.gc"
	ActUserCreate  = "user.create"
	ActUserUpdate  = "user.update"
	ActUserDelete  = "user.delete"
	ActTokenCreate = "token.create"
	ActTokenRevoke = "token.revoke"
	ActReload      = "config.reload"
	ActLogin       = "login"
	ActLogout      = "logout"
)

// Audit outcomes.
const (
	OutcomeOK     = "ok"
	OutcomeDenied = "denied" // refused: no credential, or no scope
	OutcomeFailed = "failed" // allowed, but it did not succeed
)

// AuditStore is where the audit log is kept.
type AuditStore interface {
	AppendAudit(ctx context.Context, e db.AuditEntry) error
	DeleteAuditBefore(ctx context.Context, t time.Time) (int, error)
	DeleteSessionsExpiredBefore(ctx context.Context, t time.Time) (int, error)
}

// Auditor records mutations in the metadata store. Entries never carry a
// secret: principals are named, tokens by id.
type Auditor struct {
	store AuditStore
	log   *slog.Logger
	now   func() time.Time

	mu    sync.Mutex
	swept time.Time
}

// NewAuditor returns an Auditor; now may be nil (time.Now).
func NewAuditor(store AuditStore, log *slog.Logger, now func() time.Time) *Auditor {
	if now == nil {
		now = time.Now
	}
	return &Auditor{store: store, log: log, now: now}
}

// Event is what happened, without who.
type Event struct {
	Action  string
	Remote  string
	Target  string
	Count   int64
	Outcome string // default OutcomeOK
	Detail  string
}

// Record writes one entry for p (nil: anonymous) from address addr. A
// failure to write is logged: the operation it describes already happened.
func (au *Auditor) Record(ctx context.Context, p *Principal, addr string, ev Event) {
	if au == nil {
		return
	}
	if ev.Outcome == "" {
		ev.Outcome = OutcomeOK
	}
	name, kind, tid := p.Actor()
	e := db.AuditEntry{At: au.now(), Actor: name, ActorKind: kind, TokenID: tid, Action: ev.Action, Remote: ev.Remote,
		Target: ev.Target, Count: ev.Count, Address: addr, Outcome: ev.Outcome, Detail: ev.Detail}
	// Detached: a client that hangs up does not erase the record.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := au.store.AppendAudit(ctx, e); err != nil {
		au.log.Error("audit: could not record", "action", ev.Action, "actor", name, "remote", ev.Remote, "err", err)
	}
}

// Sweep deletes entries older than keep (0: keeps them) and expired
// sessions, at most every half of keep (and at most hourly).
func (au *Auditor) Sweep(ctx context.Context, keep time.Duration) {
	every := time.Hour
	if keep > 0 {
		every = min(max(keep/2, 100*time.Millisecond), time.Hour)
	}
	au.mu.Lock()
	due := au.swept.IsZero() || au.now().Sub(au.swept) >= every
	if due {
		au.swept = au.now()
	}
	au.mu.Unlock()
	if !due {
		return
	}
	if keep > 0 {
		n, err := au.store.DeleteAuditBefore(ctx, au.now().Add(-keep))
		switch {
		case err != nil && ctx.Err() == nil:
			au.log.Warn("audit: delete entries past retention", "err", err)
		case n > 0:
			au.log.Info("audit: deleted entries past retention", "entries", n, "retention", keep.String())
		}
	}
	if _, err := au.store.DeleteSessionsExpiredBefore(ctx, au.now()); err != nil && ctx.Err() == nil {
		au.log.Warn("auth: delete expired sessions", "err", err)
	}
}

// RunSweeps calls Sweep with keep() until ctx ends.
func (au *Auditor) RunSweeps(ctx context.Context, keep func() time.Duration) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		k := keep()
		au.Sweep(ctx, k)
		wait := time.Minute
		if k > 0 {
			wait = min(max(k/2, 100*time.Millisecond), time.Minute)
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
