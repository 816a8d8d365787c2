package formats

import (
	"encoding/json"
	"fmt"
	"strings"
)

// npmAbbreviated is the media type of npm's abbreviated ("corgi") package
// documents, which install needs; the full document is application/json.
const npmAbbreviated = "application/vnd.npm.install-v1+json"

// IsNPMDocumentPath reports whether p is a package document's path: "name"
// or "@scope/name" (npm sends "@scope%2fname", decoded by then); the
// regular expression ^(@[^/]+/)?[^/@._][^/]*$, written out because every
// request to an npm remote asks it.
func IsNPMDocumentPath(p string) bool {
	if strings.HasPrefix(p, "@") {
		i := strings.IndexByte(p, '/')
		if i < 2 {
			return false
		}
		p = p[i+1:]
	}
	if p == "" {
		return false
	}
	switch p[0] {
	case '/', '@', '.', '_':
		return false
	}
	return strings.IndexByte(p, '/') < 0
}

// resolveNPM: package documents are rewritten, abbreviated when the
// client's Accept asks for it (a separate cache entry); tarballs are
// served as they are.
func resolveNPM(req Request) Resolved {
	if !IsNPMDocumentPath(req.Path) {
		return Resolved{Path: req.Path}
	}
	res := Resolved{Path: req.Path, Rewrite: true, Accept: "application/json"}
	if acceptsType(req.Accept, npmAbbreviated) {
		res.Variant = "abbreviated"
		res.Accept = npmAbbreviated + "; q=1.0, application/json; q=0.8, */*"
	}
	return res
}

// npmDocument rewrites versions.*.dist.tarball of a package document;
// integrity, shasum and every other member are kept as the upstream wrote
// them.
func (w *Rewriter) npmDocument(b []byte) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("formats: npm document: %w", err)
	}
	raw, ok := top["versions"]
	if !ok {
		return b, nil
	}
	var versions map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &versions); err != nil {
		return nil, fmt.Errorf("formats: npm document: versions: %w", err)
	}
	for v, doc := range versions {
		rawDist, ok := doc["dist"]
		if !ok {
			continue
		}
		var dist map[string]json.RawMessage
		if err := json.Unmarshal(rawDist, &dist); err != nil {
			return nil, fmt.Errorf("formats: npm document: %s: dist: %w", v, err)
		}
		if err := w.rewriteMember(dist, "tarball"); err != nil {
			return nil, fmt.Errorf("formats: npm document: %s: dist: %w", v, err)
		}
		enc, err := marshal(dist)
		if err != nil {
			return nil, err
		}
		doc["dist"] = enc
	}
	enc, err := marshal(versions)
	if err != nil {
		return nil, err
	}
	top["versions"] = enc
	return marshal(top)
}
