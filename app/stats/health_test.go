package stats

import (
	"strings"
	"testing"
	"time"

	"artifactapi/db"
)

func TestDeriveState(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 30, 0, time.UTC)
	minute := now.Truncate(time.Minute)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	tests := []struct {
		name    string
		health  db.RemoteHealth
		minutes []db.TrafficCounts
		want    string
		summary string
	}{
		{name: "never contacted", want: StateUnknown, summary: "no upstream request yet"},
		{name: "answering", health: db.RemoteHealth{LastSuccess: ago(time.Second)},
			minutes: []db.TrafficCounts{{Minute: minute, UpstreamOK: 10, LatencyMicros: 10 * 20000, LatencyCount: 10}},
			want:    StateHealthy, summary: "10 upstream requests"},
		{name: "recovered from an outage", want: StateHealthy,
			health:  db.RemoteHealth{LastSuccess: ago(time.Second), LastError: ago(time.Minute), ErrorKind: "refused"},
			minutes: []db.TrafficCounts{{Minute: minute, UpstreamOK: 1, UpstreamErrors: 5}}},
		{name: "refused", want: StateUnreachable, summary: "failed (refused)",
			health: db.RemoteHealth{LastSuccess: ago(time.Hour), LastError: ago(time.Second), ErrorKind: "refused"}},
		{name: "never reached", want: StateUnreachable,
			health: db.RemoteHealth{LastError: ago(time.Second), ErrorKind: "dns"}},
		{name: "failing and serving stale", want: StateStale, summary: "serving cached copies",
			health: db.RemoteHealth{LastSuccess: ago(time.Hour), LastError: ago(2 * time.Second), ErrorKind: "timeout", LastStale: ago(time.Second)}},
		{name: "stale served before the last success", want: StateUnreachable,
			health: db.RemoteHealth{LastSuccess: ago(time.Minute), LastError: ago(time.Second), ErrorKind: "tls", LastStale: ago(time.Hour)}},
		{name: "last answer a 503", want: StateDegraded, summary: "(http_5xx)",
			health: db.RemoteHealth{LastSuccess: ago(time.Minute), LastError: ago(time.Second), ErrorKind: "http_5xx"}},
		{name: "many bad answers", want: StateDegraded, summary: "3 of 10 upstream requests got a bad answer",
			health:  db.RemoteHealth{LastSuccess: ago(time.Second), LastError: ago(2 * time.Second), ErrorKind: "http_5xx"},
			minutes: []db.TrafficCounts{{Minute: minute.Add(-time.Minute), UpstreamOK: 4, UpstreamErrors: 2, BadAnswers: 2}, {Minute: minute, UpstreamOK: 3, UpstreamErrors: 1, BadAnswers: 1}}},
		{name: "bad answers out of the window", want: StateHealthy,
			health:  db.RemoteHealth{LastSuccess: ago(time.Second), LastError: ago(time.Hour), ErrorKind: "http_5xx"},
			minutes: []db.TrafficCounts{{Minute: minute.Add(-time.Hour), UpstreamOK: 1, UpstreamErrors: 9, BadAnswers: 9}, {Minute: minute, UpstreamOK: 5}}},
		{name: "slow", want: StateDegraded, summary: "slow: 6000 ms",
			health:  db.RemoteHealth{LastSuccess: ago(time.Second)},
			minutes: []db.TrafficCounts{{Minute: minute, UpstreamOK: 2, LatencyMicros: 12_000_000, LatencyCount: 2}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.health.Remote = "r"
			h := derive(&remoteView{health: tc.health, minutes: tc.minutes}, now, now)
			if h.State != tc.want || !strings.Contains(h.Summary, tc.summary) {
				t.Errorf("state = %s (%q), want %s with %q", h.State, h.Summary, tc.want, tc.summary)
			}
			if h.Up() != (tc.want == StateHealthy || tc.want == StateDegraded) {
				t.Errorf("Up() = %v for %s", h.Up(), h.State)
			}
		})
	}
}
