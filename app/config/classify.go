package config

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// Built-in mutable patterns per package (SEED.md table).
var packageDefaults = map[string][]string{
	PackageAlpine: {`APKINDEX\.tar\.gz$`},
	PackageRPM: {
		`repomd\.xml(\.asc|\.key)?$`,
		`repodata/.*\.(xml|sqlite|yaml|asc|txt)(\.(gz|bz2|xz|zst|zck))?$`,
		`Packages\.gz$`,
	},
	// Docker: a reference without ':' is a tag (digests are "algo:hex");
	// the referrers of a digest change whenever an artifact names it.
	PackageDocker: {`/manifests/[^/:]+$`, `/tags/list$`, `/referrers/[^/]+$`},
	// Helm: the repository index; charts (.tgz) and provenance (.prov) files
	// never change once published.
	PackageHelm: {`(^|/)index\.yaml$`},
	// PyPI: the simple index (PEP 503/691) and a project's page; the
	// distributions are immutable.
	PackagePyPI: {`^simple/$`, `^simple/[^/]+/?$`},
	// npm: package documents ("name", "@scope/name") and the registry's own
	// "-/" endpoints; tarballs ("name/-/name-1.0.0.tgz") are immutable.
	PackageNPM: {`^(@[^/]+/)?[^/@._][^/]*$`, `^-/`},
	// Go (GOPROXY protocol, https://go.dev/ref/mod#goproxy-protocol): a
	// module's version list and latest version; under sumdb/<name>/ the
	// checksum database's signed tree head, its "supported" probe and
	// partial tiles (".p/<width>", https://go.dev/design/25530-sumdb).
	// .info/.mod/.zip, lookups (a record never changes once logged) and full
	// tiles are immutable.
	PackageGo: {`/@v/list$`, `/@latest$`, `^sumdb/[^/]+/(supported|latest)$`, `^sumdb/[^/]+/tile/.+\.p/[0-9]+$`},
	// APT: a suite's Release files. The index files they list (Packages*,
	// Sources*, Contents*, i18n/*) are not refreshed on their own: they are
	// evicted when the suite's Release file is downloaded anew, so an index
	// is always the one its Release names (formats.APTSuite). by-hash/ and
	// pool/ are content-addressed or versioned: immutable.
	PackageAPT: {`(^|/)dists/.+/(InRelease|Release|Release\.gpg)$`},
	// Maven: the version lists (maven-metadata.xml and its checksums) and
	// everything of a -SNAPSHOT version; release artifacts never change.
	PackageMaven: {`(^|/)maven-metadata\.xml(\.(md5|sha1|sha256|sha512))?$`, `-SNAPSHOT/`},
}

// PackageDefaults returns the built-in mutable patterns of a package type.
func PackageDefaults(pkg string) []string { return append([]string(nil), packageDefaults[pkg]...) }

type pattern struct {
	src     string
	re      *regexp.Regexp
	builtin bool
}

type classifier struct {
	mutable   []pattern
	immutable []pattern
}

func compile(r *Remote) (classifier, []string) {
	var c classifier
	var probs []string
	seen := map[string]bool{}
	for _, src := range r.MutablePatterns {
		if seen[src] {
			continue
		}
		seen[src] = true
		re, err := regexp.Compile(src)
		if err != nil {
			probs = append(probs, fmt.Sprintf("mutable_patterns: %q does not compile: %s", src, patternError(err)))
			continue
		}
		c.mutable = append(c.mutable, pattern{src: src, re: re})
	}
	for _, src := range packageDefaults[r.Package] {
		if seen[src] {
			continue
		}
		seen[src] = true
		c.mutable = append(c.mutable, pattern{src: src, re: regexp.MustCompile(src), builtin: true})
	}
	seen = map[string]bool{}
	for _, src := range r.ImmutablePatterns {
		if seen[src] {
			continue
		}
		seen[src] = true
		re, err := regexp.Compile(src)
		if err != nil {
			probs = append(probs, fmt.Sprintf("immutable_patterns: %q does not compile: %s", src, patternError(err)))
			continue
		}
		c.immutable = append(c.immutable, pattern{src: src, re: re})
	}
	return c, probs
}

// Verdict is the result of classifying a path (PRODUCT §3).
type Verdict struct {
	Allowed bool   `json:"allowed"`
	Kind    string `json:"kind"`    // "immutable", "mutable" or "denied"
	Pattern string `json:"pattern"` // the pattern that decided ("" when none)
	// Source says where the deciding pattern came from: "mutable_patterns",
	// "package default", "immutable_patterns", "no immutable_patterns" or "no match".
	Source string `json:"source"`
	// UserMutable is true when a user-defined mutable pattern matched; only
	// those are revalidated conditionally (check_mutable_updates).
	UserMutable bool `json:"user_mutable"`
}

