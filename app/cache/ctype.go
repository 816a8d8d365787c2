package cache

import (
	"mime"
	"path"
	"strings"

	"github.com/gabriel-vasile/mimetype"
)

// genericTypes say nothing about the content; a better type is looked for.
var genericTypes = map[string]bool{
	"": true, "application/octet-stream": true, "binary/octet-stream": true,
	"application/x-download": true, "application/force-download": true,
	"application/download": true, "application/unknown": true,
}

// byExt covers artifact formats the system MIME table often lacks.
var byExt = map[string]string{
	".tar.gz": "application/gzip", ".tgz": "application/gzip", ".gz": "application/gzip",
	".zip": "application/zip", ".xz": "application/x-xz", ".bz2": "application/x-bzip2",
	".zst": "application/zstd", ".tar": "application/x-tar", ".rpm": "application/x-rpm",
	".deb": "application/vnd.debian.binary-package", ".apk": "application/gzip",
	".jar": "application/java-archive", ".xml": "application/xml", ".json": "application/json",
	".yaml": "application/yaml", ".yml": "application/yaml", ".asc": "application/pgp-signature",
	".sig": "application/pgp-signature", ".sqlite": "application/vnd.sqlite3", ".txt": "text/plain; charset=utf-8",
	".sha256": "text/plain; charset=utf-8", ".sha512": "text/plain; charset=utf-8", ".md5": "text/plain; charset=utf-8",
	".iso": "application/x-iso9660-image", ".img": "application/octet-stream", ".exe": "application/vnd.microsoft.portable-executable",
	".msi": "application/x-msi", ".dmg": "application/x-apple-diskimage", ".whl": "application/zip", ".nupkg": "application/zip",
	".crate": "application/gzip", ".html": "text/html; charset=utf-8",
}

// DetectType picks the Content-Type: the upstream's when specific, else by
// file extension, else by sniffing the first bytes.
func DetectType(upstreamType, filename string, head []byte) string {
	ut := strings.TrimSpace(upstreamType)
	base := strings.ToLower(strings.TrimSpace(strings.SplitN(ut, ";", 2)[0]))
	if !genericTypes[base] {
		return ut
	}
	lower := strings.ToLower(filename)
	for _, double := range []string{".tar.gz", ".tar.xz", ".tar.bz2", ".tar.zst"} {
		if strings.HasSuffix(lower, double) {
			return byExt[path.Ext(lower)]
		}
	}
	ext := path.Ext(lower)
	if t, ok := byExt[ext]; ok {
		return t
	}
	if ext != "" {
		if t := mime.TypeByExtension(ext); t != "" {
			return t
		}
	}
	if len(head) > 0 {
		return mimetype.Detect(head).String()
	}
	return "application/octet-stream"
}
