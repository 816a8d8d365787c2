package db

import (
	"cmp"
	"context"
	"regexp"
	"slices"
	"strings"
)

// Search limits.
const (
	DefaultSearchLimit = 20
	MaxSearchLimit     = 100
	// maxDigestMatches caps the artifacts found by digest, over all remotes.
	maxDigestMatches = 100
)

// SearchQuery looks for cached artifacts in several remotes at once.
type SearchQuery struct {
	// Q is a case-insensitive substring of the path (a tag is found by its
	// manifest path, "…/manifests/3.19"), or a sha256 digest: "sha256:<hex>"
	// or 7 to 64 hex digits, matching the artifacts whose SHA256 starts
	// with it. Leading and trailing spaces are ignored; "" finds nothing.
	Q string
	// Remotes are the remotes searched (those the caller may read); none:
	// nothing is searched.
	Remotes []string
	// Limit caps the artifacts returned per remote: 1..100, 0 means 20.
	Limit int
}

// SearchGroup is what one remote holds matching a search.
type SearchGroup struct {
	Remote string
	Items  []Artifact // sorted by path, at most SearchQuery.Limit
	More   bool       // the remote holds more matches than Items
}

// Searcher finds artifacts across remotes.
type Searcher interface {
	// SearchArtifacts returns, for each of q.Remotes holding a match (sorted
	// by name), its first matches by path; an artifact matching both by
	// path and by digest is listed once.
	SearchArtifacts(ctx context.Context, q SearchQuery) ([]SearchGroup, error)
}

var hexDigest = regexp.MustCompile(`^(?:sha256:)?([0-9a-f]{7,64})$`)

// searchPlan is a validated SearchQuery.
type searchPlan struct {
	term    string // trimmed Q
	like    string // LIKE pattern of the term, '\' escaping
	lo, hi  string // sha256 prefix range [lo, hi), "" when the term is no digest
	remotes []string
	limit   int
}

func planSearch(q SearchQuery) searchPlan {
	p := searchPlan{term: strings.TrimSpace(q.Q), limit: q.Limit}
	p.like = likePattern(p.term)
	switch {
	case p.limit <= 0:
		p.limit = DefaultSearchLimit
	case p.limit > MaxSearchLimit:
		p.limit = MaxSearchLimit
	}
	if m := hexDigest.FindStringSubmatch(strings.ToLower(p.term)); m != nil {
		// Hex digits sort below 'g': every digest starting with the
		// prefix is in [prefix, prefix+"g").
		p.lo, p.hi = m[1], m[1]+"g"
	}
	p.remotes = slices.Clone(q.Remotes)
	slices.Sort(p.remotes)
	p.remotes = slices.Compact(p.remotes)
	return p
}

// search runs a plan with a store's two queries: the first limit matches
// by path in one remote, and the matches by digest prefix in remotes.
func (p searchPlan) search(ctx context.Context,
	byPath func(ctx context.Context, remote string, limit int) ([]Artifact, error),
	byDigest func(ctx context.Context, remotes []string, limit int) ([]Artifact, error),
) ([]SearchGroup, error) {
	if p.term == "" || len(p.remotes) == 0 {
		return nil, nil
	}
	found := map[string][]Artifact{}
	for _, r := range p.remotes {
		items, err := byPath(ctx, r, p.limit+1)
		if err != nil {
			return nil, err
		}
		found[r] = items
	}
	if p.lo != "" {
		items, err := byDigest(ctx, p.remotes, maxDigestMatches)
		if err != nil {
			return nil, err
		}
		for _, a := range items {
			if !slices.ContainsFunc(found[a.Remote], func(b Artifact) bool { return b.ID == a.ID }) {
				found[a.Remote] = append(found[a.Remote], a)
			}
		}
	}
	var out []SearchGroup
	for _, r := range p.remotes {
		items := found[r]
		if len(items) == 0 {
			continue
		}
		slices.SortFunc(items, func(a, b Artifact) int { return cmp.Compare(a.Path, b.Path) })
		g := SearchGroup{Remote: r, Items: items}
		if len(items) > p.limit {
			g.Items, g.More = items[:p.limit], true
		}
		out = append(out, g)
	}
	return out, nil
}
