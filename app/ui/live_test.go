package ui

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"artifactapi/db"
)

var liveAttrs = regexp.MustCompile(`id="([a-z-]+)"[^>]*data-live="([^"]*)"[^>]*data-live-sig="([0-9a-f]+)"`)

// TestLiveRegionsAnswer204WhileUnchanged: a live region's poll is answered
// 204 (nothing to swap) while what it shows is unchanged, and with the new
// region (a new signature, the totals out of band) once it changed.
func TestLiveRegionsAnswer204WhileUnchanged(t *testing.T) {
	hs := newHarness(t)
	session, seed, _ := hs.signIn()
	put := func(p string) {
		hs.store.mu.Lock()
		defer hs.store.mu.Unlock()
		hs.store.items["files"] = append(hs.store.items["files"], db.Artifact{Remote: "files", Path: p, Size: 10,
			Kind: db.KindImmutable, CachedAt: hs.now, LastAccess: hs.now})
	}
	put("v1/a.tar.gz")
	tests := []struct {
		name, page, region string
		change             func()
		want               string // in the changed region
	}{
		{name: "remote", page: "/ui/remotes/files", region: "artifacts", change: func() { put("v1/b.tar.gz") }, want: `data-path="v1/b.tar.gz"`},
		{name: "overview", page: "/ui/", region: "overview", change: func() { put("v1/c.tar.gz") }, want: "v1/c.tar.gz"},
		{name: "overview, time passes", page: "/ui/", region: "overview", change: func() { hs.now = hs.now.Add(3 * time.Hour) }, want: "3 h ago"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := hs.do(http.MethodGet, tc.page, nil, nil, session, seed)
			m := liveAttrs.FindStringSubmatch(body)
			if resp.StatusCode != http.StatusOK || m == nil || m[1] != tc.region {
				t.Fatalf("GET %s: %d, live region %q", tc.page, resp.StatusCode, m)
			}
			poll := func(sig string) (*http.Response, string) {
				return hs.do(http.MethodGet, strings.ReplaceAll(m[2], "&amp;", "&"), nil, map[string]string{"HX-Request": "true", liveHeader: sig}, session, seed)
			}
			if resp, body := poll(m[3]); resp.StatusCode != http.StatusNoContent || body != "" {
				t.Fatalf("unchanged: %d %q", resp.StatusCode, body)
			}
			tc.change()
			resp, body = poll(m[3])
			n := liveAttrs.FindStringSubmatch(body)
			if resp.StatusCode != http.StatusOK || n == nil || n[3] == m[3] || !strings.Contains(body, tc.want) || strings.Contains(body, "<html") {
				t.Fatalf("changed: %d, region %q, %s", resp.StatusCode, n, body)
			}
			if tc.region == "artifacts" && !strings.Contains(body, `hx-swap-oob="true"`) {
				t.Fatalf("the totals are not swapped with the listing: %s", body)
			}
			if resp, _ := poll(n[3]); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("current again: %d", resp.StatusCode)
			}
		})
	}
}
