package dbtest

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"artifactapi/db"
)

var sorts = []string{db.SortPath, db.SortSize, db.SortCachedAt, db.SortLastAccess}

// compare orders a and b by sort, then by ID (path is unique per remote).
func compare(sort string, a, b db.Artifact) int {
	var c int
	switch sort {
	case db.SortPath:
		return strings.Compare(a.Path, b.Path)
	case db.SortSize:
		c = cmp.Compare(a.Size, b.Size)
	case db.SortCachedAt:
		c = a.CachedAt.Compare(b.CachedAt)
	case db.SortLastAccess:
		c = a.LastAccess.Compare(b.LastAccess)
	}
	return cmp.Or(c, cmp.Compare(a.ID, b.ID))
}

// random returns an artifact with random sort values drawn from small
// ranges, so that many share a size or time and the ID tiebreaker matters.
// About one in twenty has a zero LastAccess.
func random(r *rand.Rand, remote, path string) db.Artifact {
	a := sample(remote, path)
	a.Size = r.Int64N(40)
	a.CachedAt = base.Add(time.Duration(r.IntN(60))*time.Second + time.Duration(r.IntN(3))*time.Microsecond)
	a.LastAccess = base.Add(time.Duration(r.IntN(60)) * time.Minute)
	if r.IntN(20) == 0 {
		a.LastAccess = time.Time{}
	}
	return a
}

// walk follows NextCursor from the first page to the last, calling between
// (if not nil) after each page but the last, and checks page sizes and order.
func walk(t *testing.T, s db.Store, q db.ListQuery, between func()) []db.Artifact {
	t.Helper()
	limit, sort := cmp.Or(q.Limit, db.DefaultListLimit), cmp.Or(q.Sort, db.SortPath)
	var all []db.Artifact
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("walk does not end")
		}
		page, err := s.ListArtifacts(ctx(t), q)
		if err != nil {
			t.Fatalf("ListArtifacts(%+v) page %d: %v", q, pages, err)
		}
		if len(page.Items) > limit || (page.NextCursor != "" && len(page.Items) != limit) {
			t.Fatalf("page %d has %d items (limit %d, next %q)", pages, len(page.Items), limit, page.NextCursor)
		}
		for _, a := range page.Items {
			if a.Remote != q.Remote {
				t.Fatalf("item of remote %q in a list of %q", a.Remote, q.Remote)
			}
			if n := len(all); n > 0 {
				c := compare(sort, all[n-1], a)
				if q.Desc {
					c = -c
				}
				if c >= 0 {
					t.Fatalf("out of order (sort %s desc=%t): %+v before %+v", sort, q.Desc, all[n-1], a)
				}
			}
			all = append(all, a)
		}
		if page.NextCursor == "" {
			return all
		}
		q.Cursor = page.NextCursor
		if between != nil {
			between()
		}
	}
}

func testListWalk(t *testing.T, s db.Store) {
	const n = 1200
	r := rand.New(rand.NewPCG(1, 2))
	want := map[string]bool{}
	for _, i := range r.Perm(n) { // IDs not in path order
		a := random(r, "walk", fmt.Sprintf("org/p%04d/a-%d.jar", i, i%7))
		put(t, s, a)
		want[a.Path] = true
	}
	for i := range 5 {
		put(t, s, sample("walk-other", fmt.Sprintf("org/p%04d/a.jar", i)))
	}
	for _, sort := range sorts {
		for _, desc := range []bool{false, true} {
			for _, limit := range []int{0, 97, 1000} {
				t.Run(fmt.Sprintf("%s/desc=%t/limit=%d", sort, desc, limit), func(t *testing.T) {
					got := walk(t, s, db.ListQuery{Remote: "walk", Sort: sort, Desc: desc, Limit: limit}, nil)
					seen := map[string]bool{}
					for _, a := range got {
						if seen[a.Path] || !want[a.Path] {
							t.Fatalf("unexpected or repeated %s", a.Path)
						}
						seen[a.Path] = true
					}
					if len(seen) != n {
						t.Fatalf("walk returned %d entries, want %d", len(seen), n)
					}
				})
			}
		}
	}
	t.Run("empty sort means path", func(t *testing.T) {
		page, err := s.ListArtifacts(ctx(t), db.ListQuery{Remote: "walk", Limit: 2})
		if err != nil || len(page.Items) != 2 || page.Items[0].Path > page.Items[1].Path {
			t.Fatalf("page = %+v, %v", page, err)
		}
	})
	t.Run("limit above max is capped", func(t *testing.T) {
		page, err := s.ListArtifacts(ctx(t), db.ListQuery{Remote: "walk", Limit: 5000})
		if err != nil || len(page.Items) != db.MaxListLimit || page.NextCursor == "" {
			t.Fatalf("got %d items, next %q, err %v; want %d and a cursor", len(page.Items), page.NextCursor, err, db.MaxListLimit)
		}
	})
}

