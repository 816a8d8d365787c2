package ui

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"artifactapi/db"
)

// fakeTags answers every tag search with its hits and records the remotes asked.
type fakeTags struct {
	hits    []db.RegistryTagHit
	remotes []string
}

func (f *fakeTags) SearchRegistryTags(_ context.Context, remotes []string, _ string, _ int) ([]db.RegistryTagHit, error) {
	f.remotes = remotes
	return f.hits, nil
}

// TestSearchAcrossRemotes: the top bar's search lists matches grouped by
// remote, links each to its artifact page and, past the cap, to the
// remote's filtered listing; the tags of local docker repositories are
// searched in those repositories only.
func TestSearchAcrossRemotes(t *testing.T) {
	hs := newHarness(t)
	session, csrfSeed, _ := hs.signIn()
	seed(hs, "files", searchPerRemote+5)
	seed(hs, "mine", 2)
	tags := &fakeTags{hits: []db.RegistryTagHit{{Remote: "mine", Name: "team/app", Tag: "v1", Digest: "sha256:abc", UpdatedAt: time.Now()}}}
	hs.h.d.Tags = tags
	tests := []struct {
		name, q string
		want    []string
		notWant []string
	}{
		{name: "empty: the form only", q: "", want: []string{`id="search-q"`}, notWant: []string{"search-results"}},
		{name: "grouped, capped, linked", q: "terragrunt_linux",
			want: []string{`data-remote="files"`, `data-remote="mine"`, ">20+<", ">2<",
				`href="/ui/remotes/files?q=terragrunt_linux"`, `href="/ui/remotes/mine/artifact?path=gruntwork-io%2Fterragrunt`}},
		{name: "nothing", q: "no-such-thing", want: []string{`data-testid="search-empty"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := hs.do(http.MethodGet, "/ui/search?q="+tc.q, nil, nil, session, csrfSeed)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%d", resp.StatusCode)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("missing %s", w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(body, w) {
					t.Errorf("unexpected %s", w)
				}
			}
			if !strings.Contains(body, `id="top-search"`) {
				t.Error("no search in the top bar")
			}
		})
	}
	// No local docker repository in this configuration: no tag search.
	if tags.remotes != nil {
		t.Errorf("tags searched in %v", tags.remotes)
	}
}

// TestRecentUploadsSurviveAReload: the upload screen lists the latest files
// of the local repositories from the metadata store, newest first.
func TestRecentUploadsSurviveAReload(t *testing.T) {
	hs := newHarness(t)
	session, csrfSeed, _ := hs.signIn()
	as := seed(hs, "mine", 12)
	hs.store.mu.Lock()
	for i := range hs.store.items["mine"] {
		hs.store.items["mine"][i].CachedAt = hs.now.Add(time.Duration(i) * time.Minute)
	}
	// The fake lists in insertion order: newest first, as the store would.
	slices.Reverse(hs.store.items["mine"])
	hs.store.mu.Unlock()
	_, body := hs.do(http.MethodGet, "/ui/upload", nil, nil, session, csrfSeed)
	i := strings.Index(body, `id="recent-uploads"`)
	if i < 0 {
		t.Fatalf("no recent uploads:\n%s", body)
	}
	rows := strings.Count(body[i:], "<tr data-path=")
	newest := strings.Index(body[i:], as[11].Path)
	older := strings.Index(body[i:], as[10].Path)
	if rows != recentUploads || newest < 0 || older < newest || strings.Contains(body[i:], as[0].Path) {
		t.Fatalf("%d rows, newest at %d, older at %d", rows, newest, older)
	}
	if !strings.Contains(body, `data-copy-text="http://example.com/api/mine/`+as[11].Path+`"`) {
		t.Fatal("no copy button for the download URL")
	}
}
