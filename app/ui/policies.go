package ui

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/auth"
	"artifactapi/app/config"
	"artifactapi/app/policies"
	"artifactapi/db"
	"artifactapi/views"
)

// Policies saves, previews and runs cleanup policies; *policies.Manager
// implements it.
type Policies interface {
	Parse(s policies.Spec) (db.Policy, error)
	Save(ctx context.Context, p db.Policy) (db.Policy, error)
	Delete(ctx context.Context, id int64) error
	Get(ctx context.Context, id int64) (db.Policy, error)
	List(ctx context.Context) ([]db.Policy, error)
	Runs(ctx context.Context, id int64, limit int) ([]db.PolicyRun, error)
	Preview(ctx context.Context, p db.Policy) (policies.Preview, error)
	Run(ctx context.Context, p db.Policy, startedBy string, scheduledFor time.Time) (db.PolicyRun, error)
}

// policyHistory is how many runs a policy's screen shows.
const policyHistory = 50

func (h *Handler) policyManager() (Policies, error) {
	if h.d.Policies == nil {
		return nil, fail(http.StatusServiceUnavailable, "Cleanup policies are not available on this instance.")
	}
	return h.d.Policies, nil
}

// cachedRemotes lists the repositories a policy can clean (not local ones).
func cachedRemotes(cfg *config.Config) []views.NavRemote {
	var out []views.NavRemote
	for _, n := range cfg.Remotes.Names() {
		if r := cfg.Remotes.Remotes[n]; !r.IsLocal() {
			out = append(out, views.NavRemote{Name: n, Type: r.Type, Package: r.Package})
		}
	}
	return out
}

// policyFormOf reads the policy form.
func policyFormOf(c *fiber.Ctx) views.PolicyForm {
	v := func(k string) string { return strings.Clone(strings.TrimSpace(c.FormValue(k))) }
	return views.PolicyForm{Name: v("name"), Remote: v("remote"), CachedBefore: v("cached_before"), AccessedBefore: v("accessed_before"),
		UnusedFor: v("unused_for"), LargerThan: v("larger_than"), Query: strings.Clone(c.FormValue("query")), Regex: c.FormValue("regex") == "yes",
		Every: v("every")}
}

func specOf(f views.PolicyForm) policies.Spec {
	return policies.Spec{Name: f.Name, Remote: f.Remote, CachedBefore: f.CachedBefore, AccessedBefore: f.AccessedBefore,
		UnusedFor: f.UnusedFor, LargerThan: f.LargerThan, Query: f.Query, Regex: f.Regex, Every: f.Every}
}

func formOf(p db.Policy) views.PolicyForm {
	s := policies.SpecOf(p)
	if p.LargerThan > 0 {
		s.LargerThan = views.Bytes(p.LargerThan)
		if n, err := config.ParseSize(strings.ReplaceAll(s.LargerThan, " ", "")); err != nil || n != p.LargerThan {
			s.LargerThan = strconv.FormatInt(p.LargerThan, 10) // the rounded form would change it
		}
	}
	return views.PolicyForm{Name: s.Name, Remote: s.Remote, CachedBefore: s.CachedBefore, AccessedBefore: s.AccessedBefore,
		UnusedFor: s.UnusedFor, LargerThan: s.LargerThan, Query: s.Query, Regex: s.Regex, Every: s.Every}
}

// summary describes a policy's criteria in words.
func summary(p db.Policy) string {
	var parts []string
	if p.CachedBefore > 0 {
		parts = append(parts, "cached more than "+policies.FormatDuration(p.CachedBefore)+" ago")
	}
	if p.AccessedBefore > 0 {
		parts = append(parts, "last access more than "+policies.FormatDuration(p.AccessedBefore)+" ago")
	}
	if p.UnusedFor > 0 {
		parts = append(parts, "never served, cached more than "+policies.FormatDuration(p.UnusedFor)+" ago")
	}
	if p.LargerThan > 0 {
		parts = append(parts, "larger than "+views.Bytes(p.LargerThan))
	}
	switch {
	case p.Query != "" && p.Regex:
		parts = append(parts, "path matches /"+p.Query+"/")
	case p.Query != "":
		parts = append(parts, "path contains “"+p.Query+"”")
	}
	return strings.Join(parts, ", ")
}

// policyProblem is the message of a refused policy.
func policyProblem(err error) (string, bool) {
	var inv *policies.InvalidError
	switch {
	case errors.As(err, &inv):
		return "Not saved: " + inv.Error() + ".", true
	case errors.Is(err, db.ErrExists):
		return "Not saved: a policy with this name exists.", true
	}
	return "", false
}

