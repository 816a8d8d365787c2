package cache

import (
	"context"
	"errors"

	"artifactapi/app/blob"
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
//     entry is forgotten and fetched again from the upstream.
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
		e.recoverEntry(ctx, res, attempt)
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
func (e *Engine) recoverEntry(ctx context.Context, res *Result, attempt int) {
	a := res.Artifact
	e.memo.del(mkey(a.Remote, a.Path))
	if attempt == 0 {
		return
	}
	cur, err := e.o.Meta.GetArtifact(ctx, a.Remote, a.Path)
	if err != nil || cur.BlobVersion != a.BlobVersion || cur.StorageKey != a.StorageKey {
		return // already changed: the next lookup sees the new entry
	}
	e.Forget(ctx, a.Remote, a.Path)
}
