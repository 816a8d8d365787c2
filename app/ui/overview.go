package ui

import (
	"sort"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"artifactapi/app/auth"
	"artifactapi/db"
	"artifactapi/views"
)

// recentPerRemote is how many recently cached artifacts each remote shows.
const recentPerRemote = 5

// Overview shows every remote with its numbers and the recent activity.
func (h *Handler) Overview(c *fiber.Ctx) error {
	ctx := c.UserContext()
	cfg := h.d.Config()
	hits := requestsBySource(h)
	scope := "cache hits / (hits + upstream fetches), this replica since start"
	if h.d.Stats != nil {
		scope = "cache hits / (hits + upstream fetches), all replicas"
	}
	p := views.OverviewProps{Chrome: h.chrome(c, "Overview", "overview"), Now: h.d.Now(), HitRatioScope: scope}
	var shown []string
	var totHit, totMiss float64
	who := principalOf(c)
	for _, name := range cfg.Remotes.Names() {
		r := cfg.Remotes.Remotes[name]
		if !auth.Allowed(who, auth.Read, r) {
			continue
		}
		s := views.RemoteSummary{Name: name, Type: r.Type, Package: r.Package, Description: r.Description, MaxSize: r.MaxSizeBytes()}
		t, err := h.d.Meta.Totals(ctx, name, "")
		if err == nil {
			s.Count, s.Bytes = t.Count, t.Bytes
			var page db.ListPage
			page, err = h.d.Meta.ListArtifacts(ctx, db.ListQuery{Remote: name, Sort: db.SortCachedAt, Desc: true, Limit: recentPerRemote})
			for _, a := range page.Items {
				act := views.Activity{Remote: name, Path: a.Path, URL: "/api/" + name + "/" + a.Path, Size: a.Size, Kind: a.Kind, CachedAt: a.CachedAt}
				s.Recent = append(s.Recent, act)
				p.Recent = append(p.Recent, act)
			}
		}
		if err == nil && h.isImages(r) {
			// Pushed images are no artifacts: count what they store.
			var used int64
			if used, err = h.d.Registry.Usage(ctx, name); err == nil {
				s.Bytes += used
			}
		}
		if err != nil {
			h.d.Log.Warn("dashboard overview", "remote", name, "err", err)
			s.Error = "could not read this repository's numbers: the metadata store did not answer"
		}
		s.Health, s.Traffic = h.healthOf(c, r), h.trafficOf(r)
		shown = append(shown, name)
		hc := hits[name]
		if h.d.Stats != nil { // every replica's, not only this one's
			hc = hitMiss{hit: float64(s.Traffic.CacheRequests), miss: float64(s.Traffic.RemoteRequests)}
		}
		s.Requests = int64(hc.hit + hc.miss)
		if hc.hit+hc.miss > 0 {
			s.HitRatio, s.HasRatio = hc.hit/(hc.hit+hc.miss), true
		}
		totHit += hc.hit
		totMiss += hc.miss
		p.Totals.Artifacts += s.Count
		p.Totals.Bytes += s.Bytes
		p.Remotes = append(p.Remotes, s)
	}
	p.Totals.Remotes = len(p.Remotes)
	if totHit+totMiss > 0 {
		p.Totals.HitRatio, p.Totals.HasRatio = totHit/(totHit+totMiss), true
	}
	p.Top = h.topArtifacts(ctx, shown)
	sort.SliceStable(p.Recent, func(i, j int) bool { return p.Recent[i].CachedAt.After(p.Recent[j].CachedAt) })
	if len(p.Recent) > 10 {
		p.Recent = p.Recent[:10]
	}
	p.Live = views.Live{URL: "/ui/", Every: 5, Max: 60}
	if err := sign(ctx, &p.Live, func() templ.Component { return views.OverviewLive(p) }); err != nil {
		return err
	}
	if current(c, p.Live) {
		return nil
	}
	return h.render(c, views.OverviewPage(p), views.OverviewLive(p))
}

// hitMiss counts requests served from the cache and fetched upstream.
type hitMiss struct{ hit, miss float64 }

// requestsBySource reads the requests counter (remote, source, status) of
// this process: source "cache" is a hit, "remote" a miss.
func requestsBySource(h *Handler) map[string]hitMiss {
	out := map[string]hitMiss{}
	if h.d.Metrics == nil {
		return out
	}
	ch := make(chan prometheus.Metric, 64)
	go func() {
		h.d.Metrics.Requests.Collect(ch)
		close(ch)
	}()
	for m := range ch {
		var d dto.Metric
		if m.Write(&d) != nil || d.Counter == nil {
			continue
		}
		var remote, source string
		for _, l := range d.Label {
			switch l.GetName() {
			case "remote":
				remote = l.GetValue()
			case "source":
				source = l.GetValue()
			}
		}
		hm := out[remote]
		switch source {
		case "cache":
			hm.hit += d.Counter.GetValue()
		case "remote":
			hm.miss += d.Counter.GetValue()
		}
		out[remote] = hm
	}
	return out
}
