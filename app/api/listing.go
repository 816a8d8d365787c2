package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/auth"
	"artifactapi/db"
)

// ArtifactJSON is one cached artifact as the API shows it.
type ArtifactJSON struct {
	Path        string     `json:"path"`
	URL         string     `json:"url"`
	Size        int64      `json:"size"`
	SHA256      string     `json:"sha256"`
	ContentType string     `json:"content_type"`
	Kind        string     `json:"kind"`
	Pattern     string     `json:"pattern,omitempty"`
	CachedAt    time.Time  `json:"cached_at"`
	ExpiresAt   *time.Time `json:"expires_at"` // null: never expires
	LastAccess  time.Time  `json:"last_access"`
	Hits        int64      `json:"hits"`
	StorageKey  string     `json:"storage_key"`
	ETag        string     `json:"upstream_etag,omitempty"`
	Pinned      bool       `json:"pinned"`
}

// ToJSON converts a metadata row.
func ToJSON(a db.Artifact) ArtifactJSON {
	j := ArtifactJSON{Path: a.Path, URL: "/api/" + a.Remote + "/" + a.Path, Size: a.Size, SHA256: a.SHA256,
		ContentType: a.ContentType, Kind: a.Kind, Pattern: a.Pattern, CachedAt: a.CachedAt, LastAccess: a.LastAccess,
		Hits: a.Hits, StorageKey: a.StorageKey, ETag: a.ETag, Pinned: a.Pinned}
	if !a.ExpiresAt.IsZero() {
		t := a.ExpiresAt
		j.ExpiresAt = &t
	}
	return j
}

// ListQueryFrom reads limit, cursor, q, sort and order (asc|desc) query parameters.
func ListQueryFrom(c *fiber.Ctx, remote string) (db.ListQuery, error) {
	q := db.ListQuery{Remote: remote, Q: c.Query("q"), Sort: c.Query("sort"), Cursor: c.Query("cursor")}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > db.MaxListLimit {
			return q, Fail(http.StatusBadRequest, "limit must be 1..1000")
		}
		q.Limit = n
	}
	switch c.Query("order") {
	case "", "asc":
	case "desc":
		q.Desc = true
	default:
		return q, Fail(http.StatusBadRequest, "order must be asc or desc")
	}
	return q, nil
}

// Artifacts serves GET /artifacts/{remote}: a page of cached artifacts and totals.
func (h *Handler) Artifacts(c *fiber.Ctx) error {
	remote := c.Params("remote")
	r := h.d.Config().Remotes.Remotes[remote]
	if r == nil {
		_, err := writeError(c, Fail(http.StatusNotFound, "unknown remote"), remote, "")
		return err
	}
	if _, err := h.d.Admin.Authorize(c, auth.Read, r); err != nil {
		_, werr := writeError(c, err, remote, "")
		return werr
	}
	q, err := ListQueryFrom(c, remote)
	if err == nil {
		var page db.ListPage
		page, err = h.d.Meta.ListArtifacts(c.UserContext(), q)
		if err == nil {
			var tot db.Totals
			tot, err = h.d.Meta.Totals(c.UserContext(), remote, q.Q)
			if err == nil {
				items := make([]ArtifactJSON, 0, len(page.Items))
				for _, a := range page.Items {
					items = append(items, ToJSON(a))
				}
				return c.JSON(fiber.Map{"remote": remote, "items": items, "next_cursor": page.NextCursor,
					"totals": fiber.Map{"count": tot.Count, "bytes": tot.Bytes}})
			}
		}
	}
	if errors.Is(err, db.ErrInvalidQuery) {
		err = Fail(http.StatusBadRequest, "invalid list query (sort must be path, size, cached_at or last_access; cursor must come from the same listing)")
	}
	_, werr := writeError(c, err, remote, "")
	return werr
}

// evictRequest is the body of POST /evict.
type evictRequest struct {
	Remote string `json:"remote"`
	Q      string `json:"q"`
	DryRun bool   `json:"dry_run"`
}

// Evict serves POST /evict: bulk eviction of a remote's artifacts whose path
// contains q; dry_run only counts. The body must be JSON with known fields
// only: a form, or a misspelt "dry_run", must never become a real eviction.
func (h *Handler) Evict(c *fiber.Ctx) error {
	// The remote is in the body: refuse a request without any credential first.
	if who, err := h.d.Admin.Principal(c); err != nil || who == nil {
		if err == nil {
			err = errUnauthorized
			h.d.Admin.Record(c, nil, auth.Event{Action: auth.ActEvictBulk, Outcome: auth.OutcomeDenied})
		}
		return err
	}
	if err := requireJSON(c); err != nil {
		return err
	}
	var req evictRequest
	dec := json.NewDecoder(bytes.NewReader(c.Request().Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		_, werr := writeError(c, Fail(http.StatusBadRequest, "body must be JSON {\"remote\", \"q\", \"dry_run\"}: "+err.Error()), "", "")
		return werr
	}
	r := h.d.Config().Remotes.Remotes[req.Remote]
	if r == nil {
		_, werr := writeError(c, Fail(http.StatusBadRequest, "unknown remote"), req.Remote, "")
		return werr
	}
	ev := auth.Event{Action: auth.ActEvictBulk, Remote: req.Remote, Target: "q=" + req.Q}
	who, err := h.d.Admin.Authorize(c, auth.Delete, r)
	if err != nil {
		if !req.DryRun {
			ev.Outcome = auth.OutcomeDenied
			h.d.Admin.Record(c, who, ev)
		}
		_, werr := writeError(c, err, req.Remote, "")
		return werr
	}
	res, err := h.d.Engine.EvictMatching(c.UserContext(), req.Remote, req.Q, req.DryRun)
	if !req.DryRun {
		ev.Count, ev.Outcome = res.Count, outcome(err)
		h.d.Admin.Record(c, who, ev)
	}
	if err != nil {
		_, werr := writeError(c, err, req.Remote, "")
		return werr
	}
	return c.JSON(fiber.Map{"remote": req.Remote, "q": req.Q, "count": res.Count, "bytes": res.Bytes, "dry_run": res.DryRun})
}
