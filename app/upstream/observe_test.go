package upstream

import (
	"strings"
	"testing"
)

func TestScrub(t *testing.T) {
	const pw = "Sup3r-secret"
	tests := []struct {
		name, in, want string
	}{
		{name: "user info", in: `Get "https://bob:` + pw + `@example.org/x": EOF`, want: `Get "https://example.org/x": EOF`},
		{name: "signed query", in: "redirect to https://cdn.example.org/f?X-Amz-Signature=abc&X-Amz-Credential=k failed", want: "redirect to https://cdn.example.org/f failed"},
		{name: "bearer value", in: "token service said: Bearer eyJhbGciOi.x.y rejected", want: "token service said: Bearer REDACTED rejected"},
		{name: "a configured secret anywhere", in: "answer mentioned " + pw + " in its body", want: "answer mentioned REDACTED in its body"},
		{name: "plain words stay", in: "the token service refused the credentials (HTTP 401)", want: "the token service refused the credentials (HTTP 401)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Scrub(tc.in, pw)
			if got != tc.want {
				t.Errorf("Scrub(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if strings.Contains(got, pw) {
				t.Errorf("Scrub left the secret in %q", got)
			}
		})
	}
}
