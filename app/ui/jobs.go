package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"artifactapi/app/auth"
	"artifactapi/app/config"
	"artifactapi/app/jobs"
	"artifactapi/db"
	"artifactapi/views"
)

// Jobs is the batch job manager; *jobs.Manager implements it.
type Jobs interface {
	Submit(ctx context.Context, s jobs.Submission) (db.Job, error)
	Job(ctx context.Context, id string) (db.Job, error)
	Jobs(ctx context.Context, limit int) ([]db.Job, error)
	Cancel(ctx context.Context, id string) (int, error)
	Retry(ctx context.Context, id string) (db.Job, error)
}

// Bounds of the jobs screens.
const (
	jobListLimit = 25
	maxItemRows  = 1000
)

// jobRemotes lists the remotes a job can fetch from (not local, not docker).
func jobRemotes(cfg *config.Config) []views.NavRemote {
	var out []views.NavRemote
	for _, n := range cfg.Remotes.Names() {
		r := cfg.Remotes.Remotes[n]
		if !r.IsLocal() && r.Package != config.PackageDocker {
			out = append(out, views.NavRemote{Name: n, Type: r.Type, Package: r.Package})
		}
	}
	return out
}

func (h *Handler) jobsManager() (Jobs, error) {
	if h.d.Jobs == nil {
		return nil, fail(http.StatusServiceUnavailable, "Batch jobs are not available on this instance.")
	}
	return h.d.Jobs, nil
}

func (h *Handler) jobsProps(c *fiber.Ctx, m Jobs) (views.JobsProps, error) {
	p := views.JobsProps{Chrome: h.chrome(c, "Jobs", "jobs"), Now: h.d.Now(), Remotes: jobRemotes(h.d.Config())}
	list, err := m.Jobs(c.UserContext(), jobListLimit)
	if err != nil {
		return p, err
	}
	for _, j := range list {
		p.Jobs = append(p.Jobs, jobView(j, p.Now, ""))
	}
	return p, nil
}

// JobsPage lists recent jobs under the form that starts one. ?list=1 with
// htmx returns the list only (it polls while a job runs).
func (h *Handler) JobsPage(c *fiber.Ctx) error {
	m, err := h.jobsManager()
	if err != nil {
		return err
	}
	p, err := h.jobsProps(c, m)
	if err != nil {
		return err
	}
	p.Remote = cameFrom(c)
	if views.AnyRunning(p.Jobs) {
		p.Live = views.Live{URL: "/ui/jobs?list=1", Every: 2, Max: 30}
		if err := sign(c.UserContext(), &p.Live, func() templ.Component { return views.JobList(p) }); err != nil {
			return err
		}
	}
	var partial = views.JobList(p)
	if c.Query("list") == "" {
		partial = nil
	} else if current(c, p.Live) {
		return nil
	}
	return h.render(c, views.JobsPage(p), partial)
}

// StartJob submits a job from the form (a remote and one path per line)
// and goes to its screen; a refused submission is shown in the form.
func (h *Handler) StartJob(c *fiber.Ctx) error {
	m, err := h.jobsManager()
	if err != nil {
		return err
	}
	remote := strings.Clone(c.FormValue("remote"))
	text := strings.Clone(c.FormValue("paths"))
	pin := c.FormValue("pin") == "yes"
	var paths []string
	var lineOf []int // the form's line number of each path
	for i, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			paths = append(paths, l)
			lineOf = append(lineOf, i+1)
		}
	}
	var j db.Job
	if len(paths) == 0 {
		err = &jobs.InvalidError{Msg: "Give at least one path."}
	} else {
		j, err = m.Submit(c.UserContext(), jobs.Submission{Remote: remote, Paths: paths, Pin: pin})
	}
	var inv *jobs.InvalidError
	if errors.As(err, &inv) {
		msg := inv.Msg
		if inv.Path != "" {
			msg += " (path: " + inv.Path + ")"
		}
		p, perr := h.jobsProps(c, m)
		if perr != nil {
			return perr
		}
		p.Remote, p.Paths, p.Pin, p.Error = remote, text, pin, msg
		for _, l := range inv.Lines {
			p.Invalid = append(p.Invalid, views.InvalidLine{Line: lineOf[l.Index], Path: l.Path, Reason: l.Reason})
		}
		if len(inv.Lines) > 0 {
			p.Error = fmt.Sprintf("%d of %d paths cannot be cached; fix or remove these lines:", len(inv.Lines), len(paths))
		}
		c.Status(http.StatusBadRequest)
		return h.render(c, views.JobsPage(p), views.JobForm(p))
	}
	if err != nil {
		return err
	}
	h.d.Log.Info("dashboard job", "job", j.ID, "remote", remote, "items", len(paths))
	h.record(c, auth.Event{Action: auth.ActJobSubmit, Remote: remote, Target: j.ID, Count: int64(len(paths)), Detail: "dashboard"})
	if isHTMX(c) {
		c.Set("HX-Redirect", "/ui/jobs/"+j.ID)
		return c.SendStatus(http.StatusOK)
	}
	return c.Redirect("/ui/jobs/"+j.ID, http.StatusSeeOther)
}

