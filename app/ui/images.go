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
	"artifactapi/app/cache"
	"artifactapi/app/config"
	"artifactapi/app/images"
	"artifactapi/app/localrepo"
	"artifactapi/app/oci"
	"artifactapi/db"
	"artifactapi/views"
)

// Registry is the part of the local docker repositories' store the
// dashboard reads and drives (localrepo.Store).
type Registry interface {
	images.LocalStore
	Repositories(ctx context.Context, remote, after string, n int) ([]db.RegistryRepository, bool, error)
	DeleteTag(ctx context.Context, r localrepo.Repo, tag string) error
	Usage(ctx context.Context, remote string) (int64, error)
	StartGC(ctx context.Context, startedBy string) (db.RegistryGCRun, <-chan db.RegistryGCRun, error)
	LastGC(ctx context.Context) (db.RegistryGCRun, bool, error)
}

var _ Registry = (*localrepo.Store)(nil)

// Page sizes of the images screen.
const (
	reposPerPage = 50
	tagsPerPage  = 50
)

// gcWait is how long the dashboard waits for a garbage collection before
// answering "running" and polling for the result.
const gcWait = 5 * time.Second

// isImages reports whether r's screen shows images: a local docker
// repository (with the registry store available) or a docker remote (with
// the mirror reader available).
func (h *Handler) isImages(r *config.Remote) bool {
	return h.isLocalImages(r) || h.isMirror(r)
}

func (h *Handler) isLocalImages(r *config.Remote) bool {
	return h.d.Registry != nil && r.IsLocal() && r.Package == config.PackageDocker
}

// imagesRemote returns the docker remote named in the route, or a 404.
func (h *Handler) imagesRemote(c *fiber.Ctx) (*config.Remote, error) {
	r, err := h.remoteOf(c)
	if err != nil {
		return nil, err
	}
	if !h.isImages(r) {
		return nil, fail(http.StatusNotFound, "This repository holds no images: it is not a docker repository.")
	}
	return r, nil
}

// localImagesRemote returns the local docker remote named in the route
// (garbage collection), or a 404.
func (h *Handler) localImagesRemote(c *fiber.Ctx) (*config.Remote, error) {
	r, err := h.imagesRemote(c)
	if err == nil && !h.isLocalImages(r) {
		return nil, fail(http.StatusNotFound, "A mirror has no garbage collection: evicting frees its space.")
	}
	return r, err
}

// imagesProps reads the repositories (page ?after), the selected
// repository's tags (?repo, page ?tags_after) and the last collection.
func (h *Handler) imagesProps(c *fiber.Ctx, r *config.Remote) (*views.ImagesProps, error) {
	if h.isMirror(r) {
		return h.mirrorProps(c, r)
	}
	ctx := c.UserContext()
	p := &views.ImagesProps{Remote: r.Name, CSRF: h.csrfToken(c), After: strings.Clone(c.Query("after"))}
	var err error
	if p.Stored, err = h.d.Registry.Usage(ctx, r.Name); err != nil {
		return nil, err
	}
	if p.Repos, p.Next, err = h.repos(ctx, r, p.After); err != nil {
		return nil, err
	}
	if repo := c.Query("repo"); repo != "" {
		t, err := h.tagsProps(c, r, repo, c.Query("tags_after"))
		if err != nil {
			return nil, err
		}
		p.Tags = &t
		if ref := c.Query("ref"); ref != "" {
			if p.Image, err = h.imageProps(c, r, t.Repo, ref); err != nil {
				return nil, err
			}
		}
	}
	if p.GC, err = h.gcProps(c, r); err != nil {
		return nil, err
	}
	return p, nil
}

// repos reads a page of repositories and the cursor of the next one.
func (h *Handler) repos(ctx context.Context, r *config.Remote, after string) ([]views.ImageRepo, string, error) {
	rows, more, err := h.d.Registry.Repositories(ctx, r.Name, after, reposPerPage)
	if err != nil {
		return nil, "", err
	}
	out := make([]views.ImageRepo, len(rows))
	for i, x := range rows {
		out[i] = views.ImageRepo{Name: x.Name, Manifests: x.Manifests, Tags: x.Tags, Size: x.Size, UpdatedAt: x.UpdatedAt, LastPulled: x.LastPulled}
	}
	next := ""
	if more && len(out) > 0 {
		next = out[len(out)-1].Name
	}
	return out, next, nil
}

