// Package static embeds the dashboard's browser assets: htmx (vendored from
// the npm package htmx.org, see README.md), the stylesheet and the small
// script for uploads and sortable headers.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
)

//go:embed *.css *.js
var files embed.FS

// Asset is one embedded file.
type Asset struct {
	Body        []byte
	ContentType string
	ETag        string
}

// Assets is the set of embedded files, read once.
type Assets struct {
	byName  map[string]Asset
	version string
}

// New reads every embedded file and computes the set's version, a digest
// of all contents used in asset URLs so that browsers may cache them forever.
func New() *Assets {
	a := &Assets{byName: map[string]Asset{}}
	all := sha256.New()
	entries, _ := fs.ReadDir(files, ".") // embedded: cannot fail
	for _, e := range entries {
		b, _ := files.ReadFile(e.Name())
		sum := sha256.Sum256(b)
		all.Write(sum[:])
		ct := mime.TypeByExtension(path.Ext(e.Name()))
		if ct == "" {
			ct = "application/octet-stream"
		}
		a.byName[e.Name()] = Asset{Body: b, ContentType: ct, ETag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	a.version = hex.EncodeToString(all.Sum(nil)[:6])
	return a
}

// Version identifies the current contents of every asset.
func (a *Assets) Version() string { return a.version }

// Get returns the named asset.
func (a *Assets) Get(name string) (Asset, bool) {
	f, ok := a.byName[name]
	return f, ok
}
