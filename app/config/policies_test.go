package config

import (
	"strings"
	"testing"
	"time"
)

func TestDeclaredPolicies(t *testing.T) {
	const head = "remotes:\n  gen:\n    base_url: http://x\n  up:\n    type: local\npolicies:\n"
	tests := []struct {
		name     string
		policies string
		errParts []string // none: valid
	}{
		{name: "valid", policies: "  nightly:\n    remote: gen\n    query: nightly/\n    cached_before: 7d\n    every: 24h\n"},
		{name: "every remote, size only", policies: "  big:\n    larger_than: 1GiB\n"},
		{name: "no criterion", policies: "  all:\n    remote: gen\n    every: 1h\n", errParts: []string{`policy "all"`, "at least one criterion"}},
		{name: "unknown remote", policies: "  p:\n    remote: nope\n    query: a\n", errParts: []string{`policy "p"`, `remote "nope" is not defined`}},
		{name: "local remote", policies: "  p:\n    remote: up\n    query: a\n", errParts: []string{"local repository"}},
		{name: "bad duration and size", policies: "  p:\n    cached_before: a week\n    larger_than: big\n",
			errParts: []string{`cached_before: "a week"`, `larger_than: "big"`}},
		{name: "bad regex", policies: "  p:\n    query: \"(\"\n    regex: true\n", errParts: []string{"regular expression"}},
		{name: "unknown key", policies: "  p:\n    query: a\n    older_than: 1d\n", errParts: []string{"older_than"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseRemotes("remotes.yaml", []byte(head+tc.policies))
			if len(tc.errParts) == 0 {
				if err != nil {
					t.Fatalf("ParseRemotes: %v", err)
				}
				for _, n := range f.PolicyNames() {
					if f.Policies[n].Name != n {
						t.Errorf("policy %q has name %q", n, f.Policies[n].Name)
					}
				}
				return
			}
			if err == nil {
				t.Fatal("accepted, want refused")
			}
			for _, p := range tc.errParts {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q lacks %q", err, p)
				}
			}
		})
	}
	if d, err := ParseDuration("2w"); err != nil || d != 14*24*time.Hour {
		t.Errorf("ParseDuration(2w) = %v, %v", d, err)
	}
}
