package policies

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"artifactapi/app/config"
	"artifactapi/db"
)

// Spec is a policy as written by an operator (the JSON API and the
// dashboard's form): durations like "24h", "30d" or "2w" ("" or "0": not
// used) and sizes like "10MiB" or a number of bytes.
type Spec struct {
	Name           string `json:"name"`
	Remote         string `json:"remote"`
	CachedBefore   string `json:"cached_before"`
	AccessedBefore string `json:"accessed_before"`
	UnusedFor      string `json:"unused_for"`
	LargerThan     string `json:"larger_than"`
	Query          string `json:"query"`
	Regex          bool   `json:"regex"`
	Every          string `json:"every"`
}

// Policy parses s into a policy (ID, times unset); the error names every bad field.
func (s Spec) Policy() (db.Policy, error) {
	p := db.Policy{Name: strings.TrimSpace(s.Name), Remote: strings.TrimSpace(s.Remote), Query: s.Query, Regex: s.Regex}
	var probs []string
	for _, f := range []struct {
		name string
		in   string
		out  *time.Duration
	}{{"cached_before", s.CachedBefore, &p.CachedBefore}, {"accessed_before", s.AccessedBefore, &p.AccessedBefore},
		{"unused_for", s.UnusedFor, &p.UnusedFor}, {"every", s.Every, &p.Every}} {
		d, err := ParseDuration(f.in)
		if err != nil {
			probs = append(probs, f.name+": "+err.Error())
		}
		*f.out = d
	}
	if v := strings.TrimSpace(s.LargerThan); v != "" && v != "0" {
		n, err := config.ParseSize(v)
		if err != nil {
			probs = append(probs, fmt.Sprintf("larger_than: %q is not a size like 10MiB", v))
		}
		p.LargerThan = n
	}
	if len(probs) > 0 {
		return p, &InvalidError{Problems: probs}
	}
	return p, nil
}

// SpecOf is the Spec of a stored policy.
func SpecOf(p db.Policy) Spec {
	s := Spec{Name: p.Name, Remote: p.Remote, Query: p.Query, Regex: p.Regex, CachedBefore: FormatDuration(p.CachedBefore),
		AccessedBefore: FormatDuration(p.AccessedBefore), UnusedFor: FormatDuration(p.UnusedFor), Every: FormatDuration(p.Every)}
	if p.LargerThan > 0 {
		s.LargerThan = strconv.FormatInt(p.LargerThan, 10)
	}
	return s
}

// ParseDuration reads a Go duration ("36h", "90m") or a whole number of
// days or weeks ("30d", "2w"); "" and "0" are zero (config.ParseDuration).
func ParseDuration(s string) (time.Duration, error) { return config.ParseDuration(s) }

// FormatDuration writes d as ParseDuration reads it: whole days as "30d",
// else Go's form ("36h0m0s" trimmed to "36h"); "" for zero.
func FormatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return ""
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Parse reads s into a policy and validates it against the current
// configuration, naming every problem of both steps at once.
func (m *Manager) Parse(s Spec) (db.Policy, error) {
	p, err := s.Policy()
	var probs []string
	var inv *InvalidError
	if errors.As(err, &inv) {
		probs = inv.Problems
	}
	if errors.As(m.Validate(p), &inv) {
		probs = append(probs, inv.Problems...)
	}
	if len(probs) > 0 {
		return p, &InvalidError{Problems: probs}
	}
	return p, nil
}
