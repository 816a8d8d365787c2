package localrepo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"artifactapi/app/blob"
	"artifactapi/app/oci"
	"artifactapi/db"
)

// StartUpload opens an upload session in r and returns it.
func (s *Store) StartUpload(ctx context.Context, r Repo) (db.RegistryUpload, error) {
	u := db.RegistryUpload{ID: nonce(), Remote: r.Remote, Name: r.Name, CreatedAt: s.o.Now()}
	if err := s.o.Meta.CreateRegistryUpload(ctx, u); err != nil {
		return u, fmt.Errorf("localrepo: start upload in %s: %w", r, err)
	}
	u.UpdatedAt = u.CreatedAt
	return u, nil
}

// Upload returns the session id of r (its size is the upload status), or
// ErrUploadUnknown.
func (s *Store) Upload(ctx context.Context, r Repo, id string) (db.RegistryUpload, error) {
	u, err := s.o.Meta.GetRegistryUpload(ctx, id)
	if errors.Is(err, db.ErrNotFound) || (err == nil && (u.Remote != r.Remote || u.Name != r.Name)) {
		return u, fmt.Errorf("%w: %s in %s", ErrUploadUnknown, id, r)
	}
	if err != nil {
		return u, fmt.Errorf("localrepo: upload %s: %w", id, err)
	}
	return u, nil
}

// AppendUpload adds a chunk to an upload and returns the new size. start is
// the chunk's offset from Content-Range (-1 when the client sent none: the
// chunk then goes at the end), size its length (-1: unknown). The chunk is
// stored as a part in the blob store before it is appended; a chunk whose
// start is not the upload's size is ErrRangeInvalid and stores nothing.
func (s *Store) AppendUpload(ctx context.Context, r Repo, id string, start int64, body io.Reader, size int64) (int64, error) {
	u, err := s.Upload(ctx, r, id)
	if err != nil {
		return 0, err
	}
	if start < 0 {
		start = u.Size
	}
	if start != u.Size {
		return u.Size, fmt.Errorf("%w: chunk starts at %d, the upload holds %d bytes", ErrRangeInvalid, start, u.Size)
	}
	n, err := s.appendPart(ctx, r, u, body, size)
	return u.Size + n, err
}

func (s *Store) appendPart(ctx context.Context, r Repo, u db.RegistryUpload, body io.Reader, size int64) (int64, error) {
	room, err := s.room(ctx, r)
	if err != nil {
		return 0, err
	}
	if room >= 0 && (size > room-u.Size || u.Size > room) {
		return 0, quotaError(r, r.MaxSize-room, u.Size+max(size, 0))
	}
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(body, h), limit: -1}
	if room >= 0 {
		cr.limit = room - u.Size
	}
	key := partKey(u.ID)
	if _, err := s.put(ctx, key, cr, size); err != nil {
		if cr.over {
			return 0, quotaError(r, r.MaxSize-room, u.Size+cr.n)
		}
		return 0, fmt.Errorf("localrepo: store chunk of upload %s: %w", u.ID, err)
	}
	if cr.n == 0 {
		s.deleteObject(key)
		return 0, nil
	}
	part := db.UploadPart{StorageKey: key, Size: cr.n, SHA256: hex.EncodeToString(h.Sum(nil))}
	err = s.o.Meta.AppendRegistryUpload(ctx, u.ID, u.Size, part, s.o.Now())
	if err != nil {
		s.deleteObject(key)
		switch {
		case errors.Is(err, db.ErrConflict):
			return 0, fmt.Errorf("%w: another chunk was appended at %d first", ErrRangeInvalid, u.Size)
		case errors.Is(err, db.ErrNotFound):
			return 0, fmt.Errorf("%w: %s", ErrUploadUnknown, u.ID)
		}
		return 0, err
	}
	return cr.n, nil
}

