package ui

import (
	"errors"
	"net/http"
	"path"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/api"
	"artifactapi/app/auth"
	"artifactapi/app/cache"
	"artifactapi/app/config"
	"artifactapi/db"
	"artifactapi/views"
)

// UploadForm shows the upload screen (local repositories only).
func (h *Handler) UploadForm(c *fiber.Ctx) error {
	cfg := h.d.Config()
	p := views.UploadProps{Chrome: h.chrome(c, "Upload", "upload"), Locals: writable(localRemotes(cfg), cfg, principalOf(c)), Remote: cameFrom(c)}
	if n := cfg.Env.MaxUploadSize; n > 0 {
		p.MaxSize = views.Bytes(n)
	}
	recent, err := h.recentUploads(c, p.Locals)
	if err != nil {
		return err
	}
	p.Recent = recent
	return h.render(c, views.UploadPage(p), nil)
}

// recentUploads is the files most recently stored in the local repositories
// listed (from the metadata store: they survive a reload and show every
// replica's uploads).
func (h *Handler) recentUploads(c *fiber.Ctx, locals []views.NavRemote) ([]views.RecentUpload, error) {
	var out []views.RecentUpload
	for _, r := range locals {
		if r.Package == config.PackageDocker {
			continue
		}
		page, err := h.d.Meta.ListArtifacts(c.UserContext(), db.ListQuery{Remote: r.Name, Sort: db.SortCachedAt, Desc: true, Limit: recentUploads})
		if err != nil {
			return nil, err
		}
		for _, a := range page.Items {
			row := toRow(a)
			out = append(out, views.RecentUpload{Remote: r.Name, Row: row, DownloadURL: c.BaseURL() + row.URL})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Row.CachedAt.After(out[j].Row.CachedAt) })
	if len(out) > recentUploads {
		out = out[:recentUploads]
	}
	return out, nil
}

// recentUploads is how many recent uploads the upload screen lists.
const recentUploads = 10

// UploadFile stores the raw request body (one file, streamed, never held in
// memory) as ?path in the local repository ?remote, through the engine's
// upload, and answers with the file's result row: its download URL and
// sha256, or why it was refused. The page's script sends one PUT per file,
// with the CSRF header, and shows its progress.
func (h *Handler) UploadFile(c *fiber.Ctx) error {
	name := strings.Clone(c.Query("path"))
	res := views.UploadResult{Name: path.Base(name)}
	status, err := h.upload(c, name, &res)
	ev := auth.Event{Action: auth.ActUpload, Remote: c.Query("remote"), Target: res.Name, Count: 1, Detail: "dashboard"}
	if err != nil {
		ev.Outcome, ev.Count = auth.OutcomeFailed, 0
	}
	h.record(c, ev)
	if err != nil {
		status, res.Error = describe(err)
		if status >= 500 {
			h.d.Log.Error("dashboard upload", "path", name, "err", err)
		}
	}
	c.Status(status)
	return h.write(c, views.UploadRow(res))
}

func (h *Handler) upload(c *fiber.Ctx, name string, res *views.UploadResult) (int, error) {
	cfg := h.d.Config()
	r := cfg.Remotes.Remotes[c.Query("remote")]
	switch {
	case r == nil:
		return 0, fail(http.StatusNotFound, "There is no repository with this name.")
	case !r.IsLocal():
		return 0, fail(http.StatusBadRequest, "Uploads go to local repositories only.")
	}
	p, err := cleanUploadPath(name)
	if err != nil {
		return 0, err
	}
	res.Name = p
	if v := r.Classify(p); !v.Allowed {
		return 0, fail(http.StatusForbidden, "This path is not allowed by the repository's patterns.")
	}
	max := cfg.Env.MaxUploadSize
	if cl := c.Request().Header.ContentLength(); max > 0 && int64(cl) > max {
		return 0, fail(http.StatusRequestEntityTooLarge, "The file is larger than the largest accepted upload ("+views.Bytes(max)+").")
	}
	a, err := h.d.Engine.Upload(c.UserContext(), r, p, api.UploadBody(c), strings.TrimSpace(c.Get("X-Checksum-Sha256")), max)
	if err != nil {
		if errors.Is(err, cache.ErrExists) {
			return 0, fail(http.StatusConflict, "A file already exists at this path and the repository does not allow overwriting.")
		}
		return 0, err
	}
	h.d.Log.Info("dashboard upload", "remote", r.Name, "path", p, "size", a.Size)
	res.URL = c.BaseURL() + "/api/" + r.Name + "/" + escapePath(p)
	res.Size, res.SHA256 = a.Size, a.SHA256
	return http.StatusCreated, nil
}

// cleanUploadPath cleans a typed (not URL-encoded) path as /api would.
func cleanUploadPath(p string) (string, error) {
	if strings.TrimSpace(p) == "" {
		return "", fail(http.StatusBadRequest, "The file has no name.")
	}
	return cleanTyped(p)
}
