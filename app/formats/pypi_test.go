package formats_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// buildWheel builds a minimal pure-Python wheel (PEP 427): a module, and
// the dist-info METADATA, WHEEL and RECORD.
func buildWheel(t *testing.T, name, version string) (filename string, body, metadata []byte) {
	t.Helper()
	mod := strings.ReplaceAll(name, "-", "_")
	distInfo := mod + "-" + version + ".dist-info/"
	files := []struct{ name, body string }{
		{mod + "/__init__.py", fmt.Sprintf("VERSION = %q\n", version)},
		{distInfo + "METADATA", fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\nRequires-Python: >=3.7\n", name, version)},
		{distInfo + "WHEEL", "Wheel-Version: 1.0\nGenerator: artifactapi-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}
	var record strings.Builder
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(n, b string) {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate, Modified: time.Unix(1700000000, 0)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write([]byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		sum := sha256.Sum256([]byte(f.body))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.body))
		add(f.name, f.body)
	}
	record.WriteString(distInfo + "RECORD,,\n")
	add(distInfo+"RECORD", record.String())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return mod + "-" + version + "-py3-none-any.whl", buf.Bytes(), []byte(files[1].body)
}

// wheelFile is one distribution on the test's files host.
type wheelFile struct {
	filename, url string
	body          []byte
	// metadata is the wheel's METADATA, served next to it as
	// <url>.metadata (PEP 658).
	metadata []byte
}

func (w wheelFile) sha256() string { return sha256Hex(w.body) }

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// pypiProjectPage is a PEP 503 page and its PEP 691 JSON equivalent.
func pypiProjectPage(name string, wheels []wheelFile) file {
	var h strings.Builder
	fmt.Fprintf(&h, "<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\"><title>Links for %s</title></head><body>\n<h1>Links for %s</h1>\n", name, name)
	var js []string
	for _, w := range wheels {
		fmt.Fprintf(&h, "<a href=\"%s#sha256=%s\" data-requires-python=\"&gt;=3.7\" data-dist-info-metadata=\"sha256=%s\">%s</a><br/>\n",
			w.url, w.sha256(), sha256Hex(w.metadata), w.filename)
		js = append(js, fmt.Sprintf(`{"filename":%q,"url":%q,"hashes":{"sha256":%q},"requires-python":">=3.7","dist-info-metadata":{"sha256":%q},"yanked":false}`,
			w.filename, w.url, w.sha256(), sha256Hex(w.metadata)))
	}
	h.WriteString("</body></html>\n")
	return file{body: []byte(h.String()), contentType: "text/html", byAccept: map[string]file{
		"application/vnd.pypi.simple.v1+json": {
			body:        []byte(fmt.Sprintf(`{"meta":{"api-version":"1.0"},"name":%q,"files":[%s]}`, name, strings.Join(js, ","))),
			contentType: "application/vnd.pypi.simple.v1+json",
		},
	}}
}

// TestPipClient: `pip download --index-url <remote>/simple/` through a pypi
// remote whose simple pages link the wheels on a separate files host
// (files_url). The files host is reached only through artifactapi, a new
// version appears after mutable_ttl, and everything downloaded before is
// served with both upstream hosts stopped. Both representations of a
// project page (PEP 503 HTML and PEP 691 JSON) are checked.
func TestPipClient(t *testing.T) {
	python := requireTool(t, "python3", "python3 and python3-venv")
	venv := t.TempDir()
	runTool(t, venv, nil, python, "-m", "venv", venv)
	pip := filepath.Join(venv, "bin", "pip")
	for _, mode := range apptest.Modes {
		t.Run(string(mode), func(t *testing.T) { testPipClient(t, pip, mode) })
	}
}

func testPipClient(t *testing.T, pip string, mode apptest.Mode) {
	index, files := newFakeHost(t), newFakeHost(t)
	var wheels []wheelFile
	publish := func(version string) wheelFile {
		name, body, metadata := buildWheel(t, "demo-pkg", version)
		w := wheelFile{filename: name, url: files.URL() + "/packages/ab/cd/" + name, body: body, metadata: metadata}
		files.put("/packages/ab/cd/"+name, body, "application/octet-stream")
		files.put("/packages/ab/cd/"+name+".metadata", metadata, "text/plain")
		wheels = append(wheels, w)
		index.putVariants("/pypi/simple/demo-pkg/", pypiProjectPage("demo-pkg", wheels))
		return w
	}
	v1 := publish("1.0.0")

	in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: fmt.Sprintf(`
remotes:
  pypi:
    base_url: %q
    package: pypi
    files_url: %q
    cache:
      mutable_ttl: 1
`, index.URL()+"/pypi", files.URL())})

	download := func(w wheelFile, version string) {
		t.Helper()
		out := t.TempDir()
		runTool(t, out, []string{"PIP_CONFIG_FILE=/dev/null", "PIP_NO_CACHE_DIR=1", "PIP_DISABLE_PIP_VERSION_CHECK=1"},
			pip, "download", "--index-url", in.URL+"/api/pypi/simple/", "--no-deps", "-d", out, "Demo_Pkg=="+version)
		got, err := os.ReadFile(filepath.Join(out, w.filename))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, w.body) {
			t.Fatalf("pip download %s: bytes differ from the upstream's", version)
		}
	}

	download(v1, "1.0.0")
	// pip reads the PEP 658 metadata file when the page offers it, then the wheel.
	withMeta, _ := files.count("/packages/ab/cd/" + v1.filename)
	meta, _ := files.count("/packages/ab/cd/" + v1.filename + ".metadata")
	if withMeta-meta != 1 || meta > 1 {
		t.Fatalf("files host: the wheel fetched %d times and its metadata %d times; want once each at most", withMeta-meta, meta)
	}
	t.Logf("pip read the PEP 658 metadata file %d time(s) through the remote", meta)
	if _, direct := files.count("/"); direct != 0 {
		t.Fatalf("files host: %d requests not from artifactapi", direct)
	}
	if _, direct := index.count("/"); direct != 0 {
		t.Fatalf("index host: %d requests not from artifactapi", direct)
	}

	// Both representations carry the rewritten link with its hash and attributes.
	_, hdr, html := in.Get(t, "/api/pypi/simple/demo-pkg/", map[string]string{"Accept": "text/html"})
	wantLink := in.URL + "/api/pypi/_ext/" + files.Host() + "/packages/ab/cd/" + v1.filename + "#sha256=" + v1.sha256()
	for _, want := range []string{`href="` + wantLink + `"`, `data-requires-python="&gt;=3.7"`, `data-dist-info-metadata="sha256=` + sha256Hex(v1.metadata) + `"`} {
		if !strings.Contains(string(html), want) {
			t.Fatalf("simple page (%s) lacks %s:\n%s", hdr.Get("Content-Type"), want, html)
		}
	}
	_, hdr, js := in.Get(t, "/api/pypi/simple/demo-pkg/", map[string]string{"Accept": "application/vnd.pypi.simple.v1+json"})
	if !strings.Contains(hdr.Get("Content-Type"), "json") || !strings.Contains(string(js), `"url":"`+strings.TrimSuffix(wantLink, "#sha256="+v1.sha256())+`"`) ||
		!strings.Contains(string(js), `"sha256":"`+v1.sha256()+`"`) || !strings.Contains(string(js), `"yanked":false`) {
		t.Fatalf("PEP 691 page (%s) not rewritten as expected:\n%s", hdr.Get("Content-Type"), js)
	}

	// A new version appears once mutable_ttl has passed.
	v2 := publish("1.1.0")
	testenv.Eventually(t, 30*time.Second, "the project page through the remote to list 1.1.0", func() bool {
		_, _, b := in.Get(t, "/api/pypi/simple/demo-pkg/", map[string]string{"Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.01"})
		return bytes.Contains(b, []byte(v2.filename))
	})
	download(v2, "1.1.0")

	// Both upstream hosts stopped: everything comes from the cache.
	index.stop()
	files.stop()
	if _, direct := files.count("/"); direct != 0 {
		t.Fatalf("files host: %d requests not from artifactapi", direct)
	}
	download(v1, "1.0.0")
	download(v2, "1.1.0")
}
