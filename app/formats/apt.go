package formats

import (
	"path"
	"strings"
)

// APT repositories (https://wiki.debian.org/DebianRepository/Format): a
// suite's Release file (InRelease, or Release + Release.gpg) lists the
// index files of the suite (Packages*, Sources*, Contents*, i18n/*) with
// their sizes and hashes, and apt refuses an index whose hash is not the one
// its Release names. When the Release says "Acquire-By-Hash: yes", apt
// fetches each index at <dir>/by-hash/<Algo>/<hash>: content-addressed,
// always consistent, immutable. The plain index paths are not: the remote
// keeps them only as long as the Release file they were cached with, so a
// new Release is never served with an old Packages.

// APTSuite reports whether p is the Release file of a suite
// ("…/dists/<suite>/InRelease", "Release" or "Release.gpg"), and returns the
// suite's directory with a trailing '/'.
func APTSuite(p string) (dir string, ok bool) {
	switch path.Base(p) {
	case "InRelease", "Release", "Release.gpg":
	default:
		return "", false
	}
	dir = path.Dir(p) + "/"
	if !strings.HasPrefix(dir, "dists/") && !strings.Contains(dir, "/dists/") {
		return "", false
	}
	return dir, true
}

// APTSuiteIndex reports whether p is one of the plain index files of the
// suite in dir (as APTSuite returns it): under dir, neither a Release file
// nor a by-hash/ path. Those are the files evicted when the suite's Release
// file changes.
func APTSuiteIndex(dir, p string) bool {
	rest, ok := strings.CutPrefix(p, dir)
	if !ok || rest == "" {
		return false
	}
	if _, release := APTSuite(p); release {
		return false
	}
	return !strings.HasPrefix(rest, "by-hash/") && !strings.Contains(rest, "/by-hash/")
}
