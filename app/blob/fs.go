package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// tmpDir is the directory under the root that holds uploads in progress.
const tmpDir = ".tmp"

// FS is a Store keeping each object as a regular file under a root directory.
// Writes go to a temporary file under root/.tmp and are renamed into place,
// so readers see either the old or the new object, never a partial one.
//
// Because NewFS clears root/.tmp, a root must be used by one process at a time.
type FS struct {
	root   string
	tmp    string
	rename func(oldpath, newpath string) error // os.Rename; replaced in tests
}

var (
	_ Store       = (*FS)(nil)
	_ FileAdopter = (*FS)(nil)
)

// NewFS returns a filesystem store rooted at root, creating the directory if
// needed and removing temporary files left behind by a killed process.
func NewFS(root string) (*FS, error) {
	if root == "" {
		return nil, errors.New("blob: filesystem root is empty")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("blob: filesystem root %s: %w", root, err)
	}
	tmp := filepath.Join(abs, tmpDir)
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("blob: clean %s: %w", tmp, err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("blob: create %s: %w", tmp, err)
	}
	return &FS{root: abs, tmp: tmp, rename: os.Rename}, nil
}

// CheckKey reports whether key is a valid object key: a non-empty relative
// slash path without empty, "." or ".." segments, backslashes or NUL bytes,
// and not inside the reserved ".tmp" directory.
func CheckKey(key string) error {
	switch {
	case key == "":
		return errors.New("blob: empty key")
	case strings.ContainsAny(key, "\\\x00"):
		return fmt.Errorf("blob: invalid key %q: backslash or NUL", key)
	case strings.HasPrefix(key, "/"):
		return fmt.Errorf("blob: invalid key %q: absolute", key)
	}
	for i, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." || (i == 0 && seg == tmpDir) {
			return fmt.Errorf("blob: invalid key %q: bad segment %q", key, seg)
		}
	}
	return nil
}

