package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"

	"artifactapi/app/blob"
	"artifactapi/db"
)

// Serve answers req through write, the one place where a cached entry whose
// stored object is gone or was replaced is recovered from. write must return
// the error of Result.Open unchanged when it fails before anything was sent;
// Serve then calls reset (which clears the partial response, may be nil) and
// tries again:
//
//  1. the entry came from this process's memory: it is dropped there and
//     read again from the metadata store (another replica replaced it);
//  2. the metadata store still describes an object that is not there: the
//     entry is forgotten and fetched again from the upstream — unless the
//     object under its key holds the same bytes at another version (a
//     copied or restored store): that version is recorded (readopt).
//
// Because every read names the object version recorded at commit, a stale
// entry can only fail here; it is never served with another object's bytes.
func (e *Engine) Serve(ctx context.Context, req Request, write func(*Result) error, reset func()) error {
	for attempt := 0; ; attempt++ {
		res, err := e.Get(ctx, req)
		if err != nil {
			return err
		}
		err = write(res)
		if res.Source != "cache" || attempt >= 2 || !Recoverable(err) {
			return err
		}
		e.o.Metrics.Errors.WithLabelValues("blob_replaced").Inc()
		e.recoverEntry(ctx, res, attempt, err)
		if reset != nil {
			reset()
		}
	}
}

// Recoverable reports a read of a cached entry whose object is no longer the
// one its metadata describes.
func Recoverable(err error) bool {
	return errors.Is(err, blob.ErrNotFound) || errors.Is(err, blob.ErrVersionMismatch)
}

// recoverEntry drops what made a read of res fail: the in-memory entry on
// the first attempt, the stored metadata (when it still names the missing
// object) on the next.
func (e *Engine) recoverEntry(ctx context.Context, res *Result, attempt int, readErr error) {
	a := res.Artifact
	e.memo.del(mkey(a.Remote, a.Path))
	if attempt == 0 {
		return
	}
	cur, err := e.o.Meta.GetArtifact(ctx, a.Remote, a.Path)
	if err != nil || cur.BlobVersion != a.BlobVersion || cur.StorageKey != a.StorageKey {
		return // already changed: the next lookup sees the new entry
	}
	if errors.Is(readErr, blob.ErrVersionMismatch) && e.readopt(ctx, cur) {
		return
	}
	e.Forget(ctx, a.Remote, a.Path)
}

// readopt keeps an entry whose object was rewritten with the same bytes: a
// data directory copied or restored file by file (new inodes and times), a
// bucket copied to another one (new ETags). The object under the entry's
// key is read at its current version, and when its size and sha256 are the
// entry's, that version is recorded (only while the row still names the
// old one). Without this, a restored local repository would lose its
// uploads; with it, a cached artifact is not downloaded again.
func (e *Engine) readopt(ctx context.Context, a db.Artifact) bool {
	if a.SHA256 == "" {
		return false
	}
	info, err := e.o.Blobs.Stat(ctx, a.StorageKey)
	if err != nil || info.Size != a.Size || info.Version == "" {
		return false
	}
	rc, err := e.o.Blobs.OpenVersion(ctx, a.StorageKey, info.Version, 0, -1)
	if err != nil {
		return false
	}
	defer rc.Close()
	h := sha256.New()
	if n, err := io.Copy(h, rc); err != nil || n != a.Size || hex.EncodeToString(h.Sum(nil)) != a.SHA256 {
		return false
	}
	ok, err := e.o.Meta.SetBlobVersion(ctx, a.Remote, a.Path, a.StorageKey, a.BlobVersion, info.Version)
	if err != nil || !ok {
		return false
	}
	e.o.Log.Info("stored object rewritten with the same bytes; its new version is recorded", "remote", a.Remote, "path", a.Path)
	e.memo.del(mkey(a.Remote, a.Path))
	e.invalidate(ctx, a.Remote, a.Path)
	return true
}
