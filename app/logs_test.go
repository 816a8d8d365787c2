package app_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"artifactapi/app/apptest"
)

// TestUpstreamFailureLogs: an upstream failure on a miss is a WARN line
// that says so and names the remote, the path and the cause (said once),
// besides the request's access line. An upstream 404 is not a failure.
func TestUpstreamFailureLogs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close() // nothing listens there: connection refused
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/missing.bin") {
			http.NotFound(w, r)
			return
		}
		http.Error(w, "broken", http.StatusServiceUnavailable)
	}))
	defer up.Close()
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: fmt.Sprintf(`remotes:
  down:
    base_url: "http://%s"
  broken:
    base_url: "%s"
    negative_ttl: 0
`, closed, up.URL)})

	tests := []struct {
		name     string
		path     string
		status   int
		wantWarn []string // substrings of one WARN line; nil: no WARN line at all
	}{
		{name: "unreachable", path: "/api/down/x.bin", status: http.StatusBadGateway,
			wantWarn: []string{`msg="upstream fetch failed"`, "remote=down", "path=x.bin", "status=502", "upstream unreachable: GET http://127.0.0.1", "connection refused"}},
		{name: "upstream 503", path: "/api/broken/y.bin", status: http.StatusBadGateway,
			wantWarn: []string{`msg="upstream fetch failed"`, "remote=broken", "path=y.bin", "HTTP 503"}},
		{name: "upstream 404", path: "/api/broken/missing.bin", status: http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(in.Logs.String())
			if status, _, body := in.Get(t, tc.path, nil); status != tc.status {
				t.Fatalf("GET %s = %d %s, want %d", tc.path, status, body, tc.status)
			}
			logs := in.Logs.String()[before:]
			var warns []string
			access := false
			for _, l := range strings.Split(logs, "\n") {
				if strings.Contains(l, "level=WARN") {
					warns = append(warns, l)
				}
				if strings.Contains(l, "Cache MISS") && strings.Contains(l, fmt.Sprintf("status=%d", tc.status)) {
					access = true
				}
				if strings.Contains(l, "unreachable: upstream unreachable") {
					t.Errorf("doubled prefix: %s", l)
				}
			}
			if !access {
				t.Errorf("no access line for the request:\n%s", logs)
			}
			if tc.wantWarn == nil {
				if len(warns) > 0 {
					t.Fatalf("unexpected WARN lines:\n%s", strings.Join(warns, "\n"))
				}
				return
			}
			for _, w := range warns {
				if hasAll(w, tc.wantWarn) {
					return
				}
			}
			t.Fatalf("no WARN line with all of %q:\n%s", tc.wantWarn, logs)
		})
	}
}

func hasAll(s string, subs []string) bool {
	for _, w := range subs {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}
