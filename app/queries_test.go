package app_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"artifactapi/app/apptest"
	"artifactapi/app/config"
)

// TestQueryStringsAreDroppedByDefault: distinct query strings neither reach
// the upstream nor make new copies, and a query token is never stored.
func TestQueryStringsAreDroppedByDefault(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		o := newOrigin(t)
		o.set("/files/q.bin", randBody(2000, 3))
		o.set("/files/v.bin?v=1", []byte("version one"))
		o.set("/files/v.bin?v=2", []byte("version two"))
		extra := `  withv:
    base_url: "` + o.URL + `"
    query_params: ["v"]
`
		in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: remotesFor(o, extra)})
		for _, q := range []string{"", "?x=1", "?x=2", "?access_token=s3cr3t-value", "?cb=123&y"} {
			st, _, body := in.Get(t, "/api/gen/files/q.bin"+q, nil)
			if st != 200 || len(body) != 2000 {
				t.Fatalf("GET q.bin%s: %d, %d bytes", q, st, len(body))
			}
			settle(t, in)
		}
		if n := o.count("/files/q.bin"); n != 1 {
			t.Fatalf("origin saw %d GETs; want 1 (queries dropped, one copy)", n)
		}
		l := list(t, in, "gen", nil)
		if l.Totals.Count != 1 || l.Items[0].Path != "files/q.bin" {
			t.Fatalf("listing after query-busting: %+v", l.Items)
		}
		_, _, raw := in.Get(t, "/artifacts/gen", nil)
		if strings.Contains(string(raw), "s3cr3t") || strings.Contains(string(raw), "access_token") {
			t.Fatalf("a query token reached the listing: %s", raw)
		}
		// An allow-listed parameter is passed on and keyed; others are still dropped.
		for _, tc := range []struct{ q, want string }{
			{"?v=1", "version one"}, {"?v=2", "version two"}, {"?v=1&junk=9", "version one"}, {"?junk=9&v=2", "version two"},
		} {
			st, _, body := in.Get(t, "/api/withv/files/v.bin"+tc.q, nil)
			if st != 200 || string(body) != tc.want {
				t.Fatalf("GET v.bin%s: %d %q, want %q", tc.q, st, body, tc.want)
			}
			settle(t, in)
		}
		if a, b := o.count("/files/v.bin?v=1"), o.count("/files/v.bin?v=2"); a != 1 || b != 1 {
			t.Fatalf("origin GETs for v=1, v=2: %d, %d; want 1 each", a, b)
		}
		if l := list(t, in, "withv", nil); l.Totals.Count != 2 {
			t.Fatalf("withv listing: %+v", l.Items)
		}
	})
}

func TestQueryParamsThatLookLikeCredentialsAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name, param string
		ok          bool
	}{
		{"plain name", "version", true},
		{"token", "access_token", false},
		{"signature", "X-Amz-Signature", false},
		{"api key", "apikey", false},
		{"not a name", "a=b", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.ParseRemotes("remotes.yaml", []byte(fmt.Sprintf("remotes:\n  r:\n    base_url: http://example.com\n    query_params: [%q]\n", tc.param)))
			if (err == nil) != tc.ok {
				t.Fatalf("query_params [%q]: err %v, want ok=%v", tc.param, err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "query_params") {
				t.Fatalf("error does not name the key: %v", err)
			}
		})
	}
}

// TestConcurrentFillCap: with MAX_CONCURRENT_FILLS=1 and one download
// running, a miss for another artifact gets 503 with Retry-After and a JSON
// error; a cache hit and a joiner of the running download are still served.
func TestConcurrentFillCap(t *testing.T) {
	body := randBody(1<<20, 5)
	g := &gatedOrigin{body: body, gate: make(chan struct{}), sentHalf: make(chan struct{}), gated: true}
	srv := &http.Server{Handler: g}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	o := newOrigin(t)
	o.set("/files/other.bin", []byte("other"))
	o.set("/files/warm.bin", []byte("warm"))
	remotes := fmt.Sprintf("remotes:\n  slow:\n    base_url: %q\n  gen:\n    base_url: %q\n", "http://"+ln.Addr().String(), o.URL)
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: remotes,
		Env: map[string]string{"MAX_CONCURRENT_FILLS": "1"}})
	if st, _, _ := in.Get(t, "/api/gen/files/warm.bin", nil); st != 200 {
		t.Fatal("warm-up GET failed")
	}
	settle(t, in)
	first, err := http.Get(in.URL + "/api/slow/big/file.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Body.Close()
	<-g.sentHalf
	resp := in.Do(t, http.MethodGet, "/api/gen/files/other.bin", nil, nil)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(string(b), `"error"`) || resp.Header.Get("X-Artifact-Source") != "" {
		t.Fatalf("miss beyond the cap: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	if o.count("/files/other.bin") != 0 {
		t.Fatal("the refused miss reached the upstream")
	}
	if st, _, got := in.Get(t, "/api/gen/files/warm.bin", nil); st != 200 || string(got) != "warm" {
		t.Fatalf("cache hit while at the cap: %d", st)
	}
	close(g.gate)
	g.mu.Lock()
	g.gated = false
	g.mu.Unlock()
	io.Copy(io.Discard, first.Body)
	settle(t, in)
	if st, _, got := in.Get(t, "/api/gen/files/other.bin", nil); st != 200 || string(got) != "other" {
		t.Fatalf("after the running download ended: %d %q", st, got)
	}
}
