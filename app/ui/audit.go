package ui

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/auth"
	"artifactapi/db"
	"artifactapi/views"
)

// auditPageSize is the number of entries per page of the audit screen.
const auditPageSize = 50

// auditActions are the actions offered by the filter.
var auditActions = []string{auth.ActLogin, auth.ActLogout, auth.ActUpload, auth.ActDelete, auth.ActEvict, auth.ActEvictBulk,
	auth.ActJobSubmit, auth.ActJobCancel, auth.ActJobRetry, auth.ActPolicySave, auth.ActPolicyDel, auth.ActPolicyRun, auth.ActUserCreate, auth.ActUserUpdate, auth.ActUserDelete,
	auth.ActTokenCreate, auth.ActTokenRevoke, auth.ActReload}

// parseWhen reads a time of the filter: what a datetime-local field sends
// (taken as UTC), or RFC 3339.
func parseWhen(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// AuditPage shows the audit log, newest first, filtered by actor, action,
// repository, outcome and time range, paged by entry id; for htmx (a filter
// or a page link) only the results.
func (h *Handler) AuditPage(c *fiber.Ctx) error {
	f := views.AuditFilter{Actor: strings.TrimSpace(strings.Clone(c.Query("actor"))), Action: strings.Clone(c.Query("action")),
		Remote: strings.Clone(c.Query("remote")), Outcome: strings.Clone(c.Query("outcome")),
		Since: strings.Clone(c.Query("since")), Until: strings.Clone(c.Query("until"))}
	p := views.AuditProps{Chrome: h.chrome(c, "Audit log", "audit"), Actions: auditActions, Remotes: h.d.Config().Remotes.Names()}
	q := db.AuditQuery{Actor: f.Actor, Action: f.Action, Remote: f.Remote, Outcome: f.Outcome, Limit: auditPageSize}
	var problems []string
	for _, w := range []struct {
		name, v string
		dst     *time.Time
	}{{"From", f.Since, &q.Since}, {"Until", f.Until, &q.Until}} {
		if w.v == "" {
			continue
		}
		t, ok := parseWhen(w.v)
		if !ok {
			problems = append(problems, w.name+": a time like 2026-01-02T15:04 (UTC)")
			continue
		}
		*w.dst = t
	}
	if v := c.Query("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			problems = append(problems, "This page link is not valid; start again from the newest entries.")
		} else {
			f.Before, q.Before = n, n
		}
	}
	p.Filter = f
	if len(problems) > 0 {
		p.Error = strings.Join(problems, " ")
		c.Status(fiber.StatusBadRequest)
		return h.render(c, views.AuditPage(p), views.AuditResults(p))
	}
	list, err := h.d.Directory.ListAudit(c.UserContext(), q)
	if err != nil {
		return err
	}
	for _, e := range list {
		p.Entries = append(p.Entries, views.AuditView{ID: e.ID, At: e.At.UTC().Format("2006-01-02 15:04:05"), ISO: views.ISO(e.At),
			Actor: e.Actor, ActorKind: e.ActorKind, TokenID: e.TokenID, Action: e.Action, Remote: e.Remote, Target: e.Target,
			Count: e.Count, Address: e.Address, Outcome: e.Outcome, Detail: e.Detail})
	}
	if len(list) == auditPageSize {
		p.Next = list[len(list)-1].ID
	}
	return h.render(c, views.AuditPage(p), views.AuditResults(p))
}
