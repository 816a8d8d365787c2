//go:build linux

package blob

import (
	"os"
	"strconv"
	"syscall"
)

// fileStamp identifies one state of a file: inode, size, modification and
// change time. Writing to the file, truncating it or replacing it changes
// it; the change time cannot be set back from user space.
func fileStamp(fi os.FileInfo) string {
	var ino uint64
	var ctime int64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino, ctime = st.Ino, st.Ctim.Nano()
	}
	b := make([]byte, 0, 64)
	b = strconv.AppendUint(b, ino, 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, fi.Size(), 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, fi.ModTime().UnixNano(), 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, ctime, 16)
	return string(b)
}
