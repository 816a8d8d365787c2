package ui

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"artifactapi/db"
)

// seed puts n artifacts with realistic paths and digests in remote.
func seed(hs *harness, remote string, n int) []db.Artifact {
	out := make([]db.Artifact, n)
	for i := range out {
		p := fmt.Sprintf("gruntwork-io/terragrunt/releases/download/v0.%d.%d/terragrunt_linux_amd64_%05d.tar.gz", i/100, i%100, i)
		sum := sha256.Sum256([]byte(p))
		out[i] = db.Artifact{ID: int64(i + 1), Remote: remote, Path: p, Size: int64(1000 + i), SHA256: hex.EncodeToString(sum[:]),
			Kind: db.KindImmutable, Pattern: `\.tar\.gz$`, ContentType: "application/gzip", StorageKey: remote + "/0123456789abcdef/x.tar.gz",
			CachedAt: hs.now, LastAccess: hs.now, Hits: int64(i)}
	}
	hs.store.mu.Lock()
	hs.store.items[remote] = append(hs.store.items[remote], out...)
	hs.store.mu.Unlock()
	return out
}

// TestRemotePageSizeBound: a remote with 10,000 artifacts renders its first
// page (25 rows, and 100 when asked) in under 300 KB of HTML: rows carry no
// hidden details and no per-row CSRF form.
func TestRemotePageSizeBound(t *testing.T) {
	hs := newHarness(t)
	session, seed0, token := hs.signIn()
	seed(hs, "files", 10000)
	tests := []struct {
		name  string
		query string
		rows  int
	}{
		{name: "default page", query: "", rows: 25},
		{name: "100 rows", query: "?limit=100", rows: 100},
		{name: "htmx partial, 100 rows", query: "?limit=100&q=terragrunt", rows: 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if strings.Contains(tc.name, "htmx") {
				hdr["HX-Request"] = "true"
			}
			resp, body := hs.do(http.MethodGet, "/ui/remotes/files"+tc.query, nil, hdr, session, seed0)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%d", resp.StatusCode)
			}
			if n := strings.Count(body, "<tr data-path="); n != tc.rows {
				t.Fatalf("%d rows, want %d", n, tc.rows)
			}
			if len(body) > 300<<10 {
				t.Errorf("%d bytes of HTML, want under 300 KiB", len(body))
			}
			if strings.Contains(body, "detail-row") || strings.Count(body, token) > 6 {
				t.Errorf("rows carry their details or a CSRF token each")
			}
			t.Logf("%s: %d bytes, %d per row", tc.name, len(body), len(body)/tc.rows)
		})
	}
}

// TestArtifactDetailsAndEvictConfirmation: a row's details come on demand
// (a detail row for htmx, a page otherwise, with copy buttons); without
// JavaScript, Evict leads to a confirmation page whose form evicts and goes
// back to the listing, which says so.
func TestArtifactDetailsAndEvictConfirmation(t *testing.T) {
	hs := newHarness(t)
	session, seed0, token := hs.signIn()
	a := seed(hs, "files", 3)[1]
	q := "?" + url.Values{"path": {a.Path}}.Encode()

	resp, body := hs.do(http.MethodGet, "/ui/remotes/files/artifact"+q, nil, map[string]string{"HX-Request": "true"}, session, seed0)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(strings.TrimSpace(body), `<tr class="detail-row">`) ||
		!strings.Contains(body, a.SHA256) || !strings.Contains(body, `data-copy-text="`+a.SHA256+`"`) {
		t.Fatalf("detail row: %d %s", resp.StatusCode, body)
	}
	resp, body = hs.do(http.MethodGet, "/ui/remotes/files/artifact"+q, nil, nil, session, seed0)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<html") || !strings.Contains(body, `href="/ui/remotes/files/evict`+strings.ReplaceAll(q, "&", "&amp;")+`"`) {
		t.Fatalf("artifact page: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(body, `data-copy-text="http://example.com/api/files/`+a.Path+`"`) {
		t.Fatalf("the download URL is not absolute or has no copy button: %s", body)
	}

	// The row's Evict form, submitted without JavaScript, is a GET: a
	// confirmation page, nothing evicted yet.
	resp, body = hs.do(http.MethodGet, "/ui/remotes/files/evict"+q, nil, map[string]string{"Referer": "http://example.com/ui/remotes/files?q=terragrunt"}, session, seed0)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `method="post" action="/ui/remotes/files/evict"`) ||
		!strings.Contains(body, `name="back" value="/ui/remotes/files?q=terragrunt"`) {
		t.Fatalf("confirmation page: %d %s", resp.StatusCode, body)
	}
	if n, _ := hs.engine.calls(); n != 0 {
		t.Fatalf("evicted before confirming")
	}
	form := url.Values{"path": {a.Path}, "back": {"/ui/remotes/files?q=terragrunt"}, CSRFField: {token}}
	resp, _ = hs.do(http.MethodPost, "/ui/remotes/files/evict", strings.NewReader(form.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, session, seed0)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || loc != "/ui/remotes/files?q=terragrunt&evicted="+url.QueryEscape(a.Path) {
		t.Fatalf("confirmed: %d to %q", resp.StatusCode, loc)
	}
	if n, _ := hs.engine.calls(); n != 1 {
		t.Fatalf("%d evictions", n)
	}
	hs.store.mu.Lock()
	hs.store.items["files"] = append(hs.store.items["files"][:1], hs.store.items["files"][2:]...)
	hs.store.mu.Unlock()
	_, body = hs.do(http.MethodGet, loc, nil, nil, session, seed0)
	if !strings.Contains(body, "Evicted "+a.Path+".") {
		t.Fatalf("the listing does not say it was evicted")
	}

	tests := []struct {
		name, target string
		want         int
	}{
		{name: "gone", target: "/ui/remotes/files/artifact" + q, want: http.StatusNotFound},
		{name: "no path", target: "/ui/remotes/files/evict", want: http.StatusBadRequest},
		{name: "no remote", target: "/ui/remotes/nope/artifact" + q, want: http.StatusNotFound},
		{name: "foreign back", target: "/ui/remotes/files/evict?path=x&back=https://evil.example/", want: http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if resp, _ := hs.do(http.MethodGet, tc.target, nil, nil, session, seed0); resp.StatusCode != tc.want {
				t.Fatalf("%d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	if got := sameListing("https://evil.example/ui/remotes/files", "/ui/remotes/files"); got != "/ui/remotes/files" {
		t.Fatalf("sameListing kept %q", got)
	}
}
