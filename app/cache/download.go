package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"strconv"

	"artifactapi/app/blob"
	"artifactapi/app/upstream"
	"artifactapi/db"
)

// sniffLen is how many leading bytes are read before headers are published,
// so the content type can be sniffed when neither upstream nor extension tells.
const sniffLen = 3072

// download performs the leader's upstream exchange and commit. It returns
// the outcome label for metrics.
func (e *Engine) download(ctx context.Context, f *fill) string {
	req := f.req
	resolved, cond := e.revalidate(ctx, f)
	if resolved {
		return "revalidated"
	}
	resp, err := req.Origin.Fetch(ctx, http.MethodGet, cond)
	if err != nil {
		if upstream.IsNetwork(err) && f.prev != nil {
			e.serveStale(ctx, f, err)
			return "stale"
		}
		e.o.Metrics.Errors.WithLabelValues("upstream_network").Inc()
		e.fail(f, upstreamErr(err))
		return "network_error"
	}
	switch {
	case resp.StatusCode == http.StatusNotModified && f.prev != nil:
		resp.Body.Close()
		e.refreshed(ctx, f)
		return "not_modified"
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusTooManyRequests && f.prev != nil:
		resp.Body.Close()
		e.serveStale(ctx, f, &upstream.HTTPError{Status: 429, What: "rate limit"})
		return "stale"
	default:
		resp.Body.Close()
		e.o.Metrics.Errors.WithLabelValues("upstream_http").Inc()
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
			e.rememberMissing(ctx, req)
		}
		e.evictExpired(ctx, f, "upstream_"+strconv.Itoa(resp.StatusCode))
		e.fail(f, answerErr(resp.StatusCode, resp.Header))
		return "http_" + strconv.Itoa(resp.StatusCode)
	}
	defer resp.Body.Close()
	return e.stream(ctx, f, resp, true)
}

// spooling is a body on its way to the spool file: the bytes written so
// far and their running digest, so that a download broken midway (a relay
// whose replica died) can be continued from the upstream.
type spooling struct {
	file  *os.File
	h     hash.Hash   // SHA-256 of the body so far
	x     expectation // Request.ExpectDigest, with its own hash when not SHA-256
	total int64
	want  int64 // the whole body's length, -1 when unknown
	art   db.Artifact
}

// stream spools the body, publishing progress to readers, then verifies and
// (when commit is set; a replica relaying a peer's download does not) commits.
func (e *Engine) stream(ctx context.Context, f *fill, resp *upstream.Response, commit bool) string {
	sp, outcome := e.startSpool(ctx, f, resp)
	if sp == nil {
		return outcome
	}
	if commit {
		stopAdvert := e.advertise(ctx, f)
		defer stopAdvert()
	}
	if err := e.copyBody(f, sp, resp); err != nil {
		return e.abort(f, err)
	}
	return e.finish(ctx, f, sp, commit)
}

// startSpool creates the spool file, reads the first bytes (to sniff the
// content type) and publishes the headers to readers. A nil result means the
// fill has failed with the returned outcome.
func (e *Engine) startSpool(ctx context.Context, f *fill, resp *upstream.Response) (*spooling, string) {
	req := f.req
	file, err := os.CreateTemp(e.o.SpoolDir, "fill-*")
	if err != nil {
		e.o.Metrics.Errors.WithLabelValues("storage").Inc()
		if e.noSpace(err) {
			e.fail(f, storageFull(err))
			return nil, "storage_full"
		}
		e.fail(f, &Error{Status: http.StatusInternalServerError, Msg: "cannot create spool file", Err: err})
		return nil, "spool_error"
	}
	f.mu.Lock()
	f.file, f.spool = file, file.Name()
	f.mu.Unlock()

	sp := &spooling{file: file, h: sha256.New(), x: newExpectation(expectedDigest(ctx, req)), want: resp.ContentLength}
	// Read the first bytes to decide the content type before publishing headers.
	head := make([]byte, sniffLen)
	n, rerr := io.ReadFull(resp.Body, head)
	head = head[:n]
	if rerr == io.ErrUnexpectedEOF || rerr == io.EOF {
		rerr = nil
		if resp.ContentLength >= 0 && int64(n) < resp.ContentLength {
			rerr = io.ErrUnexpectedEOF
		}
	}
	if rerr != nil {
		return nil, e.abort(f, fmt.Errorf("read body: %w", rerr))
	}
	if _, err := file.Write(head); err != nil {
		return nil, e.abort(f, fmt.Errorf("write spool: %w", err))
	}
	sp.hash(head)
	sp.total = int64(n)
	e.o.Metrics.UpstreamBytes.WithLabelValues(req.Remote.Name).Add(float64(n))
	now := e.o.Now()
	sp.art = db.Artifact{
		Remote: req.Remote.Name, Path: req.Path, StorageKey: StorageKey(req.Remote.Name, req.Path),
		Size: resp.ContentLength, ContentType: DetectType(resp.Header.Get("Content-Type"), Filename(req.Path), head),
		ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"),
		Kind: req.Verdict.Kind, Pattern: req.Verdict.Pattern, UpstreamURL: finalURL(resp),
		CachedAt: now, LastAccess: now, Pinned: req.Pin,
	}
	f.update(func() {
		f.art, f.sized, f.written, f.ready = sp.art, resp.ContentLength >= 0, int64(n), true
	})
	return sp, ""
}

