package formats

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html"
	"net/url"
	"path"
	"strings"

	"artifactapi/app/config"
)

// ChecksumLookup says where the checksum that a format publishes for one
// of its files may be found: in a metadata document the cache may already
// hold. The file is then verified on download against it.
type ChecksumLookup struct {
	// Docs are the cache keys of the documents that may list the file, in
	// the order to try them (every representation of each).
	Docs []string
	// Find returns the file's digest as a document (at most MaxMetadata
	// bytes, its stored Content-Type) lists it, in cache.Request's
	// ExpectDigest form ("sha512:<hex>", "sha256:<hex>", "sha1:<hex>"), or
	// "" when the document does not list it.
	Find func(doc []byte, contentType string) string
	// Fetch, when set, is the one document that is fetched from the
	// upstream (and cached) when none of Docs is held: a small file the
	// client asks for right after the artifact anyway (Maven's .sha1).
	Fetch string
}

// CarriesChecksums reports whether r's format lists checksums of its files
// in its metadata (Checksums may find one): npm, pypi and maven remotes.
func CarriesChecksums(r *config.Remote) bool {
	switch r.Package {
	case config.PackageNPM, config.PackagePyPI, config.PackageMaven:
		return !r.IsLocal()
	}
	return false
}

// Checksums returns where the checksum of the file at p (a clean path, not
// a metadata document) of remote r may be found; ok is false when its
// format publishes none for it.
func Checksums(r *config.Remote, p string) (ChecksumLookup, bool) {
	if !CarriesChecksums(r) {
		return ChecksumLookup{}, false
	}
	switch r.Package {
	case config.PackageNPM:
		return npmChecksums(r, p)
	case config.PackagePyPI:
		return pypiChecksums(r, p)
	case config.PackageMaven:
		return mavenChecksums(p)
	}
	return ChecksumLookup{}, false
}

// npmChecksums: a tarball "<name>/-/<file>.tgz" is listed by the package
// document of <name>, full or abbreviated, as the dist of the version whose
// dist.tarball has that file name: dist.integrity, else dist.shasum.
func npmChecksums(r *config.Remote, p string) (ChecksumLookup, bool) {
	name, file, ok := strings.Cut(p, "/-/")
	if !ok || !IsNPMDocumentPath(name) || file == "" || strings.Contains(file, "/") {
		return ChecksumLookup{}, false
	}
	return ChecksumLookup{Docs: Keys(r, name), Find: func(doc []byte, _ string) string {
		return npmTarballDigest(doc, file)
	}}, true
}

// npmTarballDigest finds the digest of tarball file in a package document.
func npmTarballDigest(doc []byte, file string) string {
	var d struct {
		Versions map[string]struct {
			Dist struct {
				Tarball   string `json:"tarball"`
				Integrity string `json:"integrity"`
				Shasum    string `json:"shasum"`
			} `json:"dist"`
		} `json:"versions"`
	}
	if json.Unmarshal(doc, &d) != nil {
		return ""
	}
	for _, v := range d.Versions {
		u, err := url.Parse(v.Dist.Tarball)
		if err != nil || path.Base(u.Path) != file {
			continue
		}
		if dg := sriDigest(v.Dist.Integrity); dg != "" {
			return dg
		}
		if s := strings.ToLower(v.Dist.Shasum); len(s) == 40 && isHex(s) {
			return "sha1:" + s
		}
		return ""
	}
	return ""
}

