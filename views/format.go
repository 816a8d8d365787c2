// Package views holds the dashboard's templ components: one file per screen
// with the page and its partials, each taking one Props struct. Views import
// only templ, the standard library and the small view-model types below.
package views

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Bytes formats n as a human-readable IEC size ("1.5 MiB").
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Count formats n with thousands separators ("12,345").
func Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// When formats t in UTC for tables ("2026-01-02 15:04 UTC"); "—" for zero.
func When(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// WhenShort formats t in UTC without the zone, for table columns that name it.
func WhenShort(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// ISO formats t for a <time datetime> attribute.
func ISO(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Ago says how long before now t was ("3 min ago").
func Ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	default:
		return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
	}
}

// Short returns the first n characters of s.
func Short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Percent formats a ratio in [0,1] as "87.5 %"; "—" when there is no data.
func Percent(ratio float64, ok bool) string {
	if !ok {
		return "—"
	}
	return strconv.FormatFloat(ratio*100, 'f', 1, 64) + " %"
}

// Seconds formats a TTL in seconds ("1 h", "never" for 0).
func Seconds(s int64) string {
	switch {
	case s <= 0:
		return "never expires"
	case s%86400 == 0:
		return fmt.Sprintf("%d d", s/86400)
	case s%3600 == 0:
		return fmt.Sprintf("%d h", s/3600)
	case s%60 == 0:
		return fmt.Sprintf("%d min", s/60)
	default:
		return fmt.Sprintf("%d s", s)
	}
}

// hxHeaders is the hx-headers value carrying the CSRF token on every htmx request.
func hxHeaders(csrf string) string {
	b, _ := json.Marshal(map[string]string{"X-CSRF-Token": csrf})
	return string(b)
}

// kindClass is the badge class of an artifact kind or verdict.
func kindClass(kind string) string {
	switch kind {
	case "immutable", "mutable", "denied":
		return "badge badge-" + kind
	default:
		return "badge"
	}
}

// stateClass is the badge class of a job or item state.
func stateClass(state string) string { return "badge badge-state-" + state }

// Itoa64 formats n in decimal.
func Itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// words are the labels of the machine names the dashboard shows (item and
// job states, audit actions); the names stay in attributes and filters.
var words = map[string]string{
	"already_cached":      "already cached",
	"artifact.upload":     "upload",
	"artifact.delete":     "delete",
	"artifact.evict":      "eviction",
	"artifact.evict_bulk": "bulk eviction",
	"job.submit":          "job started",
	"job.cancel":          "job canceled",
	"registry.gc":         "garbage collection",
	"user.create":         "user created",
	"user.update":         "user changed",
	"user.delete":         "user deleted",
	"token.create":        "token created",
	"token.revoke":        "token revoked",
	"config.reload":       "configuration reloaded",
	"login":               "sign-in",
	"logout":              "sign-out",
}

// Words shows a state or action name as words ("already_cached" →
// "already cached"); an unknown name loses its underscores.
func Words(name string) string {
	if w, ok := words[name]; ok {
		return w
	}
	return strings.ReplaceAll(name, "_", " ")
}
