// Package config loads remotes.yaml and the environment into a validated,
// immutable Config, and classifies request paths against a remote's patterns.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"regexp"
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"gopkg.in/yaml.v3"
)

// Remote types and packages.
const (
	TypeRemote = "remote"
	TypeLocal  = "local"

	PackageGeneric = "generic"
	PackageAlpine  = "alpine"
	PackageRPM     = "rpm"
	PackageDocker  = "docker"
	PackageHelm    = "helm"
	PackagePyPI    = "pypi"
	PackageNPM     = "npm"
	PackageGo      = "go"
	PackageAPT     = "apt"
	PackageMaven   = "maven"
)

// DefaultPyPIFilesURL is the files host of a pypi remote without files_url.
const DefaultPyPIFilesURL = "https://files.pythonhosted.org"

// Read policies of a remote (`access:`).
const (
	// AccessPublic: anyone may read (the default).
	AccessPublic = "public"
	// AccessAuthenticated: any signed-in principal may read.
	AccessAuthenticated = "authenticated"
	// AccessScoped: only principals with a read scope covering the remote.
	AccessScoped = "scoped"
)

// Defaults (seconds) for omitted TTLs.
const (
	DefaultImmutableTTL = 0
	DefaultMutableTTL   = 3600
	DefaultNegativeTTL  = 60
)

// CacheSettings is the `cache:` block of a remote.
type CacheSettings struct {
	ImmutableTTL *int64 `yaml:"immutable_ttl" json:"immutable_ttl"`
	MutableTTL   *int64 `yaml:"mutable_ttl" json:"mutable_ttl"`
	// MaxSize caps the bytes cached for the remote ("50GiB"); "" means no cap.
	MaxSize string `yaml:"max_size" json:"max_size,omitempty"`
}

// Remote is one entry of remotes.yaml, as written by the operator.
type Remote struct {
	Name                string        `yaml:"-" json:"name"`
	BaseURL             string        `yaml:"base_url" json:"base_url,omitempty"`
	Type                string        `yaml:"type" json:"type"`
	Package             string        `yaml:"package" json:"package"`
	Description         string        `yaml:"description" json:"description"`
	ImmutablePatterns   []string      `yaml:"immutable_patterns" json:"immutable_patterns"`
	MutablePatterns     []string      `yaml:"mutable_patterns" json:"mutable_patterns"`
	CheckMutableUpdates bool          `yaml:"check_mutable_updates" json:"check_mutable_updates"`
	Cache               CacheSettings `yaml:"cache" json:"cache"`
	NegativeTTL         *int64        `yaml:"negative_ttl" json:"negative_ttl"`
	AllowOverwrite      bool          `yaml:"allow_overwrite" json:"allow_overwrite"`
	// AllowPrivateRedirects lets redirects and Bearer token realms lead to
	// loopback, private, link-local, CGNAT and metadata addresses (internal
	// mirrors whose CDN or token service is on the private network).
	AllowPrivateRedirects bool `yaml:"allow_private_redirects" json:"allow_private_redirects"`
	// QueryParams lists the query parameters passed to the upstream and kept
	// in the cache key; every other parameter is dropped (default: all), so
	// "?x=1", "?x=2"… cannot each store a copy, and no query token is stored.
	QueryParams []string `yaml:"query_params" json:"query_params"`
	Username    string   `yaml:"username" json:"username,omitempty"`
	Password    string   `yaml:"password" json:"-"`
	// RegistryHost is the registry a docker remote mirrors ("docker.io"),
	// matched against containerd's ?ns= parameter. Derived from base_url when empty.
	RegistryHost string `yaml:"registry_host" json:"registry_host,omitempty"`
	// Access is who may read: AccessPublic (default), AccessAuthenticated
	// or AccessScoped.
	Access string `yaml:"access" json:"access"`
	// ExtraHosts lists the other hosts ("charts.example.org", or a base URL
	// "https://cdn.example.org/charts") whose URLs in the remote's metadata
	// are rewritten to go through the remote, under ExtPrefix. No other host
	// is ever fetched.
	ExtraHosts []string `yaml:"extra_hosts" json:"extra_hosts,omitempty"`
	// FilesURL is where a pypi index links its distributions
	// (default DefaultPyPIFilesURL); it is an extra host of the remote.
	FilesURL string `yaml:"files_url" json:"files_url,omitempty"`

	compiled classifier
	instance string              // unique to this parse of the remote (Instance)
	extra    map[string]*url.URL // extra hosts by lower-case host[:port]
	baseURL  *url.URL
	maxSize  int64
	immTTL   int64
	mutTTL   int64
	negTTL   int64
}

