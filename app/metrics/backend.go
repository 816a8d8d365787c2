package metrics

import (
	"context"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Phase says on whose behalf a backend call is made, so that the metadata
// queries and Redis commands of client requests can be told apart from the
// replica's own periodic work (batched hit counts, invalidation probes,
// lock refreshes, jobs).
type Phase int

// The phases of backend calls.
const (
	// PhaseBackground is any call made outside a request or a fill.
	PhaseBackground Phase = iota
	// PhaseRequest is a call made while a client request is answered.
	PhaseRequest
	// PhaseFill is a call made by a download into the cache (started by a
	// request, run detached from it).
	PhaseFill
	phases
)

var phaseNames = [phases]string{"background", "request", "fill"}

func (p Phase) String() string { return phaseNames[p] }

type phaseKey struct{}

// The contexts of each phase are built once: marking a request costs no
// allocation (these values are never changed).
var phaseContexts = [phases]context.Context{
	PhaseBackground: context.Background(),
	PhaseRequest:    context.WithValue(context.Background(), phaseKey{}, PhaseRequest),
	PhaseFill:       context.WithValue(context.Background(), phaseKey{}, PhaseFill),
}

// Context returns a background context marked with phase p.
func Context(p Phase) context.Context { return phaseContexts[p] }

// WithPhase marks ctx with phase p.
func WithPhase(ctx context.Context, p Phase) context.Context {
	if ctx == context.Background() {
		return phaseContexts[p]
	}
	return context.WithValue(ctx, phaseKey{}, p)
}

// PhaseOf returns the phase ctx is marked with (background when none).
func PhaseOf(ctx context.Context) Phase {
	if ctx == nil {
		return PhaseBackground
	}
	p, _ := ctx.Value(phaseKey{}).(Phase)
	return p
}

// BackendCalls counts the round trips to one backend by phase. It is a
// Prometheus collector; counting is one atomic add.
type BackendCalls struct {
	desc *prometheus.Desc
	n    [phases]atomic.Uint64
}

func newBackendCalls(name, help string) *BackendCalls {
	return &BackendCalls{desc: prometheus.NewDesc(name, help, []string{"phase"}, nil)}
}

// Add counts n calls made under ctx.
func (b *BackendCalls) Add(ctx context.Context, n int) { b.n[PhaseOf(ctx)].Add(uint64(n)) }

// Count returns the calls counted in phase p so far.
func (b *BackendCalls) Count(p Phase) uint64 { return b.n[p].Load() }

// Describe implements prometheus.Collector.
func (b *BackendCalls) Describe(ch chan<- *prometheus.Desc) { ch <- b.desc }

// Collect implements prometheus.Collector.
func (b *BackendCalls) Collect(ch chan<- prometheus.Metric) {
	for p := range phases {
		ch <- prometheus.MustNewConstMetric(b.desc, prometheus.CounterValue, float64(b.n[p].Load()), p.String())
	}
}
