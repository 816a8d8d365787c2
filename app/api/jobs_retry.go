package api

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"artifactapi/app/auth"
	"artifactapi/app/jobs"
)

// RetryJob answers POST /jobs/{id}/retry (admin): a new job of the failed
// items of job id is queued, as POST /cache-artifact would (202, Location);
// the original job is left as it ended. 409 when no item failed.
func (h *Handler) RetryJob(c *fiber.Ctx) error {
	id := utils.CopyString(c.Params("id"))
	who, err := h.d.Admin.Principal(c)
	if err != nil {
		return err
	}
	if who == nil {
		h.d.Admin.Record(c, nil, auth.Event{Action: auth.ActJobRetry, Target: id, Outcome: auth.OutcomeDenied})
		return errUnauthorized
	}
	old, err := h.job(c, id)
	if err != nil {
		return err
	}
	ev := auth.Event{Action: auth.ActJobRetry, Remote: old.Remote, Target: id}
	if _, err := h.d.Admin.Authorize(c, auth.Admin, h.d.Config().Remotes.Remotes[old.Remote]); err != nil {
		ev.Outcome = auth.OutcomeDenied
		h.d.Admin.Record(c, who, ev)
		return err
	}
	j, err := h.d.Jobs.Retry(c.UserContext(), id)
	var inv *jobs.InvalidError
	switch {
	case errors.Is(err, jobs.ErrNothingToRetry):
		return Fail(http.StatusConflict, "the job has no failed item to retry")
	case errors.As(err, &inv):
		// The remote's configuration changed since (a path now denied).
		return c.Status(http.StatusBadRequest).JSON(fiber.Map{"error": inv.Msg, "invalid": invalidJSON(inv.Lines)})
	case err != nil:
		h.d.Log.Error("retry job", "job", id, "err", err)
		return Fail(http.StatusServiceUnavailable, "metadata store unavailable")
	}
	ev.Detail, ev.Count = "new job "+j.ID, int64(len(j.Items))
	h.d.Admin.Record(c, who, ev)
	loc := "/jobs/" + j.ID
	c.Set(fiber.HeaderLocation, loc)
	return c.Status(http.StatusAccepted).JSON(fiber.Map{"id": j.ID, "items": len(j.Items), "state": j.State, "url": loc, "retry_of": id})
}
