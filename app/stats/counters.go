package stats

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// counterKey names one series of a counter this replica already keeps for
// Prometheus: the traffic figures are their growth, so serving a request
// costs nothing more than it did.
type counterKey struct {
	series, remote, source string
}

// Series read from the metrics (names of counterKey.series).
const (
	seriesRequests = "requests"
	seriesServed   = "served_bytes"
	seriesUpstream = "upstream_bytes"
	seriesStale    = "stale_serves"
)

// addCountersLocked adds to the pending deltas how much each counter grew
// since the last flush (a process starts them at zero).
func (r *Recorder) addCountersLocked(now time.Time) {
	m := r.o.Metrics
	for _, c := range []struct {
		series string
		vec    prometheus.Collector
	}{
		{seriesRequests, m.Requests},
		{seriesServed, m.BytesServed},
		{seriesUpstream, m.UpstreamBytes},
		{seriesStale, m.StaleServes},
	} {
		for _, s := range collect(c.vec) {
			k := counterKey{series: c.series, remote: s.labels["remote"], source: s.labels["source"]}
			grew := s.value - r.seen[k]
			r.seen[k] = s.value
			if grew <= 0 || k.remote == "" {
				continue
			}
			r.addLocked(k, int64(grew), now)
		}
	}
}

// addLocked adds n of counter k to the pending delta of now's minute.
func (r *Recorder) addLocked(k counterKey, n int64, now time.Time) {
	d := r.deltaLocked(k.remote, now)
	switch {
	case k.series == seriesRequests && k.source == "cache":
		d.CacheRequests += n
	case k.series == seriesRequests && k.source == "remote":
		d.RemoteRequests += n
	case k.series == seriesServed && k.source == "cache":
		d.CacheBytes += n
	case k.series == seriesServed && k.source == "remote":
		d.RemoteBytes += n
	case k.series == seriesUpstream:
		d.UpstreamBytes += n
	case k.series == seriesStale:
		d.StaleServes += n
		d.LastStale = now
	}
}

// sample is one series of a counter vector.
type sample struct {
	labels map[string]string
	value  float64
}

// collect reads every series of a counter vector.
func collect(c prometheus.Collector) []sample {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	var out []sample
	for m := range ch {
		var d dto.Metric
		if m.Write(&d) != nil || d.Counter == nil {
			continue
		}
		s := sample{labels: make(map[string]string, len(d.Label)), value: d.Counter.GetValue()}
		for _, l := range d.Label {
			s.labels[l.GetName()] = l.GetValue()
		}
		out = append(out, s)
	}
	return out
}
