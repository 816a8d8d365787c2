package config

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// PolicySpec is a cleanup policy declared in remotes.yaml under
// `policies:` (by name). The dashboard and the API show it but do not
// change it: the file is its source, applied at start and on every reload.
type PolicySpec struct {
	Name           string `yaml:"-" json:"name"`
	Remote         string `yaml:"remote" json:"remote,omitempty"` // "" for every cached remote
	CachedBefore   string `yaml:"cached_before" json:"cached_before,omitempty"`
	AccessedBefore string `yaml:"accessed_before" json:"accessed_before,omitempty"`
	UnusedFor      string `yaml:"unused_for" json:"unused_for,omitempty"`
	LargerThan     string `yaml:"larger_than" json:"larger_than,omitempty"`
	Query          string `yaml:"query" json:"query,omitempty"`
	Regex          bool   `yaml:"regex" json:"regex,omitempty"`
	Every          string `yaml:"every" json:"every,omitempty"`
}

// PolicyNames returns the declared policy names in sorted order.
func (f *File) PolicyNames() []string {
	names := make([]string, 0, len(f.Policies))
	for n := range f.Policies {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// validatePolicies checks the declared policies and sets their names.
func (f *File) validatePolicies() []string {
	var probs []string
	for _, name := range f.PolicyNames() {
		p := f.Policies[name]
		bad := func(format string, args ...any) {
			probs = append(probs, fmt.Sprintf("policy %q: ", name)+fmt.Sprintf(format, args...))
		}
		if p == nil {
			bad("empty definition")
			continue
		}
		p.Name = name
		if len(name) > 100 {
			bad("name longer than 100 characters")
		}
		if p.Remote != "" {
			switch r := f.Remotes[p.Remote]; {
			case r == nil:
				bad("remote %q is not defined", p.Remote)
			case r.IsLocal():
				bad("remote %q is a local repository; policies clean caches only", p.Remote)
			}
		}
		used := p.Query != ""
		for _, d := range []struct{ key, v string }{{"cached_before", p.CachedBefore}, {"accessed_before", p.AccessedBefore},
			{"unused_for", p.UnusedFor}, {"every", p.Every}} {
			n, err := ParseDuration(d.v)
			if err != nil {
				bad("%s: %v", d.key, err)
			}
			if d.key != "every" && n > 0 {
				used = true
			}
			if d.key == "every" && n > 0 && n < time.Second {
				bad("every: at least 1s")
			}
		}
		if v := strings.TrimSpace(p.LargerThan); v != "" && v != "0" {
			if _, err := ParseSize(v); err != nil {
				bad("larger_than: %q is not a size like 500MiB", v)
			}
			used = true
		}
		if p.Regex {
			if _, err := regexp.Compile(p.Query); err != nil {
				bad("query: not a valid regular expression: %v", err)
			}
		}
		if !used {
			bad("give at least one criterion (cached_before, accessed_before, unused_for, larger_than or query)")
		}
	}
	return probs
}

// ParseDuration reads a Go duration ("36h", "90m") or a whole number of
// days or weeks ("30d", "2w"); "" and "0" are zero.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	for suf, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suf); ok {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 {
				return 0, fmt.Errorf("%q is not a duration like 24h, 30d or 2w", s)
			}
			return time.Duration(v) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration like 24h, 30d or 2w", s)
	}
	return d, nil
}
