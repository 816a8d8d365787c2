package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"artifactapi/app/config"
	"artifactapi/app/coord"
	"artifactapi/db"
)

// maxSegment is the longest path segment an upload may have: the longest
// file name of common filesystems (NAME_MAX), so that both blob stores
// accept the same paths.
const maxSegment = 255

// Upload stores body as path in a local repository. The body is spooled to
// disk while hashed (bounded memory), the optional expected sha256 is checked,
// and only then is the artifact committed. maxSize <= 0 means unlimited. The
// spool file is removed as soon as the upload fails (refused, interrupted,
// wrong checksum, store unavailable).
func (e *Engine) Upload(ctx context.Context, r *config.Remote, p string, body io.Reader, expectSHA string, maxSize int64) (db.Artifact, error) {
	if !r.IsLocal() {
		return db.Artifact{}, &Error{Status: http.StatusMethodNotAllowed, Msg: "uploads are only accepted by local repositories"}
	}
	for _, seg := range strings.Split(p, "/") {
		if len(seg) > maxSegment {
			return db.Artifact{}, &Error{Status: http.StatusBadRequest, Msg: fmt.Sprintf("a path segment is longer than %d bytes", maxSegment)}
		}
	}
	if !r.AllowOverwrite {
		if _, err := e.o.Meta.GetArtifact(ctx, r.Name, p); err == nil {
			return db.Artifact{}, ErrExists
		}
	}
	file, err := os.CreateTemp(e.o.SpoolDir, "upload-*")
	if err != nil {
		return db.Artifact{}, &Error{Status: http.StatusInternalServerError, Msg: "cannot spool upload", Err: err}
	}
	spool := file.Name()
	adopted := false
	defer func() {
		file.Close()
		if !adopted {
			os.Remove(spool)
		}
	}()
	h := sha256.New()
	src := body
	if maxSize > 0 {
		src = io.LimitReader(body, maxSize+1)
	}
	head := make([]byte, sniffLen)
	hn, _ := io.ReadFull(src, head)
	head = head[:hn]
	file.Write(head)
	h.Write(head)
	n, err := io.Copy(io.MultiWriter(file, h), src)
	n += int64(hn)
	if err != nil {
		return db.Artifact{}, &Error{Status: http.StatusBadRequest, Msg: "upload interrupted", Err: err}
	}
	if maxSize > 0 && n > maxSize {
		return db.Artifact{}, ErrTooLarge
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if expectSHA != "" && !strings.EqualFold(strings.TrimPrefix(expectSHA, "sha256:"), sum) {
		return db.Artifact{}, fmt.Errorf("%w: expected %s, got %s", ErrChecksum, expectSHA, sum)
	}
	if err := file.Sync(); err != nil {
		return db.Artifact{}, &Error{Status: http.StatusInternalServerError, Msg: "cannot store upload", Err: err}
	}
	lock, lerr := e.o.Coord.TryLock(ctx, "fill:"+mkey(r.Name, p), e.o.LockTTL)
	if errors.Is(lerr, coord.ErrNotObtained) {
		return db.Artifact{}, &Error{Status: http.StatusConflict, Msg: "another upload of this path is in progress"}
	}
	if lerr == nil {
		defer lock.Release(context.Background())
	}
	if !r.AllowOverwrite {
		if _, err := e.o.Meta.GetArtifact(ctx, r.Name, p); err == nil {
			return db.Artifact{}, ErrExists
		}
	}
	now := e.o.Now()
	a := db.Artifact{
		Remote: r.Name, Path: p, StorageKey: StorageKey(r.Name, p), Size: n, SHA256: sum,
		ContentType: DetectType("", Filename(p), head), Kind: db.KindImmutable,
		CachedAt: now, LastAccess: now, ETag: `"` + sum + `"`,
		LastModified: now.UTC().Format(http.TimeFormat),
	}
	if a.BlobVersion, adopted, err = e.storeFile(ctx, a.StorageKey, spool, file, n); err != nil {
		return db.Artifact{}, &Error{Status: http.StatusServiceUnavailable, Msg: "blob store unavailable", Err: err}
	}
	if err := e.o.Meta.PutArtifact(ctx, a); err != nil {
		return db.Artifact{}, &Error{Status: http.StatusServiceUnavailable, Msg: "metadata store unavailable", Err: err}
	}
	e.memo.del(mkey(r.Name, p))
	e.invalidate(ctx, r.Name, p)
	return a, nil
}

// Evict removes one artifact (metadata first, so it is never served again,
// then its blob) and tells every replica. A remembered upstream 404 of the
// path is forgotten too, so the next request asks the upstream again.
// db.ErrNotFound when neither was cached.
func (e *Engine) Evict(ctx context.Context, remote, p, reason string) error {
	hadMissing := e.forgetMissing(ctx, remote, p)
	a, err := e.o.Meta.DeleteArtifact(ctx, remote, p)
	e.memo.del(mkey(remote, p))
	if errors.Is(err, db.ErrNotFound) && hadMissing {
		return nil
	}
	if err != nil {
		return err
	}
	e.invalidate(ctx, remote, p)
	e.o.Metrics.Evictions.WithLabelValues(remote, reason).Inc()
	// Another path may share the key only if it is the same path: safe to delete.
	if err := e.o.Blobs.Delete(ctx, a.StorageKey); err != nil {
		e.o.Log.Warn("evicted entry's blob not deleted", "key", a.StorageKey, "err", err)
	}
	return nil
}

// afterCommit runs after an artifact is committed (quota enforcement hooks in here).
func (e *Engine) afterCommit(ctx context.Context, a db.Artifact) {
	if e.o.OnCommit != nil {
		e.o.OnCommit(ctx, a)
	}
}
