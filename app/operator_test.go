package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"artifactapi/app/apptest"
)

type listing struct {
	Items []struct {
		Path       string `json:"path"`
		Size       int64  `json:"size"`
		SHA256     string `json:"sha256"`
		Kind       string `json:"kind"`
		Hits       int64  `json:"hits"`
		StorageKey string `json:"storage_key"`
		Pinned     bool   `json:"pinned"`
	} `json:"items"`
	NextCursor string `json:"next_cursor"`
	Totals     struct {
		Count int64 `json:"count"`
		Bytes int64 `json:"bytes"`
	} `json:"totals"`
}

func list(t *testing.T, in *apptest.Instance, remote string, params url.Values) listing {
	t.Helper()
	st, _, b := in.Get(t, "/artifacts/"+remote+"?"+params.Encode(), nil)
	if st != 200 {
		t.Fatalf("list: %d %s", st, b)
	}
	var l listing
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	return l
}

func upload(t *testing.T, in *apptest.Instance, remote, p string, body []byte) {
	t.Helper()
	resp := in.Do(t, http.MethodPut, "/api/"+remote+"/"+p, bytes.NewReader(body), apptest.Admin())
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("upload %s: %d", p, resp.StatusCode)
	}
}

// uploadMany uploads n small files named pkg/NNNN.bin with 8 parallel clients.
func uploadMany(t *testing.T, in *apptest.Instance, prefix string, from, n int) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := from; i < from+n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			upload(t, in, "local", fmt.Sprintf("%s/%04d.bin", prefix, i), bytes.Repeat([]byte{'x'}, i%97+1))
		}(i)
	}
	wg.Wait()
}

func TestListingPaginationUnderChange(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		in := start(t, mode, newOrigin(t))
		uploadMany(t, in, "pkg", 0, 1050)
		for _, sortBy := range []string{"path", "size", "cached_at", "last_access"} {
			for _, order := range []string{"asc", "desc"} {
				t.Run(sortBy+"_"+order, func(t *testing.T) {
					seen := map[string]int{}
					cursor := ""
					deleted := map[string]bool{}
					added := 0
					var prevSize int64 = -1
					for page := 0; page < 100; page++ {
						p := url.Values{"limit": {"100"}, "sort": {sortBy}, "order": {order}}
						if cursor != "" {
							p.Set("cursor", cursor)
						}
						l := list(t, in, "local", p)
						for _, it := range l.Items {
							seen[it.Path]++
							if sortBy == "size" && order == "asc" && prevSize > it.Size {
								t.Fatalf("size order broken at %s", it.Path)
							}
							prevSize = it.Size
						}
						// Change the cache between pages: add new entries and evict others.
						upload(t, in, "local", fmt.Sprintf("new/%s-%s-%d.bin", sortBy, order, page), []byte("n"))
						added++
						victim := fmt.Sprintf("pkg/%04d.bin", 1000+page%50)
						if !deleted[victim] {
							resp := in.Do(t, http.MethodDelete, "/api/local/"+victim, nil, apptest.Admin())
							resp.Body.Close()
							deleted[victim] = true
						}
						if l.NextCursor == "" {
							break
						}
						cursor = l.NextCursor
					}
					for i := 0; i < 1000; i++ {
						p := fmt.Sprintf("pkg/%04d.bin", i)
						if seen[p] != 1 {
							t.Fatalf("%s seen %d times", p, seen[p])
						}
					}
					for p, n := range seen {
						if n > 1 {
							t.Fatalf("%s repeated %d times", p, n)
						}
					}
					// Restore a clean state for the next walk.
					resp := in.Do(t, http.MethodPost, "/evict", strings.NewReader(`{"remote":"local","q":"new/"}`), map[string]string{"Authorization": "Bearer " + apptest.AdminToken, "Content-Type": "application/json"})
					resp.Body.Close()
				})
			}
		}
		l := list(t, in, "local", url.Values{"q": {"pkg/00"}, "limit": {"1000"}})
		if l.Totals.Count != 100 || len(l.Items) != 100 {
			t.Fatalf("filter pkg/00: totals %d items %d", l.Totals.Count, len(l.Items))
		}
		names := []string{}
		for _, it := range l.Items {
			names = append(names, it.Path)
		}
		if !sort.StringsAreSorted(names) {
			t.Fatal("default sort is not by path")
		}
		if st, _, _ := in.Get(t, "/artifacts/local?sort=bogus", nil); st != 400 {
			t.Fatalf("bad sort: %d", st)
		}
		if st, _, _ := in.Get(t, "/artifacts/nope", nil); st != 404 {
			t.Fatalf("unknown remote: %d", st)
		}
	})
}

