// Package ui serves the admin dashboard under /ui (PRODUCT §9): templ views
// rendered as full pages or, for htmx requests, as partials. Every operation
// is delegated to the engine, the metadata store and the job manager; the
// dashboard adds sign-in, CSRF protection and presentation only.
package ui

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"artifactapi/app/api"
	"artifactapi/app/auth"
	"artifactapi/app/cache"
	"artifactapi/app/config"
	"artifactapi/app/images"
	"artifactapi/app/metrics"
	"artifactapi/db"
	"artifactapi/static"
	"artifactapi/views"
)

// Listing is the part of the metadata store the dashboard reads.
type Listing interface {
	GetArtifact(ctx context.Context, remote, path string) (db.Artifact, error)
	ListArtifacts(ctx context.Context, q db.ListQuery) (db.ListPage, error)
	Totals(ctx context.Context, remote, q string) (db.Totals, error)
	SearchArtifacts(ctx context.Context, q db.SearchQuery) ([]db.SearchGroup, error)
}

// Engine is the part of the cache engine the dashboard drives.
type Engine interface {
	Evict(ctx context.Context, remote, path, reason string) error
	EvictMatching(ctx context.Context, remote, q string, dryRun bool) (cache.BulkResult, error)
	Upload(ctx context.Context, r *config.Remote, p string, body io.Reader, expectSHA string, maxSize int64) (db.Artifact, error)
}

// Deps are the dashboard's collaborators.
type Deps struct {
	Config func() *config.Config // the current config (reloadable)
	Meta   Listing
	Engine Engine
	// Jobs runs batch cache jobs; nil hides the jobs screen.
	Jobs Jobs
	// Policies runs cleanup policies; nil: their screens answer 503.
	Policies Policies
	// Registry is the store of local docker repositories; nil hides their
	// images (their screen then lists artifacts like any repository).
	Registry Registry
	// Mirror reads the images docker remotes cached; nil: their screen
	// lists cached files like any remote.
	Mirror *images.Mirror
	// Tags finds tags of local docker repositories for the search; may be nil.
	Tags    TagSearch
	Metrics *metrics.Metrics // hit ratio; may be nil
	// Backends describes each backend for the configuration screen.
	Backends func(ctx context.Context) map[string]string
	// AdminToken signs sessions and CSRF tokens, so that every replica
	// sharing it accepts them.
	AdminToken string
	// Guesses limits failed sign-ins per client address (shared with the
	// admin token checks of the API); nil: no limit.
	Guesses *api.Throttle
	// Access signs users and tokens in and keeps server-side sessions
	// (revocable on every replica); nil: only ADMIN_TOKEN signs in, into
	// stateless signed sessions.
	Access Access
	// Accounts manages users and tokens, and Directory lists them with the
	// audit log: the users, tokens and audit screens (nil: not available).
	Accounts  Accounts
	Directory Directory
	// Stats is each remote's upstream health and traffic, Top its most
	// requested artifacts, Prober its connection test; nil: not shown.
	Stats  Stats
	Top    TopArtifacts
	Prober Prober
	// Audit records sign-ins and the dashboard's mutations; may be nil.
	Audit   *auth.Auditor
	Log     *slog.Logger
	Version string
	Now     func() time.Time // default time.Now
}

// Handler serves the dashboard.
type Handler struct {
	d       Deps
	keys    keys
	assets  *static.Assets
	session time.Duration
}

// SessionTTL is how long a sign-in lasts.
const SessionTTL = 12 * time.Hour

// New returns the dashboard handler.
func New(d Deps) *Handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	return &Handler{d: d, keys: deriveKeys(d.AdminToken), assets: static.New(), session: SessionTTL}
}

