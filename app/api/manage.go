package api

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/auth"
	"artifactapi/app/cache"
	"artifactapi/app/httpserve"
)

// Root answers GET /: name, version and remotes; browsers go to the dashboard.
func (h *Handler) Root(c *fiber.Ctx) error {
	if strings.Contains(c.Get(fiber.HeaderAccept), "text/html") {
		return c.Redirect("/ui/", http.StatusFound)
	}
	who, err := h.d.Admin.Principal(c)
	if err != nil {
		return err
	}
	cfg := h.d.Config()
	remotes := make([]fiber.Map, 0, len(cfg.Remotes.Remotes))
	for _, n := range cfg.Remotes.Names() {
		r := cfg.Remotes.Remotes[n]
		if !auth.Allowed(who, auth.Read, r) {
			continue
		}
		m := fiber.Map{"name": n, "type": r.Type, "package": r.Package, "description": r.Description, "access": r.Access}
		if h.d.Stats != nil && !r.IsLocal() {
			m["health"] = h.d.Stats.Health(n).State // details: GET /remotes/{name}/health
		}
		remotes = append(remotes, m)
	}
	return c.JSON(fiber.Map{"name": "artifactapi", "version": h.d.Version, "remotes": remotes})
}

// required are the components without which the proxy cannot serve: /ready
// fails while one of them does (coordination is an accelerator).
var required = []string{"metadata", "blobs", "disk"}

// check runs the health checks (Deps.Health bounds each one) and returns
// them with the names of the components that failed, sorted.
func (h *Handler) check(c *fiber.Ctx) (comps map[string]Component, failed []string, ready bool) {
	ctx, cancel := context.WithTimeout(c.UserContext(), 3*time.Second)
	defer cancel()
	comps = h.d.Health(ctx)
	failed = []string{}
	for name, comp := range comps {
		if !comp.OK {
			failed = append(failed, name)
		}
	}
	sort.Strings(failed)
	ready = true
	for _, name := range required {
		if comp, ok := comps[name]; ok && !comp.OK {
			ready = false
		}
	}
	return comps, failed, ready
}

// Health is liveness: 200 while the process can serve, with each component's
// state and the names of those that failed.
func (h *Handler) Health(c *fiber.Ctx) error {
	comps, failed, _ := h.check(c)
	status := "ok"
	if len(failed) > 0 {
		status = "degraded"
	}
	return c.JSON(fiber.Map{"status": status, "version": h.d.Version, "components": comps, "failed": failed, "downloads_in_flight": h.d.Engine.InFlight()})
}

// Ready is readiness: 503 while the metadata store, the blob store or the
// disk (DATA_DIR's free space) fails its check.
func (h *Handler) Ready(c *fiber.Ctx) error {
	comps, failed, ready := h.check(c)
	if !ready {
		return c.Status(http.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "components": comps, "failed": failed})
	}
	return c.JSON(fiber.Map{"status": "ready", "components": comps, "failed": failed})
}

// Config shows the effective configuration with every secret redacted,
// and only the remotes the caller may read.
func (h *Handler) Config(c *fiber.Ctx) error {
	who, err := h.d.Admin.Principal(c)
	if err != nil {
		return err
	}
	comps := h.d.Health(c.UserContext())
	backends := map[string]string{}
	for k, v := range comps {
		backends[k] = v.Backend
	}
	cfg := h.d.Config()
	out := cfg.Redacted(backends)
	if remotes, ok := out["remotes"].(map[string]any); ok {
		for name, r := range cfg.Remotes.Remotes {
			if !auth.Allowed(who, auth.Read, r) {
				delete(remotes, name)
			}
		}
	}
	return c.JSON(out)
}

// PeerFill serves a download running in this replica to another replica
// (cross-replica streaming). It needs the replica credential.
func (h *Handler) PeerFill(c *fiber.Ctx) error {
	if !h.d.Admin.MatchPeer(c.Get(cache.PeerHeader)) {
		return c.Status(http.StatusForbidden).JSON(fiber.Map{"error": "replica credential required"})
	}
	res, ok := h.d.Engine.PeerResult(c.Params("id"))
	if !ok {
		return c.Status(http.StatusNotFound).JSON(fiber.Map{"error": "no such download in progress"})
	}
	acc := &httpserve.Access{Log: h.d.Log, Remote: res.Artifact.Remote, Path: res.Artifact.Path, Method: "PEER", Source: "peer", Start: time.Now()}
	return httpserve.Write(c, res, acc, httpserve.Options{NoDisposition: true})
}