func previewView(pv policies.Preview) views.PolicyPreview {
	out := views.PolicyPreview{Shown: true, Count: pv.Count, Bytes: pv.Bytes}
	for _, a := range pv.Matches {
		out.Matches = append(out.Matches, views.PolicyMatch{Remote: a.Remote, Path: a.Path, Size: a.Size, CachedAt: a.CachedAt,
			LastAccess: a.LastAccess, Hits: a.Hits})
	}
	return out
}

func runView(r db.PolicyRun) views.PolicyRunView {
	return views.PolicyRunView{StartedBy: r.StartedBy, Instance: r.Instance, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		Matched: r.Matched, Evicted: r.Evicted, Bytes: r.Bytes, Errors: r.Errors, Error: r.Error}
}

func (h *Handler) policiesProps(c *fiber.Ctx, m Policies) (views.PoliciesProps, error) {
	p := views.PoliciesProps{Chrome: h.chrome(c, "Cleanup policies", "policies"), Now: h.d.Now(), Remotes: cachedRemotes(h.d.Config())}
	list, err := m.List(c.UserContext())
	if err != nil {
		return p, err
	}
	for _, pol := range list {
		row := views.PolicyRow{ID: pol.ID, Name: pol.Name, Remote: pol.Remote, Summary: summary(pol), Every: policies.FormatDuration(pol.Every),
			NextRunAt: pol.NextRunAt, Declared: pol.Declared}
		if runs, err := m.Runs(c.UserContext(), pol.ID, 1); err == nil && len(runs) == 1 {
			r := runView(runs[0])
			row.LastRun = &r
		}
		p.Policies = append(p.Policies, row)
	}
	return p, nil
}

// PoliciesPage lists the policies above the form of a new one.
func (h *Handler) PoliciesPage(c *fiber.Ctx) error {
	m, err := h.policyManager()
	if err != nil {
		return err
	}
	p, err := h.policiesProps(c, m)
	if err != nil {
		return err
	}
	p.Form.Remote = c.Query("remote")
	return h.write(c, views.PoliciesPage(p))
}

// PreviewForm previews the policy in the form without saving it: for htmx
// the preview alone, else the screen with the form kept.
func (h *Handler) PreviewForm(c *fiber.Ctx) error {
	m, err := h.policyManager()
	if err != nil {
		return err
	}
	f := policyFormOf(c)
	spec := specOf(f)
	if spec.Name == "" {
		spec.Name = "preview"
	}
	pol, err := m.Parse(spec)
	msg, bad := policyProblem(err)
	if err != nil && !bad {
		return err
	}
	var pv views.PolicyPreview
	if err == nil {
		res, err := m.Preview(c.UserContext(), pol)
		if err != nil {
			return err
		}
		pv = previewView(res)
	}
	if isHTMX(c) {
		if bad {
			return fail(http.StatusBadRequest, strings.Replace(msg, "Not saved", "No preview", 1))
		}
		return h.write(c, views.PolicyPreviewResult(pv))
	}
	p, err := h.policiesProps(c, m)
	if err != nil {
		return err
	}
	p.Form, p.Preview, p.Error = f, pv, strings.Replace(msg, "Not saved", "No preview", 1)
	return h.write(c, views.PoliciesPage(p))
}

// SavePolicy creates (POST /ui/policies) or updates (POST
// /ui/policies/{id}) a policy and shows it; a refused one stays in the form.
func (h *Handler) SavePolicy(c *fiber.Ctx) error {
	m, err := h.policyManager()
	if err != nil {
		return err
	}
	f := policyFormOf(c)
	var id int64
	if s := c.Params("id"); s != "" {
		if id, err = strconv.ParseInt(s, 10, 64); err != nil {
			return errNotFound
		}
	}
	pol, err := m.Parse(specOf(f))
	pol.ID = id
	if err == nil {
		pol, err = m.Save(c.UserContext(), pol)
	}
	ev := auth.Event{Action: auth.ActPolicySave, Remote: f.Remote, Target: f.Name, Detail: "dashboard: " + summary(pol)}
	if err != nil {
		ev.Outcome = auth.OutcomeFailed
	}
	h.record(c, ev)
	if msg, bad := policyProblem(err); bad {
		c.Status(http.StatusBadRequest)
		if pol.ID != 0 {
			return h.showPolicy(c, m, pol.ID, func(p *views.PolicyProps) { p.Form, p.Error = f, msg })
		}
		p, err := h.policiesProps(c, m)
		if err != nil {
			return err
		}
		p.Form, p.Error = f, msg
		return h.write(c, views.PoliciesPage(p))
	}
	if errors.Is(err, db.ErrNotFound) {
		return fail(http.StatusNotFound, "There is no such policy.")
	}
	if errors.Is(err, policies.ErrDeclared) {
		return fail(http.StatusConflict, "This policy is declared in remotes.yaml: change it there.")
	}
	if err != nil {
		return err
	}
	return c.Redirect(views.PolicyURL(pol.ID), http.StatusSeeOther)
}

