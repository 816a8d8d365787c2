package views

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// HealthView is a remote's upstream health as every replica sees it.
type HealthView struct {
	Remote  string
	State   string // healthy, degraded, unreachable, stale, unknown
	Summary string // why, in words
	// Zero times: never.
	LastSuccess  time.Time
	LastError    time.Time
	ErrorKind    string
	ErrorMessage string // secret-free
	LastStale    time.Time
	// Over the last WindowMinutes, all replicas: upstream requests, those
	// that failed, their share and the mean time to response headers.
	WindowMinutes int
	Requests      int64
	Errors        int64
	ErrorRate     float64
	LatencyMS     float64
	// CanTest shows the "Test connection" button (admin on the remote).
	CanTest bool
	CSRF    string
	Probe   *ProbeView // the result of a test, when the page answers one
}

// ProbeView is the explained result of a connection test.
type ProbeView struct {
	OK          bool
	Method      string
	URL         string
	Status      int
	LatencyMS   float64
	Kind        string // dns, refused, timeout, tls… ("" when an answer arrived)
	Detail      string
	Explanation string
	At          time.Time
}

// TrafficView is what a remote served, all replicas together.
type TrafficView struct {
	CacheRequests  int64
	RemoteRequests int64
	HitRatio       float64
	HasRatio       bool
	Served         int64 // bytes sent to clients
	Saved          int64 // of those, sent from the cache: not downloaded again
	Upstream       int64 // bytes downloaded from the upstream
	// PerMinute are the requests of the last hour, one per minute, oldest first.
	PerMinute []int64
}

// TopArtifact is one of the most requested artifacts.
type TopArtifact struct {
	Remote string
	Path   string
	URL    string
	Hits   int64 // cache hits, all replicas
	Size   int64
}

// Bytes served from the cache for this artifact: its hits times its size.
func (t TopArtifact) servedBytes() int64 { return t.Hits * t.Size }

// healthLabel names an upstream state in words.
func healthLabel(state string) string {
	switch state {
	case "healthy":
		return "Healthy"
	case "degraded":
		return "Degraded"
	case "unreachable":
		return "Unreachable"
	case "stale":
		return "Serving stale"
	case "unknown", "":
		return "No traffic yet"
	}
	return state
}

// stateHint says what a state means, for titles.
func stateHint(state string) string {
	switch state {
	case "healthy":
		return "The upstream answers."
	case "degraded":
		return "The upstream answers, but slowly or with errors."
	case "unreachable":
		return "The last request to the upstream failed: it cannot be reached."
	case "stale":
		return "The upstream cannot be reached; cached copies past their expiry are served."
	}
	return "No request has gone to the upstream yet."
}

// errorKindLabel names a failure kind in words.
func errorKindLabel(kind string) string {
	switch kind {
	case "dns":
		return "DNS lookup failed"
	case "refused":
		return "connection refused"
	case "timeout":
		return "timed out"
	case "tls":
		return "TLS failure"
	case "reset":
		return "connection reset"
	case "network":
		return "network error"
	case "http_5xx":
		return "server error (5xx)"
	case "rate_limited":
		return "rate limited (429)"
	case "auth":
		return "credentials refused"
	case "body_broken":
		return "download cut short"
	case "policy":
		return "redirect refused"
	}
	return strings.ReplaceAll(kind, "_", " ")
}

// Millis formats a latency ("12 ms", "1.4 s"); "—" for none.
func Millis(ms float64) string {
	switch {
	case ms <= 0:
		return "—"
	case ms < 1:
		return "<1 ms"
	case ms < 1000:
		return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
	}
	return strconv.FormatFloat(ms/1000, 'f', 1, 64) + " s"
}

// ratePercent formats an error rate over n requests ("2.5 % of 40").
func ratePercent(rate float64, n int64) string {
	if n == 0 {
		return "no requests"
	}
	return fmt.Sprintf("%s of %s", Percent(rate, true), Count(n))
}

// probeStatus is the answer's status in words ("HTTP 200 OK"), or the
// failure kind.
func (p ProbeView) probeStatus() string {
	if p.Status == 0 {
		return errorKindLabel(p.Kind)
	}
	return "HTTP " + strconv.Itoa(p.Status)
}
