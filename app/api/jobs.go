package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"artifactapi/app/auth"
	"artifactapi/app/jobs"
	"artifactapi/db"
)

// maxJobBody bounds the body of POST /cache-artifact (jobs.MaxItems long URLs).
const maxJobBody = 32 << 20

// requireJSON refuses a body not declared as application/json with 415: a
// form posted by a browser or a script is never read as an API request.
func requireJSON(c *fiber.Ctx) error {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || mt != fiber.MIMEApplicationJSON {
		return Fail(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
	}
	return nil
}

// cacheRequest is the body of POST /cache-artifact.
type cacheRequest struct {
	Remote string   `json:"remote"`
	Paths  []string `json:"paths"`
	URLs   []string `json:"urls"`
	Pin    bool     `json:"pin"`
}

// CacheArtifact answers POST /cache-artifact: it queues a batch cache job
// and answers 202 with its id and a Location (PRODUCT §2).
//
// The job handlers pass c.UserContext(), not the fasthttp RequestCtx, to the
// store: database/sql watches its context's Done from other goroutines, and
// RequestCtx.Done races with server shutdown (go test -race).
func (h *Handler) CacheArtifact(c *fiber.Ctx) error {
	// Who may submit is known only from the body (the remote): a request
	// without any credential is refused before the body is read.
	who, err := h.d.Admin.Principal(c)
	if err != nil {
		return err
	}
	if who == nil {
		h.d.Admin.Record(c, nil, auth.Event{Action: auth.ActJobSubmit, Outcome: auth.OutcomeDenied})
		return errUnauthorized
	}
	if err := requireJSON(c); err != nil {
		return err
	}
	// The body is streamed (Fiber's BodyLimit does not apply): bound it here.
	var body io.Reader = c.Context().RequestBodyStream()
	if body == nil {
		body = bytes.NewReader(c.Body())
	}
	raw, err := io.ReadAll(io.LimitReader(body, maxJobBody+1))
	if err != nil {
		return Fail(http.StatusBadRequest, "could not read the body")
	}
	if len(raw) > maxJobBody {
		return Fail(http.StatusRequestEntityTooLarge, "body larger than "+strconv.Itoa(maxJobBody>>20)+" MiB")
	}
	var req cacheRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return Fail(http.StatusBadRequest, "invalid JSON body: "+err.Error())
	}
	// A job of one remote needs admin on it; a job of URLs, global admin.
	r := h.d.Config().Remotes.Remotes[req.Remote]
	if req.Remote == "" || r != nil {
		if _, err := h.d.Admin.Authorize(c, auth.Admin, r); err != nil {
			h.d.Admin.Record(c, who, auth.Event{Action: auth.ActJobSubmit, Remote: req.Remote, Outcome: auth.OutcomeDenied})
			return err
		}
	} else if !who.Can(auth.Admin, "") {
		// An unknown remote is reported only to who could submit anywhere.
		return Fail(http.StatusForbidden, "this credential lacks the admin scope")
	}
	j, err := h.d.Jobs.Submit(c.UserContext(), jobs.Submission{Remote: req.Remote, Paths: req.Paths, URLs: req.URLs, Pin: req.Pin})
	var inv *jobs.InvalidError
	if errors.As(err, &inv) {
		body := fiber.Map{"error": inv.Msg}
		if req.Remote != "" {
			body["remote"] = req.Remote
		}
		if inv.Path != "" {
			body["path"] = inv.Path
		}
		if len(inv.Lines) > 0 {
			body["invalid"] = invalidJSON(inv.Lines)
		}
		return c.Status(http.StatusBadRequest).JSON(body)
	}
	if err != nil {
		h.d.Log.Error("create job", "err", err)
		return Fail(http.StatusServiceUnavailable, "metadata store unavailable")
	}
	h.d.Admin.Record(c, who, auth.Event{Action: auth.ActJobSubmit, Remote: req.Remote, Target: j.ID, Count: int64(len(j.Items))})
	loc := "/jobs/" + j.ID
	c.Set(fiber.HeaderLocation, loc)
	return c.Status(http.StatusAccepted).JSON(fiber.Map{"id": j.ID, "items": len(j.Items), "state": j.State, "url": loc})
}

// Jobs answers GET /jobs: jobs newest first (?limit=, default 50, at most 1000).
func (h *Handler) Jobs(c *fiber.Ctx) error {
	limit := 0
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > db.MaxJobListLimit {
			return Fail(http.StatusBadRequest, "limit must be an integer from 1 to "+strconv.Itoa(db.MaxJobListLimit))
		}
		limit = n
	}
	who, err := h.d.Admin.Principal(c)
	if err != nil {
		return err
	}
	list, err := h.d.Jobs.Jobs(c.UserContext(), limit)
	if err != nil {
		h.d.Log.Error("list jobs", "err", err)
		return Fail(http.StatusServiceUnavailable, "metadata store unavailable")
	}
	out := make([]jobJSON, 0, len(list))
	for _, j := range list {
		if h.mayRead(who, j.Remote) {
			out = append(out, toJobJSON(j, time.Now()))
		}
	}
	return c.JSON(fiber.Map{"jobs": out})
}

