package formats

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
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
}

// Checksums returns where the checksum of the file at p (a clean path, not
// a metadata document) of remote r may be found; ok is false when its
// format publishes none for it.
func Checksums(r *config.Remote, p string) (ChecksumLookup, bool) {
	if r.IsLocal() {
		return ChecksumLookup{}, false
	}
	switch r.Package {
	case config.PackageNPM:
		return npmChecksums(r, p)
	}
	return ChecksumLookup{}, false
}

// npmChecksums: a tarball "<name>/-/<file>.tgz" is listed by the package
// document of <name>, full or abbreviated, as the dist of the version whose
// dist.tarball has that file name: dist.integrity, else dist.shasum.
func npmChecksums(r *config.Remote, p string) (ChecksumLookup, bool) {
	name, file, ok := strings.Cut(p, "/-/")
	if !ok || !npmDocumentPath.MatchString(name) || file == "" || strings.Contains(file, "/") {
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
		if err != nil {
			continue
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
