// Package metrics holds the Prometheus series of PRODUCT §10 on a private
// registry owned by the app (no global state).
package metrics

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics is every series the app exports.
type Metrics struct {
	Registry *prometheus.Registry

	Requests          *prometheus.CounterVec   // remote, source, status
	BytesServed       *prometheus.CounterVec   // remote, source (cache|remote)
	UpstreamFetch     *prometheus.HistogramVec // remote, outcome
	UpstreamBytes     *prometheus.CounterVec   // remote
	DownloadsInFlight prometheus.Gauge
	Coalesced         *prometheus.CounterVec // remote
	StaleServes       *prometheus.CounterVec // remote
	Errors            *prometheus.CounterVec // kind
	Evictions         *prometheus.CounterVec // remote, reason
	CoordFailures     prometheus.Counter
	PendingNotices    prometheus.Gauge
	MetadataTrusted   prometheus.Gauge
	FillsRefused      prometheus.Counter
	Rewrites          *prometheus.CounterVec // result: computed, memoised
	// UpstreamRequests counts upstream exchanges by remote and outcome
	// ("ok", "http_4xx", or the failure kind); UpstreamLatency is their
	// time to response headers.
	UpstreamRequests *prometheus.CounterVec   // remote, outcome
	UpstreamLatency  *prometheus.HistogramVec // remote

	*Ops // request latency, job throughput (ops.go)
	// MetadataQueries counts statements sent to PostgreSQL and
	// CoordCommands commands sent to Redis, by phase (request, fill,
	// background): what sizes those servers (docs/scaling.md).
	MetadataQueries *BackendCalls
	CoordCommands   *BackendCalls
	BlobRequests    *BackendCalls // HTTP requests to S3

	served sync.Map // servedKey → *servedSeries
}

// New registers every series on a fresh registry.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "artifactapi_requests_total",
			Help: "Artifact and registry requests by remote, source (cache, remote, none) and HTTP status."}, []string{"remote", "source", "status"}),
		BytesServed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "artifactapi_served_bytes_total",
			Help: "Bytes sent to clients, by remote and source (cache or remote)."}, []string{"remote", "source"}),
		UpstreamFetch: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "artifactapi_upstream_fetch_seconds",
			Help:    "Duration of upstream downloads, by remote and outcome.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}}, []string{"remote", "outcome"}),
		UpstreamBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "artifactapi_upstream_bytes_total",
			Help: "Bytes downloaded from upstreams."}, []string{"remote"}),
		DownloadsInFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "artifactapi_downloads_in_flight",
			Help: "Upstream downloads running now."}),
		Coalesced: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "artifactapi_coalesced_waiters_total",
			Help: "Requests that joined a download already running instead of starting one."}, []string{"remote"}),
		StaleServes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "artifactapi_stale_serves_total",
			Help: "Expired artifacts served because the upstream was unreachable."}, []string{"remote"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "artifactapi_errors_total",
			Help: "Errors by kind (upstream_network, upstream_http, verify, storage, metadata, coord)."}, []string{"kind"}),
		Evictions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "artifactapi_evictions_total",
			Help: "Artifacts removed from the cache, by remote and reason."}, []string{"remote", "reason"}),
		CoordFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "artifactapi_coordination_failures_total",
			Help: "Redis operations that failed; serving continued without them."}),
		PendingNotices: prometheus.NewGauge(prometheus.GaugeOpts{Name: "artifactapi_pending_invalidations",
			Help: "Invalidation notices not yet delivered to the other replicas (retried every second)."}),
		MetadataTrusted: prometheus.NewGauge(prometheus.GaugeOpts{Name: "artifactapi_metadata_memo_trusted",
			Help: "1 while this replica provably receives other replicas' invalidations and serves metadata from memory; 0 while every hit reads the metadata store."}),
		Rewrites: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "artifactapi_metadata_rewrites_total",
			Help: "Package metadata documents rewritten for a client: computed, or taken from memory (same bytes, same rewrite)."}, []string{"result"}),
		FillsRefused: prometheus.NewCounter(prometheus.CounterOpts{Name: "artifactapi_fills_refused_total",
			Help: "Downloads refused with 503 because MAX_CONCURRENT_FILLS were running."}),
		UpstreamRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "artifactapi_upstream_requests_total",
			Help: "Upstream requests (fills, revalidations, registry manifest and tag requests, connection tests) by remote and outcome: ok, http_4xx (an answer: the upstream is there), or the failure kind (dns, refused, timeout, tls, reset, network, http_5xx, rate_limited, auth, body_broken, policy, error)."},
			[]string{"remote", "outcome"}),
		UpstreamLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "artifactapi_upstream_latency_seconds",
			Help:    "Time from an upstream request to its response headers, by remote.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"remote"}),
		MetadataQueries: newBackendCalls("artifactapi_metadata_queries_total",
			"Statements sent to PostgreSQL, by phase: request (answering a client), fill (a download into the cache), background (hit counts, jobs, sweeps)."),
		CoordCommands: newBackendCalls("artifactapi_coordination_commands_total",
			"Commands sent to Redis, by phase: request, fill, background (invalidation probes, lock refreshes)."),
		BlobRequests: newBackendCalls("artifactapi_blob_requests_total",
			"HTTP requests sent to S3, by phase: request (reading a cached body), fill (storing a download), background (eviction, sweeps)."),
	}
	r.MustRegister(m.Requests, m.BytesServed, m.UpstreamFetch, m.UpstreamBytes, m.DownloadsInFlight,
		m.Coalesced, m.StaleServes, m.Errors, m.Evictions, m.CoordFailures,
		m.PendingNotices, m.MetadataTrusted, m.FillsRefused, m.Rewrites, m.UpstreamRequests, m.UpstreamLatency,
		m.MetadataQueries, m.CoordCommands, m.BlobRequests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.Ops = newOps(r)
	for _, k := range ErrorKinds {
		m.Errors.WithLabelValues(k)
	}
	return m
}

