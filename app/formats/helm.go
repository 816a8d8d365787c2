package formats

import (
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// resolveHelm: index.yaml is rewritten; charts and provenance files are
// served as they are.
func resolveHelm(req Request) Resolved {
	return Resolved{Path: req.Path, Rewrite: req.Path == "index.yaml" || strings.HasSuffix(req.Path, "/index.yaml")}
}

// helmIndex rewrites every chart URL of a repository index
// (entries.<chart>[].urls[]), relative ones included, to the remote. The
// document is re-encoded from its YAML tree: every other field is kept.
func (w *Rewriter) helmIndex(b []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("formats: helm index: %w", err)
	}
	if len(doc.Content) == 0 {
		return b, nil
	}
	entries := mapValue(doc.Content[0], "entries")
	if entries == nil || entries.Kind != yaml.MappingNode {
		return b, nil
	}
	for i := 1; i < len(entries.Content); i += 2 {
		for _, version := range entries.Content[i].Content {
			urls := mapValue(version, "urls")
			if urls == nil || urls.Kind != yaml.SequenceNode {
				continue
			}
			for _, u := range urls.Content {
				if u.Kind == yaml.ScalarNode {
					u.Value, _ = w.link(u.Value)
				}
			}
		}
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("formats: helm index: encode: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("formats: helm index: encode: %w", err)
	}
	return out.Bytes(), nil
}

// mapValue returns the value of key in a mapping node, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
