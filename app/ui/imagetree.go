package ui

import (
	"context"
	"net/http"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/auth"
	"artifactapi/app/config"
	"artifactapi/app/images"
	"artifactapi/app/localrepo"
	"artifactapi/app/oci"
	"artifactapi/app/setup"
	"artifactapi/views"
)

// isMirror reports whether r is a docker remote whose cache is shown as images.
func (h *Handler) isMirror(r *config.Remote) bool {
	return h.d.Mirror != nil && !r.IsLocal() && r.Package == config.PackageDocker
}

// listingParams are the query parameters of the cached-files listing: a
// docker remote's screen with any of them lists files, not images.
var listingParams = []string{"view", "q", "sort", "order", "limit", "cursor"}

// showsImages reports whether this request for r's screen shows its images.
func (h *Handler) showsImages(c *fiber.Ctx, r *config.Remote) bool {
	if h.isLocalImages(r) {
		return true
	}
	if !h.isMirror(r) || isHTMX(c) {
		return false
	}
	for _, k := range listingParams {
		if c.Query(k) != "" {
			return false
		}
	}
	return true
}

// mirrorProps reads a docker remote's images: repositories (page ?after),
// the selected repository's tags (?repo) and image (?ref).
func (h *Handler) mirrorProps(c *fiber.Ctx, r *config.Remote) (*views.ImagesProps, error) {
	ctx := c.UserContext()
	p := &views.ImagesProps{Remote: r.Name, CSRF: h.csrfToken(c), After: strings.Clone(c.Query("after")), Mirror: true}
	repos, err := h.d.Mirror.Repositories(ctx, r.Name)
	if err != nil {
		return nil, err
	}
	for _, x := range repos {
		p.Stored += x.Size
		if x.Name <= p.After {
			continue
		}
		if len(p.Repos) == reposPerPage {
			p.Next = p.Repos[len(p.Repos)-1].Name
			break
		}
		p.Repos = append(p.Repos, views.ImageRepo{Name: x.Name, Manifests: x.Manifests, Tags: x.Tags, Size: x.Size,
			UpdatedAt: x.UpdatedAt, LastPulled: x.LastPulled})
	}
	if repo := c.Query("repo"); repo != "" {
		t, err := h.mirrorTags(c, r, repo, c.Query("tags_after"))
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
	return p, nil
}

// mirrorTags reads a page of the tags a docker remote cached for repo,
// with the size of each image and how much of it is cached.
func (h *Handler) mirrorTags(c *fiber.Ctx, r *config.Remote, repo, after string) (views.TagsProps, error) {
	repo, after = strings.Clone(repo), strings.Clone(after)
	p := views.TagsProps{Remote: r.Name, Repo: repo, Host: strings.Clone(c.Hostname()), CSRF: h.csrfToken(c), After: after,
		CanDelete: auth.Allowed(principalOf(c), auth.Delete, r), Mirror: true}
	if !oci.ValidName(repo) {
		return p, fail(http.StatusBadRequest, "This is not a repository name.")
	}
	ctx := c.UserContext()
	tags, err := h.d.Mirror.Tags(ctx, r.Name, repo)
	if err != nil {
		return p, err
	}
	aliases := images.Aliases(tags)
	i := sort.Search(len(tags), func(i int) bool { return tags[i].Tag > after })
	for _, t := range tags[i:] {
		if len(p.Rows) == tagsPerPage {
			p.Next = p.Rows[len(p.Rows)-1].Tag
			break
		}
		img, err := h.d.Mirror.Image(ctx, r.Name, repo, t.Digest, aliases)
		if err != nil {
			return p, err
		}
		mt := t.MediaType
		if mt == "" {
			mt = img.MediaType
		}
		p.Rows = append(p.Rows, views.ImageTag{Tag: t.Tag, Digest: t.Digest, MediaType: mt, Index: images.IsIndex(mt),
			Size: img.Size, HeldSize: img.HeldSize, ManifestSize: t.ManifestSize, UpdatedAt: t.UpdatedAt, LastPulled: t.LastPulled})
	}
	return p, nil
}

// imageProps builds the tree of repo at ref (a tag or a digest) of r.
func (h *Handler) imageProps(c *fiber.Ctx, r *config.Remote, repo, ref string) (*views.ImageProps, error) {
	repo, ref = strings.Clone(repo), strings.Clone(ref)
	parsed, err := oci.ParseContentReference(ref)
	if !oci.ValidName(repo) || err != nil {
		return nil, fail(http.StatusBadRequest, "Which image? The request named no repository and tag or digest.")
	}
	ctx := c.UserContext()
	p := &views.ImageProps{Remote: r.Name, Repo: repo, Ref: ref, Mirror: h.isMirror(r)}
	var img images.Image
	if p.Mirror {
		tags, err := h.d.Mirror.Tags(ctx, r.Name, repo)
		if err != nil {
			return nil, err
		}
		digest := parsed.Digest.String()
		for _, t := range tags {
			if t.Tag == ref {
				digest, p.LastPulled = t.Digest, t.LastPulled
			}
		}
		if digest == "" {
			return nil, fail(http.StatusNotFound, "This tag is not cached (any more).")
		}
		if img, err = h.d.Mirror.Image(ctx, r.Name, repo, digest, images.Aliases(tags)); err != nil {
			return nil, err
		}
	} else {
		lr := localrepo.Repo{Remote: r.Name, Name: repo}
		m, err := h.d.Registry.Manifest(ctx, lr, parsed)
		if err != nil {
			return nil, err
		}
		if img, err = images.Build(ctx, images.Local{Store: h.d.Registry}.Source(lr), m.Digest); err != nil {
			return nil, err
		}
	}
	p.Digest, p.MediaType, p.Held, p.Size, p.HeldSize, p.ManifestSize = img.Digest, img.MediaType, img.Held, img.Size, img.HeldSize, img.ManifestSize
	p.Layers = layers(img)
	for _, pl := range img.Platforms {
		p.Platforms = append(p.Platforms, views.ImagePlatform{Name: pl.Name(), Digest: pl.Image.Digest, Held: pl.Image.Held,
			Size: pl.Image.Size, HeldSize: pl.Image.HeldSize, Layers: layers(pl.Image)})
	}
	f := setup.PullOf(setup.ParseBase(c.BaseURL()), r, repo, ref)
	p.Pull = views.PullForms{Docker: f.Docker, Ctr: f.Ctr, RKE2: f.RKE2, Image: f.Image}
	return p, nil
}

func layers(img images.Image) []views.ImageLayer {
	var out []views.ImageLayer
	for i, b := range img.Blobs() {
		kind := "layer"
		if i == 0 && img.Config != nil {
			kind = "config"
		}
		out = append(out, views.ImageLayer{Kind: kind, Digest: b.Digest, MediaType: b.MediaType, Size: b.Size, Held: b.Held, Foreign: b.Foreign})
	}
	return out
}

// ImageDetail is the image of ?repo at ?ref (htmx), or the whole screen
// with it open.
func (h *Handler) ImageDetail(c *fiber.Ctx) error {
	r, err := h.imagesRemote(c)
	if err != nil {
		return err
	}
	if !isHTMX(c) {
		return c.Redirect("/ui/remotes/"+r.Name+"?"+string(c.Request().URI().QueryString()), http.StatusSeeOther)
	}
	p, err := h.imageProps(c, r, c.Query("repo"), c.Query("ref"))
	if err != nil {
		return err
	}
	c.Vary("HX-Request")
	return h.write(c, views.ImageSection(*p))
}

// RepoAction deletes (a mirror: evicts) a whole repository (what=repository)
// or its untagged manifests (what=untagged). Without confirm=yes it only
// counts them and asks for the confirmation.
func (h *Handler) RepoAction(c *fiber.Ctx) error {
	r, err := h.imagesRemote(c)
	if err != nil {
		return err
	}
	p := views.RepoActionProps{Remote: r.Name, Repo: strings.Clone(c.FormValue("repo")), What: strings.Clone(c.FormValue("what")),
		CSRF: h.csrfToken(c), Mirror: h.isMirror(r), Done: c.FormValue("confirm") == "yes"}
	if !oci.ValidName(p.Repo) || (p.What != "repository" && p.What != "untagged") {
		return fail(http.StatusBadRequest, "Which repository, and what of it? The form sent no repository.")
	}
	ctx := c.UserContext()
	if err := h.repoAction(ctx, r, &p); err != nil {
		return err
	}
	if p.Done {
		ev := auth.Event{Action: auth.ActDelete, Remote: r.Name, Target: p.Repo, Count: p.Count, Detail: "dashboard: docker repository"}
		if p.What == "untagged" {
			ev.Target, ev.Detail = p.Repo+" (untagged)", "dashboard: untagged docker manifests"
		}
		if p.Mirror {
			ev.Action = auth.ActEvictBulk
		}
		h.record(c, ev)
		h.d.Log.Info("dashboard image cleanup", "remote", r.Name, "repository", p.Repo, "what", p.What, "count", p.Count)
		c.Set("HX-Trigger", "images-changed")
	}
	if !isHTMX(c) {
		return c.Redirect(views.TagsProps{Remote: r.Name, Repo: p.Repo}.RepoURL(), http.StatusSeeOther)
	}
	return h.write(c, views.RepoAction(p))
}

// repoAction counts (p.Done false) or removes what p names.
func (h *Handler) repoAction(ctx context.Context, r *config.Remote, p *views.RepoActionProps) error {
	switch {
	case p.Mirror && p.What == "repository" && p.Done:
		res, err := h.d.Mirror.EvictRepository(ctx, r.Name, p.Repo)
		p.Count, p.Bytes = res.Count, res.Bytes
		return err
	case p.Mirror && p.Done:
		res, err := h.d.Mirror.EvictUntagged(ctx, r.Name, p.Repo)
		p.Count, p.Bytes = res.Count, res.Bytes
		return err
	case p.Mirror && p.What == "repository":
		repos, err := h.d.Mirror.Repositories(ctx, r.Name)
		for _, x := range repos {
			if x.Name == p.Repo {
				p.Count, p.Bytes = x.Entries, x.Size
			}
		}
		return err
	case p.Mirror:
		victims, err := h.d.Mirror.Untagged(ctx, r.Name, p.Repo)
		for _, a := range victims {
			p.Count++
			p.Bytes += a.Size
		}
		return err
	}
	l, lr := images.Local{Store: h.d.Registry}, localrepo.Repo{Remote: r.Name, Name: p.Repo}
	var res images.Removed
	var err error
	switch {
	case p.What == "repository" && p.Done:
		res, err = l.DeleteRepository(ctx, lr)
	case p.Done:
		res, err = l.DeleteUntagged(ctx, lr)
	case p.What == "repository":
		ms, e := h.d.Registry.Manifests(ctx, lr)
		res.Manifests, err = int64(len(ms)), e
		for _, m := range ms {
			res.Bytes += int64(len(m.Body))
		}
	default:
		ms, e := l.Untagged(ctx, lr)
		res.Manifests, err = int64(len(ms)), e
		for _, m := range ms {
			res.Bytes += int64(len(m.Body))
		}
	}
	p.Count, p.Bytes = res.Manifests, res.Bytes
	return err
}
