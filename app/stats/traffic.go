package stats

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Traffic is what a remote served, all replicas together, since the
// figures were first recorded.
type Traffic struct {
	Remote string `json:"remote"`
	// Requests answered from the cache (hits) and through a download.
	CacheRequests  int64 `json:"cache_requests"`
	RemoteRequests int64 `json:"remote_requests"`
	// HitRatio is hits / (hits + downloads); nil before any request.
	HitRatio *float64 `json:"hit_ratio"`
	// Bytes sent to clients, and of those the ones sent from the cache:
	// bytes the upstream did not have to send again.
	ServedBytes        int64 `json:"served_bytes"`
	UpstreamBytesSaved int64 `json:"upstream_bytes_saved"`
	// UpstreamBytes were downloaded from the upstream.
	UpstreamBytes int64 `json:"upstream_bytes"`
	StaleServes   int64 `json:"stale_serves"`
	// Minutes are the last History, one per minute, oldest first.
	Minutes []Minute `json:"minutes,omitempty"`
}

// Minute is one minute of a remote's traffic.
type Minute struct {
	At       time.Time `json:"at"`
	Requests int64     `json:"requests"` // hits and downloads
	Bytes    int64     `json:"bytes"`    // sent to clients
}

// Traffic returns remote's traffic as last read from every replica.
func (r *Recorder) Traffic(remote string) Traffic {
	v := r.view.Load()
	rv := v.remote(remote)
	c := rv.totals
	t := Traffic{Remote: remote, CacheRequests: c.CacheRequests, RemoteRequests: c.RemoteRequests,
		ServedBytes: c.CacheBytes + c.RemoteBytes, UpstreamBytesSaved: c.CacheBytes, UpstreamBytes: c.UpstreamBytes,
		StaleServes: c.StaleServes}
	if n := c.CacheRequests + c.RemoteRequests; n > 0 {
		ratio := float64(c.CacheRequests) / float64(n)
		t.HitRatio = &ratio
	}
	end := r.o.Now().UTC().Truncate(time.Minute)
	start := end.Add(-History + time.Minute)
	byMinute := make(map[int64]Minute, len(rv.minutes))
	for _, m := range rv.minutes {
		byMinute[m.Minute.Unix()] = Minute{At: m.Minute, Requests: m.CacheRequests + m.RemoteRequests, Bytes: m.CacheBytes + m.RemoteBytes}
	}
	for at := start; !at.After(end); at = at.Add(time.Minute) {
		m, ok := byMinute[at.Unix()]
		if !ok {
			m = Minute{At: at}
		}
		t.Minutes = append(t.Minutes, m)
	}
	return t
}

// stateCollector exports each remote's shared state at scrape time:
// artifactapi_upstream_up (1 healthy or degraded, 0 unreachable or serving
// stale; absent before any contact) and artifactapi_upstream_state (1 for
// the current state, 0 for the others).
type stateCollector struct{ r *Recorder }

var (
	upDesc = prometheus.NewDesc("artifactapi_upstream_up",
		"1 while the remote's upstream answers (healthy or degraded), 0 while it is unreachable or stale copies are served; as every replica sees it. Absent before the first upstream request.",
		[]string{"remote"}, nil)
	stateDesc = prometheus.NewDesc("artifactapi_upstream_state",
		"The remote's upstream state (healthy, degraded, unreachable, stale, unknown): 1 for the current one, 0 for the others; as every replica sees it.",
		[]string{"remote", "state"}, nil)
)

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- upDesc
	ch <- stateDesc
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	if c.r.o.Config == nil {
		return
	}
	cfg := c.r.o.Config()
	for _, name := range cfg.Remotes.Names() {
		if cfg.Remotes.Remotes[name].IsLocal() {
			continue
		}
		h := c.r.Health(name)
		for _, s := range States {
			v := 0.0
			if s == h.State {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(stateDesc, prometheus.GaugeValue, v, name, s)
		}
		if h.State == StateUnknown {
			continue
		}
		up := 0.0
		if h.Up() {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up, name)
	}
}
