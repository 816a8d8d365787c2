package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrorKinds are the kind labels of artifactapi_errors_total. Each series
// exists from start-up at 0, so a rate() over it is defined before the first
// error and an alert can tell "no errors" from "no data".
var ErrorKinds = []string{"upstream_network", "upstream_http", "verify", "storage", "metadata", "coord", "blob_replaced", "relay_takeover"}

// Ops are the series the Grafana dashboard and the alert rules in deploy/
// need beyond PRODUCT §10's counters.
type Ops struct {
	RequestDuration *prometheus.HistogramVec // source
	JobItems        *prometheus.CounterVec   // remote, state

	durations sync.Map // source → prometheus.Observer
}

func newOps(r *prometheus.Registry) *Ops {
	o := &Ops{
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "artifactapi_request_duration_seconds",
			Help:    "Artifact and registry requests from arrival to the last byte sent, by source (cache, remote, none).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}},
			[]string{"source"}),
		JobItems: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "artifactapi_job_items_total",
			Help: "Batch cache job items finished by this replica, by remote and final state."}, []string{"remote", "state"}),
	}
	r.MustRegister(o.RequestDuration, o.JobItems)
	return o
}

// ObserveRequest records one answered request's duration. The observer of
// each source is looked up once and kept, as in Served.
func (o *Ops) ObserveRequest(source string, d time.Duration) {
	v, ok := o.durations.Load(source)
	if !ok {
		v, _ = o.durations.LoadOrStore(source, o.RequestDuration.WithLabelValues(source))
	}
	v.(prometheus.Observer).Observe(d.Seconds())
}

// InitRemotes creates the per-remote series of every configured remote at
// 0 (at start-up and on reload), so dashboards and alerts see each remote
// before its first stale serve or coalesced request.
func (m *Metrics) InitRemotes(names []string) {
	for _, n := range names {
		m.StaleServes.WithLabelValues(n)
		m.Coalesced.WithLabelValues(n)
		m.UpstreamBytes.WithLabelValues(n)
	}
}