// tagsProps reads a page of a repository's tags.
func (h *Handler) tagsProps(c *fiber.Ctx, r *config.Remote, repo, after string) (views.TagsProps, error) {
	repo, after = strings.Clone(repo), strings.Clone(after)
	p := views.TagsProps{Remote: r.Name, Repo: repo, Host: strings.Clone(c.Hostname()), CSRF: h.csrfToken(c), After: after,
		CanDelete: auth.Allowed(principalOf(c), auth.Delete, r)}
	if !oci.ValidName(repo) {
		return p, fail(http.StatusBadRequest, "This is not a repository name.")
	}
	rows, more, err := h.d.Registry.TagDetails(c.UserContext(), localrepo.Repo{Remote: r.Name, Name: repo}, after, tagsPerPage)
	if err != nil {
		return p, err
	}
	for _, t := range rows {
		p.Rows = append(p.Rows, views.ImageTag{Tag: t.Tag, Digest: t.Digest, MediaType: t.MediaType, Index: t.IsIndex(),
			Size: t.Size, ManifestSize: t.ManifestSize, PushedAt: t.PushedAt, UpdatedAt: t.UpdatedAt, LastPulled: t.LastPulled})
	}
	if more && len(p.Rows) > 0 {
		p.Next = p.Rows[len(p.Rows)-1].Tag
	}
	return p, nil
}

// gcProps reads the last garbage collection.
func (h *Handler) gcProps(c *fiber.Ctx, r *config.Remote) (views.GCProps, error) {
	p := views.GCProps{Remote: r.Name, CSRF: h.csrfToken(c), Now: h.d.Now(), Stale: localrepo.GCTimeout, CanRun: canCollect(c)}
	run, ok, err := h.d.Registry.LastGC(c.UserContext())
	if err != nil || !ok {
		return p, err
	}
	p.Last = gcRun(run)
	return p, nil
}

func gcRun(r db.RegistryGCRun) *views.GCRun {
	return &views.GCRun{StartedBy: r.StartedBy, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		Uploads: r.Uploads, Blobs: r.Blobs, Bytes: r.Bytes, Error: r.Error}
}

// ImageRepos is the repositories table (htmx), or the whole screen.
func (h *Handler) ImageRepos(c *fiber.Ctx) error {
	r, err := h.imagesRemote(c)
	if err != nil {
		return err
	}
	if !isHTMX(c) {
		return h.Remote(c)
	}
	if h.isMirror(r) {
		p, err := h.mirrorProps(c, r)
		if err != nil {
			return err
		}
		c.Vary("HX-Request")
		return h.write(c, views.ReposTable(*p))
	}
	p := views.ImagesProps{Remote: r.Name, After: strings.Clone(c.Query("after"))}
	if p.Stored, err = h.d.Registry.Usage(c.UserContext(), r.Name); err != nil {
		return err
	}
	if p.Repos, p.Next, err = h.repos(c.UserContext(), r, p.After); err != nil {
		return err
	}
	c.Vary("HX-Request")
	return h.write(c, views.ReposTable(p))
}

// ImageTags is the tags of ?repo (htmx), or the whole screen with it selected.
func (h *Handler) ImageTags(c *fiber.Ctx) error {
	r, err := h.imagesRemote(c)
	if err != nil {
		return err
	}
	if !isHTMX(c) {
		return c.Redirect(views.TagsProps{Remote: r.Name, Repo: c.Query("repo")}.RepoURL(), http.StatusSeeOther)
	}
	tags := h.tagsProps
	if h.isMirror(r) {
		tags = h.mirrorTags
	}
	p, err := tags(c, r, c.Query("repo"), c.Query("after"))
	if err != nil {
		return err
	}
	c.Vary("HX-Request")
	return h.write(c, views.TagsTable(p))
}

