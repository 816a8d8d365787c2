package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/stats"
	"artifactapi/app/testenv"
)

// upstreamPassword is the password the health remote sends upstream; it
// must never show in a health answer, a metric or the dashboard.
const upstreamPassword = "up-S3cret-pa55word"

// switchable is an upstream that can be stopped and started again on the
// same address, so a remote pointing at it sees the outage for real
// (connection refused) and its return.
type switchable struct {
	t    *testing.T
	addr string
	mu   sync.Mutex
	srv  *http.Server
}

func newSwitchable(t *testing.T, h http.Handler) *switchable {
	addr, err := testenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s := &switchable{t: t, addr: addr}
	s.start(h)
	t.Cleanup(s.stop)
	return s
}

func (s *switchable) url() string { return "http://" + s.addr }

func (s *switchable) start(h http.Handler) {
	s.t.Helper()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatalf("listen again on %s: %v", s.addr, err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
}

func (s *switchable) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		_ = s.srv.Close()
		s.srv = nil
	}
}

// healthOrigin answers every path with its name, behind Basic auth; "/"
// answers 200 (the connection test); /redirect/ sends the client to a dead
// address with credentials in the URL (they must not leak into messages).
func healthOrigin(dead string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "health-user" || p != upstreamPassword {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/redirect/") {
			http.Redirect(w, r, "http://leaky:"+upstreamPassword+"@"+dead+"/x?X-Amz-Signature=sig-"+upstreamPassword, http.StatusFound)
			return
		}
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		_, _ = io.WriteString(w, "content of "+r.URL.Path)
	})
}

func healthRemotes(base string) string {
	return fmt.Sprintf(`remotes:
  hr:
    base_url: %q
    package: generic
    username: health-user
    password: %q
    allow_private_redirects: true
    mutable_patterns: ["index\\.yaml$"]
    cache:
      mutable_ttl: 1
  loc:
    type: local
    package: generic
`, base, upstreamPassword)
}

// remoteHealth reads GET /remotes/{remote}/health.
func remoteHealth(t *testing.T, in *apptest.Instance, remote string) stats.Health {
	t.Helper()
	st, _, b := in.Get(t, "/remotes/"+remote+"/health", nil)
	if st != http.StatusOK {
		t.Fatalf("GET /remotes/%s/health: %d %s", remote, st, b)
	}
	var h stats.Health
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("health JSON %s: %v", b, err)
	}
	return h
}

// waitState waits until in reports state for remote and returns the health.
func waitState(t *testing.T, in *apptest.Instance, remote, state string) stats.Health {
	t.Helper()
	var h stats.Health
	deadline := time.Now().Add(20 * time.Second)
	testenv.Eventually(t, 25*time.Second, remote+" "+state+" on "+in.URL, func() bool {
		h = remoteHealth(t, in, remote)
		if time.Now().After(deadline) {
			t.Fatalf("%s on %s is still %+v, want %s", remote, in.URL, h, state)
		}
		return h.State == state
	})
	return h
}

// fastStats makes the replicas share their figures quickly.
var fastStats = map[string]string{"STATS_FLUSH_INTERVAL": "100ms"}