// JobPage shows one job with each item's state; for htmx it returns the
// live part, which polls while the job runs.
func (h *Handler) JobPage(c *fiber.Ctx) error {
	m, err := h.jobsManager()
	if err != nil {
		return err
	}
	j, err := m.Job(c.UserContext(), c.Params("id"))
	if errors.Is(err, db.ErrNotFound) {
		return fail(http.StatusNotFound, "There is no job with this id.")
	}
	if err != nil {
		return err
	}
	filter := c.Query("state")
	if filter != "" && !slices.Contains(db.ItemStates, filter) {
		filter = ""
	}
	now := h.d.Now()
	p := views.JobDetailProps{Chrome: h.chrome(c, "Job "+views.Short(j.ID, 8), "jobs"), Now: now, Job: jobView(j, now, filter), Filter: filter}
	if p.Job.Running() {
		p.Live = views.Live{URL: jobURL(j.ID, filter), Every: 1, Max: 10}
		if err := sign(c.UserContext(), &p.Live, func() templ.Component { return views.JobDetail(p) }); err != nil {
			return err
		}
		if current(c, p.Live) {
			return nil
		}
	}
	return h.render(c, views.JobDetailPage(p), views.JobDetail(p))
}

// CancelJob ends the job's queued items (POST /ui/jobs/{id}/cancel) and
// shows the job again.
func (h *Handler) CancelJob(c *fiber.Ctx) error {
	m, err := h.jobsManager()
	if err != nil {
		return err
	}
	id := utils.CopyString(c.Params("id"))
	n, err := m.Cancel(c.UserContext(), id)
	if errors.Is(err, db.ErrNotFound) {
		return fail(http.StatusNotFound, "There is no job with this id.")
	} else if err != nil {
		return err
	}
	h.record(c, auth.Event{Action: auth.ActJobCancel, Target: id, Count: int64(n), Detail: "dashboard"})
	if !isHTMX(c) {
		return c.Redirect("/ui/jobs/"+id, http.StatusSeeOther)
	}
	return h.JobPage(c)
}

// RetryJob starts a new job of the failed items of a job (POST
// /ui/jobs/{id}/retry) and goes to it; the original job stays as it ended.
func (h *Handler) RetryJob(c *fiber.Ctx) error {
	m, err := h.jobsManager()
	if err != nil {
		return err
	}
	id := utils.CopyString(c.Params("id"))
	j, err := m.Retry(c.UserContext(), id)
	var inv *jobs.InvalidError
	switch {
	case errors.Is(err, db.ErrNotFound):
		return fail(http.StatusNotFound, "There is no job with this id.")
	case errors.Is(err, jobs.ErrNothingToRetry):
		return fail(http.StatusConflict, "No item of this job failed: there is nothing to retry.")
	case errors.As(err, &inv):
		return fail(http.StatusBadRequest, "The failed items cannot be retried: "+inv.Msg)
	case err != nil:
		return err
	}
	h.record(c, auth.Event{Action: auth.ActJobRetry, Remote: j.Remote, Target: id, Count: int64(len(j.Items)), Detail: "dashboard: new job " + j.ID})
	if isHTMX(c) {
		c.Set("HX-Redirect", "/ui/jobs/"+j.ID)
		return c.SendStatus(http.StatusOK)
	}
	return c.Redirect("/ui/jobs/"+j.ID, http.StatusSeeOther)
}

// jobView converts a job for the views; filter keeps the items in that
// state only ("" keeps all).
func jobView(j db.Job, now time.Time, filter string) views.JobView {
	v := views.JobView{ID: j.ID, Remote: j.Remote, State: j.State, Outcome: j.Outcome(), Pin: j.Pin, CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt,
		Items: j.Totals.Items, Finished: j.Totals.Finished(), Failed: j.Totals.ByState[db.ItemFailed],
		BytesDone: j.Totals.BytesDone, BytesTotal: j.Totals.BytesTotal}
	m := jobs.Measure(j, now)
	v.Percent, v.ByBytes, v.Rate, v.ETA = m.Percent, m.ByBytes, int64(m.Rate), m.ETA
	for _, s := range db.ItemStates {
		if n := j.Totals.ByState[s]; n > 0 {
			v.ByState = append(v.ByState, views.KV{Key: s, Value: strconv.Itoa(n)})
		}
	}
	for _, it := range j.Items {
		if filter != "" && it.State != filter {
			continue
		}
		if len(v.Rows) >= maxItemRows {
			v.Hidden++
			continue
		}
		v.Rows = append(v.Rows, views.JobItemView{Idx: it.Idx, Remote: it.Remote, Path: it.Path, URL: it.URL, State: it.State,
			Reason: it.Reason, BytesDone: it.BytesDone, BytesTotal: it.BytesTotal, Attempts: it.Attempts})
	}
	return v
}

// jobURL is the job's screen showing the items in state ("" for all).
func jobURL(id, state string) string {
	if state == "" {
		return "/ui/jobs/" + id
	}
	return "/ui/jobs/" + id + "?state=" + url.QueryEscape(state)
}
