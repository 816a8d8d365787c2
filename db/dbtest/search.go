package dbtest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"artifactapi/db"
)

// searchPaths flattens groups to "remote:path" in order, with "+" after a
// group that has more.
func searchPaths(gs []db.SearchGroup) []string {
	var out []string
	for _, g := range gs {
		for _, a := range g.Items {
			out = append(out, g.Remote+":"+a.Path)
		}
		if g.More {
			out = append(out, g.Remote+":+")
		}
	}
	return out
}

func testSearch(t *testing.T, s db.Store) {
	const sha = "c0ffee1234567890c0ffee1234567890c0ffee1234567890c0ffee1234567890"
	with := func(remote, path, sum string) db.Artifact {
		a := sample(remote, path)
		a.SHA256 = sum
		return a
	}
	put(t, s, with("r1", "releases/v1.2.3/tool_linux_amd64.tar.gz", sha))
	put(t, s, sample("r1", "releases/v1.2.3/tool_darwin_arm64.tar.gz"))
	put(t, s, sample("r1", "library/alpine/manifests/3.19"))
	put(t, s, sample("r2", "x/Linux_thing.bin"))
	put(t, s, sample("r2", "pct%literal.bin"))
	put(t, s, sample("r2", "blobs/sha256:"+sha[:16]))
	put(t, s, sample("hidden", "linux/everywhere.bin"))
	for i := range 12 {
		put(t, s, sample("r3", fmt.Sprintf("bulk/linux-%02d.bin", i)))
	}
	tests := []struct {
		name    string
		q       db.SearchQuery
		want    []string
		wantLen int // instead of want: the number of entries
	}{
		{name: "substring in several remotes, any case, grouped and sorted",
			q:    db.SearchQuery{Q: "LINUX", Remotes: []string{"r2", "r1"}},
			want: []string{"r1:releases/v1.2.3/tool_linux_amd64.tar.gz", "r2:x/Linux_thing.bin"}},
		{name: "limit per remote, with more",
			q:    db.SearchQuery{Q: "linux", Remotes: []string{"r3", "r1"}, Limit: 3},
			want: []string{"r1:releases/v1.2.3/tool_linux_amd64.tar.gz", "r3:bulk/linux-00.bin", "r3:bulk/linux-01.bin", "r3:bulk/linux-02.bin", "r3:+"}},
		{name: "exactly the limit: no more",
			q:       db.SearchQuery{Q: "bulk/", Remotes: []string{"r3"}, Limit: 12},
			wantLen: 12},
		{name: "limit capped", q: db.SearchQuery{Q: "bulk", Remotes: []string{"r3"}, Limit: 5000}, wantLen: 12},
		{name: "a tag by its manifest path",
			q:    db.SearchQuery{Q: "manifests/3.19", Remotes: []string{"r1", "r2"}},
			want: []string{"r1:library/alpine/manifests/3.19"}},
		{name: "a digest prefix, with sha256:",
			q:    db.SearchQuery{Q: "sha256:" + sha[:12], Remotes: []string{"r1", "r2"}},
			want: []string{"r1:releases/v1.2.3/tool_linux_amd64.tar.gz", "r2:blobs/sha256:" + sha[:16]}},
		{name: "a digest prefix, bare and upper case",
			q:    db.SearchQuery{Q: strings.ToUpper(sha[:7]), Remotes: []string{"r1"}},
			want: []string{"r1:releases/v1.2.3/tool_linux_amd64.tar.gz"}},
		{name: "a whole digest",
			q:    db.SearchQuery{Q: " " + sha + " ", Remotes: []string{"r1"}},
			want: []string{"r1:releases/v1.2.3/tool_linux_amd64.tar.gz"}},
		{name: "too short for a digest", q: db.SearchQuery{Q: sha[:6], Remotes: []string{"r1"}}},
		{name: "LIKE wildcards are literal",
			q:    db.SearchQuery{Q: "pct%lit", Remotes: []string{"r1", "r2"}},
			want: []string{"r2:pct%literal.bin"}},
		{name: "underscore is literal", q: db.SearchQuery{Q: "tool_l", Remotes: []string{"r1"}},
			want: []string{"r1:releases/v1.2.3/tool_linux_amd64.tar.gz"}},
		{name: "a short term", q: db.SearchQuery{Q: "x/", Remotes: []string{"r2"}}, want: []string{"r2:x/Linux_thing.bin"}},
		{name: "only the remotes asked", q: db.SearchQuery{Q: "everywhere", Remotes: []string{"r1", "r2", "r3"}}},
		{name: "empty term", q: db.SearchQuery{Q: "  ", Remotes: []string{"r1"}}},
		{name: "no remote", q: db.SearchQuery{Q: "linux"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gs, err := s.SearchArtifacts(ctx(t), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			got := searchPaths(gs)
			if tc.wantLen > 0 {
				if len(got) != tc.wantLen {
					t.Fatalf("%d results, want %d: %v", len(got), tc.wantLen, got)
				}
				return
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v\nwant %v", got, tc.want)
			}
		})
	}

	// The path index follows deletes and inserts.
	if _, err := s.DeleteArtifact(ctx(t), "r2", "x/Linux_thing.bin"); err != nil {
		t.Fatal(err)
	}
	put(t, s, sample("r2", "y/linux-again.bin"))
	put(t, s, sample("r2", "y/linux-again.bin")) // an upsert
	gs, err := s.SearchArtifacts(ctx(t), db.SearchQuery{Q: "linux", Remotes: []string{"r2"}})
	if got := searchPaths(gs); err != nil || !slices.Equal(got, []string{"r2:y/linux-again.bin"}) {
		t.Fatalf("after delete and insert: %v, %v", got, err)
	}
	if a := gs[0].Items[0]; a.Size != 1234 || a.SHA256 == "" || a.CachedAt.IsZero() {
		t.Fatalf("result is not the whole row: %+v", a)
	}
}

func testRegSearch(t *testing.T, s db.RegistryStore) {
	m1 := manifest("reg", "library/alpine", 1, "")
	m1.Digest = "sha256:abcdef12" + strings.Repeat("0", 56)
	m2 := manifest("reg", "team/app", 2, "")
	m3 := manifest("other", "library/alpine", 3, "")
	for _, m := range []struct {
		m    db.RegistryManifest
		tags []string
	}{{m1, []string{"3.19", "latest"}}, {m2, []string{"3.19", "v1"}}, {m3, []string{"3.19"}}} {
		if err := s.PutRegistryManifest(ctx(t), m.m, m.tags); err != nil {
			t.Fatal(err)
		}
	}
	hit := func(hs []db.RegistryTagHit) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.Remote+":"+h.Name+":"+h.Tag)
		}
		return out
	}
	tests := []struct {
		name    string
		remotes []string
		term    string
		limit   int
		want    []string
	}{
		{name: "a tag", remotes: []string{"reg"}, term: "3.19", want: []string{"reg:library/alpine:3.19", "reg:team/app:3.19"}},
		{name: "name:tag", remotes: []string{"reg", "other"}, term: "alpine:3.19", want: []string{"other:library/alpine:3.19", "reg:library/alpine:3.19"}},
		{name: "a repository name", remotes: []string{"reg"}, term: "TEAM/", want: []string{"reg:team/app:3.19", "reg:team/app:v1"}},
		{name: "a digest", remotes: []string{"reg"}, term: "sha256:abcdef12", want: []string{"reg:library/alpine:3.19", "reg:library/alpine:latest"}},
		{name: "a bare digest", remotes: []string{"reg"}, term: "abcdef1", want: []string{"reg:library/alpine:3.19", "reg:library/alpine:latest"}},
		{name: "limit", remotes: []string{"reg", "other"}, term: "3.19", limit: 1, want: []string{"other:library/alpine:3.19"}},
		{name: "no remote", term: "3.19"},
		{name: "no match", remotes: []string{"reg"}, term: "nothing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs, err := s.SearchRegistryTags(ctx(t), tc.remotes, tc.term, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got := hit(hs); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for _, h := range hs {
				if h.Digest == "" || h.UpdatedAt.IsZero() {
					t.Fatalf("incomplete hit %+v", h)
				}
			}
		})
	}
}