// servedKey names one requests_total series.
type servedKey struct {
	remote, source string
	status         int
}

// servedSeries are the two counters one request updates.
type servedSeries struct {
	requests prometheus.Counter
	bytes    prometheus.Counter
}

// Served counts one answered request and the bytes it sent. The series are
// looked up once per label combination and kept: a cache hit does not pay
// for hashing labels into the vectors.
func (m *Metrics) Served(remote, source string, status int, bytes int64) {
	k := servedKey{remote, source, status}
	v, ok := m.served.Load(k)
	if !ok {
		v, _ = m.served.LoadOrStore(k, &servedSeries{
			requests: m.Requests.WithLabelValues(remote, source, strconv.Itoa(status)),
			bytes:    m.BytesServed.WithLabelValues(remote, source),
		})
	}
	s := v.(*servedSeries)
	s.requests.Inc()
	if bytes > 0 {
		s.bytes.Add(float64(bytes))
	}
}

// HotTierStats are the counters of a hot tier (blob.Hot), read at scrape time.
type HotTierStats struct {
	Hits, Misses, Evictions, Bytes int64
}

// RegisterHotTier exports a hot tier's counters: artifactapi_hot_tier_hits_total,
// _misses_total, _evictions_total and artifactapi_hot_tier_bytes.
func (m *Metrics) RegisterHotTier(stats func() HotTierStats) {
	counter := func(name, help string, v func(HotTierStats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v(stats())) })
	}
	m.Registry.MustRegister(
		counter("artifactapi_hot_tier_hits_total", "Cache hits served from this replica's hot tier (local disk) instead of the blob store.",
			func(s HotTierStats) int64 { return s.Hits }),
		counter("artifactapi_hot_tier_misses_total", "Cache hits read from the blob store because the hot tier held no copy of that object version.",
			func(s HotTierStats) int64 { return s.Misses }),
		counter("artifactapi_hot_tier_evictions_total", "Copies removed from the hot tier, least recently used first, to stay under HOT_CACHE_SIZE.",
			func(s HotTierStats) int64 { return s.Evictions }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "artifactapi_hot_tier_bytes",
			Help: "Bytes the hot tier holds, copies being written included (at most HOT_CACHE_SIZE)."},
			func() float64 { return float64(stats().Bytes) }),
	)
}