// FinishUpload completes an upload as blob d: body (nil for none) is its
// last chunk, at start (-1: at the end). The parts are read in order and
// copied to the blob's object while hashed; the blob is published only when
// the bytes match d, else ErrDigestInvalid and nothing is stored. The
// session is gone either way.
func (s *Store) FinishUpload(ctx context.Context, r Repo, id string, d oci.Digest, start int64, body io.Reader, size int64) (db.RegistryBlob, error) {
	u, err := s.Upload(ctx, r, id)
	if err != nil {
		return db.RegistryBlob{}, err
	}
	if start >= 0 && start != u.Size {
		return db.RegistryBlob{}, fmt.Errorf("%w: chunk starts at %d, the upload holds %d bytes", ErrRangeInvalid, start, u.Size)
	}
	keep := "" // a part object that became the blob's own
	defer func() { s.dropUpload(context.WithoutCancel(ctx), u.ID, keep) }()
	if len(u.Parts) == 0 {
		// Monolithic (POST then one PUT): straight from the request body.
		if body == nil {
			body, size = eofReader{}, 0
		}
		return s.commit(ctx, r, d, body, size)
	}
	if body != nil {
		if _, err := s.appendPart(ctx, r, u, body, size); err != nil {
			return db.RegistryBlob{}, err
		}
		if u, err = s.Upload(ctx, r, id); err != nil {
			return db.RegistryBlob{}, err
		}
	}
	if len(u.Parts) == 1 && d.Algorithm() == "sha256" && u.Parts[0].SHA256 == d.Hex() {
		// One part (a streamed PATCH, as docker, podman and skopeo send)
		// already verified while it was stored: it becomes the blob as is,
		// without copying its bytes again.
		b, kept, err := s.adopt(ctx, r, d, u.Parts[0])
		if kept {
			keep = u.Parts[0].StorageKey
		}
		return b, err
	}
	pr := &partsReader{ctx: ctx, s: s, parts: u.Parts}
	defer pr.Close()
	return s.commit(ctx, r, d, pr, u.Size)
}

// adopt records the stored part p, whose bytes are blob d, as that blob and
// links it into r. kept reports that p's object now belongs to the blob
// (false when the blob was stored already: p is then dropped).
func (s *Store) adopt(ctx context.Context, r Repo, d oci.Digest, p db.UploadPart) (db.RegistryBlob, bool, error) {
	now := s.o.Now()
	b, inserted, err := s.o.Meta.PutRegistryBlob(ctx, db.RegistryBlob{Digest: d.String(), Size: p.Size, StorageKey: p.StorageKey, CreatedAt: now, LastUsed: now})
	if err != nil {
		return b, false, err
	}
	if _, err := s.o.Meta.LinkRegistryBlob(ctx, r.Remote, r.Name, d.String(), now); err != nil {
		return b, inserted, fmt.Errorf("localrepo: link %s into %s: %w", d, r, err)
	}
	return b, inserted, nil
}

// PutBlob stores body as blob d of r in one request (POST ?digest=).
func (s *Store) PutBlob(ctx context.Context, r Repo, d oci.Digest, body io.Reader, size int64) (db.RegistryBlob, error) {
	return s.commit(ctx, r, d, body, size)
}

// CancelUpload deletes an upload and its parts.
func (s *Store) CancelUpload(ctx context.Context, r Repo, id string) error {
	if _, err := s.Upload(ctx, r, id); err != nil {
		return err
	}
	return s.dropUpload(ctx, id, "")
}

// dropUpload deletes a session, then its parts' objects but keep (a part
// that became a blob).
func (s *Store) dropUpload(ctx context.Context, id, keep string) error {
	u, err := s.o.Meta.DeleteRegistryUpload(ctx, id)
	if errors.Is(err, db.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrUploadUnknown, id)
	}
	if err != nil {
		return err
	}
	for _, p := range u.Parts {
		if p.StorageKey != keep {
			s.deleteObject(p.StorageKey)
		}
	}
	return nil
}

// commit copies src (size bytes, -1 unknown) to a new object while hashing
// it, publishes it only if it matches d, records the blob (keeping the
// existing object when another upload of d won) and links it into r.
func (s *Store) commit(ctx context.Context, r Repo, d oci.Digest, src io.Reader, size int64) (db.RegistryBlob, error) {
	room, err := s.room(ctx, r)
	if err != nil {
		return db.RegistryBlob{}, err
	}
	if room >= 0 && size > room {
		return db.RegistryBlob{}, quotaError(r, r.MaxSize-room, size)
	}
	v := &verifier{countingReader: countingReader{r: src, limit: room}, h: d.NewHash(), d: d}
	key := blobKey(d)
	if _, err := s.put(ctx, key, v, size); err != nil {
		switch {
		case v.mismatch:
			return db.RegistryBlob{}, fmt.Errorf("%w: %s", ErrDigestInvalid, d)
		case v.over:
			return db.RegistryBlob{}, quotaError(r, r.MaxSize-room, v.n)
		case size >= 0 && v.eof && v.n != size:
			return db.RegistryBlob{}, fmt.Errorf("%w: got %d bytes, Content-Length says %d", ErrSizeInvalid, v.n, size)
		}
		return db.RegistryBlob{}, fmt.Errorf("localrepo: store blob %s: %w", d, err)
	}
	now := s.o.Now()
	kept, inserted, err := s.o.Meta.PutRegistryBlob(ctx, db.RegistryBlob{Digest: d.String(), Size: v.n, StorageKey: key, CreatedAt: now, LastUsed: now})
	if err != nil {
		s.deleteObject(key)
		return kept, err
	}
	if !inserted {
		s.deleteObject(key) // the same bytes are already stored: keep one copy
	}
	if _, err := s.o.Meta.LinkRegistryBlob(ctx, r.Remote, r.Name, d.String(), now); err != nil {
		return kept, fmt.Errorf("localrepo: link %s into %s: %w", d, r, err)
	}
	return kept, nil
}