// TestUpstreamHealthStates: a remote is unknown until used, healthy while
// its upstream answers, unreachable once a request finds it stopped,
// serving stale when an expired copy is served meanwhile, and healthy again
// when it is back; the last error says what failed without any secret.
func TestUpstreamHealthStates(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		dead, err := testenv.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		up := newSwitchable(t, healthOrigin(dead))
		in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: healthRemotes(up.url()), Env: fastStats})

		if h := remoteHealth(t, in, "hr"); h.State != stats.StateUnknown {
			t.Fatalf("before any request: %+v", h)
		}
		if h := remoteHealth(t, in, "loc"); h.State != stats.StateLocal {
			t.Errorf("local repository: %+v", h)
		}
		if st, _, b := in.Get(t, "/api/hr/repo/index.yaml", nil); st != 200 || string(b) != "content of /repo/index.yaml" {
			t.Fatalf("first GET: %d %q", st, b)
		}
		h := waitState(t, in, "hr", stats.StateHealthy)
		if h.LastSuccess == nil || h.Requests < 1 || h.Errors != 0 || h.LastError != nil {
			t.Errorf("healthy: %+v", h)
		}

		up.stop()
		waitExpired(t, in, "hr", "repo/index.yaml")
		if st, _, _ := in.Get(t, "/api/hr/repo/other.bin", nil); st != http.StatusBadGateway {
			t.Fatalf("miss with the upstream stopped: %d, want 502", st)
		}
		h = waitState(t, in, "hr", stats.StateUnreachable)
		if h.LastError == nil || h.LastError.Kind != "refused" || !strings.Contains(h.LastError.Message, "connection refused") {
			t.Errorf("unreachable: last error %+v", h.LastError)
		}
		if h.Errors < 1 || h.ErrorRate <= 0 {
			t.Errorf("unreachable: %d errors, rate %v", h.Errors, h.ErrorRate)
		}

		st, hdr, _ := in.Get(t, "/api/hr/repo/index.yaml", nil)
		if st != 200 || hdr.Get("X-Artifact-Stale") != "true" {
			t.Fatalf("expired copy with the upstream stopped: %d stale=%q", st, hdr.Get("X-Artifact-Stale"))
		}
		h = waitState(t, in, "hr", stats.StateStale)
		if h.LastStale == nil || !strings.Contains(h.Summary, "serving cached copies") {
			t.Errorf("stale: %+v", h)
		}

		up.start(healthOrigin(dead))
		if st, _, _ := in.Get(t, "/api/hr/repo/back.bin", nil); st != 200 {
			t.Fatalf("GET after the upstream is back: %d", st)
		}
		h = waitState(t, in, "hr", stats.StateHealthy)
		if h.LastError == nil || h.LastSuccess == nil || !h.LastSuccess.After(h.LastError.At) {
			t.Errorf("healthy again: %+v", h)
		}

		// A redirect to a dead address with credentials in its URL: the
		// message names what failed, and no secret.
		if st, _, _ := in.Get(t, "/api/hr/redirect/x.bin", nil); st != http.StatusBadGateway {
			t.Fatalf("redirect to a dead address: %d", st)
		}
		testenv.Eventually(t, 20*time.Second, "the redirect's failure recorded", func() bool {
			h = remoteHealth(t, in, "hr")
			return h.LastError != nil && h.LastError.At.After(*h.LastSuccess)
		})
		if h.State != stats.StateUnreachable || h.LastError.Kind != "refused" {
			t.Errorf("after the failed redirect: %+v", h)
		}
		for _, path := range []string{"/remotes/hr/health", "/remotes", "/metrics"} {
			_, _, b := in.Get(t, path, apptest.Admin())
			for _, secret := range []string{upstreamPassword, "sig-", "leaky", apptest.AdminToken} {
				if strings.Contains(string(b), secret) {
					t.Errorf("%s shows %q:\n%s", path, secret, b)
				}
			}
		}
		if logs := in.Logs.String(); strings.Contains(logs, upstreamPassword) {
			t.Error("the logs show the upstream password")
		}
	})
}

// TestTestConnection: the connection test sends one request with the
// remote's credentials and explains the answer, or the failure; it needs
// the admin scope on the remote.
func TestTestConnection(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		up := newSwitchable(t, healthOrigin("127.0.0.1:1"))
		in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: healthRemotes(up.url()), Env: fastStats})
		probe := func(hdr map[string]string) (int, stats.Probe) {
			t.Helper()
			resp := in.Do(t, http.MethodPost, "/remotes/hr/test-connection", nil, hdr)
			defer resp.Body.Close()
			var p stats.Probe
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode == 200 {
				if err := json.Unmarshal(b, &p); err != nil {
					t.Fatalf("probe JSON %s: %v", b, err)
				}
			}
			return resp.StatusCode, p
		}
		if st, _ := probe(nil); st != http.StatusUnauthorized {
			t.Errorf("without credentials: %d, want 401", st)
		}
		tests := []struct {
			name        string
			down        bool
			ok          bool
			status      int
			kind        string
			explanation string
		}{
			{name: "up", ok: true, status: 200, explanation: "Reachable: HEAD " + up.url() + "/ answered HTTP 200 OK"},
			{name: "down", down: true, kind: "refused", explanation: "Not reachable: nothing accepts connections at " + up.addr},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if tc.down {
					up.stop()
				}
				st, p := probe(apptest.Admin())
				if st != 200 || p.OK != tc.ok || p.Status != tc.status || p.Kind != tc.kind || !strings.Contains(p.Explanation, tc.explanation) {
					t.Errorf("probe = %d %+v, want ok=%v status=%d kind=%q explanation with %q", st, p, tc.ok, tc.status, tc.kind, tc.explanation)
				}
				if strings.Contains(p.Explanation+p.Detail+p.URL, upstreamPassword) {
					t.Errorf("the probe shows the password: %+v", p)
				}
			})
		}
		// The test counts in the remote's health like any request.
		waitState(t, in, "hr", stats.StateUnreachable)
	})
}

