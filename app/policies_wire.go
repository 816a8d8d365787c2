package app

import (
	"context"

	"artifactapi/app/api"
	"artifactapi/app/policies"
	"artifactapi/db"
)

// startPolicies builds the cleanup policy manager on the metadata store and
// starts its scheduler (every replica runs one; each due run is taken by one).
func (a *App) startPolicies(ctx context.Context) {
	ps, ok := a.Meta.(interface{ Policies() db.PolicyStore })
	if !ok {
		a.log.Warn("metadata store has no policy tables: cleanup policies are disabled")
		return
	}
	a.Policies = policies.New(policies.Options{Store: ps.Policies(), Engine: a.Engine, Coord: a.Coord, Config: a.Config,
		Log: a.log, Instance: a.Jobs.Instance(), Poll: a.Config().Env.PolicyPoll, Audit: a.Audit})
	a.syncPolicies(ctx)
	a.stopPolicies = a.Policies.Start(ctx)
}

// syncPolicies applies the policies declared in remotes.yaml (at start and
// after a reload); a failure is logged, the policies already stored stay.
func (a *App) syncPolicies(ctx context.Context) {
	if a.Policies == nil {
		return
	}
	if err := a.Policies.Sync(ctx); err != nil {
		a.log.Error("policies declared in remotes.yaml not applied", "err", err)
	}
}

// policyAPI is the manager as the handlers see it (never a typed nil).
func (a *App) policyAPI() api.Policies {
	if a.Policies == nil {
		return nil
	}
	return a.Policies
}