// Mount adds the /ui routes to f.
func (h *Handler) Mount(f fiber.Router) {
	g := f.Group("/ui", h.guard)
	g.Get("/static/:name", h.Static)
	g.Use(h.csrf)
	g.Get("/login", h.LoginForm)
	g.Post("/login", h.Login)
	g.Post("/logout", h.Logout)
	g.Use(h.requireSession)
	g.Get("/", h.Overview)
	g.Get("/search", h.Search)
	g.Get("/remotes/:remote", h.need(auth.Read), h.Remote)
	g.Get("/remotes/:remote/stats", h.need(auth.Read), h.RemoteStats)
	g.Post("/remotes/:remote/test-connection", h.need(auth.Admin), h.TestConnection)
	g.Get("/remotes/:remote/artifact", h.need(auth.Read), h.Artifact)
	g.Get("/remotes/:remote/evict", h.need(auth.Delete), h.EvictConfirm)
	g.Post("/remotes/:remote/evict", h.need(auth.Delete), h.EvictOne)
	g.Post("/remotes/:remote/bulk-evict", h.need(auth.Delete), h.BulkEvict)
	g.Get("/remotes/:remote/images", h.need(auth.Read), h.ImageRepos)
	g.Get("/remotes/:remote/images/tags", h.need(auth.Read), h.ImageTags)
	g.Delete("/remotes/:remote/images/tags", h.need(auth.Delete), h.DeleteTag)
	g.Post("/remotes/:remote/images/tags/delete", h.need(auth.Delete), h.DeleteTag)
	g.Get("/remotes/:remote/images/image", h.need(auth.Read), h.ImageDetail)
	g.Post("/remotes/:remote/images/repo", h.need(auth.Delete), h.RepoAction)
	g.Get("/remotes/:remote/setup", h.need(auth.Read), h.Setup)
	// A collection spans every local docker repository: admin only.
	g.Get("/remotes/:remote/gc", h.need(auth.Read), h.GCStatus)
	g.Post("/remotes/:remote/gc", h.need(auth.Admin), h.RunGC)
	g.Get("/config", h.need(auth.Admin), h.ConfigPage)
	g.Get("/config/test", h.need(auth.Admin), h.PatternTest)
	g.Get("/upload", h.UploadForm)
	g.Put("/upload", h.need(auth.Write), h.UploadFile)
	g.Get("/jobs", h.need(auth.Admin), h.JobsPage)
	g.Post("/jobs", h.need(auth.Admin), h.StartJob)
	g.Get("/jobs/:id", h.need(auth.Admin), h.JobPage)
	g.Post("/jobs/:id/cancel", h.need(auth.Admin), h.CancelJob)
	g.Post("/jobs/:id/retry", h.need(auth.Admin), h.RetryJob)
	g.Get("/policies", h.need(auth.Admin), h.PoliciesPage)
	g.Post("/policies", h.need(auth.Admin), h.SavePolicy)
	g.Post("/policies/preview", h.need(auth.Admin), h.PreviewForm)
	g.Get("/policies/:id", h.need(auth.Admin), h.PolicyPage)
	g.Post("/policies/:id", h.need(auth.Admin), h.SavePolicy)
	g.Post("/policies/:id/preview", h.need(auth.Admin), h.PreviewPolicy)
	g.Post("/policies/:id/run", h.need(auth.Admin), h.RunPolicy)
	g.Post("/policies/:id/delete", h.need(auth.Admin), h.DeletePolicy)
	h.mountAccess(g)
	g.Use(func(c *fiber.Ctx) error { return errNotFound })
}

// errNotFound is the dashboard's 404.
var errNotFound = &uiError{status: http.StatusNotFound, msg: "There is no such page."}

// uiError is an error with the status and the message an operator sees.
type uiError struct {
	status int
	msg    string
}

func (e *uiError) Error() string { return e.msg }

// fail returns an error shown as msg with status.
func fail(status int, msg string) error { return &uiError{status: status, msg: msg} }

// guard sets the security headers, recovers panics and renders every error
// of the dashboard in place: a partial for htmx, a full page otherwise.
func (h *Handler) guard(c *fiber.Ctx) (err error) {
	c.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	c.Set("X-Frame-Options", "DENY")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "same-origin")
	defer func() {
		if r := recover(); r != nil {
			h.d.Log.Error("dashboard panic", "path", c.Path(), "panic", r)
			err = h.renderError(c, fail(http.StatusInternalServerError, "Something went wrong on the server. The error was logged."))
		}
	}()
	if err = c.Next(); err != nil {
		return h.renderError(c, err)
	}
	return nil
}

// status and message of err as an operator sees them (never internals).
func describe(err error) (int, string) {
	var ue *uiError
	var fe *fiber.Error
	var pe *config.PathError
	switch {
	case errors.As(err, &ue):
		return ue.status, ue.msg
	case errors.As(err, &fe):
		return fe.Code, fe.Message
	case errors.As(err, &pe):
		return http.StatusBadRequest, pe.Error()
	case errors.Is(err, db.ErrInvalidQuery):
		return http.StatusBadRequest, "This listing link is no longer valid (the sort changed); start again from the first page."
	case errors.Is(err, db.ErrNotFound):
		return http.StatusNotFound, "Not found: it may have been removed meanwhile."
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, "The operation timed out."
	}
	st := cache.StatusOf(err)
	msg := cache.PublicMessage(err)
	if st >= 500 && msg == "internal error" {
		msg = "Something went wrong on the server. The error was logged."
	}
	return st, msg
}

func (h *Handler) renderError(c *fiber.Ctx, err error) error {
	status, msg := describe(err)
	if status >= 500 {
		h.d.Log.Error("dashboard error", "path", c.Path(), "err", err)
	}
	c.Response().ResetBody()
	c.Status(status)
	if isHTMX(c) {
		// Shown in the page's status area, whatever the request targeted
		// (a row, a table, a form), and scrolled into view.
		c.Set("HX-Retarget", "#flash")
		c.Set("HX-Reswap", "innerHTML show:top")
		return h.write(c, views.Alert("error", msg))
	}
	title := http.StatusText(status)
	if title == "" {
		title = "Error"
	}
	chrome := h.chrome(c, title, "")
	chrome.SignedIn = h.signedIn(c)
	if !chrome.SignedIn {
		chrome.Remotes = nil
	}
	return h.write(c, views.ErrorPage(views.ErrorProps{Chrome: chrome, Status: status, Title: title, Message: msg}))
}