// TestHealthAndTrafficAcrossReplicas: what one replica sees of an upstream
// and serves is reported the same by the other, in the JSON API and the
// state metrics, and the traffic counts are those of both together.
func TestHealthAndTrafficAcrossReplicas(t *testing.T) {
	b := apptest.NewBackends(t, apptest.Production)
	up := newSwitchable(t, healthOrigin("127.0.0.1:1"))
	a := apptest.Start(t, b, apptest.Options{Remotes: healthRemotes(up.url()), Env: fastStats})
	c := apptest.Start(t, b, apptest.Options{Remotes: healthRemotes(up.url()), Env: fastStats})

	const path = "/api/hr/files/tool.bin"
	body := "content of /files/tool.bin"
	if st, hdr, got := a.Get(t, path, nil); st != 200 || hdr.Get("X-Artifact-Source") != "remote" || string(got) != body {
		t.Fatalf("miss on a: %d %s %q", st, hdr.Get("X-Artifact-Source"), got)
	}
	settle(t, a)
	hits := map[*apptest.Instance]int{a: 2, c: 3}
	for in, n := range hits {
		for range n {
			if st, hdr, _ := in.Get(t, path, nil); st != 200 || hdr.Get("X-Artifact-Source") != "cache" {
				t.Fatalf("hit on %s: %d %s", in.URL, st, hdr.Get("X-Artifact-Source"))
			}
		}
	}
	want := stats.Traffic{Remote: "hr", CacheRequests: 5, RemoteRequests: 1, ServedBytes: 6 * int64(len(body)),
		UpstreamBytesSaved: 5 * int64(len(body)), UpstreamBytes: int64(len(body))}
	for _, in := range []*apptest.Instance{a, c} {
		var got stats.Traffic
		testenv.Eventually(t, 20*time.Second, "traffic of both replicas on "+in.URL, func() bool {
			st, _, b := in.Get(t, "/remotes/hr/traffic", nil)
			if st != 200 || json.Unmarshal(b, &got) != nil {
				t.Fatalf("GET /remotes/hr/traffic: %d %s", st, b)
			}
			return got.CacheRequests == want.CacheRequests && got.RemoteRequests == want.RemoteRequests
		})
		if got.ServedBytes != want.ServedBytes || got.UpstreamBytesSaved != want.UpstreamBytesSaved || got.UpstreamBytes != want.UpstreamBytes ||
			got.HitRatio == nil || *got.HitRatio != 5.0/6 {
			t.Errorf("traffic on %s = %+v, want %+v and hit ratio 5/6", in.URL, got, want)
		}
		var lastHour int64
		for _, m := range got.Minutes {
			lastHour += m.Requests
		}
		if len(got.Minutes) != 60 || lastHour != 6 {
			t.Errorf("minutes on %s: %d minutes, %d requests; want 60 and 6", in.URL, len(got.Minutes), lastHour)
		}
	}

	// The upstream stops; only a sees it, c reports it too.
	up.stop()
	if st, _, _ := a.Get(t, "/api/hr/files/missing.bin", nil); st != http.StatusBadGateway {
		t.Fatalf("miss with the upstream stopped: %d", st)
	}
	for _, in := range []*apptest.Instance{a, c} {
		h := waitState(t, in, "hr", stats.StateUnreachable)
		if h.LastError == nil || h.LastError.Kind != "refused" {
			t.Errorf("on %s: %+v", in.URL, h)
		}
		var list struct {
			Remotes []struct {
				Name    string         `json:"name"`
				Health  *stats.Health  `json:"health"`
				Traffic *stats.Traffic `json:"traffic"`
				Stored  *struct {
					Count int64 `json:"count"`
				} `json:"stored"`
			} `json:"remotes"`
		}
		_, _, b := in.Get(t, "/remotes", nil)
		if err := json.Unmarshal(b, &list); err != nil {
			t.Fatal(err)
		}
		for _, r := range list.Remotes {
			switch r.Name {
			case "hr":
				if r.Health == nil || r.Health.State != stats.StateUnreachable || r.Traffic == nil || r.Traffic.CacheRequests != 5 || r.Stored == nil || r.Stored.Count != 1 {
					t.Errorf("/remotes on %s: hr = %s", in.URL, b)
				}
			case "loc":
				if r.Health != nil {
					t.Errorf("/remotes on %s: a local repository has a health: %s", in.URL, b)
				}
			}
		}
		_, _, root := in.Get(t, "/", nil)
		if !strings.Contains(string(root), `"health":"unreachable"`) {
			t.Errorf("GET / on %s does not name hr's state: %s", in.URL, root)
		}
		_, _, m := in.Get(t, "/metrics", nil)
		for _, line := range []string{`artifactapi_upstream_up{remote="hr"} 0`, `artifactapi_upstream_state{remote="hr",state="unreachable"} 1`,
			`artifactapi_upstream_state{remote="hr",state="healthy"} 0`} {
			if !strings.Contains(string(m), line+"\n") {
				t.Errorf("/metrics on %s lacks %s", in.URL, line)
			}
		}
	}
	_, _, m := a.Get(t, "/metrics", nil)
	for _, line := range []string{`artifactapi_upstream_requests_total{outcome="ok",remote="hr"} 1`,
		`artifactapi_upstream_requests_total{outcome="refused",remote="hr"} 1`, `artifactapi_upstream_latency_seconds_count{remote="hr"} 2`} {
		if !strings.Contains(string(m), line+"\n") {
			t.Errorf("/metrics on the replica that asked lacks %s", line)
		}
	}
}