// Job answers GET /jobs/{id}: the job with every item's state and progress.
func (h *Handler) Job(c *fiber.Ctx) error {
	id := utils.CopyString(c.Params("id"))
	sel, err := parseItemSelection(c)
	if err != nil {
		return err
	}
	j, err := h.job(c, id)
	if err != nil {
		return err
	}
	out := jobDetailJSON{jobJSON: toJobJSON(j, time.Now()), Items: []itemJSON{}}
	for _, it := range j.Items {
		if it.Idx <= sel.after || (sel.states != nil && !sel.states[it.State]) {
			continue
		}
		if sel.limit > 0 && len(out.Items) == sel.limit {
			next := out.Items[len(out.Items)-1].Idx
			out.NextAfter = &next
			break
		}
		out.Items = append(out.Items, itemJSON{Idx: it.Idx, Remote: it.Remote, Path: it.Path, URL: it.URL, State: it.State,
			Reason: it.Reason, BytesDone: it.BytesDone, BytesTotal: it.BytesTotal, Attempts: it.Attempts,
			StartedAt: optTime(it.StartedAt), FinishedAt: optTime(it.FinishedAt), Worker: it.ClaimedBy})
	}
	return c.JSON(out)
}

// job loads job id, mapping the store's errors to the client's; a job the
// caller may not read is not found.
func (h *Handler) job(c *fiber.Ctx, id string) (db.Job, error) {
	who, err := h.d.Admin.Principal(c)
	if err != nil {
		return db.Job{}, err
	}
	j, err := h.d.Jobs.Job(c.UserContext(), id)
	if errors.Is(err, db.ErrNotFound) || (err == nil && !h.mayRead(who, j.Remote)) {
		return db.Job{}, Fail(http.StatusNotFound, "job not found")
	}
	if err != nil {
		h.d.Log.Error("get job", "job", id, "err", err)
		return j, Fail(http.StatusServiceUnavailable, "metadata store unavailable")
	}
	return j, nil
}

// mayRead reports whether who may see what concerns remote: a job of URLs
// (remote "") spans remotes, so it is shown to who may read every one.
func (h *Handler) mayRead(who *auth.Principal, remote string) bool {
	cfg := h.d.Config()
	if remote != "" {
		r := cfg.Remotes.Remotes[remote]
		return r == nil && who.Can(auth.Admin, "") || r != nil && auth.Allowed(who, auth.Read, r)
	}
	for _, r := range cfg.Remotes.Remotes {
		if !auth.Allowed(who, auth.Read, r) {
			return false
		}
	}
	return true
}

// jobDetailJSON is GET /jobs/{id}: the job and the selected items, with
// the cursor of the next page when limit cut the list.
type jobDetailJSON struct {
	jobJSON
	Items     []itemJSON `json:"items"`
	NextAfter *int       `json:"next_after,omitempty"`
}

// itemSelection is the items query of GET /jobs/{id}: ?state=failed,canceled
// (only these states), ?limit=N (at most N items), ?after=IDX (items after
// that index: next_after of the previous page).
type itemSelection struct {
	states map[string]bool // nil: every state
	limit  int             // 0: no limit
	after  int             // -1: from the first item
}

