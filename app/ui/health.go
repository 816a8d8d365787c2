package ui

import (
	"context"
	"net/http"
	"sort"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/auth"
	"artifactapi/app/config"
	"artifactapi/app/stats"
	"artifactapi/db"
	"artifactapi/views"
)

// Stats reports each remote's upstream health and traffic, every replica's
// together.
type Stats interface {
	Health(remote string) stats.Health
	Traffic(remote string) stats.Traffic
}

// TopArtifacts lists a remote's most requested artifacts.
type TopArtifacts interface {
	TopArtifacts(ctx context.Context, remote string, limit int) ([]db.Artifact, error)
}

// Prober tests a remote's upstream with one request.
type Prober interface {
	Test(ctx context.Context, r *config.Remote) stats.Probe
}

// topShown is how many of the most requested artifacts the overview lists.
const topShown = 10

// healthOf is the upstream health of r for the views ("" state for a
// local repository or when health is not recorded). One request reads
// each remote's state once: the sidebar and the page it frames never show
// two states of one remote when a flush lands while the page is built.
func (h *Handler) healthOf(c *fiber.Ctx, r *config.Remote) views.HealthView {
	if h.d.Stats == nil || r.IsLocal() {
		return views.HealthView{Remote: r.Name}
	}
	key := "health:" + r.Name
	s, ok := c.Locals(key).(stats.Health)
	if !ok {
		s = h.d.Stats.Health(r.Name)
		c.Locals(key, s)
	}
	v := views.HealthView{Remote: r.Name, State: s.State, Summary: s.Summary, WindowMinutes: int(s.WindowSeconds / 60),
		Requests: s.Requests, Errors: s.Errors, ErrorRate: s.ErrorRate, LatencyMS: s.LatencyMS}
	if s.LastSuccess != nil {
		v.LastSuccess = *s.LastSuccess
	}
	if s.LastError != nil {
		v.LastError, v.ErrorKind, v.ErrorMessage = s.LastError.At, s.LastError.Kind, s.LastError.Message
	}
	if s.LastStale != nil {
		v.LastStale = *s.LastStale
	}
	return v
}

// trafficOf is what r served, all replicas together.
func (h *Handler) trafficOf(r *config.Remote) views.TrafficView {
	if h.d.Stats == nil {
		return views.TrafficView{}
	}
	t := h.d.Stats.Traffic(r.Name)
	v := views.TrafficView{CacheRequests: t.CacheRequests, RemoteRequests: t.RemoteRequests, Served: t.ServedBytes,
		Saved: t.UpstreamBytesSaved, Upstream: t.UpstreamBytes}
	if t.HitRatio != nil {
		v.HitRatio, v.HasRatio = *t.HitRatio, true
	}
	for _, m := range t.Minutes {
		v.PerMinute = append(v.PerMinute, m.Requests)
	}
	return v
}

// upstreamCard is the health shown on r's screen (nil for a local
// repository), with the connection test for those who may run it.
func (h *Handler) upstreamCard(c *fiber.Ctx, r *config.Remote) *views.HealthView {
	if r.IsLocal() || h.d.Stats == nil {
		return nil
	}
	v := h.healthOf(c, r)
	v.CanTest = h.d.Prober != nil && auth.Allowed(principalOf(c), auth.Admin, r)
	v.CSRF = h.csrfToken(c)
	return &v
}

// topArtifacts returns the most requested artifacts of remotes, most first.
func (h *Handler) topArtifacts(ctx context.Context, remotes []string) []views.TopArtifact {
	if h.d.Top == nil {
		return nil
	}
	var out []views.TopArtifact
	for _, name := range remotes {
		arts, err := h.d.Top.TopArtifacts(ctx, name, topShown)
		if err != nil {
			h.d.Log.Warn("dashboard overview: most requested artifacts", "remote", name, "err", err)
			continue
		}
		for _, a := range arts {
			out = append(out, views.TopArtifact{Remote: name, Path: a.Path, URL: "/api/" + name + "/" + a.Path, Hits: a.Hits, Size: a.Size})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Hits > out[j].Hits })
	if len(out) > topShown {
		out = out[:topShown]
	}
	return out
}

// TestConnection sends one request to the remote's upstream and shows the
// result explained: in place for htmx, on the remote's screen otherwise.
func (h *Handler) TestConnection(c *fiber.Ctx) error {
	r, err := h.remoteOf(c)
	if err != nil {
		return err
	}
	if r.IsLocal() || h.d.Prober == nil {
		return fail(http.StatusBadRequest, "A local repository has no upstream to test.")
	}
	res := h.d.Prober.Test(c.UserContext(), r)
	h.d.Log.Info("dashboard connection test", "remote", r.Name, "ok", res.OK, "status", res.Status, "kind", res.Kind)
	pv := views.ProbeView{OK: res.OK, Method: res.Method, URL: res.URL, Status: res.Status, LatencyMS: res.LatencyMS,
		Kind: res.Kind, Detail: res.Detail, Explanation: res.Explanation, At: res.At}
	if isHTMX(c) {
		return h.write(c, views.ProbeResult(pv))
	}
	p, err := h.remoteProps(c, r)
	if err != nil {
		return err
	}
	if p.Health != nil {
		p.Health.Probe = &pv
	}
	return h.write(c, views.RemotePage(p))
}