// policyOf loads the policy of the route.
func policyOf(c *fiber.Ctx, m Policies) (db.Policy, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil {
		return db.Policy{}, fail(http.StatusNotFound, "There is no such policy.")
	}
	p, err := m.Get(c.UserContext(), id)
	if errors.Is(err, db.ErrNotFound) {
		return p, fail(http.StatusNotFound, "There is no such policy.")
	}
	return p, err
}

// showPolicy renders a policy's screen, adjusted by edit.
func (h *Handler) showPolicy(c *fiber.Ctx, m Policies, id int64, edit func(*views.PolicyProps)) error {
	pol, err := m.Get(c.UserContext(), id)
	if errors.Is(err, db.ErrNotFound) {
		return fail(http.StatusNotFound, "There is no such policy.")
	}
	if err != nil {
		return err
	}
	runs, err := m.Runs(c.UserContext(), id, policyHistory)
	if err != nil {
		return err
	}
	p := views.PolicyProps{Chrome: h.chrome(c, pol.Name, "policies"), Now: h.d.Now(), ID: pol.ID, Remotes: cachedRemotes(h.d.Config()),
		Form: formOf(pol), Summary: summary(pol), Next: pol.NextRunAt, Declared: pol.Declared}
	for _, r := range runs {
		p.Runs = append(p.Runs, runView(r))
	}
	if edit != nil {
		edit(&p)
	}
	return h.write(c, views.PolicyPage(p))
}

// PolicyPage shows a policy: run, preview, history, edit.
func (h *Handler) PolicyPage(c *fiber.Ctx) error {
	m, err := h.policyManager()
	if err != nil {
		return err
	}
	pol, err := policyOf(c, m)
	if err != nil {
		return err
	}
	return h.showPolicy(c, m, pol.ID, nil)
}

// PreviewPolicy shows what the saved policy would evict now.
func (h *Handler) PreviewPolicy(c *fiber.Ctx) error {
	m, err := h.policyManager()
	if err != nil {
		return err
	}
	pol, err := policyOf(c, m)
	if err != nil {
		return err
	}
	pv, err := m.Preview(c.UserContext(), pol)
	if err != nil {
		return err
	}
	return h.showPolicy(c, m, pol.ID, func(p *views.PolicyProps) { p.Preview = previewView(pv) })
}

// RunPolicy runs the policy now and shows it with the run in its history.
func (h *Handler) RunPolicy(c *fiber.Ctx) error {
	m, err := h.policyManager()
	if err != nil {
		return err
	}
	pol, err := policyOf(c, m)
	if err != nil {
		return err
	}
	// The run goes on if the browser leaves: it was asked for.
	r, err := m.Run(context.WithoutCancel(c.UserContext()), pol, policies.ByDashboard, time.Time{})
	ev := auth.Event{Action: auth.ActPolicyRun, Remote: pol.Remote, Target: pol.Name, Count: r.Evicted,
		Detail: "dashboard: matched " + strconv.FormatInt(r.Matched, 10) + ", bytes freed " + strconv.FormatInt(r.Bytes, 10)}
	if err != nil {
		ev.Outcome = auth.OutcomeFailed
	}
	h.record(c, ev)
	if errors.Is(err, policies.ErrRunning) {
		return fail(http.StatusConflict, "This policy is already running; its history shows the run when it ends.")
	}
	if err != nil {
		return err
	}
	h.d.Log.Info("dashboard policy run", "policy", pol.Name, "evicted", r.Evicted)
	return h.showPolicy(c, m, pol.ID, func(p *views.PolicyProps) {
		p.Notice = "Evicted " + views.Count(r.Evicted) + " of " + views.Count(r.Matched) + " matching artifacts, " + views.Bytes(r.Bytes) + " freed."
	})
}

// DeletePolicy deletes the policy with its history.
func (h *Handler) DeletePolicy(c *fiber.Ctx) error {
	m, err := h.policyManager()
	if err != nil {
		return err
	}
	pol, err := policyOf(c, m)
	if err != nil {
		return err
	}
	err = m.Delete(c.UserContext(), pol.ID)
	ev := auth.Event{Action: auth.ActPolicyDel, Remote: pol.Remote, Target: pol.Name, Detail: "dashboard"}
	if err != nil {
		ev.Outcome = auth.OutcomeFailed
	}
	h.record(c, ev)
	if errors.Is(err, policies.ErrDeclared) {
		return fail(http.StatusConflict, "This policy is declared in remotes.yaml: remove it there.")
	}
	if err != nil {
		return err
	}
	return c.Redirect("/ui/policies", http.StatusSeeOther)
}
