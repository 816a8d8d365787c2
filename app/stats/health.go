package stats

import (
	"context"
	"fmt"
	"time"

	"artifactapi/app/upstream"
	"artifactapi/db"
)

// States of a remote's upstream.
const (
	StateHealthy     = "healthy"     // the last contact succeeded and few recent ones failed
	StateDegraded    = "degraded"    // reachable, but failing often, slow, or answering with errors
	StateUnreachable = "unreachable" // the last contact failed: the upstream cannot be reached
	StateStale       = "stale"       // unreachable, and expired copies are being served
	StateUnknown     = "unknown"     // no upstream contact yet
	StateLocal       = "local"       // a local repository: no upstream
)

// States lists the states of a remote with an upstream, for the metrics.
var States = []string{StateHealthy, StateDegraded, StateUnreachable, StateStale, StateUnknown}

// windowWords is Window in words.
const windowWords = "5 min"

// Thresholds of the degraded state over Window.
const (
	degradedErrorRate = 0.10            // this share of failed exchanges, or more
	slowLatency       = 5 * time.Second // a mean time to headers this long, or longer
)

// Health is a remote's upstream health as every replica sees it.
type Health struct {
	Remote string `json:"remote"`
	State  string `json:"state"`
	// Summary says why, in words.
	Summary     string     `json:"summary"`
	LastSuccess *time.Time `json:"last_success,omitempty"`
	LastError   *LastError `json:"last_error,omitempty"`
	// LastStale is the last time an expired copy was served because the
	// upstream failed.
	LastStale *time.Time `json:"last_stale_serve,omitempty"`
	// Over Window (every replica): upstream exchanges, those that failed,
	// their share, and the mean time to response headers.
	WindowSeconds int64   `json:"window_seconds"`
	Requests      int64   `json:"requests"`
	Errors        int64   `json:"errors"`
	ErrorRate     float64 `json:"error_rate"`
	LatencyMS     float64 `json:"latency_ms"`
	// As of when the replicas' figures were last read.
	AsOf time.Time `json:"as_of"`
}

// LastError is the newest upstream failure of a remote.
type LastError struct {
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	Message string    `json:"message"` // secret-free (scrubbed before it was stored)
}

// Up reports whether the upstream answers (healthy or degraded).
func (h Health) Up() bool { return h.State == StateHealthy || h.State == StateDegraded }

// view is what the last refresh read from the store.
type view struct {
	at      time.Time
	remotes map[string]*remoteView
}

// remoteView is one remote's shared figures.
type remoteView struct {
	health  db.RemoteHealth
	totals  db.TrafficCounts
	minutes []db.TrafficCounts // the last History, ascending; minutes without traffic are absent
}

func (v *view) remote(name string) *remoteView {
	if rv := v.remotes[name]; rv != nil {
		return rv
	}
	return &remoteView{health: db.RemoteHealth{Remote: name}, totals: db.TrafficCounts{Remote: name}}
}

// refresh reads every replica's figures.
func (r *Recorder) refresh(ctx context.Context) error {
	now := r.o.Now()
	hs, err := r.o.Store.RemoteHealth(ctx)
	if err != nil {
		return err
	}
	rows, err := r.o.Store.RemoteTraffic(ctx, now.Add(-History))
	if err != nil {
		return err
	}
	v := &view{at: now, remotes: map[string]*remoteView{}}
	get := func(name string) *remoteView {
		rv := v.remotes[name]
		if rv == nil {
			rv = &remoteView{health: db.RemoteHealth{Remote: name}, totals: db.TrafficCounts{Remote: name}}
			v.remotes[name] = rv
		}
		return rv
	}
	for _, h := range hs {
		get(h.Remote).health = h
	}
	for _, c := range rows {
		rv := get(c.Remote)
		if c.Minute.IsZero() {
			rv.totals = c
		} else {
			rv.minutes = append(rv.minutes, c)
		}
	}
	r.view.Store(v)
	return nil
}

// Health returns the upstream health of remote, from the figures of every
// replica as last read.
func (r *Recorder) Health(remote string) Health {
	v := r.view.Load()
	return derive(v.remote(remote), r.o.Now(), v.at)
}