func testListWalkWithChanges(t *testing.T, s db.Store) {
	const stable, ephemeral = 300, 100
	r := rand.New(rand.NewPCG(3, 4))
	isStable := map[string]bool{}
	var live []string // ephemeral entries that exist now
	for i := range stable + ephemeral {
		a := random(r, "churn", fmt.Sprintf("c/%04d-i%d.jar", r.IntN(10000), i))
		put(t, s, a)
		if i < stable {
			isStable[a.Path] = true
		} else {
			live = append(live, a.Path)
		}
	}
	next := 0
	between := func() { // insert 4 entries, delete 3 ephemeral ones
		for range 4 {
			next++
			a := random(r, "churn", fmt.Sprintf("c/%04d-n%d.jar", r.IntN(10000), next))
			put(t, s, a)
			live = append(live, a.Path)
		}
		for range 3 {
			if len(live) == 0 {
				return
			}
			i := r.IntN(len(live))
			if _, err := s.DeleteArtifact(ctx(t), "churn", live[i]); err != nil && !errors.Is(err, db.ErrNotFound) {
				t.Fatalf("DeleteArtifact: %v", err)
			}
			live = append(live[:i], live[i+1:]...)
		}
	}
	for _, sort := range sorts {
		for _, desc := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/desc=%t", sort, desc), func(t *testing.T) {
				got := walk(t, s, db.ListQuery{Remote: "churn", Sort: sort, Desc: desc, Limit: 17}, between)
				ids, paths := map[int64]bool{}, map[string]bool{}
				found := 0
				for _, a := range got {
					if ids[a.ID] || paths[a.Path] {
						t.Fatalf("%s (id %d) returned twice", a.Path, a.ID)
					}
					ids[a.ID], paths[a.Path] = true, true
					if isStable[a.Path] {
						found++
					}
				}
				if found != stable {
					t.Fatalf("walk returned %d of the %d entries that existed throughout", found, stable)
				}
			})
		}
	}
}

func testListFilter(t *testing.T, s db.Store) {
	paths := []string{"lib/a%b.jar", "lib/a_b.jar", "lib/axb.jar", "lib/AXB.JAR", "lib/100%/x.jar", `lib/back\slash.jar`, "lib/plain.jar"}
	for i, p := range paths {
		a := sample("filter", p)
		a.Size = int64(1) << i
		put(t, s, a)
	}
	put(t, s, sample("filter-other", "lib/a%b.jar"))
	tests := []struct {
		name string
		q    string
		want []string
	}{
		{name: "percent is literal", q: "%", want: []string{"lib/100%/x.jar", "lib/a%b.jar"}},
		{name: "underscore is literal", q: "_", want: []string{"lib/a_b.jar"}},
		{name: "underscore is not a wildcard", q: "a_b", want: []string{"lib/a_b.jar"}},
		{name: "percent is not a wildcard", q: "a%b", want: []string{"lib/a%b.jar"}},
		{name: "backslash is literal", q: `\s`, want: []string{`lib/back\slash.jar`}},
		{name: "case insensitive", q: "axb", want: []string{"lib/AXB.JAR", "lib/axb.jar"}},
		{name: "case insensitive upper", q: "AXB.jar", want: []string{"lib/AXB.JAR", "lib/axb.jar"}},
		{name: "empty matches all", q: "", want: []string{"lib/100%/x.jar", "lib/AXB.JAR", "lib/a%b.jar", "lib/a_b.jar", "lib/axb.jar", `lib/back\slash.jar`, "lib/plain.jar"}},
		{name: "no match", q: "zzz", want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			var bytes int64
			for _, a := range walk(t, s, db.ListQuery{Remote: "filter", Q: tc.q, Limit: 2}, nil) {
				got = append(got, a.Path)
				bytes += a.Size
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("paths = %q, want %q", got, tc.want)
			}
			tot, err := s.Totals(ctx(t), "filter", tc.q)
			if err != nil || tot.Count != int64(len(tc.want)) || tot.Bytes != bytes {
				t.Errorf("Totals = %+v, %v; want {%d %d}", tot, err, len(tc.want), bytes)
			}
		})
	}
}

func testListErrors(t *testing.T, s db.Store) {
	for i := range 3 {
		put(t, s, sample("errs", fmt.Sprintf("f%d.jar", i)))
	}
	first := func(q db.ListQuery) string {
		q.Remote, q.Limit = "errs", 1
		page, err := s.ListArtifacts(ctx(t), q)
		if err != nil || page.NextCursor == "" {
			t.Fatalf("ListArtifacts(%+v) = %+v, %v", q, page, err)
		}
		return page.NextCursor
	}
	sizeCursor := first(db.ListQuery{Sort: db.SortSize})
	descCursor := first(db.ListQuery{Sort: db.SortPath, Desc: true})
	tests := []struct {
		name string
		q    db.ListQuery
	}{
		{name: "cursor of another sort", q: db.ListQuery{Sort: db.SortPath, Cursor: sizeCursor}},
		{name: "cursor of another sort (default)", q: db.ListQuery{Cursor: sizeCursor}},
		{name: "cursor of another direction", q: db.ListQuery{Sort: db.SortPath, Cursor: descCursor}},
		{name: "garbage cursor", q: db.ListQuery{Cursor: "!!not base64!!"}},
		{name: "base64 garbage cursor", q: db.ListQuery{Cursor: "aGVsbG8"}},
		{name: "unknown sort", q: db.ListQuery{Sort: "hits"}},
		{name: "negative limit", q: db.ListQuery{Limit: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Remote = "errs"
			if _, err := s.ListArtifacts(ctx(t), tc.q); !errors.Is(err, db.ErrInvalidQuery) {
				t.Errorf("err = %v, want ErrInvalidQuery", err)
			}
		})
	}
	t.Run("empty remote lists nothing", func(t *testing.T) {
		page, err := s.ListArtifacts(ctx(t), db.ListQuery{Remote: "none"})
		if err != nil || len(page.Items) != 0 || page.NextCursor != "" {
			t.Errorf("page = %+v, %v", page, err)
		}
	})
}