// copyBody appends the rest of body to the spool, publishing progress per
// chunk. It fails when body breaks or disagrees with the expected length.
func (e *Engine) copyBody(f *fill, sp *spooling, resp *upstream.Response) error {
	buf := make([]byte, 256<<10)
	for {
		m, err := resp.Body.Read(buf)
		if m > 0 {
			if sp.want >= 0 && sp.total+int64(m) > sp.want {
				return fmt.Errorf("upstream sent more than its Content-Length %d", sp.want)
			}
			if _, werr := sp.file.Write(buf[:m]); werr != nil {
				return fmt.Errorf("write spool: %w", werr)
			}
			sp.hash(buf[:m])
			sp.total += int64(m)
			e.o.Metrics.UpstreamBytes.WithLabelValues(f.req.Remote.Name).Add(float64(m))
			total := sp.total
			f.update(func() { f.written = total })
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read body after %d bytes: %w", sp.total, err)
		}
	}
	if sp.want >= 0 && sp.total != sp.want {
		return fmt.Errorf("upstream sent %d of %d bytes: %w", sp.total, sp.want, io.ErrUnexpectedEOF)
	}
	return nil
}

// finish verifies the complete spool, lets readers take the last byte and
// commits (unless commit is false: a relay of another replica's download).
func (e *Engine) finish(ctx context.Context, f *fill, sp *spooling, commit bool) string {
	req := f.req
	sum := hex.EncodeToString(sp.h.Sum(nil))
	if got, ok := sp.x.check(sum); !ok {
		e.o.Metrics.Errors.WithLabelValues("verify").Inc()
		e.o.Log.Error("digest mismatch: download discarded", "remote", req.Remote.Name, "path", req.Path,
			"expected", sp.x.digest, "got", got)
		e.failBody(f, &Error{Status: http.StatusBadGateway, Msg: "digest mismatch from upstream"})
		return "verify_failed"
	}
	art := sp.art
	art.Size, art.SHA256 = sp.total, sum
	art.ExpiresAt = e.expiry(req.Remote, req.Verdict.Kind)
	f.update(func() { f.art, f.sized, f.verified, f.relayed = art, true, true, !commit })
	if !commit {
		return "relayed"
	}
	if err := e.commit(ctx, f, art); err != nil {
		f.update(func() { f.commitErr = err })
		e.o.Metrics.Errors.WithLabelValues("storage").Inc()
		e.o.Log.Error("commit failed; artifact not cached", "remote", req.Remote.Name, "path", req.Path, "err", err)
		return "commit_failed"
	}
	return "ok"
}

// hash adds body bytes to the running digests.
func (sp *spooling) hash(p []byte) {
	sp.h.Write(p)
	sp.x.write(p)
}

func finalURL(resp *upstream.Response) string {
	if resp.FinalURL == nil {
		return ""
	}
	u := *resp.FinalURL
	u.RawQuery = "" // signed redirect URLs carry credentials in the query
	u.User = nil
	return u.String()
}

// abort fails a download mid-body: readers get an error, nothing is cached.
// A full spool disk is the proxy's failure (507), not the upstream's.
func (e *Engine) abort(f *fill, err error) string {
	if e.noSpace(err) {
		e.o.Metrics.Errors.WithLabelValues("storage").Inc()
		e.o.Log.Error("download failed: no space left for the spool; nothing cached", "remote", f.req.Remote.Name, "path", f.req.Path, "err", err)
		e.failBody(f, storageFull(err))
		return "storage_full"
	}
	e.o.Metrics.Errors.WithLabelValues("upstream_network").Inc()
	e.o.Log.Warn("download failed; nothing cached", "remote", f.req.Remote.Name, "path", f.req.Path, "err", err)
	e.failBody(f, &Error{Status: http.StatusBadGateway, Msg: "upstream download failed", Err: err})
	return "broken"
}

func (e *Engine) failBody(f *fill, err error) {
	f.update(func() {
		f.ready = true
		f.failed = err
	})
}

// commit stores the spooled body and then its metadata: the entry becomes
// visible only when both are complete.
func (e *Engine) commit(ctx context.Context, f *fill, a db.Artifact) error {
	f.mu.Lock()
	file, spool := f.file, f.spool
	f.mu.Unlock()
	if err := file.Sync(); err != nil {
		return fmt.Errorf("sync spool: %w", err)
	}
	version, adopted, err := e.storeFile(ctx, a.StorageKey, spool, file, a.Size)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.adopted = adopted
	f.mu.Unlock()
	a.BlobVersion = version
	if err := e.o.Meta.PutArtifact(ctx, a); err != nil {
		return fmt.Errorf("record metadata: %w", err)
	}
	f.update(func() { f.committed = &a })
	e.memo.del(f.key)
	e.invalidate(ctx, a.Remote, a.Path)
	e.afterCommit(ctx, a)
	return nil
}

// storeFile puts a complete spool file into the blob store the cheapest way
// it offers: adopt it (filesystem rename), upload it by sections (S3), or
// stream it. It returns the stored object's version; adopted reports that
// the file now belongs to the store.
func (e *Engine) storeFile(ctx context.Context, key, path string, file *os.File, size int64) (version string, adopted bool, err error) {
	switch s := e.o.Blobs.(type) {
	case blob.FileAdopter:
		version, err = s.Adopt(ctx, key, path)
		return version, err == nil, err
	case blob.FilePutter:
		version, err = s.PutFile(ctx, key, path)
		return version, false, err
	}
	version, err = e.o.Blobs.Put(ctx, key, io.NewSectionReader(file, 0, size), size)
	return version, false, err
}
