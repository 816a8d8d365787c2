package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/config"
	"artifactapi/views"
)

// ConfigPage shows the effective configuration, redacted, and the pattern tester.
func (h *Handler) ConfigPage(c *fiber.Ctx) error {
	cfg := h.d.Config()
	backends := map[string]string{}
	if h.d.Backends != nil {
		ctx, cancel := context.WithTimeout(c.UserContext(), 3*time.Second)
		backends = h.d.Backends(ctx)
		cancel()
	}
	doc := cfg.Redacted(backends)
	scrub := scrubber(cfg)
	p := views.ConfigProps{Chrome: h.chrome(c, "Configuration", "config")}
	raw, _ := json.MarshalIndent(doc, "", "  ")
	p.JSON = scrub(string(raw))
	if remotes, ok := doc["remotes"].(map[string]any); ok {
		for _, name := range cfg.Remotes.Names() {
			if m, ok := remotes[name].(map[string]any); ok {
				p.Remotes = append(p.Remotes, remoteConfig(name, m, scrub))
			}
		}
	}
	p.Environment = kvs(doc["environment"], scrub)
	for i, kv := range p.Environment {
		if kv.Key == "max_upload_size" && kv.Value == "0" {
			p.Environment[i].Value = "unlimited"
		}
	}
	p.Backends = kvs(doc["backends"], scrub)
	if s, ok := doc["default_docker_remote"].(string); ok {
		p.DefaultDocker = s
	}
	p.Tester = h.tester(c, cfg, cameFrom(c), c.Query("path"))
	return h.render(c, views.ConfigPage(p), nil)
}

// PatternTest classifies a path as a request would (PRODUCT §3).
func (h *Handler) PatternTest(c *fiber.Ctx) error {
	cfg := h.d.Config()
	t := h.tester(c, cfg, c.Query("remote"), c.Query("path"))
	if !isHTMX(c) {
		return c.Redirect("/ui/config?"+url.Values{"remote": {t.Remote}, "path": {t.Path}}.Encode(), fiber.StatusSeeOther)
	}
	return h.write(c, views.TesterResult(t))
}

// tester fills the pattern tester; with a path it also gives the verdict.
func (h *Handler) tester(c *fiber.Ctx, cfg *config.Config, remote, rawPath string) views.TesterProps {
	t := views.TesterProps{Remotes: cfg.Remotes.Names(), Remote: strings.Clone(remote), Path: strings.Clone(rawPath)}
	if t.Path == "" {
		return t
	}
	r := cfg.Remotes.Remotes[t.Remote]
	if r == nil {
		t.Error = "Choose a repository."
		return t
	}
	// The tester takes a path as typed (not URL-encoded): encode it the way
	// a client would, then clean it exactly as /api does.
	raw, query, _ := strings.Cut(t.Path, "?")
	p, err := cleanTyped(raw)
	if err != nil {
		t.Error = "A request for this path would be refused with 400: " + err.Error() + "."
		return t
	}
	_ = query // the query string takes no part in classification
	v := r.Classify(p)
	t.Verdict = &views.VerdictView{Remote: r.Name, Path: p, Kind: v.Kind, Pattern: v.Pattern, Source: v.Source}
	return t
}

// cleanTyped cleans a path as typed (not URL-encoded) exactly as /api
// cleans a request path.
func cleanTyped(p string) (string, error) { return config.CleanPath(escapePath(p)) }

// escapePath percent-encodes each segment of a decoded path.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// scrubber replaces any secret value that would still appear with REDACTED
// (the document is redacted already; this is a second line of defence).
func scrubber(cfg *config.Config) func(string) string {
	var pairs []string
	for _, s := range cfg.Secrets() {
		pairs = append(pairs, s, "REDACTED")
	}
	if len(pairs) == 0 {
		return func(s string) string { return s }
	}
	r := strings.NewReplacer(pairs...)
	return r.Replace
}

// remoteConfig turns one redacted remote into its view.
func remoteConfig(name string, m map[string]any, scrub func(string) string) views.RemoteConfig {
	str := func(k string) string { s, _ := m[k].(string); return scrub(s) }
	rc := views.RemoteConfig{Name: name, Type: str("type"), Package: str("package"), Description: str("description"),
		Immutable: strs(m["immutable_patterns"], scrub), Mutable: strs(m["mutable_patterns"], scrub),
		PackageMutable: strs(m["package_mutable_patterns"], scrub)}
	add := func(label string, v any) {
		if v == nil {
			return
		}
		s := scrub(fmt.Sprint(v))
		if s == "" {
			return
		}
		rc.Settings = append(rc.Settings, views.KV{Key: label, Value: s})
	}
	add("base_url", m["base_url"])
	add("username", m["username"])
	add("password", m["password"])
	add("registry_host", m["registry_host"])
	if cache, ok := m["cache"].(map[string]any); ok {
		add("immutable_ttl", ttl(cache["immutable_ttl"]))
		if rc.Type != config.TypeLocal {
			add("mutable_ttl", ttl(cache["mutable_ttl"]))
		}
		add("max_size", cache["max_size"])
	}
	if rc.Type != config.TypeLocal {
		if n, ok := m["negative_ttl"].(int64); ok && n == 0 {
			add("negative_ttl", "off") // 0 remembers no 404, it does not mean "forever"
		} else {
			add("negative_ttl", ttl(m["negative_ttl"]))
		}
		add("check_mutable_updates", m["check_mutable_updates"])
		add("allow_private_redirects", m["allow_private_redirects"])
	} else {
		add("allow_overwrite", m["allow_overwrite"])
	}
	return rc
}

// ttl formats a TTL in seconds.
func ttl(v any) any {
	if n, ok := v.(int64); ok {
		return views.Seconds(n)
	}
	return v
}

func strs(v any, scrub func(string) string) []string {
	ss, _ := v.([]string)
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		out = append(out, scrub(s))
	}
	return out
}

// kvs lists a flat map sorted by key, skipping empty values.
func kvs(v any, scrub func(string) string) []views.KV {
	var out []views.KV
	switch m := v.(type) {
	case map[string]any:
		for k, x := range m {
			if s := fmt.Sprint(x); x != nil && s != "" {
				out = append(out, views.KV{Key: k, Value: scrub(s)})
			}
		}
	case map[string]string:
		for k, x := range m {
			out = append(out, views.KV{Key: k, Value: scrub(x)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