// File is the parsed remotes.yaml.
type File struct {
	Remotes map[string]*Remote `yaml:"remotes"`
	// DefaultDockerRemote answers un-prefixed /v2 paths (dockerd registry-mirrors).
	DefaultDockerRemote string `yaml:"default_docker_remote"`
	// Policies are cleanup policies declared in the file (optional).
	Policies map[string]*PolicySpec `yaml:"policies"`
}

// ValidationError lists every problem found in a remotes file.
type ValidationError struct {
	File     string
	Problems []string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("%s: %d problem(s):\n  - %s", e.File, len(e.Problems), strings.Join(e.Problems, "\n  - "))
}

// LoadRemotesFile reads and validates a remotes.yaml file.
func LoadRemotesFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	return ParseRemotes(path, b)
}

// ParseRemotes parses and validates remotes.yaml content. Unknown keys are errors.
func ParseRemotes(name string, b []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, &ValidationError{File: name, Problems: yamlProblems(b, err)}
	}
	if probs := f.validate(); len(probs) > 0 {
		return nil, &ValidationError{File: name, Problems: probs}
	}
	return &f, nil
}

// Names returns the remote names in sorted order.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Remotes))
	for n := range f.Remotes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var remoteName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (f *File) validate() []string {
	var probs []string
	if len(f.Remotes) == 0 {
		probs = append(probs, "no remotes defined (expected a `remotes:` mapping)")
	}
	for _, name := range f.Names() {
		r := f.Remotes[name]
		if r == nil {
			probs = append(probs, fmt.Sprintf("remote %q: empty definition", name))
			continue
		}
		r.Name = name
		// "v1" and "policies" are taken by /api/v1/remote/… and /api/policies.
		if !remoteName.MatchString(name) || name == "v1" || name == "policies" {
			probs = append(probs, fmt.Sprintf("remote %q: name must be letters, digits, '.', '_' or '-' (and not \"v1\" or \"policies\")", name))
		}
		probs = append(probs, r.validate()...)
	}
	if d := f.DefaultDockerRemote; d != "" {
		if r, ok := f.Remotes[d]; !ok || r == nil || r.Package != PackageDocker {
			probs = append(probs, fmt.Sprintf("default_docker_remote: %q is not a docker remote", d))
		} else if r.Type == TypeLocal {
			probs = append(probs, fmt.Sprintf("default_docker_remote: %q is a local repository (it is addressed by its name: /v2/%s/<image>)", d, d))
		}
	}
	probs = append(probs, f.validatePolicies()...)
	return probs
}

func (r *Remote) validate() []string {
	var probs []string
	bad := func(key, format string, args ...any) {
		probs = append(probs, fmt.Sprintf("remote %q: %s: %s", r.Name, key, fmt.Sprintf(format, args...)))
	}
	if r.Type == "" {
		r.Type = TypeRemote
	}
	if r.Package == "" {
		r.Package = PackageGeneric
	}
	switch r.Access {
	case "":
		r.Access = AccessPublic
	case AccessPublic, AccessAuthenticated, AccessScoped:
	default:
		bad("access", "unknown policy %q (want public, authenticated or scoped)", r.Access)
	}
	switch r.Type {
	case TypeRemote, TypeLocal:
	default:
		bad("type", "unknown type %q (want \"remote\" or \"local\")", r.Type)
	}
	switch r.Package {
	case PackageGeneric, PackageAlpine, PackageRPM, PackageDocker, PackageHelm, PackagePyPI, PackageNPM, PackageGo,
		PackageAPT, PackageMaven:
	default:
		bad("package", "unknown package %q (want generic, alpine, rpm, docker, helm, pypi, npm, go, apt or maven)", r.Package)
	}
	if r.Type == TypeRemote {
		if r.BaseURL == "" {
			bad("base_url", "required for a remote of type \"remote\"")
		} else if u, err := url.Parse(r.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("base_url", "%q is not an absolute http(s) URL", r.BaseURL)
		} else if u.User != nil {
			bad("base_url", "must not contain credentials; use username/password")
		} else {
			u.Path = strings.TrimRight(u.Path, "/")
			u.RawPath = ""
			r.baseURL = u
		}
	}
	probs = append(probs, r.validateExtraHosts()...)
	if r.Type == TypeLocal && r.AllowPrivateRedirects {
		bad("allow_private_redirects", "only for remotes of type \"remote\" (a local repository follows no redirects)")
	}
	ttl := func(key string, v *int64, def int64, zero string) int64 {
		if v == nil {
			return def
		}
		if *v < 0 {
			bad(key, "must be >= 0 seconds (0 %s), got %d", zero, *v)
		}
		return *v
	}
	r.immTTL = ttl("cache.immutable_ttl", r.Cache.ImmutableTTL, DefaultImmutableTTL, "means never expires")
	r.mutTTL = ttl("cache.mutable_ttl", r.Cache.MutableTTL, DefaultMutableTTL, "means never expires")
	r.negTTL = ttl("negative_ttl", r.NegativeTTL, DefaultNegativeTTL, "turns the negative cache off")
	if r.Cache.MaxSize != "" {
		n, err := ParseSize(r.Cache.MaxSize)
		if err != nil || n <= 0 {
			bad("cache.max_size", "%q is not a positive size like 500MiB or 50GiB", r.Cache.MaxSize)
		}
		r.maxSize = n
	}
	if r.Password != "" && r.Username == "" {
		bad("password", "set without username")
	}
	for _, q := range r.QueryParams {
		switch {
		case q == "" || strings.ContainsAny(q, "&=#? "):
			bad("query_params", "%q is not a query parameter name", q)
		case credentialParam(q):
			bad("query_params", "%q looks like a credential: it would be stored in cache keys and listings; use username/password", q)
		}
	}
	c, cprobs := compile(r)
	for _, p := range cprobs {
		probs = append(probs, fmt.Sprintf("remote %q: %s", r.Name, p))
	}
	r.compiled = c
	r.instance = strconv.FormatUint(instances.Add(1), 36)
	return probs
}

