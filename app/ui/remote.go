package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"artifactapi/app/api"
	"artifactapi/app/auth"
	"artifactapi/app/config"
	"artifactapi/db"
	"artifactapi/views"
)

// remoteInfo summarises a remote's configuration for its screen.
func remoteInfo(r *config.Remote) views.RemoteInfo {
	return views.RemoteInfo{Name: r.Name, Type: r.Type, Package: r.Package, Description: r.Description,
		BaseURL: r.BaseURL, Local: r.IsLocal(), ImmutableTTL: r.ImmutableTTL(), MutableTTL: r.MutableTTL(), MaxSize: r.Cache.MaxSize,
		MaxSizeBytes: r.MaxSizeBytes()}
}

// validHist accepts the previous-pages trail of views.ListState.
func validHist(s string) bool {
	if len(s) > 8192 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// remoteProps reads one page of the listing named by the query string.
func (h *Handler) remoteProps(c *fiber.Ctx, r *config.Remote) (views.RemoteProps, error) {
	p := views.RemoteProps{Chrome: h.chrome(c, r.Name, "remote:"+r.Name), Now: h.d.Now(), Remote: remoteInfo(r),
		Health: h.upstreamCard(c, r), Traffic: h.trafficOf(r)}
	q, err := api.ListQueryFrom(c, r.Name)
	if err != nil {
		return p, fail(http.StatusBadRequest, err.Error())
	}
	if q.Limit == 0 {
		q.Limit = views.DefaultLimit
	}
	order := ""
	if q.Desc {
		order = "desc"
	}
	p.List = views.ListState{Remote: r.Name, Q: q.Q, Sort: q.Sort, Order: order, Limit: q.Limit, Cursor: q.Cursor}
	if hist := c.Query("hist"); q.Cursor != "" && validHist(hist) {
		p.List.Hist = hist
	}
	ctx := c.UserContext()
	all, err := h.d.Meta.Totals(ctx, r.Name, "")
	if err != nil {
		return p, err
	}
	p.Total, p.TotalBytes = all.Count, all.Bytes
	page, err := h.d.Meta.ListArtifacts(ctx, q)
	if errors.Is(err, db.ErrInvalidQuery) {
		c.Status(http.StatusBadRequest)
		p.Error = "This listing link is no longer valid (for example the sort changed under it). Start again from the first page."
		return p, nil
	}
	if err != nil {
		return p, err
	}
	p.NextCursor = page.NextCursor
	for _, a := range page.Items {
		p.Rows = append(p.Rows, toRow(a))
	}
	p.Matching = all.Count
	if q.Q != "" {
		t, err := h.d.Meta.Totals(ctx, r.Name, q.Q)
		if err != nil {
			return p, err
		}
		p.Matching = t.Count
	}
	return p, nil
}

// Remote shows a remote's artifacts: searchable, sortable, paginated. An
// htmx request gets the table only.
func (h *Handler) Remote(c *fiber.Ctx) error {
	r, err := h.remoteOf(c)
	if err != nil {
		return err
	}
	if h.showsImages(c, r) {
		p := views.RemoteProps{Chrome: h.chrome(c, r.Name, "remote:"+r.Name), Now: h.d.Now(), Remote: remoteInfo(r),
			List: views.ListState{Remote: r.Name}, Setup: setupProps(c, r), Traffic: h.trafficOf(r)}
		if p.Images, err = h.imagesProps(c, r); err != nil {
			return err
		}
		c.Vary("HX-Request")
		return h.write(c, views.RemotePage(p))
	}
	p, err := h.remoteProps(c, r)
	if err != nil {
		return err
	}
	p.Setup = setupProps(c, r)
	p.Live = views.Live{URL: p.List.URL(), Every: 5, Max: 60}
	if err := sign(c.UserContext(), &p.Live, func() templ.Component { return views.RemoteUpdate(p) }); err != nil {
		return err
	}
	if current(c, p.Live) {
		return nil
	}
	if ev := c.Query("evicted"); ev != "" && !isHTMX(c) {
		if _, err := h.d.Meta.GetArtifact(c.UserContext(), r.Name, ev); errors.Is(err, db.ErrNotFound) {
			p.Notice = views.Evicted(p.Remote, ev)
		}
	}
	return h.render(c, views.RemotePage(p), views.RemoteUpdate(p))
}

// RemoteStats is the totals block of a remote's screen (refreshed after evictions).
func (h *Handler) RemoteStats(c *fiber.Ctx) error {
	r, err := h.remoteOf(c)
	if err != nil {
		return err
	}
	t, err := h.d.Meta.Totals(c.UserContext(), r.Name, "")
	if err != nil {
		return err
	}
	p := views.RemoteProps{Remote: remoteInfo(r), List: views.ListState{Remote: r.Name}, Total: t.Count, TotalBytes: t.Bytes}
	return h.write(c, views.RemoteStats(p))
}

// evictReason labels evictions in the metrics, as the API does.
func evictReason(r *config.Remote) string {
	if r.IsLocal() {
		return "deleted"
	}
	return "evicted"
}

// backToRemote answers a form posted without htmx.
func backToRemote(c *fiber.Ctx, r *config.Remote) error {
	return c.Redirect("/ui/remotes/"+r.Name, http.StatusSeeOther)
}

// backAfterEvict answers an eviction posted without htmx: back to the
// listing it came from, which then says whether path is still there.
func backAfterEvict(c *fiber.Ctx, r *config.Remote, path string) error {
	back := backTo(c, r.Name)
	sep := "?"
	if strings.Contains(back, "?") {
		sep = "&"
	}
	return c.Redirect(back+sep+url.Values{"evicted": {path}}.Encode(), http.StatusSeeOther)
}

// EvictOne evicts (or, in a local repository, deletes) one artifact. For
// htmx the row is replaced by nothing and the listing is told to refresh.
func (h *Handler) EvictOne(c *fiber.Ctx) error {
	r, err := h.remoteOf(c)
	if err != nil {
		return err
	}
	p := strings.Clone(c.FormValue("path"))
	if p == "" {
		return fail(http.StatusBadRequest, "Which artifact? The form sent no path.")
	}
	msg := views.Evicted(remoteInfo(r), p)
	err = h.d.Engine.Evict(c.UserContext(), r.Name, p, evictReason(r))
	ev := auth.Event{Action: auth.ActEvict, Remote: r.Name, Target: p, Count: 1}
	if r.IsLocal() {
		ev.Action = auth.ActDelete
	}
	if errors.Is(err, db.ErrNotFound) {
		msg, err, ev.Count = p+" was already gone.", nil, 0
	}
	if err != nil {
		ev.Outcome = auth.OutcomeFailed
	}
	h.record(c, ev)
	if err != nil {
		return err
	}
	h.d.Log.Info("dashboard eviction", "remote", r.Name, "path", p)
	if !isHTMX(c) {
		return backAfterEvict(c, r, p)
	}
	c.Set("HX-Trigger", "artifacts-changed")
	return h.write(c, views.Flash("success", msg))
}

// BulkEvict counts the artifacts whose path contains q (a dry run) and,
// once confirmed, evicts them.
func (h *Handler) BulkEvict(c *fiber.Ctx) error {
	r, err := h.remoteOf(c)
	if err != nil {
		return err
	}
	q := strings.Clone(c.FormValue("q"))
	confirmed := c.FormValue("confirm") == "yes"
	res, err := h.d.Engine.EvictMatching(c.UserContext(), r.Name, q, !confirmed)
	if confirmed {
		ev := auth.Event{Action: auth.ActEvictBulk, Remote: r.Name, Target: "q=" + q, Count: res.Count}
		if err != nil {
			ev.Outcome = auth.OutcomeFailed
		}
		h.record(c, ev)
	}
	if err != nil {
		return err
	}
	b := views.BulkProps{Remote: remoteInfo(r), CSRF: h.csrfToken(c), Q: q, Count: res.Count, Bytes: res.Bytes, Done: confirmed}
	if confirmed {
		h.d.Log.Info("dashboard bulk eviction", "remote", r.Name, "q", q, "count", res.Count)
		c.Set("HX-Trigger", "artifacts-changed")
	}
	if isHTMX(c) {
		return h.write(c, views.BulkResult(b))
	}
	p, err := h.remoteProps(c, r)
	if err != nil {
		return err
	}
	p.Bulk = &b
	return h.write(c, views.RemotePage(p))
}