// path maps a valid key to its file path.
func (s *FS) path(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// isNotExist also treats "a path component is a file" as a missing object.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

// Read implements io.Reader.
func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Put implements Store. r is written to a synced temporary file which is then
// renamed over key; on any error the temporary file is removed.
func (s *FS) Put(ctx context.Context, key string, r io.Reader, size int64) (string, error) {
	dst, err := s.path(key)
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp(s.tmp, "put-*")
	if err != nil {
		return "", fmt.Errorf("blob: put %s: %w", key, err)
	}
	tmp := f.Name()
	defer func() {
		if f != nil {
			_ = f.Close()
		}
		_ = os.Remove(tmp) // no-op once renamed
	}()
	n, err := io.Copy(f, ctxReader{ctx, r})
	if err != nil {
		return "", fmt.Errorf("blob: put %s: %w", key, err)
	}
	if size >= 0 && n != size {
		return "", fmt.Errorf("blob: put %s: got %d bytes, want %d", key, n, size)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("blob: put %s: %w", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("blob: put %s: %w", key, err)
	}
	err = f.Close()
	f = nil
	if err != nil {
		return "", fmt.Errorf("blob: put %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("blob: put %s: %w", key, err)
	}
	if err := s.publish(tmp, dst); err != nil {
		return "", fmt.Errorf("blob: put %s: %w", key, err)
	}
	return fileVersion(fi), nil
}

// fileVersion identifies one file: its inode, modification time and size.
// A rename keeps all three; a file written later under the same name has
// another inode or mtime (an inode is reused only after its file is gone,
// and then with a new mtime).
func fileVersion(fi os.FileInfo) string {
	var b [64]byte
	return string(appendFileVersion(b[:0], fi))
}

// appendFileVersion appends fileVersion(fi) to b (no allocation on a hit).
func appendFileVersion(b []byte, fi os.FileInfo) []byte {
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	b = strconv.AppendUint(b, ino, 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, fi.ModTime().UnixNano(), 16)
	b = append(b, '-')
	return strconv.AppendInt(b, fi.Size(), 16)
}

// publish renames src to dst, creating dst's directory. A concurrent Delete
// may remove the freshly created (still empty) directory, so retry a few times.
func (s *FS) publish(src, dst string) error {
	dir := filepath.Dir(dst)
	var err error
	for range 5 {
		if err = os.MkdirAll(dir, 0o755); err == nil {
			if err = s.rename(src, dst); err == nil {
				syncDir(dir)
				return nil
			}
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if _, serr := os.Lstat(src); serr != nil {
			return err // the source itself is gone
		}
	}
	return err
}

// syncDir makes a rename durable; failure only weakens crash safety.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// Open implements Store.
func (s *FS) Open(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	return s.OpenVersion(ctx, key, "", off, length)
}

// OpenVersion implements Store. The version is checked on the open file
// itself, so the bytes read are those of that version whatever is renamed
// over the key afterwards. Reading a whole object from offset 0 returns the
// *os.File itself, so io.Copy to a socket can use sendfile.
func (s *FS) OpenVersion(ctx context.Context, key, version string, off, length int64) (io.ReadCloser, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("blob: open %s: %w", key, err)
	}
	f, err := os.Open(p)
	if err != nil {
		if isNotExist(err) {
			return nil, fmt.Errorf("blob: open %s: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("blob: open %s: %w", key, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = ErrNotFound
	}
	var vb [64]byte
	if err == nil && version != "" && string(appendFileVersion(vb[:0], fi)) != version {
		err = ErrVersionMismatch
	}
	if err == nil {
		err = checkRange(off, fi.Size())
	}
	if err == nil && off > 0 {
		_, err = f.Seek(off, io.SeekStart)
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("blob: open %s: %w", key, err)
	}
	if length < 0 || length >= fi.Size()-off {
		return f, nil
	}
	return &limitedFile{lr: io.LimitedReader{R: f, N: length}, f: f}, nil
}

// checkRange validates an Open offset against the object size.
func checkRange(off, size int64) error {
	if off < 0 || off > size {
		return fmt.Errorf("offset %d out of range for size %d", off, size)
	}
	return nil
}

// limitedFile reads part of a file and closes the file.
type limitedFile struct {
	lr io.LimitedReader
	f  *os.File
}

func (l *limitedFile) Read(p []byte) (int, error) { return l.lr.Read(p) }
func (l *limitedFile) Close() error               { return l.f.Close() }

// File implements FileReader: what is left is the next N bytes of f.
func (l *limitedFile) File() (*os.File, int64) { return l.f, l.lr.N }

// Stat implements Store.
func (s *FS) Stat(ctx context.Context, key string) (Info, error) {
	p, err := s.path(key)
	if err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(p)
	if err == nil && !fi.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err != nil {
		if isNotExist(err) {
			err = ErrNotFound
		}
		return Info{}, fmt.Errorf("blob: stat %s: %w", key, err)
	}
	return Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime(), Version: fileVersion(fi)}, nil
}

// Delete implements Store. It also removes parent directories left empty.
func (s *FS) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		if isNotExist(err) {
			return nil
		}
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	if fi.IsDir() {
		return nil // a key prefix, not an object
	}
	if err := os.Remove(p); err != nil && !isNotExist(err) {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	for dir := filepath.Dir(p); dir != s.root && strings.HasPrefix(dir, s.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break // not empty (or already gone)
		}
	}
	return nil
}

// List implements Store. Objects are visited in lexical order per directory;
// an error returned by fn stops the walk and is returned unchanged.
func (s *FS) List(ctx context.Context, prefix string, fn func(Info) error) error {
	start := s.root
	if i := strings.LastIndex(prefix, "/"); i > 0 && CheckKey(prefix[:i]) == nil {
		start = filepath.Join(s.root, filepath.FromSlash(prefix[:i]))
	}
	errStop := errors.New("stop")
	var fnErr error
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if isNotExist(err) {
				return nil // missing start or removed while walking
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if p == s.tmp {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if isNotExist(err) {
				return nil // deleted while walking
			}
			return err
		}
		if fnErr = fn(Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}); fnErr != nil {
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("blob: list %q: %w", prefix, err)
	}
	return nil
}

// Ping implements Store: the root must be a directory we can create files in.
func (s *FS) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("blob: ping %s: %w", s.root, err)
	}
	f, err := os.CreateTemp(s.tmp, "ping-*")
	if err != nil {
		return fmt.Errorf("blob: ping %s: %w", s.root, err)
	}
	_ = f.Close()
	_ = os.Remove(f.Name())
	return nil
}

// Describe implements Store.
func (s *FS) Describe() string { return "filesystem " + s.root }

// Adopt implements FileAdopter: the complete file at path is synced and
// renamed to key (path no longer exists afterwards). Across filesystems it is
// copied with Put and then removed.
func (s *FS) Adopt(ctx context.Context, key, path string) (string, error) {
	dst, err := s.path(key)
	if err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("blob: adopt %s: %w", key, err)
	}
	defer f.Close()
	err = f.Sync()
	var fi os.FileInfo
	if err == nil {
		fi, err = f.Stat()
	}
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", path)
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return "", fmt.Errorf("blob: adopt %s: %w", key, err)
	}
	err = s.publish(path, dst)
	if errors.Is(err, syscall.EXDEV) {
		v, err := s.Put(ctx, key, f, fi.Size())
		if err != nil {
			return "", err
		}
		if err := os.Remove(path); err != nil {
			return "", fmt.Errorf("blob: adopt %s: %w", key, err)
		}
		return v, nil
	}
	if err != nil {
		return "", fmt.Errorf("blob: adopt %s: %w", key, err)
	}
	return fileVersion(fi), nil
}
