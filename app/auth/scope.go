// Package auth is access control: principals (the bootstrap admin, users,
// API tokens, anonymous callers), their scopes, and the one check every
// surface asks — Allowed(principal, action, remote). It also verifies
// credentials (with a short-lived per-replica cache invalidated across
// replicas on revocation), keeps dashboard sessions, issues the registry's
// bearer tokens and records the audit log.
package auth

import (
	"fmt"
	"path"
	"strings"

	"artifactapi/app/config"
)

// Actions a scope grants.
const (
	// Read: download artifacts and images, list them.
	Read = "read"
	// Write: upload to local repositories (and push).
	Write = "write"
	// Delete: evict cached artifacts, delete uploaded ones.
	Delete = "delete"
	// Admin: everything on the remotes it covers; global admin also
	// manages jobs, users, tokens, the audit log and the configuration.
	Admin = "admin"
)

// Actions lists every action.
var actions = []string{Read, Write, Delete, Admin}

// Principal kinds.
const (
	KindAdmin = "admin" // the bootstrap ADMIN_TOKEN
	KindUser  = "user"  // a user signed in with a password
	KindToken = "token" // an API token
)

// Scope grants one action on every remote (Remotes == "") or on the
// remotes whose name matches the glob Remotes (path.Match syntax).
type Scope struct {
	Action  string
	Remotes string
}

// String is the scope's written form: "read" or "write:local-*".
func (s Scope) String() string {
	if s.Remotes == "" {
		return s.Action
	}
	return s.Action + ":" + s.Remotes
}

// covers reports whether s grants action on remote ("" names no remote:
// only a global scope covers it).
func (s Scope) covers(action, remote string) bool {
	if s.Action != action && s.Action != Admin {
		return false
	}
	if s.Remotes == "" {
		return true
	}
	if remote == "" {
		return false
	}
	ok, _ := path.Match(s.Remotes, remote)
	return ok
}

// ParseScope reads "action" or "action:glob".
func ParseScope(s string) (Scope, error) {
	action, remotes, _ := strings.Cut(strings.TrimSpace(s), ":")
	sc := Scope{Action: action, Remotes: remotes}
	known := false
	for _, a := range actions {
		known = known || a == action
	}
	if !known {
		return sc, fmt.Errorf("scope %q: action must be read, write, delete or admin", s)
	}
	if strings.Contains(s, ":") {
		if remotes == "" || strings.ContainsAny(remotes, " /\\") {
			return sc, fmt.Errorf("scope %q: want action:remote (a remote name or a glob like local-*)", s)
		}
		if _, err := path.Match(remotes, ""); err != nil {
			return sc, fmt.Errorf("scope %q: bad glob: %w", s, err)
		}
	}
	return sc, nil
}

// ParseScopes reads a list of written scopes.
func ParseScopes(list []string) ([]Scope, error) {
	out := make([]Scope, 0, len(list))
	for _, s := range list {
		sc, err := ParseScope(s)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

// FormatScopes is the written form of a scope list.
func FormatScopes(list []Scope) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.String()
	}
	return out
}

// Principal is who a request acts as. A nil *Principal is an anonymous caller.
type Principal struct {
	Kind    string // KindAdmin, KindUser or KindToken
	Name    string // the user, the token's owner, or "admin"
	TokenID string // KindToken: the token's id
	Token   string // KindToken: the token's name
	Scopes  []Scope
}

// AdminPrincipal is the bootstrap superuser (ADMIN_TOKEN).
func AdminPrincipal() *Principal { return adminPrincipal() }

// adminPrincipal is the bootstrap superuser.
func adminPrincipal() *Principal {
	return &Principal{Kind: KindAdmin, Name: "admin", Scopes: []Scope{{Action: Admin}}}
}

// System is the principal of what the process does on its own (a
// configuration reload on SIGHUP): it holds no scope.
func System() *Principal { return &Principal{Kind: "system", Name: "system"} }

// Authenticated reports whether p is not anonymous.
func (p *Principal) Authenticated() bool { return p != nil }

// Can reports whether p's scopes grant action on the remote named remote
// ("" for what concerns no remote: users, tokens, audit, jobs of URLs).
func (p *Principal) Can(action, remote string) bool {
	if p == nil {
		return false
	}
	for _, s := range p.Scopes {
		if s.covers(action, remote) {
			return true
		}
	}
	return false
}

// Allowed is the one access check: may p do action on remote r (nil: an
// action concerning no remote)? Reading follows the remote's policy:
// public remotes are read by anyone, authenticated ones by any principal,
// scoped ones by a principal with a read (or admin) scope covering them.
// Every other action needs a scope.
func Allowed(p *Principal, action string, r *config.Remote) bool {
	if r == nil {
		return p.Can(action, "")
	}
	if action == Read {
		switch r.Access {
		case config.AccessPublic, "":
			return true
		case config.AccessAuthenticated:
			if p.Authenticated() {
				return true
			}
		}
	}
	return p.Can(action, r.Name)
}

// Actor is how p is named in the audit log and logs ("" when anonymous).
func (p *Principal) Actor() (name, kind, tokenID string) {
	if p == nil {
		return "", "anonymous", ""
	}
	return p.Name, p.Kind, p.TokenID
}
