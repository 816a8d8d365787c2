package config_test

import (
	"errors"
	"strings"
	"testing"

	"artifactapi/app/config"
)

// TestSyntaxErrorsNameTheRealLine: a YAML syntax error points at the line
// of the file where it is, not where yaml.v3's parser last started a block.
func TestSyntaxErrorsNameTheRealLine(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // the problem starts with it
	}{
		{name: "unclosed flow sequence", src: "remotes:\n  r:\n    base_url: [https://x\n", want: "line 3: "},
		{name: "unclosed sequence before another key", src: "remotes:\n  r:\n    base_url: x\n    immutable_patterns: [a, b\n    type: local\n", want: "line 4: "},
		{name: "unclosed flow mapping", src: "remotes:\n  r:\n    base_url: x\n    cache: {a: 1\n", want: "line 4: "},
		{name: "bad indentation", src: "remotes:\n  r:\n    base_url: x\n   type: local\n", want: "line 4: "},
		{name: "sequence inside a mapping", src: "remotes:\n  r:\n    base_url: x\n  - a\n", want: "line 4: "},
		{name: "tab indentation", src: "remotes:\n  r:\n    base_url: x\n\ttype: local\n", want: "line 4: "},
		{name: "mapping value in a scalar", src: "remotes:\n  r:\n    base_url: x: y\n", want: "line 3: "},
		{name: "reserved character", src: "remotes:\n  r:\n    base_url: x\n    description: @foo\n", want: "line 4: "},
		{name: "after blank lines", src: "\n\n\nremotes:\n  r:\n    base_url: x\n      type: local\n", want: "line 7: "},
		{name: "multi-line flow list is fine until the error", src: "remotes:\n  r:\n    base_url: x\n    immutable_patterns: [a,\n      b]\n   bad: 1\n", want: "line 6: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.ParseRemotes("remotes.yaml", []byte(tc.src))
			var ve *config.ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) != 1 {
				t.Fatalf("want one problem, got %v", err)
			}
			if !strings.HasPrefix(ve.Problems[0], tc.want) {
				t.Fatalf("problem %q does not start with %q; file:\n%s", ve.Problems[0], tc.want, tc.src)
			}
		})
	}
}

// TestZeroNegativeTTLIsOff: 0 is accepted and means "do not remember 404s",
// as the README says.
func TestZeroNegativeTTLIsOff(t *testing.T) {
	if got := remote(t, "base_url: http://x\nnegative_ttl: 0").NegativeTTLSeconds(); got != 0 {
		t.Fatalf("negative_ttl: 0 gives %d", got)
	}
	if got := remote(t, "base_url: http://x").NegativeTTLSeconds(); got != config.DefaultNegativeTTL {
		t.Fatalf("omitted negative_ttl gives %d, want %d", got, config.DefaultNegativeTTL)
	}
}
