//go:build !linux

package blob

import "os"

// fileStamp identifies one state of a file (without the change time, which
// this platform's os.FileInfo does not expose portably).
func fileStamp(fi os.FileInfo) string { return fileVersion(fi) }
