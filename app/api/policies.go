package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/auth"
	"artifactapi/app/policies"
	"artifactapi/db"
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

// policyJSON is a policy on the wire: its Spec (durations as "30d", sizes
// in bytes), its id and schedule, and its last run.
type policyJSON struct {
	ID int64 `json:"id"`
	policies.Spec
	NextRunAt *time.Time     `json:"next_run_at,omitempty"`
	Declared  bool           `json:"declared"` // from remotes.yaml: read-only here
	CreatedAt time.Time      `json:"created_at"`
	UpdatedAt time.Time      `json:"updated_at"`
	LastRun   *policyRunJSON `json:"last_run,omitempty"`
}

// policyRunJSON is one run of a policy.
type policyRunJSON struct {
	ID           int64      `json:"id"`
	StartedBy    string     `json:"started_by"`
	ScheduledFor *time.Time `json:"scheduled_for,omitempty"`
	Instance     string     `json:"instance,omitempty"`
	StartedAt    time.Time  `json:"started_at"`
	FinishedAt   *time.Time `json:"finished_at,omitempty"`
	Matched      int64      `json:"matched"`
	Evicted      int64      `json:"evicted"`
	BytesFreed   int64      `json:"bytes_freed"`
	Errors       int64      `json:"errors"`
	Error        string     `json:"error,omitempty"`
}

func toPolicyJSON(p db.Policy) policyJSON {
	return policyJSON{ID: p.ID, Spec: policies.SpecOf(p), NextRunAt: optTime(p.NextRunAt), Declared: p.Declared, CreatedAt: p.CreatedAt,
		UpdatedAt: p.UpdatedAt}
}

func toRunJSON(r db.PolicyRun) policyRunJSON {
	return policyRunJSON{ID: r.ID, StartedBy: r.StartedBy, ScheduledFor: optTime(r.ScheduledFor), Instance: r.Instance,
		StartedAt: r.StartedAt, FinishedAt: optTime(r.FinishedAt), Matched: r.Matched, Evicted: r.Evicted, BytesFreed: r.Bytes,
		Errors: r.Errors, Error: r.Error}
}

// policyError maps the errors of the policy manager.
func policyError(err error) error {
	var inv *policies.InvalidError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &inv):
		return Fail(http.StatusBadRequest, inv.Error())
	case errors.Is(err, db.ErrNotFound):
		return Fail(http.StatusNotFound, "policy not found")
	case errors.Is(err, db.ErrExists):
		return Fail(http.StatusConflict, "a policy with this name exists")
	case errors.Is(err, policies.ErrRunning):
		return Fail(http.StatusConflict, "the policy is already running")
	case errors.Is(err, policies.ErrDeclared):
		return Fail(http.StatusConflict, "the policy is declared in remotes.yaml: change it there")
	}
	return err
}

func (h *Handler) policies() (Policies, error) {
	if h.d.Policies == nil {
		return nil, Fail(http.StatusServiceUnavailable, "cleanup policies are not available on this instance")
	}
	return h.d.Policies, nil
}

// policyID reads the :id of the route.
func policyID(c *fiber.Ctx) (int64, error) {
	id, err := strconv.ParseInt(c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, Fail(http.StatusNotFound, "policy not found")
	}
	return id, nil
}

// ListPolicies answers GET /api/policies: every policy with its last run.
func (h *Handler) ListPolicies(c *fiber.Ctx) error {
	m, err := h.policies()
	if err != nil {
		return err
	}
	list, err := m.List(c.UserContext())
	if err != nil {
		return err
	}
	out := make([]policyJSON, len(list))
	for i, p := range list {
		out[i] = toPolicyJSON(p)
		if runs, err := m.Runs(c.UserContext(), p.ID, 1); err == nil && len(runs) == 1 {
			r := toRunJSON(runs[0])
			out[i].LastRun = &r
		}
	}
	return c.JSON(fiber.Map{"policies": out})
}

// GetPolicy answers GET /api/policies/{id}: the policy and its run history, newest first.
func (h *Handler) GetPolicy(c *fiber.Ctx) error {
	m, err := h.policies()
	if err != nil {
		return err
	}
	id, err := policyID(c)
	if err != nil {
		return err
	}
	p, err := m.Get(c.UserContext(), id)
	if err != nil {
		return policyError(err)
	}
	runs, err := m.Runs(c.UserContext(), id, 0)
	if err != nil {
		return err
	}
	out := make([]policyRunJSON, len(runs))
	for i, r := range runs {
		out[i] = toRunJSON(r)
	}
	return c.JSON(struct {
		policyJSON
		Runs []policyRunJSON `json:"runs"`
	}{toPolicyJSON(p), out})
}

