package formats

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"strings"
)

// PEP 691 media types of the simple API.
const (
	pypiJSONType = "application/vnd.pypi.simple.v1+json"
	pypiHTMLType = "application/vnd.pypi.simple.v1+html"
)

// resolvePyPI: the simple index ("simple/") and a project's page
// ("simple/<project>/", the name normalised as PEP 503 says) are rewritten,
// in the representation the client's Accept asks for (PEP 691 JSON, else
// HTML); distributions are served as they are.
func resolvePyPI(req Request) Resolved {
	p := req.Path
	rest, ok := strings.CutPrefix(p+"/", "simple/")
	if !ok {
		return Resolved{Path: p}
	}
	rest = strings.TrimSuffix(rest, "/")
	rest = strings.TrimSuffix(rest, "/")
	switch {
	case rest == "":
		p = "simple/"
	case !strings.Contains(rest, "/"):
		p = "simple/" + NormalizePyPIName(rest) + "/"
	default:
		return Resolved{Path: p}
	}
	res := Resolved{Path: p, Rewrite: true, Accept: pypiHTMLType + ", text/html;q=0.1"}
	if acceptsType(req.Accept, pypiJSONType) {
		res.Variant, res.Accept = "json", pypiJSONType
	}
	return res
}

// NormalizePyPIName is PEP 503's normalised project name: lower case, every
// run of '-', '_' and '.' one '-' (re.sub(r"[-_.]+", "-", name).lower()).
// A name already normalised, as clients send it, is returned as it is.
func NormalizePyPIName(name string) string {
	normal := true
	for i := 0; i < len(name) && normal; i++ {
		switch c := name[i]; {
		case c >= 'A' && c <= 'Z', c == '_', c == '.', c >= 0x80:
			normal = false
		case c == '-' && i > 0 && name[i-1] == '-':
			normal = false
		}
	}
	if normal {
		return name
	}
	var b strings.Builder
	b.Grow(len(name))
	sep := false
	for _, r := range name {
		if r == '-' || r == '_' || r == '.' {
			sep = true
			continue
		}
		if sep {
			b.WriteByte('-')
			sep = false
		}
		b.WriteRune(r)
	}
	if sep {
		b.WriteByte('-')
	}
	return strings.ToLower(b.String())
}

// pypiHref finds the href of every anchor of a simple page (PEP 503 pages
// hold nothing else that links).
var pypiHref = regexp.MustCompile(`(?is)(<a\s[^>]*?\bhref\s*=\s*)("[^"]*"|'[^']*'|[^\s"'>]+)`)

// pypiHTML rewrites the links of a PEP 503 page; every other byte is kept
// (#sha256= fragments, data-requires-python, data-dist-info-metadata,
// data-yanked).
func (w *Rewriter) pypiHTML(b []byte) []byte {
	return pypiHref.ReplaceAllFunc(b, func(m []byte) []byte {
		sub := pypiHref.FindSubmatch(m)
		val := string(sub[2])
		if len(val) >= 2 && (val[0] == '"' || val[0] == '\'') {
			val = val[1 : len(val)-1]
		}
		u, ok := w.link(html.UnescapeString(val))
		if !ok {
			return m
		}
		out := append([]byte(nil), sub[1]...)
		out = append(out, '"')
		out = append(out, html.EscapeString(u)...)
		return append(out, '"')
	})
}

// pypiJSON rewrites files[].url of a PEP 691 project page; every other
// member is kept as the upstream wrote it.
func (w *Rewriter) pypiJSON(b []byte) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("formats: pypi json: %w", err)
	}
	raw, ok := top["files"]
	if !ok {
		return b, nil
	}
	var files []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &files); err != nil {
		return nil, fmt.Errorf("formats: pypi json: files: %w", err)
	}
	for _, f := range files {
		if err := w.rewriteMember(f, "url"); err != nil {
			return nil, fmt.Errorf("formats: pypi json: %w", err)
		}
	}
	var err error
	if top["files"], err = marshal(files); err != nil {
		return nil, err
	}
	return marshal(top)
}

// rewriteMember rewrites the URL string m[key] of a JSON object, if any.
func (w *Rewriter) rewriteMember(m map[string]json.RawMessage, key string) error {
	raw, ok := m[key]
	if !ok {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	u, ok := w.link(s)
	if !ok {
		return nil
	}
	enc, err := marshal(u)
	if err != nil {
		return err
	}
	m[key] = enc
	return nil
}

// marshal encodes v without escaping HTML characters (the documents are
// JSON, not HTML) and without the encoder's trailing newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("formats: encode json: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
