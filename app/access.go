package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/api"
	"artifactapi/app/auth"
	"artifactapi/app/config"
	"artifactapi/app/registry"
	"artifactapi/db"
)

// Per-user sign-in back-off: 5 failures free, then 1 s, doubling up to 5 min.
const (
	loginFree    = 5
	loginBackoff = time.Second
	loginMax     = 5 * time.Minute
)

// startAccess builds the authenticator and the audit log on the metadata
// store and starts their background work (invalidations, retention).
func (a *App) startAccess(ctx context.Context, e config.Env) error {
	store, ok := a.Meta.(db.AuthStore)
	if !ok {
		return fmt.Errorf("metadata: %s keeps no users, tokens or audit log", a.Meta.Describe())
	}
	a.access = store
	a.Auth = auth.New(auth.Options{Store: store, Coord: a.Coord, AdminToken: e.AdminToken, CacheTTL: e.AuthCacheTTL, Log: a.log,
		Backoff: &auth.Backoff{Coord: a.Coord, Free: loginFree, Base: loginBackoff, Max: loginMax, Now: time.Now}})
	a.Audit = auth.NewAuditor(store, a.log, nil)
	a.admin = api.NewAdmin(a.Auth, e.AdminToken, a.guesses, a.Audit)
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{}, 2)
	go func() { a.Auth.Run(bg); done <- struct{}{} }()
	go func() {
		a.Audit.RunSweeps(bg, func() time.Duration { return a.Config().Env.AuditRetention })
		done <- struct{}{}
	}()
	a.stopAccess = func() {
		cancel()
		<-done
		<-done
	}
	return nil
}

// authorizeRead is the registry's access check: /v2/ itself answers 401 to
// an anonymous caller when some docker remote is not public (so that
// docker login has something to log in to), and a read of a non-public
// remote needs a principal allowed to read it. A 401 carries the bearer
// challenge pointing at /v2/token.
func (a *App) authorizeRead(c *fiber.Ctx, r *config.Remote, name string) *registry.Error {
	if r != nil && r.Access == config.AccessPublic && c.Get(fiber.HeaderAuthorization) == "" {
		return nil
	}
	p, err := a.admin.Principal(c)
	if err != nil {
		st, wait := api.StatusOf(err)
		switch st {
		case http.StatusUnauthorized:
			c.Set(fiber.HeaderWWWAuthenticate, api.RegistryChallenge(c, scopeOf(r, name)))
			return registry.Fail(registry.CodeUnauthorized, "invalid credentials", nil)
		case http.StatusTooManyRequests:
			c.Set(fiber.HeaderRetryAfter, api.RetryAfter(wait))
			return registry.Fail(registry.CodeTooManyRequests, err.Error(), nil)
		}
		return registry.Fail(registry.CodeUnavailable, err.Error(), nil)
	}
	if r == nil {
		// /v2/ itself: a valid credential (an anonymous registry token
		// included) or nothing to log in to. Otherwise 401, so that docker,
		// podman and skopeo send the credentials given to them (they only
		// do after /v2/ asked for them): private remotes and pushes to
		// local docker repositories need that.
		if c.Get(fiber.HeaderAuthorization) != "" || !(a.anyPrivateDocker() || a.anyLocalDocker()) {
			return nil
		}
	} else if auth.Allowed(p, auth.Read, r) {
		return nil
	}
	if p != nil {
		return registry.Fail(registry.CodeDenied, "this credential may not read "+r.Name, map[string]string{"remote": r.Name})
	}
	c.Set(fiber.HeaderWWWAuthenticate, api.RegistryChallenge(c, scopeOf(r, name)))
	return registry.Fail(registry.CodeUnauthorized, "authentication required", nil)
}

// scopeOf is the challenge's scope for a pull of name from r.
func scopeOf(r *config.Remote, name string) string {
	if r == nil || name == "" {
		return ""
	}
	return "repository:" + name + ":pull"
}

// anyLocalDocker reports whether a local docker repository (push) is configured.
func (a *App) anyLocalDocker() bool {
	for _, r := range a.Config().Remotes.Remotes {
		if r.Package == config.PackageDocker && r.IsLocal() {
			return true
		}
	}
	return false
}

// authorizeWrite is the registry's check of a change to a local docker
// repository: the write scope to push, the delete scope to delete (as for
// /api and the dashboard); ADMIN_TOKEN and global admin included.
func (a *App) authorizeWrite(c *fiber.Ctx, r *config.Remote) error {
	action := auth.Write
	if c.Method() == fiber.MethodDelete {
		action = auth.Delete
	}
	_, err := a.admin.Authorize(c, action, r)
	return err
}

// anyPrivateDocker reports whether some docker remote is not public.
func (a *App) anyPrivateDocker() bool {
	for _, r := range a.Config().Remotes.Remotes {
		if r.Package == config.PackageDocker && r.Access != config.AccessPublic {
			return true
		}
	}
	return false
}