// Classify decides whether path is served and how it is cached.
func (r *Remote) Classify(p string) Verdict {
	for _, m := range r.compiled.mutable {
		if m.re.MatchString(p) {
			// Docker: immutable_patterns choose which images pass (SEED.md
			// "Restricting which images are cached"), so a built-in mutable
			// match (tag manifest, tag list) of an image no immutable pattern
			// names is denied like its blobs.
			if m.builtin && r.Package == PackageDocker && len(r.compiled.immutable) > 0 && !r.matchesImmutable(p) {
				return Verdict{Allowed: false, Kind: "denied", Source: "no match"}
			}
			src := "mutable_patterns"
			if m.builtin {
				src = "package default"
			}
			return Verdict{Allowed: true, Kind: "mutable", Pattern: m.src, Source: src, UserMutable: !m.builtin}
		}
	}
	if len(r.compiled.immutable) == 0 {
		return Verdict{Allowed: true, Kind: "immutable", Source: "no immutable_patterns"}
	}
	for _, m := range r.compiled.immutable {
		if m.re.MatchString(p) {
			return Verdict{Allowed: true, Kind: "immutable", Pattern: m.src, Source: "immutable_patterns"}
		}
	}
	return Verdict{Allowed: false, Kind: "denied", Source: "no match"}
}

func (r *Remote) matchesImmutable(p string) bool {
	for _, m := range r.compiled.immutable {
		if m.re.MatchString(p) {
			return true
		}
	}
	return false
}

// TTLSeconds returns the TTL for a verdict's kind.
func (r *Remote) TTLSeconds(kind string) int64 {
	if kind == "mutable" {
		return r.mutTTL
	}
	return r.immTTL
}

// MaxPathLen bounds request paths.
const MaxPathLen = 4096

// PathError is a refused request path.
type PathError struct{ Reason string }

func (e *PathError) Error() string { return "invalid path: " + e.Reason }

// CleanPath turns the raw (still percent-encoded) request path after the
// remote name into the canonical artifact path: decoded, without leading
// slashes, cleaned. It refuses anything that could escape the remote's base
// URL: ".." segments, NUL and other control characters, backslashes,
// over-long paths and invalid escapes. An encoded '?' is refused too.
func CleanPath(raw string) (string, error) {
	if len(raw) > MaxPathLen {
		return "", &PathError{"path too long"}
	}
	dec, err := url.PathUnescape(raw)
	if err != nil {
		return "", &PathError{"invalid percent-encoding"}
	}
	if strings.ContainsRune(dec, '\\') {
		return "", &PathError{"backslash not allowed"}
	}
	// The cache key is path + "?" + query: a decoded '?' would make
	// "/a%3Fb" and "/a?b" (two upstream resources) share one entry.
	if strings.ContainsRune(dec, '?') {
		return "", &PathError{"encoded '?' not allowed in the path"}
	}
	for _, c := range dec {
		if c < 0x20 || c == 0x7f {
			return "", &PathError{"control character not allowed"}
		}
	}
	for rest := dec; ; {
		seg, tail, more := strings.Cut(rest, "/")
		if seg == ".." {
			return "", &PathError{"'..' segment not allowed"}
		}
		if !more {
			break
		}
		rest = tail
	}
	p := strings.TrimLeft(dec, "/")
	if p == "" {
		return "", &PathError{"empty path"}
	}
	trailing := strings.HasSuffix(p, "/")
	p = path.Clean(p)
	if p == "." || strings.HasPrefix(p, "../") || p == ".." {
		return "", &PathError{"empty path"}
	}
	if trailing {
		p += "/"
	}
	return p, nil
}

// CleanQuery validates a raw query string for forwarding upstream.
func CleanQuery(raw string) (string, error) {
	if len(raw) > MaxPathLen {
		return "", &PathError{"query too long"}
	}
	for _, c := range raw {
		if c < 0x20 || c == 0x7f || c == ' ' || c == '#' {
			return "", &PathError{"invalid character in query"}
		}
	}
	if _, err := url.ParseQuery(raw); err != nil {
		return "", &PathError{"invalid query"}
	}
	return raw, nil
}

// UpstreamURL builds the upstream URL for a clean path and query. It is
// guaranteed to stay on the remote's scheme and host, or, for an ExtPrefix
// path, on one of its extra hosts.
func (r *Remote) UpstreamURL(p, rawQuery string) (*url.URL, error) {
	if u, ok, err := r.extURL(p, rawQuery); ok {
		return u, err
	}
	if r.baseURL == nil {
		return nil, fmt.Errorf("remote %q has no base_url", r.Name)
	}
	u := *r.baseURL
	u.Path = u.Path + "/" + p
	u.RawPath = ""
	u.RawQuery = rawQuery
	u.Fragment = ""
	// Re-parse what would go on the wire and check it cannot leave the host.
	back, err := url.Parse(u.String())
	if err != nil || back.Scheme != r.baseURL.Scheme || back.Host != r.baseURL.Host || back.User != nil {
		return nil, &PathError{"path would change the upstream host"}
	}
	return &u, nil
}

// credentialParam reports a query parameter name that usually carries a
// secret (tokens, signatures, keys).
func credentialParam(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"token", "secret", "password", "passwd", "signature", "sig", "credential", "auth", "key", "session"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// FilterQuery keeps the parameters of a clean raw query that the remote
// passes on (query_params), in a stable order; everything else is dropped.
// The result is both the upstream query and the cache key's query.
func (r *Remote) FilterQuery(raw string) string {
	if raw == "" || len(r.QueryParams) == 0 {
		return ""
	}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return ""
	}
	kept := url.Values{}
	for _, name := range r.QueryParams {
		if v, ok := vals[name]; ok {
			kept[name] = v
		}
	}
	return kept.Encode() // sorted by name: one key per meaning
}
