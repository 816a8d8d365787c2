package app_test

import (
	"io"
	"testing"

	"artifactapi/app/apptest"
)

// TestNoSniffOnEveryAnswer: answers outside the /api and /v2 handlers —
// the router's own 404 and 405 (/api without a remote, an unknown route), the
// JSON management routes and their errors — are never sniffed either.
func TestNoSniffOnEveryAnswer(t *testing.T) {
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: "remotes:\n  gen:\n    base_url: http://127.0.0.1:1\n"})
	tests := []struct {
		name, method, path string
		status             int
	}{
		{name: "/api without a remote", method: "GET", path: "/api", status: 404},
		{name: "/api HEAD", method: "HEAD", path: "/api", status: 404},
		{name: "unknown route", method: "GET", path: "/nothing-here", status: 404},
		{name: "management route, wrong method", method: "GET", path: "/evict", status: 405},
		{name: "management route without credential", method: "POST", path: "/evict", status: 401},
		{name: "listing of an unknown remote", method: "GET", path: "/artifacts/none", status: 404},
		{name: "health", method: "GET", path: "/health", status: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := in.Do(t, tc.method, tc.path, nil, nil)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s = %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
			}
			if v := resp.Header.Get("X-Content-Type-Options"); v != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", v)
			}
		})
	}
}
