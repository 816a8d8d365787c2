package ui

import (
	"context"
	"strings"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/auth"
	"artifactapi/app/config"
	"artifactapi/db"
	"artifactapi/views"
)

// TagSearch finds tags of local docker repositories; *db.registrySQL
// (db.RegistryStore) implements it.
type TagSearch interface {
	SearchRegistryTags(ctx context.Context, remotes []string, term string, limit int) ([]db.RegistryTagHit, error)
}

// Search bounds: artifacts per remote, tags in all.
const (
	searchPerRemote = 20
	searchTags      = 50
	maxSearchTerm   = 256
)

// Search looks for a path substring, a digest or a tag in every remote the
// operator may read, and lists the matches grouped by remote (the top
// bar's search).
func (h *Handler) Search(c *fiber.Ctx) error {
	cfg := h.d.Config()
	term := strings.TrimSpace(strings.Clone(c.Query("q")))
	if len(term) > maxSearchTerm {
		term = term[:maxSearchTerm]
	}
	p := views.SearchProps{Chrome: h.chrome(c, "Search", "search"), Q: term, PerRemote: searchPerRemote}
	if term == "" {
		return h.write(c, views.SearchPage(p))
	}
	who := principalOf(c)
	var readable, images []string
	for _, n := range cfg.Remotes.Names() {
		r := cfg.Remotes.Remotes[n]
		if !auth.Allowed(who, auth.Read, r) {
			continue
		}
		readable = append(readable, n)
		if r.IsLocal() && r.Package == config.PackageDocker {
			images = append(images, n)
		}
	}
	ctx := c.UserContext()
	groups, err := h.d.Meta.SearchArtifacts(ctx, db.SearchQuery{Q: term, Remotes: readable, Limit: searchPerRemote})
	if err != nil {
		return err
	}
	for _, g := range groups {
		sg := views.SearchGroup{Remote: remoteInfo(cfg.Remotes.Remotes[g.Remote]), More: g.More}
		for _, a := range g.Items {
			sg.Rows = append(sg.Rows, toRow(a))
		}
		p.Groups = append(p.Groups, sg)
	}
	if h.d.Tags != nil && len(images) > 0 {
		tags, err := h.d.Tags.SearchRegistryTags(ctx, images, term, searchTags+1)
		if err != nil {
			return err
		}
		if len(tags) > searchTags {
			tags, p.MoreTags = tags[:searchTags], true
		}
		for _, t := range tags {
			p.Tags = append(p.Tags, views.TagHit{Remote: t.Remote, Name: t.Name, Tag: t.Tag, Digest: t.Digest, UpdatedAt: t.UpdatedAt})
		}
	}
	return h.write(c, views.SearchPage(p))
}