// instances numbers the remotes parsed by this process.
var instances atomic.Uint64

// Instance names this parse of the remote: a reload makes remotes with new
// names, so what is derived from a remote's settings can be keyed by it.
func (r *Remote) Instance() string { return r.instance }

// patternError explains why RE2 refused a pattern, in operator terms.
func patternError(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		switch {
		// Go reports "(?<=" as a malformed named capture "(?<name>".
		case (se.Code == syntax.ErrInvalidPerlOp || se.Code == syntax.ErrInvalidNamedCapture) &&
			(strings.HasPrefix(se.Expr, "(?<=") || strings.HasPrefix(se.Expr, "(?<!")):
			return "look-behind (?<=, ?<!) is not supported by RE2"
		case se.Code == syntax.ErrInvalidPerlOp && (strings.HasPrefix(se.Expr, "(?=") || strings.HasPrefix(se.Expr, "(?!")):
			return "look-ahead (?=, ?!) is not supported by RE2"
		case se.Code == syntax.ErrInvalidEscape && len(se.Expr) == 2 && se.Expr[1] >= '1' && se.Expr[1] <= '9':
			return "back-references (\\1…) are not supported by RE2"
		}
		return fmt.Sprintf("%s: %s", se.Code, se.Expr)
	}
	return err.Error()
}

// BaseURL returns the parsed base URL (nil for local remotes).
func (r *Remote) BaseURLParsed() *url.URL {
	if r.baseURL == nil {
		return nil
	}
	u := *r.baseURL
	return &u
}

// IsLocal reports whether the remote is a local repository.
func (r *Remote) IsLocal() bool { return r.Type == TypeLocal }

// ImmutableTTL returns the effective immutable TTL in seconds (0 = never).
func (r *Remote) ImmutableTTL() int64 { return r.immTTL }

// MutableTTL returns the effective mutable TTL in seconds (0 = never).
func (r *Remote) MutableTTL() int64 { return r.mutTTL }

// NegativeTTLSeconds returns how long an upstream 404 is remembered
// (0: not at all, every request asks the upstream again).
func (r *Remote) NegativeTTLSeconds() int64 { return r.negTTL }

// MaxSizeBytes returns the cache.max_size in bytes (0 = unlimited).
func (r *Remote) MaxSizeBytes() int64 { return r.maxSize }

// Registry returns the registry host a docker remote mirrors.
func (r *Remote) Registry() string {
	if r.RegistryHost != "" {
		return strings.ToLower(r.RegistryHost)
	}
	if r.baseURL == nil {
		return ""
	}
	h := strings.ToLower(r.baseURL.Host)
	switch h {
	case "registry-1.docker.io", "index.docker.io", "registry.hub.docker.com":
		return "docker.io"
	}
	return h
}

// ParseSize parses "123", "10KB", "500MiB", "50GiB", "1TB".
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suf string
		mul int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"TB", 1000 * 1000 * 1000 * 1000},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1}}
	mul := int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(s), strings.ToUpper(u.suf)) && (u.suf != "B" || !strings.ContainsAny(s[:len(s)-1], "KMGTkmgt")) {
			if strings.EqualFold(s[len(s)-len(u.suf):], u.suf) {
				mul = u.mul
				s = strings.TrimSpace(s[:len(s)-len(u.suf)])
				break
			}
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 || math.IsNaN(n) || n*float64(mul) >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int64(n * float64(mul)), nil
}
