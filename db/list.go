package db

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidQuery is wrapped by the errors ListArtifacts returns for a bad
// ListQuery: an unknown sort, a negative limit or a malformed cursor, or a
// cursor issued for another sort order or direction.
var ErrInvalidQuery = errors.New("db: invalid list query")

// List limits.
const (
	DefaultListLimit = 100
	MaxListLimit     = 1000
)

// cursor is the decoded form of ListQuery.Cursor: the sort value and id of
// the last row of the previous page, plus the order it was issued for.
type cursor struct {
	Sort  string `json:"s"`
	Desc  bool   `json:"d,omitempty"`
	Value string `json:"v"` // path; size in decimal; time in RFC 3339 (ns)
	ID    int64  `json:"i"`
}

// listPlan is a validated ListQuery.
type listPlan struct {
	remote string
	like   string // LIKE pattern with '\' as escape; "" means no filter
	sort   string
	desc   bool
	limit  int
	after  *cursor // nil on the first page
	// exactly one of these holds the seek value when after != nil
	afterStr  string
	afterInt  int64
	afterTime time.Time
}

// planList validates q.
func planList(q ListQuery) (listPlan, error) {
	p := listPlan{remote: q.Remote, sort: q.Sort, desc: q.Desc, limit: q.Limit, like: likePattern(q.Q)}
	if p.sort == "" {
		p.sort = SortPath
	}
	switch p.sort {
	case SortPath, SortSize, SortCachedAt, SortLastAccess:
	default:
		return p, fmt.Errorf("%w: unknown sort %q", ErrInvalidQuery, q.Sort)
	}
	switch {
	case p.limit < 0:
		return p, fmt.Errorf("%w: negative limit %d", ErrInvalidQuery, p.limit)
	case p.limit == 0:
		p.limit = DefaultListLimit
	case p.limit > MaxListLimit:
		p.limit = MaxListLimit
	}
	if q.Cursor == "" {
		return p, nil
	}
	c, err := decodeCursor(q.Cursor)
	if err != nil {
		return p, err
	}
	if c.Sort != p.sort || c.Desc != p.desc {
		return p, fmt.Errorf("%w: cursor was issued for sort %q desc=%t, not sort %q desc=%t",
			ErrInvalidQuery, c.Sort, c.Desc, p.sort, p.desc)
	}
	switch p.sort {
	case SortPath:
		p.afterStr = c.Value
	case SortSize:
		p.afterInt, err = strconv.ParseInt(c.Value, 10, 64)
	default:
		p.afterTime, err = time.Parse(time.RFC3339Nano, c.Value)
	}
	if err != nil {
		return p, fmt.Errorf("%w: malformed cursor value", ErrInvalidQuery)
	}
	p.after = &c
	return p, nil
}

// column is the SQL column of the plan's sort.
func (p listPlan) column() string { return p.sort } // the Sort* values are the column names

// nextCursor returns the cursor that continues after a.
func (p listPlan) nextCursor(a Artifact) string {
	c := cursor{Sort: p.sort, Desc: p.desc, ID: a.ID}
	switch p.sort {
	case SortPath:
		c.Value = a.Path
	case SortSize:
		c.Value = strconv.FormatInt(a.Size, 10)
	case SortCachedAt:
		c.Value = a.CachedAt.UTC().Format(time.RFC3339Nano)
	case SortLastAccess:
		c.Value = a.LastAccess.UTC().Format(time.RFC3339Nano)
	}
	b, _ := json.Marshal(c) // cannot fail: plain struct
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.Sort == "" {
		return c, fmt.Errorf("%w: malformed cursor", ErrInvalidQuery)
	}
	return c, nil
}

// page trims rows fetched with limit+1 to one page and sets NextCursor.
func (p listPlan) page(rows []Artifact) ListPage {
	if len(rows) <= p.limit {
		return ListPage{Items: rows}
	}
	rows = rows[:p.limit]
	return ListPage{Items: rows, NextCursor: p.nextCursor(rows[len(rows)-1])}
}

// likePattern turns a substring into a LIKE pattern matching it literally,
// with '\' as the escape character; "" stays "" (no filter).
func likePattern(q string) string {
	if q == "" {
		return ""
	}
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(q) + "%"
}

// sqlBuilder accumulates arguments and renders placeholders for a dialect.
type sqlBuilder struct {
	dollar bool // $1, $2... (PostgreSQL) instead of ? (SQLite)
	args   []any
}

// arg records v and returns its placeholder.
func (b *sqlBuilder) arg(v any) string {
	b.args = append(b.args, v)
	if b.dollar {
		return "$" + strconv.Itoa(len(b.args))
	}
	return "?"
}

// where renders the WHERE clause shared by the list and totals queries.
// likeOp is "ILIKE" or "LIKE"; seek is the plan's seek value converted for
// the driver (ignored without a cursor).
func (b *sqlBuilder) where(p listPlan, likeOp string, seek any) string {
	w := "remote = " + b.arg(p.remote)
	if p.like != "" {
		w += " AND path " + likeOp + " " + b.arg(p.like) + ` ESCAPE '\'`
	}
	if p.after == nil {
		return w
	}
	op := ">"
	if p.desc {
		op = "<"
	}
	if p.sort == SortPath { // unique within a remote: no tiebreaker needed
		return w + " AND path " + op + " " + b.arg(seek)
	}
	return w + " AND (" + p.column() + ", id) " + op + " (" + b.arg(seek) + ", " + b.arg(p.after.ID) + ")"
}

// orderLimit renders ORDER BY and LIMIT (one extra row to detect a next page).
func (b *sqlBuilder) orderLimit(p listPlan) string {
	dir := ""
	if p.desc {
		dir = " DESC"
	}
	order := " ORDER BY " + p.column() + dir
	if p.sort != SortPath {
		order += ", id" + dir
	}
	return order + " LIMIT " + b.arg(p.limit+1)
}