// Mount links blob d, held by repository from (nil: any local repository),
// into r without uploading it. ErrBlobUnknown when from does not hold it:
// the client then uploads it.
func (s *Store) Mount(ctx context.Context, r Repo, d oci.Digest, from *Repo) (db.RegistryBlob, error) {
	if from != nil {
		if _, err := s.o.Meta.GetRegistryBlob(ctx, from.Remote, from.Name, d.String()); err != nil {
			if errors.Is(err, db.ErrNotFound) {
				return db.RegistryBlob{}, fmt.Errorf("%w: %s in %s", ErrBlobUnknown, d, from)
			}
			return db.RegistryBlob{}, err
		}
	}
	if b, err := s.o.Meta.GetRegistryBlob(ctx, r.Remote, r.Name, d.String()); err == nil {
		return b, nil // already there
	}
	b, err := s.o.Meta.LinkRegistryBlob(ctx, r.Remote, r.Name, d.String(), s.o.Now())
	if errors.Is(err, db.ErrNotFound) {
		return b, fmt.Errorf("%w: %s", ErrBlobUnknown, d)
	}
	if err != nil {
		return b, err
	}
	if err := s.checkQuota(ctx, r, 0); err != nil {
		_ = s.o.Meta.UnlinkRegistryBlob(context.WithoutCancel(ctx), r.Remote, r.Name, d.String())
		return b, err
	}
	return b, nil
}

// deleteObject removes an object nothing refers to; a failure only leaves
// garbage behind, so it is logged.
func (s *Store) deleteObject(key string) {
	if err := s.o.Blobs.Delete(context.Background(), key); err != nil {
		s.o.Log.Warn("registry: could not delete an unused object", "key", key, "err", err)
	}
}

// countingReader counts bytes and fails once more than limit (>= 0) came.
type countingReader struct {
	r     io.Reader
	n     int64
	limit int64 // -1: none
	over  bool
	eof   bool
}

var errOverQuota = errors.New("localrepo: over quota")

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.limit >= 0 && c.n > c.limit {
		c.over = true
		return n, errOverQuota
	}
	if err == io.EOF {
		c.eof = true
	}
	return n, err
}

// verifier hashes what it reads and turns the end of the stream into an
// error when the bytes do not match the digest, so the blob store discards
// the object instead of publishing it.
type verifier struct {
	countingReader
	h        hash.Hash
	d        oci.Digest
	mismatch bool
}

var errMismatch = errors.New("localrepo: digest mismatch")

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.countingReader.Read(p)
	v.h.Write(p[:n])
	if err == io.EOF && !v.d.Matches(v.h) {
		v.mismatch = true
		return n, errMismatch
	}
	return n, err
}

// partsReader reads an upload's parts one after the other.
type partsReader struct {
	ctx   context.Context
	s     *Store
	parts []db.UploadPart
	cur   io.ReadCloser
}

func (p *partsReader) Read(b []byte) (int, error) {
	for {
		if p.cur == nil {
			if len(p.parts) == 0 {
				return 0, io.EOF
			}
			rc, err := p.s.o.Blobs.Open(p.ctx, p.parts[0].StorageKey, 0, -1)
			if err != nil {
				return 0, fmt.Errorf("localrepo: open chunk %d: %w", p.parts[0].Seq, err)
			}
			p.cur, p.parts = rc, p.parts[1:]
		}
		n, err := p.cur.Read(b)
		if err == io.EOF {
			p.cur.Close()
			p.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

// Close releases the part being read.
func (p *partsReader) Close() error {
	if p.cur != nil {
		return p.cur.Close()
	}
	return nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// put stores r (size bytes, -1: unknown) under key. A stream to a store
// that would buffer it (S3: part buffers per upload) goes through a spool
// file in SpoolDir, uploaded part by part while it arrives, so memory stays
// flat however many pushes run at once. Nothing is published unless r reads
// to its end.
func (s *Store) put(ctx context.Context, key string, r io.Reader, size int64) (string, error) {
	sp, ok := s.o.Blobs.(blob.StreamSpooler)
	if !ok || s.o.SpoolDir == "" {
		return s.o.Blobs.Put(ctx, key, r, size)
	}
	if size >= 0 {
		r = &exactReader{r: r, left: size}
	}
	return sp.PutSpooled(ctx, key, r, s.o.SpoolDir)
}

// exactReader ends with an error, not EOF, unless exactly left bytes came.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if e.left < 0 {
		return n, errors.New("localrepo: more bytes than announced")
	}
	if err == io.EOF && e.left > 0 {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}