// DeleteTag deletes ?tag of ?repo (hx-delete; a form posts them as fields):
// the row is replaced by nothing (200, empty) and the repositories table
// told to refresh. Pulls of the tag then fail with MANIFEST_UNKNOWN.
func (h *Handler) DeleteTag(c *fiber.Ctx) error {
	r, err := h.imagesRemote(c)
	if err != nil {
		return err
	}
	repo, tag := strings.Clone(c.Query("repo")), strings.Clone(c.Query("tag"))
	if c.Method() == http.MethodPost {
		repo, tag = strings.Clone(c.FormValue("repo")), strings.Clone(c.FormValue("tag"))
	}
	if !oci.ValidName(repo) || !oci.ValidTag(tag) {
		return fail(http.StatusBadRequest, "Which tag? The request named no repository and tag.")
	}
	ev := auth.Event{Action: auth.ActDelete, Remote: r.Name, Target: repo + ":" + tag, Count: 1, Detail: "dashboard: docker tag"}
	if h.isMirror(r) {
		var res cache.BulkResult
		res, err = h.d.Mirror.EvictTag(c.UserContext(), r.Name, repo, tag)
		ev.Action, ev.Count = auth.ActEvict, res.Count
	} else {
		err = h.d.Registry.DeleteTag(c.UserContext(), localrepo.Repo{Remote: r.Name, Name: repo}, tag)
	}
	if errors.Is(err, localrepo.ErrManifestUnknown) {
		err, ev.Count = nil, 0
	}
	if err != nil {
		ev.Outcome = auth.OutcomeFailed
	}
	h.record(c, ev)
	if err != nil {
		return err
	}
	h.d.Log.Info("dashboard tag deletion", "remote", r.Name, "repository", repo, "tag", tag, "existed", err == nil)
	if !isHTMX(c) {
		return c.Redirect(views.TagsProps{Remote: r.Name, Repo: repo}.RepoURL(), http.StatusSeeOther)
	}
	c.Set("HX-Trigger", "images-changed")
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(http.StatusOK).SendString("") // 200: htmx swaps the row for nothing (204 would not swap)
}

// canCollect reports whether the principal may run a garbage collection,
// which spans every local docker repository: a global admin.
func canCollect(c *fiber.Ctx) bool { return auth.Allowed(principalOf(c), auth.Admin, nil) }

// GCStatus is the garbage collection card (polled while a run is going).
func (h *Handler) GCStatus(c *fiber.Ctx) error {
	r, err := h.localImagesRemote(c)
	if err != nil {
		return err
	}
	if !isHTMX(c) {
		return backToRemote(c, r)
	}
	p, err := h.gcProps(c, r)
	if err != nil {
		return err
	}
	if p.Last != nil && !p.Last.FinishedAt.IsZero() {
		c.Set("HX-Trigger", "images-changed") // the run being followed ended
	}
	return h.write(c, views.GCCard(p))
}

// RunGC starts a garbage collection of every local docker repository (the
// code of POST /registry/gc) and shows its result, or, when it takes longer
// than gcWait, that it runs: the card then polls until it is done. The run
// continues when the browser leaves; its result is kept in the metadata
// store, so every replica shows it.
func (h *Handler) RunGC(c *fiber.Ctx) error {
	r, err := h.localImagesRemote(c)
	if err != nil {
		return err
	}
	if !canCollect(c) {
		return fail(http.StatusForbidden, "Garbage collection spans every local docker repository: it needs the global admin permission.")
	}
	run, done, err := h.d.Registry.StartGC(c.UserContext(), "dashboard")
	if err != nil {
		return err
	}
	h.d.Log.Info("dashboard garbage collection started", "remote", r.Name, "run", run.ID)
	t := time.NewTimer(gcWait)
	defer t.Stop()
	select {
	case run = <-done:
	case <-t.C:
	}
	if !isHTMX(c) {
		return backToRemote(c, r)
	}
	p := views.GCProps{Remote: r.Name, CSRF: h.csrfToken(c), Now: h.d.Now(), Stale: localrepo.GCTimeout, Last: gcRun(run), CanRun: true}
	if !run.Running() {
		h.record(c, auth.Event{Action: auth.ActRegistryGC, Target: "run " + strconv.FormatInt(run.ID, 10), Count: run.Blobs,
			Detail: "dashboard: " + strconv.FormatInt(run.Bytes, 10) + " bytes, " + strconv.FormatInt(run.Uploads, 10) + " uploads"})
		c.Set("HX-Trigger", "images-changed") // what is stored changed
	} else {
		h.record(c, auth.Event{Action: auth.ActRegistryGC, Target: "run " + strconv.FormatInt(run.ID, 10), Detail: "dashboard: started"})
	}
	return h.write(c, views.GCCard(p))
}
