package app

import (
	"context"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"artifactapi/app/api"
	"artifactapi/app/cache"
	imagetree "artifactapi/app/images"
	"artifactapi/app/metrics"
	"artifactapi/app/registry"
	"artifactapi/app/stats"
	"artifactapi/app/ui"
	"artifactapi/db"
)

// routes is the one route table.
func (a *App) routes() *fiber.App {
	env := a.Config().Env
	f := fiber.New(fiber.Config{
		AppName:               "artifactapi",
		DisableStartupMessage: true,
		StreamRequestBody:     true,
		ReadBufferSize:        32 << 10, // registry tokens and long paths
		// Headers and a small body leave in one write (with 4 KiB: two).
		WriteBufferSize: 16 << 10,
		ErrorHandler:    api.ErrorHandler,
		// Large uploads stream to disk; the limit is enforced by the handler.
		BodyLimit: 8 << 20,
		// Multipart bodies are parsed only by a handler that asks for them,
		// from a body limitBody already bounded: never spooled to /tmp
		// before routing.
		DisablePreParseMultipartForm: true,
		// The absolute deadline for a request's headers; headerReceived lifts
		// it for the body. IdleTimeout is the wait for the next request.
		ReadTimeout: env.ClientHeader,
		IdleTimeout: env.ClientIdle,
	})
	f.Server().HeaderReceived = a.headerReceived
	// No answer is ever sniffed into another type: router 404s and 405s and
	// the JSON management routes included (/api and /v2 add their sandbox).
	// Backend calls made while answering are counted as the request's
	// (artifactapi_metadata_queries_total{phase="request"}); the marked
	// context is built once, so this costs no allocation.
	reqCtx := metrics.Context(metrics.PhaseRequest)
	f.Use(func(c *fiber.Ctx) error {
		c.SetUserContext(reqCtx)
		c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
		return c.Next()
	})
	h := api.New(api.Deps{
		Config: a.Config, Engine: a.Engine, Upstream: a.Upstream, Meta: a.Meta, Admin: a.admin,
		Auth: a.Auth, Access: a.access, Log: a.log, Metrics: a.Metrics, Health: a.Health, Version: Version,
		Jobs: a.Jobs, Stats: a.Stats, Prober: stats.Prober{Client: a.Upstream}, Policies: a.policyAPI(),
	})
	f.Use(closeUnreadBody)
	f.Use(a.limitBody)
	// /api is dispatched on the raw path, before the router normalises it,
	// so that encoded traversal attempts are refused with 400 rather than
	// silently resolved.
	f.Use(func(c *fiber.Ctx) error {
		// "policies" is a reserved remote name: /api/policies is routed below.
		if raw := string(c.Request().URI().PathOriginal()); strings.HasPrefix(raw, "/api/") && !isPolicyAPI(raw) {
			return h.Artifact(c)
		}
		return c.Next()
	})
	// The token endpoint is routed before the registry, which takes every
	// other /v2 path.
	f.Get(api.TokenPath, h.RegistryToken)
	f.Post(api.TokenPath, h.RegistryToken)
	registry.Mount(f, registry.Deps{Config: a.Config, Engine: a.Engine, Upstream: a.Upstream, Log: a.log, Metrics: a.Metrics,
		Local: a.Local, AuthorizeRead: a.authorizeRead, AuthorizeWrite: a.authorizeWrite, StatusOf: api.StatusOf})
	f.Get("/", h.Root)
	f.Get("/health", h.Health)
	f.Get("/ready", h.Ready)
	f.Get("/config", h.Config)
	f.Get("/artifacts/:remote", h.Artifacts)
	f.Get("/remotes", h.Remotes)
	f.Get("/remotes/:remote/health", h.RemoteHealth)
	f.Get("/remotes/:remote/traffic", h.RemoteTraffic)
	f.Post("/remotes/:remote/test-connection", h.TestConnection)
	f.Post("/evict", h.Evict)
	f.Post("/registry/gc", a.admin.RequireAdmin, a.registryGC)
	f.Get("/whoami", h.Whoami)
	f.Get("/audit", a.admin.RequireAdmin, h.Audit)
	pol := f.Group("/api/policies", a.admin.RequireAdmin)
	pol.Get("/", h.ListPolicies)
	pol.Post("/", h.SavePolicy)
	pol.Post("/preview", h.PreviewPolicy)
	pol.Get("/:id", h.GetPolicy)
	pol.Put("/:id", h.SavePolicy)
	pol.Delete("/:id", h.DeletePolicy)
	pol.Get("/:id/preview", h.PreviewPolicy)
	pol.Post("/:id/run", h.RunPolicy)
	adm := f.Group("/admin", a.admin.RequireAdmin)
	adm.Get("/users", h.Users)
	adm.Post("/users", h.CreateUser)
	adm.Patch("/users/:name", h.UpdateUser)
	adm.Delete("/users/:name", h.DeleteUser)
	adm.Get("/tokens", h.Tokens)
	adm.Post("/tokens", h.CreateToken)
	adm.Delete("/tokens/:id", h.RevokeToken)
	f.Post("/cache-artifact", h.CacheArtifact)
	f.Get("/jobs", h.Jobs)
	f.Get("/jobs/:id", h.Job)
	f.Post("/jobs/:id/cancel", h.CancelJob)
	f.Post("/jobs/:id/retry", h.RetryJob)
	f.Get(cache.PeerPath+":id", h.PeerFill)
	f.Get("/metrics", a.requireMetricsToken, adaptor.HTTPHandler(promhttp.HandlerFor(a.Metrics.Registry, promhttp.HandlerOpts{})))
	var images ui.Registry
	var tags ui.TagSearch
	if a.Local != nil { // never a typed nil in the interface
		images = a.Local
		if rs, ok := a.Meta.(interface{ Registry() db.RegistryStore }); ok {
			tags = rs.Registry()
		}
	}
	var pols ui.Policies
	if a.Policies != nil { // never a typed nil in the interface
		pols = a.Policies
	}
	ui.New(ui.Deps{Config: a.Config, Meta: a.Meta, Engine: a.Engine, Jobs: a.Jobs, Policies: pols, Registry: images, Tags: tags, Metrics: a.Metrics, Backends: a.backends,
		Mirror:     &imagetree.Mirror{Meta: a.Meta, Cache: a.Engine},
		AdminToken: a.Config().Env.AdminToken, Guesses: a.guesses, Access: a.Auth, Accounts: a.Auth, Directory: a.access, Audit: a.Audit, Log: a.log, Version: Version,
		Stats: a.Stats, Top: a.statsStore, Prober: stats.Prober{Client: a.Upstream}}).Mount(f)
	return f
}

// backends describes each backend (for the dashboard's configuration screen).
func (a *App) backends(ctx context.Context) map[string]string {
	out := map[string]string{}
	for k, c := range a.Health(ctx) {
		out[k] = c.Backend
	}
	return out
}

// isPolicyAPI reports whether a raw request path is under /api/policies.
func isPolicyAPI(raw string) bool {
	return raw == "/api/policies" || strings.HasPrefix(raw, "/api/policies/") || strings.HasPrefix(raw, "/api/policies?")
}
