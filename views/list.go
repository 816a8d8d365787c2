package views

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ListState is the search, sort and position of an artifact listing; it
// builds the URLs of the listing's links so that every link keeps the rest.
type ListState struct {
	Remote string
	Q      string
	Sort   string // path, size, cached_at, last_access ("" = path)
	Order  string // asc or desc ("" = asc)
	Limit  int
	Cursor string // this page's cursor ("" = first page)
	// Hist is the cursors of the previous pages, oldest first, "." separated
	// ("0" stands for the first page), so that "Previous" works with keyset pagination.
	Hist string
}

// DefaultLimit is the page size when none is asked for.
const DefaultLimit = 25

// pageSizes are the offered page sizes, plus limit when it is another one.
func pageSizes(limit int) []int {
	s := []int{10, 25, 50, 100}
	for _, n := range s {
		if n == limit {
			return s
		}
	}
	if limit > 0 {
		s = append([]int{limit}, s...)
	}
	return s
}

// sortColumns are the offered sort orders with their labels.
func sortColumns() [][2]string {
	return [][2]string{{"path", "Path"}, {"size", "Size"}, {"cached_at", "Cached at"}, {"last_access", "Last access"}}
}

func (s ListState) sortOrDefault() string {
	if s.Sort == "" {
		return "path"
	}
	return s.Sort
}

func (s ListState) desc() bool { return s.Order == "desc" }

// Base is the remote page's path.
func (s ListState) Base() string { return "/ui/remotes/" + url.PathEscape(s.Remote) }

func (s ListState) url(cursor, hist string) string {
	v := url.Values{}
	if s.Q != "" {
		v.Set("q", s.Q)
	}
	if s.Sort != "" && s.Sort != "path" {
		v.Set("sort", s.Sort)
	}
	if s.desc() {
		v.Set("order", "desc")
	}
	if s.Limit != 0 && s.Limit != DefaultLimit {
		v.Set("limit", strconv.Itoa(s.Limit))
	}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	if hist != "" {
		v.Set("hist", hist)
	}
	if len(v) == 0 {
		return s.Base()
	}
	return s.Base() + "?" + v.Encode()
}

// ArtifactURL is the details page of the artifact at path.
func (s ListState) ArtifactURL(path string) string {
	return s.Base() + "/artifact?" + url.Values{"path": {path}}.Encode()
}

// EvictURL is the page confirming the eviction of the artifact at path.
func (s ListState) EvictURL(path string) string {
	return s.Base() + "/evict?" + url.Values{"path": {path}}.Encode()
}

// URL is this page.
func (s ListState) URL() string { return s.url(s.Cursor, s.Hist) }

// FirstURL is the first page with the same filter and sort.
func (s ListState) FirstURL() string { return s.url("", "") }

// NextURL continues after this page.
func (s ListState) NextURL(next string) string {
	cur := s.Cursor
	if cur == "" {
		cur = "0"
	}
	h := cur
	if s.Hist != "" {
		h = s.Hist + "." + cur
	}
	return s.url(next, h)
}

// PrevURL is the page before this one ("" on the first page).
func (s ListState) PrevURL() string {
	if s.Hist == "" {
		return ""
	}
	parts := strings.Split(s.Hist, ".")
	prev := parts[len(parts)-1]
	if prev == "0" {
		prev = ""
	}
	return s.url(prev, strings.Join(parts[:len(parts)-1], "."))
}

// Page is the 1-based page number.
func (s ListState) Page() int {
	if s.Hist == "" {
		return 1
	}
	return strings.Count(s.Hist, ".") + 2
}

// SortURL sorts by col: ascending first (descending for sizes and times),
// toggling when col is already the sort.
func (s ListState) SortURL(col string) string {
	n := s
	n.Sort = col
	switch {
	case s.sortOrDefault() == col && s.desc():
		n.Order = ""
	case s.sortOrDefault() == col:
		n.Order = "desc"
	case col == "path":
		n.Order = ""
	default:
		n.Order = "desc"
	}
	return n.url("", "")
}

// SortOrderFor is the order SortURL(col) asks for.
func (s ListState) SortOrderFor(col string) string {
	u, _ := url.Parse(s.SortURL(col))
	if u.Query().Get("order") == "desc" {
		return "desc"
	}
	return "asc"
}

// AriaSort is the aria-sort value of a column header.
func (s ListState) AriaSort(col string) string {
	if s.sortOrDefault() != col {
		return "none"
	}
	if s.desc() {
		return "descending"
	}
	return "ascending"
}

// ArtifactRow is one artifact in a listing.
type ArtifactRow struct {
	Path        string
	URL         string
	Size        int64
	SHA256      string
	ContentType string
	Kind        string
	Pattern     string
	CachedAt    time.Time
	ExpiresAt   *time.Time // nil: never expires
	LastAccess  time.Time
	Hits        int64
	StorageKey  string
	ETag        string
	Pinned      bool
}

// ExpiresShort formats the expiry of a row for the table.
func (r ArtifactRow) ExpiresShort() string {
	if r.ExpiresAt == nil {
		return "never"
	}
	return WhenShort(*r.ExpiresAt)
}

// Expires formats the expiry of a row.
func (r ArtifactRow) Expires() string {
	if r.ExpiresAt == nil {
		return "never"
	}
	return When(*r.ExpiresAt)
}
