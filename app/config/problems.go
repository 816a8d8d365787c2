package config

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// yamlProblems splits a decode error into one problem per field, each
// naming the remote whose definition holds the offending line. A syntax
// error names the line where the file stops being YAML.
func yamlProblems(b []byte, err error) []string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []string{syntaxProblem(b, err)}
	}
	owner := remoteAtLine(b)
	probs := make([]string, 0, len(te.Errors))
	for _, e := range te.Errors {
		msg := yamlProblem(e)
		var line int
		if _, err := fmt.Sscanf(e, "line %d:", &line); err == nil && owner(line) != "" {
			msg = fmt.Sprintf("remote %q: %s", owner(line), msg)
		}
		probs = append(probs, msg)
	}
	return probs
}

// yamlLine is the "line N: " yaml.v3 puts before a syntax error.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// maxScanLines bounds the files whose syntax errors are located by
// re-parsing (each line costs one parse of the lines above it).
const maxScanLines = 2000

// syntaxProblem is a YAML syntax error with the line it happens on.
// yaml.v3 reports the 0-based line of the construct it was parsing for
// most parser errors (an unclosed '[' on line 3 is "line 2", a bad indent
// on line 4 "line 1"), so the line is found here instead: the first line
// from which every longer prefix of the file fails to parse. (A prefix
// that ends inside a multi-line flow collection fails too, but a longer
// one that closes it parses again.)
func syntaxProblem(b []byte, err error) string {
	msg := yamlLine.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "")
	lines := bytes.SplitAfter(b, []byte("\n"))
	if len(lines) > maxScanLines {
		return yamlProblem(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	n := len(lines)
	for n > 0 && !parses(bytes.Join(lines[:n-1], nil)) {
		n--
	}
	if n == 0 {
		return msg
	}
	return fmt.Sprintf("line %d: %s", n, msg)
}

func parses(b []byte) bool {
	var n yaml.Node
	return yaml.Unmarshal(b, &n) == nil
}

// remoteAtLine maps a line of a remotes file to the remote defined there.
func remoteAtLine(b []byte) func(line int) string {
	type span struct {
		name     string
		from, to int
	}
	var spans []span
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) == nil && len(doc.Content) == 1 {
		top := doc.Content[0].Content
		for i := 0; i+1 < len(top); i += 2 {
			if top[i].Value != "remotes" {
				continue
			}
			rs := top[i+1].Content
			for j := 0; j+1 < len(rs); j += 2 {
				spans = append(spans, span{rs[j].Value, rs[j].Line, lastLine(rs[j+1])})
			}
		}
	}
	return func(line int) string {
		for _, s := range spans {
			if line >= s.from && line <= s.to {
				return s.name
			}
		}
		return ""
	}
}

func lastLine(n *yaml.Node) int {
	l := n.Line
	for _, c := range n.Content {
		l = max(l, lastLine(c))
	}
	return l
}

// unknownField is yaml.v3's message for a key KnownFields refuses.
var unknownField = regexp.MustCompile(`^(line \d+: )field (.*) not found in type config\.(Remote|CacheSettings|File)$`)

// yamlProblem rewrites one yaml.v3 message in operator terms; an unknown
// key gets the closest known key as a suggestion.
func yamlProblem(msg string) string {
	msg = strings.TrimPrefix(msg, "yaml: ")
	m := unknownField.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	where, key := m[1], m[2]
	var known []string
	var what string
	switch m[3] {
	case "Remote":
		known, what = yamlKeys(reflect.TypeFor[Remote]()), "remote key"
	case "CacheSettings":
		known, what = yamlKeys(reflect.TypeFor[CacheSettings]()), "cache key"
	default:
		known, what = yamlKeys(reflect.TypeFor[File]()), "top-level key"
	}
	if s := suggest(key, known); s != "" {
		return fmt.Sprintf("%sunknown key `%s`; did you mean `%s`?", where, key, s)
	}
	return fmt.Sprintf("%sunknown key `%s`: not a known %s (%s)", where, key, what, strings.Join(known, ", "))
}

// yamlKeys lists the yaml keys of a struct type, sorted.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	sort.Strings(keys)
	return keys
}

// suggest returns the known key closest to key when it is close enough to
// be a typo (at most two edits, fewer than half the key), else "".
func suggest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), k); d < bestD && 2*d < len(k) {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of two adjacent bytes count one each.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return max(len(a), len(b)) // not a typo of a key; keeps the cost bounded
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