// isHTMX reports whether the request wants a partial: an htmx request that
// is neither boosted nor a history restore.
func isHTMX(c *fiber.Ctx) bool {
	return c.Get("HX-Request") == "true" && c.Get("HX-Boosted") != "true" && c.Get("HX-History-Restore-Request") != "true"
}

// render writes full for a normal request and partial for an htmx request
// (full when partial is nil).
func (h *Handler) render(c *fiber.Ctx, full, partial templ.Component) error {
	cmp := full
	if partial != nil && isHTMX(c) {
		cmp = partial
	}
	c.Vary("HX-Request")
	return h.write(c, cmp)
}

// write renders cmp to a buffer first, so that a failing component leaves
// no half page behind.
func (h *Handler) write(c *fiber.Ctx, cmp templ.Component) error {
	var buf bytes.Buffer
	if err := cmp.Render(c.UserContext(), &buf); err != nil {
		return err
	}
	c.Type("html", "utf-8")
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(buf.Bytes())
}

// liveHeader carries the signature of the live region a browser shows
// (views.Live); the answer is 204 while it is current.
const liveHeader = "HX-Live-Sig"

// sign sets live.Sig to the signature of region, rendered with an empty
// signature: a digest of its HTML, so that anything an operator would see
// change (a count, a state, a relative time) changes it.
func sign(ctx context.Context, live *views.Live, region func() templ.Component) error {
	live.Sig = ""
	var buf bytes.Buffer
	if err := region().Render(ctx, &buf); err != nil {
		return err
	}
	sum := sha256.Sum256(buf.Bytes())
	live.Sig = hex.EncodeToString(sum[:8])
	return nil
}

// current reports whether a live poll's region is unchanged, and then
// answers 204 (no swap, the browser waits longer before the next poll).
func current(c *fiber.Ctx, live views.Live) bool {
	if !isHTMX(c) || c.Get(liveHeader) != live.Sig {
		return false
	}
	c.Vary("HX-Request")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Status(http.StatusNoContent)
	return true
}

// chrome is the frame every page shares.
func (h *Handler) chrome(c *fiber.Ctx, title, active string) views.Chrome {
	cfg := h.d.Config()
	var nav []views.NavRemote
	who := principalOf(c)
	for _, n := range cfg.Remotes.Names() {
		r := cfg.Remotes.Remotes[n]
		if !auth.Allowed(who, auth.Read, r) {
			continue
		}
		nav = append(nav, views.NavRemote{Name: n, Type: r.Type, Package: r.Package, Health: h.healthOf(c, r).State})
	}
	return views.Chrome{Title: title, Active: active, CSRF: h.csrfToken(c), StaticVersion: h.assets.Version(),
		Version: h.d.Version, SignedIn: true, User: displayName(who), Admin: auth.Allowed(who, auth.Admin, nil), Remotes: nav}
}

// localRemotes lists the local repositories, by name.
func localRemotes(cfg *config.Config) []views.NavRemote {
	var out []views.NavRemote
	for _, n := range cfg.Remotes.Names() {
		if r := cfg.Remotes.Remotes[n]; r.IsLocal() {
			out = append(out, views.NavRemote{Name: n, Type: r.Type, Package: r.Package})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// cameFrom is the remote a form should start on: ?remote, else the remote
// whose screen the operator came from (the Referer), else "".
func cameFrom(c *fiber.Ctx) string {
	if r := c.Query("remote"); r != "" {
		return strings.Clone(r)
	}
	ref, err := url.Parse(c.Get(fiber.HeaderReferer))
	if err != nil || ref.Host != string(c.Request().URI().Host()) {
		return ""
	}
	name, ok := strings.CutPrefix(ref.Path, "/ui/remotes/")
	if !ok {
		return ""
	}
	name, _, _ = strings.Cut(name, "/")
	return name
}

// remoteOf returns the remote named in the route, or a 404 error.
func (h *Handler) remoteOf(c *fiber.Ctx) (*config.Remote, error) {
	r := h.d.Config().Remotes.Remotes[c.Params("remote")]
	if r == nil {
		return nil, fail(http.StatusNotFound, "There is no repository with this name.")
	}
	return r, nil
}

// toRow converts a metadata row through the API's representation.
func toRow(a db.Artifact) views.ArtifactRow {
	j := api.ToJSON(a)
	return views.ArtifactRow{Path: j.Path, URL: j.URL, Size: j.Size, SHA256: j.SHA256, ContentType: j.ContentType,
		Kind: j.Kind, Pattern: j.Pattern, CachedAt: j.CachedAt, ExpiresAt: j.ExpiresAt, LastAccess: j.LastAccess,
		Hits: j.Hits, StorageKey: j.StorageKey, ETag: j.ETag, Pinned: j.Pinned}
}
