package policies

import (
	"context"
	"errors"
	"fmt"
	"time"

	"artifactapi/db"
)

// ErrDeclared is returned when the dashboard or the API would change or
// delete a policy declared in remotes.yaml: the file is its source.
var ErrDeclared = errors.New("policies: the policy is declared in remotes.yaml; change it there")

// Sync applies the policies declared in the remotes file (`policies:`):
// each is created, or updated when it changed (its schedule kept while its
// interval is the same); a declared policy no longer in the file is
// deleted with its history; a policy made by hand under a declared name is
// taken over by the file. It runs at start and after every reload, on
// every replica: the writes agree.
func (m *Manager) Sync(ctx context.Context) error {
	f := m.o.Config().Remotes
	list, err := m.o.Store.ListPolicies(ctx)
	if err != nil {
		return fmt.Errorf("policies: sync declared policies: %w", err)
	}
	have := make(map[string]db.Policy, len(list))
	for _, p := range list {
		have[p.Name] = p
	}
	now := m.o.Now()
	var errs []error
	changed := false
	for _, name := range f.PolicyNames() {
		s := f.Policies[name]
		p, err := m.Parse(Spec{Name: name, Remote: s.Remote, CachedBefore: s.CachedBefore, AccessedBefore: s.AccessedBefore,
			UnusedFor: s.UnusedFor, LargerThan: s.LargerThan, Query: s.Query, Regex: s.Regex, Every: s.Every})
		if err != nil {
			errs = append(errs, fmt.Errorf("policy %q: %w", name, err))
			continue
		}
		p.Declared = true
		old, ok := have[name]
		switch {
		case !ok:
			if p.Every > 0 {
				p.NextRunAt = now.Add(p.Every)
			}
			_, err = m.o.Store.CreatePolicy(ctx, p)
			if errors.Is(err, db.ErrExists) {
				err = nil // another replica created it meanwhile
			}
		case old.Declared && sameCriteria(old, p):
			continue
		default:
			p.ID, p.NextRunAt = old.ID, old.NextRunAt
			switch {
			case p.Every == 0:
				p.NextRunAt = time.Time{}
			case p.Every != old.Every || old.NextRunAt.IsZero():
				p.NextRunAt = now.Add(p.Every)
			}
			_, err = m.o.Store.UpdatePolicy(ctx, p)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("policy %q: %w", name, err))
			continue
		}
		changed = true
	}
	for _, old := range list {
		if old.Declared && f.Policies[old.Name] == nil {
			if err := m.o.Store.DeletePolicy(ctx, old.ID); err != nil && !errors.Is(err, db.ErrNotFound) {
				errs = append(errs, fmt.Errorf("policy %q: %w", old.Name, err))
				continue
			}
			changed = true
		}
	}
	if changed {
		m.announce(ctx)
	}
	return errors.Join(errs...)
}

// sameCriteria reports whether two policies select and schedule alike.
func sameCriteria(a, b db.Policy) bool {
	return a.Remote == b.Remote && a.CachedBefore == b.CachedBefore && a.AccessedBefore == b.AccessedBefore &&
		a.UnusedFor == b.UnusedFor && a.LargerThan == b.LargerThan && a.Query == b.Query && a.Regex == b.Regex && a.Every == b.Every
}
