package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// host is a local upstream host serving a fixed set of files. It counts
// the requests it answers, by client: artifactapi's carry its own
// User-Agent.
type host struct {
	srv   *httptest.Server
	files map[string]doc
	mu    sync.Mutex
	proxy int // requests from artifactapi
	other int // requests from anyone else
}

// doc is one file; alt, when set, is served instead to a request whose
// Accept header contains altType.
type doc struct {
	body        []byte
	contentType string
	altType     string
	alt         []byte
}

func newHost(files map[string]doc) *host {
	h := &host{files: files}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	return h
}

func (h *host) serve(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	if strings.HasPrefix(r.UserAgent(), "artifactapi") {
		h.proxy++
	} else {
		h.other++
	}
	h.mu.Unlock()
	d, ok := h.files[r.URL.EscapedPath()]
	if !ok {
		http.NotFound(w, r)
		return
	}
	body, ct := d.body, d.contentType
	if d.altType != "" && strings.Contains(r.Header.Get("Accept"), d.altType) {
		body, ct = d.alt, d.altType
	}
	w.Header().Set("Content-Type", ct)
	sum := sha256.Sum256(body)
	w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// counts returns the requests answered so far from artifactapi and from
// other clients.
func (h *host) counts() (proxy, other int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.proxy, h.other
}

func (h *host) url() string { return h.srv.URL }

func (h *host) close() { h.srv.Close() }

// wheel is one generated distribution.
type wheel struct {
	project, filename string
	body              []byte
}

// pypiUpstream is a PEP 503 index whose project pages link wheels on a
// separate files host by absolute URL, as PyPI links files.pythonhosted.org.
type pypiUpstream struct {
	index, files *host
	wheels       []wheel
}

func newPyPI(n int) (*pypiUpstream, error) {
	files := map[string]doc{}
	u := &pypiUpstream{files: newHost(files)}
	pages := map[string]doc{}
	var root strings.Builder
	root.WriteString("<!DOCTYPE html>\n<html><body>\n")
	for i := range n {
		project := fmt.Sprintf("bench-wheel-%02d", i)
		w, err := buildWheel(project, "1.0.0")
		if err != nil {
			return nil, err
		}
		u.wheels = append(u.wheels, w)
		path := "/packages/" + project + "/" + w.filename
		files[path] = doc{body: w.body, contentType: "application/octet-stream"}
		sum := sha256.Sum256(w.body)
		page := fmt.Sprintf("<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\"><title>Links for %s</title></head><body>\n"+
			"<h1>Links for %s</h1>\n<a href=\"%s#sha256=%s\" data-requires-python=\"&gt;=3.7\">%s</a><br/>\n</body></html>\n",
			project, project, u.files.url()+path, hex.EncodeToString(sum[:]), w.filename)
		pages["/simple/"+project+"/"] = doc{body: []byte(page), contentType: "text/html"}
		fmt.Fprintf(&root, "<a href=\"/simple/%s/\">%s</a>\n", project, project)
	}
	root.WriteString("</body></html>\n")
	pages["/simple/"] = doc{body: []byte(root.String()), contentType: "text/html"}
	u.index = newHost(pages)
	return u, nil
}

func (u *pypiUpstream) close() {
	u.index.close()
	u.files.close()
}

// buildWheel builds a minimal pure-Python wheel (PEP 427): a module, and
// the dist-info METADATA, WHEEL and RECORD.
func buildWheel(name, version string) (wheel, error) {
	mod := strings.ReplaceAll(name, "-", "_")
	distInfo := mod + "-" + version + ".dist-info/"
	files := []struct{ name, body string }{
		{mod + "/__init__.py", fmt.Sprintf("VERSION = %q\n", version)},
		{distInfo + "METADATA", fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\nRequires-Python: >=3.7\n", name, version)},
		{distInfo + "WHEEL", "Wheel-Version: 1.0\nGenerator: formatsbench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}
	var record strings.Builder
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(n, b string) error {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate, Modified: time.Unix(1700000000, 0)})
		if err != nil {
			return err
		}
		_, err = fw.Write([]byte(b))
		return err
	}
	for _, f := range files {
		sum := sha256.Sum256([]byte(f.body))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.body))
		if err := add(f.name, f.body); err != nil {
			return wheel{}, err
		}
	}
	record.WriteString(distInfo + "RECORD,,\n")
	if err := add(distInfo+"RECORD", record.String()); err != nil {
		return wheel{}, err
	}
	if err := zw.Close(); err != nil {
		return wheel{}, err
	}
	return wheel{project: name, filename: mod + "-" + version + "-py3-none-any.whl", body: buf.Bytes()}, nil
}

// npmUpstream is an npm registry: a full and an abbreviated document per
// package, whose dist.tarball URLs are absolute on the registry host.
type npmUpstream struct {
	reg      *host
	names    []string
	tarballs map[string][]byte // by package name (one version each)
}

func newNPM(n int) (*npmUpstream, error) {
	files := map[string]doc{}
	u := &npmUpstream{tarballs: map[string][]byte{}}
	u.reg = newHost(files)
	for i := range n {
		name := fmt.Sprintf("bench-pkg-%02d", i)
		tgz, err := npmTarball(name, "1.0.0")
		if err != nil {
			return nil, err
		}
		u.names = append(u.names, name)
		u.tarballs[name] = tgz
		tarPath := "/" + name + "/-/" + name + "-1.0.0.tgz"
		files[tarPath] = doc{body: tgz, contentType: "application/octet-stream"}
		s512, s1 := sha512.Sum512(tgz), sha1.Sum(tgz)
		dist := map[string]any{"tarball": u.reg.url() + tarPath,
			"integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]), "shasum": hex.EncodeToString(s1[:])}
		tags := map[string]string{"latest": "1.0.0"}
		full, err := json.Marshal(map[string]any{"_id": name, "name": name, "description": "a benchmark package", "dist-tags": tags,
			"versions": map[string]any{"1.0.0": map[string]any{"name": name, "version": "1.0.0", "main": "index.js", "dist": dist}}})
		if err != nil {
			return nil, err
		}
		abbrev, err := json.Marshal(map[string]any{"name": name, "modified": "2026-11-29T00:00:00.000Z", "dist-tags": tags,
			"versions": map[string]any{"1.0.0": map[string]any{"name": name, "version": "1.0.0", "dist": dist}}})
		if err != nil {
			return nil, err
		}
		files["/"+name] = doc{body: full, contentType: "application/json", altType: "application/vnd.npm.install-v1+json", alt: abbrev}
	}
	return u, nil
}

// npmTarball builds a package tarball as `npm pack` lays it out.
func npmTarball(name, version string) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range []struct{ name, body string }{
		{"package/package.json", fmt.Sprintf(`{"name":%q,"version":%q,"main":"index.js"}`, name, version)},
		{"package/index.js", fmt.Sprintf("module.exports = %q;\n", version)},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), ModTime: time.Unix(1700000000, 0)}); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
