package formats_test

import (
	"regexp"
	"strings"
	"testing"

	"artifactapi/app/formats"
)

// pep503 is PEP 503's own definition of a normalised name:
// re.sub(r"[-_.]+", "-", name).lower().
var pep503 = regexp.MustCompile(`[-_.]+`)

func pep503Name(name string) string { return strings.ToLower(pep503.ReplaceAllString(name, "-")) }

// FuzzNormalizePyPIName checks the hand-written normaliser against PEP
// 503's definition for any input, including invalid UTF-8 and names with
// upper-case letters outside ASCII.
func FuzzNormalizePyPIName(f *testing.F) {
	for _, s := range []string{"", "requests", "Django", "zope.interface", "a__b--c..d", "-lead", "trail_", "--", "ÄBC", "x\xffY", "Sphinx-RTD_theme"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := formats.NormalizePyPIName(name), pep503Name(name); got != want {
			t.Fatalf("NormalizePyPIName(%q) = %q, PEP 503 gives %q", name, got, want)
		}
	})
}

func TestNormalizePyPIName(t *testing.T) {
	for in, want := range map[string]string{
		"requests": "requests", "Django": "django", "zope.interface": "zope-interface",
		"a__b--c..d": "a-b-c-d", "Sphinx-RTD_theme": "sphinx-rtd-theme", "ÄBC": "äbc", "trail_": "trail-",
	} {
		if got := formats.NormalizePyPIName(in); got != want {
			t.Errorf("NormalizePyPIName(%q) = %q, want %q", in, got, want)
		}
	}
}

// npmDocument is the definition IsNPMDocumentPath writes out.
var npmDocument = regexp.MustCompile(`^(@[^/]+/)?[^/@._][^/]*$`)

// FuzzNPMDocumentPath checks IsNPMDocumentPath against its regular
// expression for any input.
func FuzzNPMDocumentPath(f *testing.F) {
	for _, s := range []string{"", "lodash", "@types/node", "@types/node/x", "@/x", "@x", "@x/", "_private", ".hidden", "a/-/a-1.0.0.tgz", "@s/.x", "x\xff/", "\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if got, want := formats.IsNPMDocumentPath(p), npmDocument.MatchString(p); got != want {
			t.Fatalf("IsNPMDocumentPath(%q) = %v, the expression says %v", p, got, want)
		}
	})
}
