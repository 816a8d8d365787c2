package api

import (
	"context"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/auth"
	"artifactapi/app/config"
	"artifactapi/app/stats"
)

// Stats reports each remote's upstream health and traffic, every replica's
// together.
type Stats interface {
	Health(remote string) stats.Health
	Traffic(remote string) stats.Traffic
}

// Prober tests a remote's upstream with one request.
type Prober interface {
	Test(ctx context.Context, r *config.Remote) stats.Probe
}

// RemoteJSON is one remote in GET /remotes.
type RemoteJSON struct {
	Name        string         `json:"name"`
	Type        string         `json:"type"`
	Package     string         `json:"package"`
	Description string         `json:"description"`
	Stored      *StoredJSON    `json:"stored,omitempty"` // absent when the metadata store did not answer
	Health      *stats.Health  `json:"health,omitempty"` // absent for local repositories
	Traffic     *stats.Traffic `json:"traffic,omitempty"`
}

// StoredJSON is what a remote holds in the cache.
type StoredJSON struct {
	Count int64 `json:"count"`
	Bytes int64 `json:"bytes"`
}

// Remotes answers GET /remotes: every remote the caller may read, with what
// it stores, its upstream health and its traffic (all replicas together;
// the per-minute traffic is in GET /remotes/{remote}/traffic).
func (h *Handler) Remotes(c *fiber.Ctx) error {
	who, err := h.d.Admin.Principal(c)
	if err != nil {
		return err
	}
	cfg := h.d.Config()
	out := make([]RemoteJSON, 0, len(cfg.Remotes.Remotes))
	for _, n := range cfg.Remotes.Names() {
		r := cfg.Remotes.Remotes[n]
		if !auth.Allowed(who, auth.Read, r) {
			continue
		}
		j := RemoteJSON{Name: n, Type: r.Type, Package: r.Package, Description: r.Description}
		if t, err := h.d.Meta.Totals(c.UserContext(), n, ""); err == nil {
			j.Stored = &StoredJSON{Count: t.Count, Bytes: t.Bytes}
		}
		if h.d.Stats != nil {
			tr := h.d.Stats.Traffic(n)
			tr.Minutes = nil
			j.Traffic = &tr
			if !r.IsLocal() {
				hl := h.d.Stats.Health(n)
				j.Health = &hl
			}
		}
		out = append(out, j)
	}
	return c.JSON(fiber.Map{"remotes": out})
}

// readable returns the remote named in the route when the caller may do
// action on it, else the error to answer.
func (h *Handler) readable(c *fiber.Ctx, action string) (*config.Remote, error) {
	name := c.Params("remote")
	r := h.d.Config().Remotes.Remotes[name]
	if r == nil {
		return nil, Fail(http.StatusNotFound, "unknown remote")
	}
	if _, err := h.d.Admin.Authorize(c, action, r); err != nil {
		return nil, err
	}
	if h.d.Stats == nil {
		return nil, Fail(http.StatusNotFound, "health and traffic are not recorded")
	}
	return r, nil
}

// RemoteHealth answers GET /remotes/{remote}/health: the upstream's state
// (healthy, degraded, unreachable, stale, unknown; local for a local
// repository), the last success and error, the error rate and the latency.
func (h *Handler) RemoteHealth(c *fiber.Ctx) error {
	r, err := h.readable(c, auth.Read)
	if err != nil {
		_, werr := writeError(c, err, c.Params("remote"), "")
		return werr
	}
	if r.IsLocal() {
		return c.JSON(stats.Health{Remote: r.Name, State: stats.StateLocal, Summary: "a local repository has no upstream"})
	}
	return c.JSON(h.d.Stats.Health(r.Name))
}

// RemoteTraffic answers GET /remotes/{remote}/traffic: requests, hit
// ratio, bytes served and saved, and the last hour minute by minute.
func (h *Handler) RemoteTraffic(c *fiber.Ctx) error {
	r, err := h.readable(c, auth.Read)
	if err != nil {
		_, werr := writeError(c, err, c.Params("remote"), "")
		return werr
	}
	return c.JSON(h.d.Stats.Traffic(r.Name))
}

// TestConnection answers POST /remotes/{remote}/test-connection (admin on
// the remote): one request to the upstream, explained.
func (h *Handler) TestConnection(c *fiber.Ctx) error {
	r, err := h.readable(c, auth.Admin)
	if err == nil && (h.d.Prober == nil || r.IsLocal()) {
		err = Fail(http.StatusBadRequest, "a local repository has no upstream to test")
	}
	if err != nil {
		_, werr := writeError(c, err, c.Params("remote"), "")
		return werr
	}
	return c.JSON(h.d.Prober.Test(c.UserContext(), r))
}