// sriDigest converts the strongest hash of a Subresource Integrity value
// ("sha512-<base64> …", https://www.w3.org/TR/SRI/#the-integrity-attribute)
// to "<algo>:<hex>"; "" when it has none the engine checks.
func sriDigest(integrity string) string {
	best := map[string]string{}
	for _, tok := range strings.Fields(integrity) {
		algo, b64, ok := strings.Cut(tok, "-")
		if !ok {
			continue
		}
		b64, _, _ = strings.Cut(b64, "?") // options follow '?'
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(raw)*2 != hexLen[algo] {
			continue // not a digest of the algorithm's size
		}
		best[algo] = hex.EncodeToString(raw)
	}
	for _, algo := range []string{"sha512", "sha256", "sha1"} {
		if h, ok := best[algo]; ok {
			return algo + ":" + h
		}
	}
	return ""
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// pypiChecksums: a distribution is listed, with its digest, by the simple
// page of its project (PEP 503 "#sha256=" fragments, PEP 691 "hashes"),
// HTML or JSON. The project is named by the file name: a wheel's first
// component (PEP 427), an sdist's part before a "-<digit>" (an old sdist's
// name may itself hold dashes, so every such split is a candidate).
func pypiChecksums(r *config.Remote, p string) (ChecksumLookup, bool) {
	if strings.HasPrefix(p, "simple/") {
		return ChecksumLookup{}, false
	}
	file := path.Base(p)
	names := pypiProjects(file)
	if len(names) == 0 {
		return ChecksumLookup{}, false
	}
	var docs []string
	for _, n := range names {
		docs = append(docs, Keys(r, "simple/"+n+"/")...)
	}
	return ChecksumLookup{Docs: docs, Find: func(doc []byte, contentType string) string {
		return pypiFileDigest(doc, contentType, file)
	}}, true
}

// pypiProjects returns the normalised project names a distribution file
// name may belong to, most likely first.
func pypiProjects(file string) []string {
	if strings.HasSuffix(file, ".metadata") || strings.HasPrefix(file, ".") {
		return nil // PEP 658 metadata carries its own data-dist-info-metadata hash
	}
	var out []string
	seen := map[string]bool{}
	add := func(n string) {
		n = NormalizePyPIName(n)
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if strings.HasSuffix(file, ".whl") {
		if name, _, ok := strings.Cut(file, "-"); ok {
			add(name)
		}
		return out
	}
	for i := 0; i+1 < len(file); i++ {
		if file[i] == '-' && file[i+1] >= '0' && file[i+1] <= '9' {
			add(file[:i])
		}
	}
	return out
}

// pypiFileDigest finds the digest a simple page lists for file.
func pypiFileDigest(doc []byte, contentType, file string) string {
	if isJSON(contentType, doc) {
		var d struct {
			Files []struct {
				Filename string            `json:"filename"`
				Hashes   map[string]string `json:"hashes"`
			} `json:"files"`
		}
		if json.Unmarshal(doc, &d) != nil {
			return ""
		}
		for _, f := range d.Files {
			if f.Filename == file {
				return strongest(f.Hashes)
			}
		}
		return ""
	}
	for _, m := range pypiHref.FindAllSubmatch(doc, -1) {
		val := string(m[2])
		if len(val) >= 2 && (val[0] == '"' || val[0] == '\'') {
			val = val[1 : len(val)-1]
		}
		u, err := url.Parse(html.UnescapeString(strings.TrimSpace(val)))
		if err != nil || path.Base(u.Path) != file {
			continue
		}
		algo, hexd, ok := strings.Cut(u.Fragment, "=")
		if !ok {
			return ""
		}
		return strongest(map[string]string{algo: hexd})
	}
	return ""
}

// strongest returns the strongest of the hashes (algorithm → hex) that the
// engine checks, as "<algo>:<hex>"; "" when there is none.
func strongest(hashes map[string]string) string {
	for _, algo := range []string{"sha512", "sha256", "sha1"} {
		if h := strings.ToLower(hashes[algo]); h != "" && len(h) == hexLen[algo] && isHex(h) {
			return algo + ":" + h
		}
	}
	return ""
}

var hexLen = map[string]int{"sha512": 128, "sha256": 64, "sha1": 40}

// mavenChecksums: a release file is verified against the checksum file the
// upstream publishes beside it: a .sha512 or .sha256 already cached, else
// its .sha1, which Maven fetches next anyway (so fetching it first costs
// no extra upstream request). Checksum files, signatures, metadata and
// SNAPSHOT files (which change) are not.
func mavenChecksums(p string) (ChecksumLookup, bool) {
	base := path.Base(p)
	if strings.Contains(p, "-SNAPSHOT/") || strings.HasPrefix(base, "maven-metadata") || !strings.Contains(p, "/") {
		return ChecksumLookup{}, false
	}
	for _, ext := range []string{".md5", ".sha1", ".sha256", ".sha512", ".asc"} {
		if strings.HasSuffix(base, ext) {
			return ChecksumLookup{}, false
		}
	}
	return ChecksumLookup{
		Docs:  []string{p + ".sha512", p + ".sha256", p + ".sha1"},
		Fetch: p + ".sha1",
		Find:  mavenDigest,
	}, true
}

// mavenDigest reads a Maven checksum file: the hex digest, alone or
// followed by the file name ("<hex>  <file>", as sha1sum writes it); its
// length names the algorithm.
func mavenDigest(doc []byte, _ string) string {
	f := strings.Fields(string(doc))
	if len(f) == 0 {
		return ""
	}
	h := strings.ToLower(f[0])
	for algo, n := range hexLen {
		if len(h) == n {
			return strongest(map[string]string{algo: h})
		}
	}
	return ""
}