// SavePolicy answers POST /api/policies (201) and PUT /api/policies/{id}.
func (h *Handler) SavePolicy(c *fiber.Ctx) error {
	m, err := h.policies()
	if err != nil {
		return err
	}
	var spec policies.Spec
	if err := decodeStrict(c, &spec); err != nil {
		return err
	}
	p, err := m.Parse(spec)
	if c.Method() == http.MethodPut && err == nil {
		p.ID, err = policyID(c)
	}
	if err == nil {
		p, err = m.Save(c.UserContext(), p)
	}
	who, _ := h.d.Admin.Principal(c)
	h.d.Admin.Record(c, who, auth.Event{Action: auth.ActPolicySave, Remote: spec.Remote, Target: spec.Name, Outcome: outcome(policyError(err)),
		Detail: describeSpec(spec)})
	if err != nil {
		return policyError(err)
	}
	if c.Method() == http.MethodPost {
		c.Set(fiber.HeaderLocation, "/api/policies/"+strconv.FormatInt(p.ID, 10))
		c.Status(http.StatusCreated)
	}
	return c.JSON(toPolicyJSON(p))
}

// describeSpec summarises a policy for the audit log.
func describeSpec(s policies.Spec) string {
	d := "query=" + strconv.Quote(s.Query)
	for _, kv := range [][2]string{{"cached_before", s.CachedBefore}, {"accessed_before", s.AccessedBefore},
		{"unused_for", s.UnusedFor}, {"larger_than", s.LargerThan}, {"every", s.Every}} {
		if kv[1] != "" {
			d += " " + kv[0] + "=" + kv[1]
		}
	}
	if s.Regex {
		d += " regex"
	}
	return d
}

// DeletePolicy answers DELETE /api/policies/{id} (204).
func (h *Handler) DeletePolicy(c *fiber.Ctx) error {
	m, err := h.policies()
	if err != nil {
		return err
	}
	id, err := policyID(c)
	if err != nil {
		return err
	}
	p, err := m.Get(c.UserContext(), id)
	if err == nil {
		err = m.Delete(c.UserContext(), id)
	}
	who, _ := h.d.Admin.Principal(c)
	h.d.Admin.Record(c, who, auth.Event{Action: auth.ActPolicyDel, Remote: p.Remote, Target: p.Name, Outcome: outcome(policyError(err)),
		Detail: "id " + c.Params("id")})
	if err != nil {
		return policyError(err)
	}
	return c.SendStatus(http.StatusNoContent)
}

// previewJSON is what a policy would evict now.
type previewJSON struct {
	Count   int64              `json:"count"`
	Bytes   int64              `json:"bytes"`
	Matches []previewMatchJSON `json:"matches"` // the first 100, by remote then path
}

// previewMatchJSON is an artifact with its remote (a policy may span remotes).
type previewMatchJSON struct {
	Remote string `json:"remote"`
	ArtifactJSON
}

// PreviewPolicy answers GET /api/policies/{id}/preview and POST
// /api/policies/preview (a policy's criteria, unsaved): what it would
// evict now, evicting nothing.
func (h *Handler) PreviewPolicy(c *fiber.Ctx) error {
	m, err := h.policies()
	if err != nil {
		return err
	}
	var p db.Policy
	if c.Method() == http.MethodPost {
		var spec policies.Spec
		if err := decodeStrict(c, &spec); err != nil {
			return err
		}
		if spec.Name == "" {
			spec.Name = "preview"
		}
		p, err = m.Parse(spec)
	} else {
		var id int64
		if id, err = policyID(c); err == nil {
			p, err = m.Get(c.UserContext(), id)
		}
	}
	if err != nil {
		return policyError(err)
	}
	pv, err := m.Preview(c.UserContext(), p)
	if err != nil {
		return err
	}
	out := previewJSON{Count: pv.Count, Bytes: pv.Bytes, Matches: make([]previewMatchJSON, len(pv.Matches))}
	for i, a := range pv.Matches {
		out.Matches[i] = previewMatchJSON{Remote: a.Remote, ArtifactJSON: ToJSON(a)}
	}
	return c.JSON(out)
}

// RunPolicy answers POST /api/policies/{id}/run: runs the policy now and
// answers with the recorded run (409 while it is already running).
func (h *Handler) RunPolicy(c *fiber.Ctx) error {
	m, err := h.policies()
	if err != nil {
		return err
	}
	id, err := policyID(c)
	if err != nil {
		return err
	}
	p, err := m.Get(c.UserContext(), id)
	if err != nil {
		return policyError(err)
	}
	// The run goes on if the client leaves: it was asked for.
	r, err := m.Run(context.WithoutCancel(c.UserContext()), p, policies.ByAPI, time.Time{})
	who, _ := h.d.Admin.Principal(c)
	h.d.Admin.Record(c, who, auth.Event{Action: auth.ActPolicyRun, Remote: p.Remote, Target: p.Name, Count: r.Evicted,
		Outcome: outcome(policyError(err)), Detail: "matched " + strconv.FormatInt(r.Matched, 10) + ", bytes freed " + strconv.FormatInt(r.Bytes, 10)})
	if err != nil {
		return policyError(err)
	}
	return c.JSON(toRunJSON(r))
}