func parseItemSelection(c *fiber.Ctx) (itemSelection, error) {
	sel := itemSelection{after: -1}
	if v := c.Query("state"); v != "" {
		sel.states = map[string]bool{}
		for _, s := range strings.Split(v, ",") {
			if !slices.Contains(db.ItemStates, s) {
				return sel, Fail(http.StatusBadRequest, fmt.Sprintf("state: %q is not one of %s", s, strings.Join(db.ItemStates, ", ")))
			}
			sel.states[s] = true
		}
	}
	for _, q := range []struct {
		name string
		dst  *int
		min  int
	}{{"limit", &sel.limit, 1}, {"after", &sel.after, 0}} {
		v := c.Query(q.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < q.min {
			return sel, Fail(http.StatusBadRequest, fmt.Sprintf("%s: want an integer of at least %d", q.name, q.min))
		}
		*q.dst = n
	}
	return sel, nil
}

// CancelJob answers POST /jobs/{id}/cancel (admin): the job's queued items
// end as canceled, running ones finish; the answer is the job as GET
// /jobs/{id} lists it, with the number of items canceled now.
func (h *Handler) CancelJob(c *fiber.Ctx) error {
	id := utils.CopyString(c.Params("id"))
	who, err := h.d.Admin.Principal(c)
	if err != nil {
		return err
	}
	if who == nil {
		h.d.Admin.Record(c, nil, auth.Event{Action: auth.ActJobCancel, Target: id, Outcome: auth.OutcomeDenied})
		return errUnauthorized
	}
	before, err := h.job(c, id)
	if err != nil {
		return err
	}
	ev := auth.Event{Action: auth.ActJobCancel, Remote: before.Remote, Target: id}
	if _, err := h.d.Admin.Authorize(c, auth.Admin, h.d.Config().Remotes.Remotes[before.Remote]); err != nil {
		ev.Outcome = auth.OutcomeDenied
		h.d.Admin.Record(c, who, ev)
		return err
	}
	n, err := h.d.Jobs.Cancel(c.UserContext(), id)
	if errors.Is(err, db.ErrNotFound) {
		return Fail(http.StatusNotFound, "job not found")
	}
	if err != nil {
		h.d.Log.Error("cancel job", "job", id, "err", err)
		return Fail(http.StatusServiceUnavailable, "metadata store unavailable")
	}
	ev.Count = int64(n)
	h.d.Admin.Record(c, who, ev)
	j, err := h.job(c, id)
	if err != nil {
		return err
	}
	return c.JSON(struct {
		jobJSON
		Canceled int `json:"canceled"`
	}{toJobJSON(j, time.Now()), n})
}

// jobJSON is a job on the wire. State is queued, running or done, as it
// always was; Outcome tells what a done job achieved (db.Outcome*).
type jobJSON struct {
	ID        string     `json:"id"`
	URL       string     `json:"url"`
	Remote    string     `json:"remote,omitempty"`
	State     string     `json:"state"`
	Outcome   string     `json:"outcome,omitempty"`
	Pin       bool       `json:"pin"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	Totals    totalsJSON `json:"totals"`
	Items     []itemJSON `json:"items,omitempty"`
}

// totalsJSON is a job's progress: items by state, bytes, and the percentage
// of items finished. Weighted is the percentage of the work done, weighted
// by the items' sizes when WeightedBy is "bytes" (GET /jobs/{id}; a list
// of jobs weighs items); Rate (bytes per second) and ETASeconds appear once
// they can be told.
type totalsJSON struct {
	Items      int            `json:"items"`
	Finished   int            `json:"finished"`
	ByState    map[string]int `json:"by_state"`
	BytesDone  int64          `json:"bytes_done"`
	BytesTotal int64          `json:"bytes_total"`
	Progress   float64        `json:"progress"`
	Weighted   float64        `json:"weighted_progress"`
	WeightedBy string         `json:"weighted_by"`
	Rate       int64          `json:"rate,omitempty"`
	ETASeconds int64          `json:"eta_seconds,omitempty"`
}

// invalidLineJSON is one refused path of a submission.
type invalidLineJSON struct {
	Index  int    `json:"index"`
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

func invalidJSON(lines []jobs.InvalidLine) []invalidLineJSON {
	out := make([]invalidLineJSON, len(lines))
	for i, l := range lines {
		out[i] = invalidLineJSON{Index: l.Index, Path: l.Path, Reason: l.Reason}
	}
	return out
}

// itemJSON is one item of a job on the wire.
type itemJSON struct {
	Idx        int        `json:"idx"`
	Remote     string     `json:"remote"`
	Path       string     `json:"path"`
	URL        string     `json:"url,omitempty"`
	State      string     `json:"state"`
	Reason     string     `json:"reason,omitempty"`
	BytesDone  int64      `json:"bytes_done"`
	BytesTotal int64      `json:"bytes_total"`
	Attempts   int        `json:"attempts"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Worker     string     `json:"worker,omitempty"`
}

func toJobJSON(j db.Job, now time.Time) jobJSON {
	t := j.Totals
	out := jobJSON{ID: j.ID, URL: "/jobs/" + j.ID, Remote: j.Remote, State: j.State, Outcome: j.Outcome(), Pin: j.Pin,
		CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt,
		Totals: totalsJSON{Items: t.Items, Finished: t.Finished(), ByState: t.ByState, BytesDone: t.BytesDone, BytesTotal: t.BytesTotal}}
	if t.Items > 0 {
		out.Totals.Progress = float64(int(1000*float64(out.Totals.Finished)/float64(t.Items))) / 10
	}
	m := jobs.Measure(j, now)
	out.Totals.Weighted, out.Totals.WeightedBy = m.Percent, "items"
	if m.ByBytes {
		out.Totals.WeightedBy = "bytes"
	}
	out.Totals.Rate, out.Totals.ETASeconds = int64(m.Rate), int64(m.ETA.Seconds())
	return out
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
