// Package registry serves the Docker Registry HTTP API v2 (/v2) as a
// pull-through cache for any number of upstream registries (PRODUCT §6):
// manifests, blobs and tag lists, GET and HEAD, through the one caching
// engine. Push answers UNSUPPORTED. Every answer carries
// Docker-Distribution-API-Version, errors the OCI envelope.
package registry

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"artifactapi/app/cache"
	"artifactapi/app/config"
	"artifactapi/app/httpserve"
	"artifactapi/app/localrepo"
	"artifactapi/app/metrics"
	"artifactapi/app/oci"
	"artifactapi/app/upstream"
)

// Engine is the part of the caching engine the registry uses.
type Engine interface {
	Get(ctx context.Context, req cache.Request) (*cache.Result, error)
	Serve(ctx context.Context, req cache.Request, write func(*cache.Result) error, reset func()) error
	Forget(ctx context.Context, remote, p string)
}

var _ Engine = (*cache.Engine)(nil)

// Deps are the collaborators of the handlers.
type Deps struct {
	Config   func() *config.Config // the current config (reloadable)
	Engine   Engine
	Upstream *upstream.Client
	Log      *slog.Logger
	Metrics  *metrics.Metrics
	// Local stores the local docker repositories (nil: none are served).
	Local *localrepo.Store
	// AuthorizeWrite checks that the request may push to (write scope) or
	// delete from (delete scope) local remote r (nil: pushes are refused);
	// StatusOf tells a throttled client (429) from a wrong credential.
	AuthorizeWrite func(c *fiber.Ctx, r *config.Remote) error
	StatusOf       func(err error) (int, time.Duration)
	// AuthorizeRead decides whether the request may read from remote r
	// (nil: the base endpoint /v2/); it returns nil or the error to answer
	// (UNAUTHORIZED with its challenge set, DENIED, TOOMANYREQUESTS).
	// nil: everything is readable.
	AuthorizeRead func(c *fiber.Ctx, r *config.Remote, name string) *Error
}

// authorizeRead applies Deps.AuthorizeRead.
func (h *Handler) authorizeRead(c *fiber.Ctx, r *config.Remote, name string) *Error {
	if h.d.AuthorizeRead == nil {
		return nil
	}
	return h.d.AuthorizeRead(c, r, name)
}

// Handler serves /v2.
type Handler struct {
	d      Deps
	recent *recentManifests
	heads  *recentHeads
	// bodies holds cached manifests and small blobs (image configs): a warm
	// pull reads only its layers from the blob store.
	bodies *httpserve.BodyCache
}

// New returns a Handler.
func New(d Deps) *Handler {
	return &Handler{d: d, recent: newRecentManifests(1024, 32<<20), heads: newRecentHeads(4096, time.Now),
		bodies: httpserve.NewBodyCache(64<<10, 16<<20)}
}

// Mount makes f answer every request whose raw path is /v2 or starts with
// /v2/. Like /api it dispatches on the raw path, before the router cleans it.
func Mount(f *fiber.App, d Deps) *Handler {
	h := New(d)
	f.Use(func(c *fiber.Ctx) error {
		if IsRegistryPath(string(c.Request().URI().PathOriginal())) {
			return h.Serve(c)
		}
		return c.Next()
	})
	return h
}

// IsRegistryPath reports whether a raw request path belongs to /v2.
func IsRegistryPath(raw string) bool { return raw == "/v2" || strings.HasPrefix(raw, "/v2/") }

// APIVersionHeader is sent on every /v2 answer.
const APIVersionHeader = "Docker-Distribution-API-Version"

// setAPIVersion sets the headers of every /v2 answer: the API version and
// the hardening headers.
func setAPIVersion(c *fiber.Ctx) {
	c.Set(APIVersionHeader, "registry/2.0")
	httpserve.SetHardening(&c.Response().Header)
}

// Serve answers one /v2 request. It never returns an error to Fiber: every
// failure is written as the OCI envelope here.
func (h *Handler) Serve(c *fiber.Ctx) error {
	setAPIVersion(c)
	start := time.Now()
	raw := strings.TrimPrefix(string(c.Request().URI().PathOriginal()), "/v2")
	acc := &httpserve.Access{Log: h.d.Log, Metrics: h.d.Metrics, Remote: "", Path: "/v2" + raw, Method: c.Method(), Source: "none", Start: start}
	fail := func(e *Error) error {
		acc.Status = e.Status
		acc.Finish(0, e) // a 5xx is also logged as a WARN there
		return writeError(c, e)
	}
	p, err := url.PathUnescape(raw)
	if err != nil {
		return fail(Fail(CodeNameInvalid, "invalid percent-encoding in path", nil))
	}
	if remote, rest, ok := h.localRemote(p); ok {
		return h.local(c, remote, rest, acc, fail)
	}
	route := oci.SplitPath(p)
	if m := c.Method(); m != http.MethodGet && m != http.MethodHead {
		return fail(Fail(CodeUnsupported, "this registry is a read-only pull-through cache", map[string]string{"method": m}))
	}
	switch route.Kind {
	case oci.KindBase:
		if e := h.authorizeRead(c, nil, ""); e != nil {
			return fail(e)
		}
		acc.Status = http.StatusOK
		acc.Finish(0, nil)
		return c.Status(http.StatusOK).JSON(fiber.Map{})
	case oci.KindUpload:
		return fail(Fail(CodeUnsupported, "this registry is a read-only pull-through cache", nil))
	case oci.KindUnknown:
		e := Fail(CodeUnsupported, "unsupported registry endpoint", map[string]string{"path": "/v2" + p})
		e.Status = http.StatusNotFound
		return fail(e)
	}
	ns := utils.CopyString(string(c.Request().URI().QueryArgs().Peek("ns")))
	t, oe := Resolve(h.d.Config().Remotes, route.Name, ns)
	if oe != nil {
		return fail(oe)
	}
	acc.Remote = t.Remote.Name
	if e := h.authorizeRead(c, t.Remote, route.Name); e != nil {
		return fail(e)
	}
	r := request{c: c, t: t, route: route, ns: ns, acc: acc, fail: fail}
	switch route.Kind {
	case oci.KindManifest:
		return h.manifest(r)
	case oci.KindBlob:
		return h.blob(r)
	case oci.KindReferrers:
		return h.referrers(r)
	}
	return h.tags(r)
}

// request is one resolved /v2 request on its way through a handler.
type request struct {
	c     *fiber.Ctx
	t     Target
	route oci.Route
	ns    string // the client's ?ns=, "" when absent
	acc   *httpserve.Access
	fail  func(*Error) error
}

// classify applies the remote's patterns to path ({name}/manifests/{ref},
// {name}/blobs/{digest} or {name}/tags/list): a denied path is DENIED
// before anything is looked up or fetched.
func (r request) classify(p string) (config.Verdict, *Error) {
	v := r.t.Remote.Classify(p)
	if !v.Allowed {
		return v, Fail(CodeDenied, "image not allowed by the remote's immutable_patterns",
			map[string]string{"remote": r.t.Remote.Name, "path": p})
	}
	return v, nil
}

// ctx is the context of the engine calls. Not the *fasthttp.RequestCtx: it
// is recycled once the response is written, while a stream read after the
// handler returns (and the transports under it) may still hold it. Fills run
// detached with their own upstream timeouts. It is marked as a request's
// for the backend call counters.
func (r request) ctx() context.Context { return metrics.Context(metrics.PhaseRequest) }

func (r request) detail() map[string]string {
	return map[string]string{"remote": r.t.Remote.Name, "name": r.t.Name}
}