func evictReq(t *testing.T, in *apptest.Instance, body string, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	h := map[string]string{"Content-Type": "application/json"}
	for k, v := range hdr {
		h[k] = v
	}
	resp := in.Do(t, http.MethodPost, "/evict", strings.NewReader(body), h)
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestEvictionSeenByOtherInstance(t *testing.T) {
	o := newOrigin(t)
	for i := 0; i < 5; i++ {
		o.set(fmt.Sprintf("/files/e%d.bin", i), randBody(1000, byte(i)))
	}
	b := apptest.NewBackends(t, apptest.Production)
	a := apptest.Start(t, b, apptest.Options{Remotes: remotesFor(o, "")})
	c := apptest.Start(t, b, apptest.Options{Remotes: remotesFor(o, "")})
	for i := 0; i < 5; i++ {
		p := fmt.Sprintf("/api/gen/files/e%d.bin", i)
		a.Get(t, p, nil)
		settle(t, a)
		// Instance c now holds the entry in its in-memory metadata too.
		if _, h, _ := c.Get(t, p, nil); h.Get("X-Artifact-Source") != "cache" {
			t.Fatalf("%s not a hit on the second instance", p)
		}
	}
	resp := a.Do(t, http.MethodDelete, "/api/gen/files/e0.bin", nil, apptest.Admin())
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("evict: %d", resp.StatusCode)
	}
	if _, h, _ := c.Get(t, "/api/gen/files/e0.bin", nil); h.Get("X-Artifact-Source") != "remote" {
		t.Fatal("second instance served an evicted artifact from cache")
	}
	settle(t, c)
	// Bulk: dry run changes nothing.
	st, m := evictReq(t, a, `{"remote":"gen","q":"files/e","dry_run":true}`, apptest.Admin())
	if st != 200 || m["count"].(float64) != 5 || m["dry_run"] != true {
		t.Fatalf("dry run: %d %v", st, m)
	}
	if l := list(t, a, "gen", nil); l.Totals.Count != 5 {
		t.Fatalf("dry run evicted: %d left", l.Totals.Count)
	}
	if st, _ := evictReq(t, a, `{"remote":"gen","q":"files/e"}`, nil); st != 401 {
		t.Fatalf("bulk evict without credential: %d", st)
	}
	if st, _ := evictReq(t, a, `{"remote":"gen","q":"files/e"}`, map[string]string{"Authorization": "Bearer wrong"}); st != 401 {
		t.Fatalf("bulk evict with wrong credential: %d", st)
	}
	st, m = evictReq(t, a, `{"remote":"gen","q":"files/e"}`, apptest.Admin())
	if st != 200 || m["count"].(float64) != 5 {
		t.Fatalf("bulk evict: %d %v", st, m)
	}
	for i := 0; i < 5; i++ {
		if _, h, _ := c.Get(t, fmt.Sprintf("/api/gen/files/e%d.bin", i), nil); h.Get("X-Artifact-Source") != "remote" {
			t.Fatalf("e%d served from cache after bulk eviction", i)
		}
	}
}

func TestQuotaEvictsLeastRecentlyUsed(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		o := newOrigin(t)
		for i := 0; i < 4; i++ {
			o.set(fmt.Sprintf("/q/f%d.bin", i), randBody(40_000, byte(i)))
		}
		extra := fmt.Sprintf(`  quota:
    base_url: %q
    cache:
      max_size: "100KB"
`, o.URL)
		in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: remotesFor(o, extra)})
		get := func(i int) string {
			_, h, _ := in.Get(t, fmt.Sprintf("/api/quota/q/f%d.bin", i), nil)
			settle(t, in)
			return h.Get("X-Artifact-Source")
		}
		get(0)
		get(1)
		if get(0) != "cache" { // f0 is now more recently used than f1
			t.Fatal("f0 not cached")
		}
		in.App.Engine.FlushHits()
		get(2) // 120 KB > 100 KB: the least recently used (f1) goes
		l := list(t, in, "quota", nil)
		paths := []string{}
		for _, it := range l.Items {
			paths = append(paths, it.Path)
		}
		if l.Totals.Bytes > 100_000 || strings.Join(paths, ",") != "q/f0.bin,q/f2.bin" {
			t.Fatalf("after quota: %v (%d bytes)", paths, l.Totals.Bytes)
		}
	})
}

func TestMetricsMove(t *testing.T) {
	o := newOrigin(t)
	o.set("/files/m.bin", randBody(5000, 9))
	in := start(t, apptest.Embedded, o)
	scrape := func() string {
		_, _, b := in.Get(t, "/metrics", nil)
		return string(b)
	}
	before := scrape()
	in.Get(t, "/api/gen/files/m.bin", nil)
	settle(t, in)
	in.Get(t, "/api/gen/files/m.bin", nil)
	in.Get(t, "/api/made-up-remote-4711/x", nil)
	after := scrape()
	if strings.Contains(after, "made-up-remote-4711") {
		t.Fatal("a request for an unknown remote minted a metrics series with its name")
	}
	for _, series := range []string{
		`artifactapi_requests_total{remote="",source="none",status="404"} 1`,
		`artifactapi_requests_total{remote="gen",source="cache",status="200"} 1`,
		`artifactapi_requests_total{remote="gen",source="remote",status="200"} 1`,
		`artifactapi_served_bytes_total{remote="gen",source="cache"} 5000`,
		`artifactapi_upstream_fetch_seconds_count{outcome="ok",remote="gen"} 1`,
	} {
		if strings.Contains(before, series) {
			t.Fatalf("%s present before any request", series)
		}
		if !strings.Contains(after, series) {
			t.Fatalf("metrics lack %s:\n%s", series, after)
		}
	}
	// Every configured remote's upstream bytes exist from start-up at 0.
	const zero = `artifactapi_upstream_bytes_total{remote="gen"} 0` + "\n"
	if !strings.Contains(before, zero) || strings.Contains(after, zero) {
		t.Fatal("artifactapi_upstream_bytes_total of gen: not 0 before any request, or still 0 after a download")
	}
}
