package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"

	"github.com/minio/minio-go/v7"
	"golang.org/x/sync/errgroup"
)

// StreamSpooler is implemented by stores that take a stream of unknown
// length through a local spool file without buffering it in memory.
type StreamSpooler interface {
	// PutSpooled stores r under key like Put, writing it to a temporary
	// file in dir on the way. Atomic like Put.
	PutSpooled(ctx context.Context, key string, r io.Reader, dir string) (version string, err error)
}

// spoolUploads is how many parts of one spooled upload travel at once.
const spoolUploads = 4

// PutSpooled implements StreamSpooler: r is appended to a spool file part
// by part, and each complete part is uploaded from the file (by section, no
// buffer) while the next one is still arriving, so the upload ends shortly
// after the stream does. If r fails, the multipart upload is aborted and
// nothing is published.
func (s *S3) PutSpooled(ctx context.Context, key string, r io.Reader, dir string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("blob: put %s: spool: %w", key, err)
	}
	f, err := os.CreateTemp(dir, "spool-*")
	if err != nil {
		return "", fmt.Errorf("blob: put %s: spool: %w", key, err)
	}
	defer func() { f.Close(); os.Remove(f.Name()) }()
	part := int64(s.partSize)
	first, err := io.CopyN(f, r, part)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("blob: put %s: %w", key, err)
	}
	if first < part { // one part: a plain PUT of the file
		return s.PutFile(ctx, key, f.Name())
	}
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	id, err := s.core.NewMultipartUpload(ctx, s.bucket, key, opts)
	if err != nil {
		return "", s.wrap("put", key, err)
	}
	published := false
	defer func() {
		if !published {
			_ = s.core.AbortMultipartUpload(context.WithoutCancel(ctx), s.bucket, key, id)
		}
	}()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(spoolUploads)
	var mu sync.Mutex
	var parts []minio.CompletePart
	upload := func(num int, off, n int64) {
		g.Go(func() error {
			p, err := s.core.PutObjectPart(gctx, s.bucket, key, id, num, io.NewSectionReader(f, off, n), n, minio.PutObjectPartOptions{})
			if err != nil {
				return s.wrap("put part", key, err)
			}
			mu.Lock()
			parts = append(parts, minio.CompletePart{PartNumber: num, ETag: p.ETag})
			mu.Unlock()
			return nil
		})
	}
	upload(1, 0, first)
	off, num := first, 1
	var rerr error
	for {
		n, err := io.CopyN(f, r, part)
		if n > 0 {
			num++
			upload(num, off, n)
			off += n
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			rerr = fmt.Errorf("blob: put %s: %w", key, err)
			break
		}
		if num >= maxParts {
			rerr = fmt.Errorf("blob: put %s: more than %d parts of %d bytes", key, maxParts, part)
			break
		}
		if gctx.Err() != nil {
			break
		}
	}
	if err := g.Wait(); err != nil {
		return "", err
	}
	if rerr != nil {
		return "", rerr
	}
	slices.SortFunc(parts, func(a, b minio.CompletePart) int { return a.PartNumber - b.PartNumber })
	info, err := s.core.CompleteMultipartUpload(ctx, s.bucket, key, id, parts, opts)
	if err != nil {
		return "", s.wrap("put", key, err)
	}
	published = true
	return info.ETag, nil
}

var _ StreamSpooler = (*S3)(nil)