// derive computes the state of rv at now.
func derive(rv *remoteView, now, asOf time.Time) Health {
	h := rv.health
	out := Health{Remote: h.Remote, WindowSeconds: int64(Window / time.Second), AsOf: asOf}
	var latMicros, latN, bad int64
	for _, m := range rv.minutes {
		if m.Minute.Before(now.Add(-Window)) {
			continue
		}
		out.Requests += m.UpstreamOK + m.UpstreamErrors
		out.Errors += m.UpstreamErrors
		bad += m.BadAnswers
		latMicros += m.LatencyMicros
		latN += m.LatencyCount
	}
	if out.Requests > 0 {
		out.ErrorRate = float64(out.Errors) / float64(out.Requests)
	}
	if latN > 0 {
		out.LatencyMS = float64(latMicros) / float64(latN) / 1000
	}
	if !h.LastSuccess.IsZero() {
		t := h.LastSuccess
		out.LastSuccess = &t
	}
	if !h.LastError.IsZero() {
		out.LastError = &LastError{At: h.LastError, Kind: h.ErrorKind, Message: h.ErrorMessage}
	}
	if !h.LastStale.IsZero() {
		t := h.LastStale
		out.LastStale = &t
	}
	out.State, out.Summary = state(h, out, bad, now)
	return out
}

// state is the rule table of the states, in order:
//  1. no contact recorded: unknown;
//  2. the newest contact failed and an expired copy was served since the
//     last success: stale;
//  3. the newest contact failed for a network reason (DNS, refused,
//     timeout, TLS, reset): unreachable;
//  4. the newest contact failed otherwise (5xx, 429, credentials refused,
//     a body cut short): degraded;
//  5. the newest contact succeeded, but over Window at least
//     degradedErrorRate of the exchanges got a bad answer (5xx, 429, a body
//     cut short…), or the mean time to headers reached slowLatency:
//     degraded. Network failures do not count here: they are an outage,
//     over once a request succeeds, not a sign of a flaky upstream;
//  6. else healthy.
func state(h db.RemoteHealth, w Health, bad int64, now time.Time) (string, string) {
	since := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return ago(now.Sub(t))
	}
	lastOK := "last success " + since(h.LastSuccess)
	switch {
	case h.LastSuccess.IsZero() && h.LastError.IsZero():
		return StateUnknown, "no upstream request yet"
	case h.LastError.After(h.LastSuccess) && h.LastStale.After(h.LastSuccess):
		return StateStale, fmt.Sprintf("upstream failing (%s); serving cached copies past their expiry; %s", h.ErrorKind, lastOK)
	case h.LastError.After(h.LastSuccess) && networkKind(h.ErrorKind):
		return StateUnreachable, fmt.Sprintf("the last request %s failed (%s); %s", since(h.LastError), h.ErrorKind, lastOK)
	case h.LastError.After(h.LastSuccess):
		return StateDegraded, fmt.Sprintf("the last request %s failed (%s); %s", since(h.LastError), h.ErrorKind, lastOK)
	case bad > 0 && float64(bad)/float64(w.Requests) >= degradedErrorRate:
		return StateDegraded, fmt.Sprintf("%d of %d upstream requests got a bad answer in the last %s", bad, w.Requests, windowWords)
	case w.LatencyMS >= float64(slowLatency/time.Millisecond):
		return StateDegraded, fmt.Sprintf("slow: %.0f ms to response headers on average in the last %s", w.LatencyMS, windowWords)
	}
	if w.Requests == 0 {
		return StateHealthy, lastOK
	}
	return StateHealthy, fmt.Sprintf("%d upstream requests in the last %s, %d failed; %s", w.Requests, windowWords, w.Errors, lastOK)
}

// networkKind reports the failures that mean the upstream cannot be reached.
func networkKind(kind string) bool {
	switch kind {
	case upstream.KindDNS, upstream.KindRefused, upstream.KindTimeout, upstream.KindTLS, upstream.KindReset, upstream.KindNetwork:
		return true
	}
	return false
}

// ago says how long d is, roughly ("3 min ago").
func ago(d time.Duration) string {
	switch {
	case d < 5*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
}
