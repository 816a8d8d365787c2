package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/lifecycle"
)

// DefaultPartSize is the multipart part size used when S3Config.PartSize is 0.
// Each upload buffers one part in memory; an upload of unknown size is limited
// to 10,000 parts (156 GiB at 16 MiB).
const DefaultPartSize = 16 << 20

// minPartSize is the smallest part S3 accepts (except for the last part), and
// maxParts the most parts one upload may have.
const (
	minPartSize = 5 << 20
	maxParts    = 10000
)

// abortRuleID names the lifecycle rule NewS3 installs.
const abortRuleID = "artifactapi-abort-incomplete-multipart"

// S3Config configures an S3-compatible store.
type S3Config struct {
	// Endpoint is host[:port]. An "http://" or "https://" prefix is accepted
	// and then decides Secure.
	Endpoint string
	// AccessKey and SecretKey are static credentials; both empty means anonymous.
	AccessKey, SecretKey string
	// Bucket is created by NewS3 when missing.
	Bucket string
	// Secure selects HTTPS.
	Secure bool
	// Region is optional (e.g. "us-east-1").
	Region string
	// PartSize is the multipart part size in bytes (0: DefaultPartSize, min 5 MiB).
	PartSize uint64
	// CountRequests, when set, is called for every HTTP request sent to the
	// S3 endpoint, with the caller's context (docs/scaling.md).
	CountRequests func(ctx context.Context, n int)
}

// S3 is a Store on an S3-compatible bucket (AWS S3, MinIO, ...). An object
// appears only when its PUT or multipart upload completes, which makes Put atomic.
type S3 struct {
	client   *minio.Client
	core     minio.Core
	bucket   string
	endpoint string
	secret   string
	partSize uint64
}

var _ Store = (*S3)(nil)

// NewS3 connects to the bucket, creating it when missing, and installs a
// lifecycle rule that aborts multipart uploads left incomplete for a day.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	s, err := newS3(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.ensureBucket(ctx, cfg.Region); err != nil {
		return nil, err
	}
	if err := s.ensureLifecycle(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// newS3 validates cfg and builds the client without contacting the server.
func newS3(cfg S3Config) (*S3, error) {
	endpoint, secure := cfg.Endpoint, cfg.Secure
	if rest, ok := strings.CutPrefix(endpoint, "https://"); ok {
		endpoint, secure = rest, true
	} else if rest, ok := strings.CutPrefix(endpoint, "http://"); ok {
		endpoint, secure = rest, false
	}
	endpoint = strings.TrimSuffix(endpoint, "/")
	s := &S3{bucket: cfg.Bucket, endpoint: endpoint, secret: cfg.SecretKey, partSize: cfg.PartSize}
	switch {
	case endpoint == "":
		return nil, errors.New("blob: s3 endpoint is empty")
	case cfg.Bucket == "":
		return nil, errors.New("blob: s3 bucket is empty")
	case cfg.PartSize != 0 && cfg.PartSize < minPartSize:
		return nil, fmt.Errorf("blob: s3 part size %d is below 5 MiB", cfg.PartSize)
	case cfg.PartSize == 0:
		s.partSize = DefaultPartSize
	}
	opts := &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: secure,
		Region: cfg.Region,
	}
	if cfg.CountRequests != nil {
		base, err := minio.DefaultTransport(secure)
		if err != nil {
			return nil, s.errorf("blob: %s: %w", s.Describe(), err)
		}
		opts.Transport = countingTransport{next: base, count: cfg.CountRequests}
	}
	client, err := minio.New(endpoint, opts)
	if err != nil {
		return nil, s.errorf("blob: %s: %w", s.Describe(), err)
	}
	s.client, s.core = client, minio.Core{Client: client}
	return s, nil
}

// countingTransport counts the requests it sends.
type countingTransport struct {
	next  http.RoundTripper
	count func(ctx context.Context, n int)
}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.count(r.Context(), 1)
	return t.next.RoundTrip(r)
}

// ensureBucket creates the bucket unless it exists; another replica creating
// it at the same moment is fine.
func (s *S3) ensureBucket(ctx context.Context, region string) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.errorf("blob: %s: bucket exists: %w", s.Describe(), err)
	}
	if ok {
		return nil
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: region})
	if err == nil {
		return nil
	}
	if code := errorCode(err); code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
		if ok, _ := s.client.BucketExists(ctx, s.bucket); ok {
			return nil
		}
	}
	return s.errorf("blob: %s: make bucket: %w", s.Describe(), err)
}

// ensureLifecycle adds the abort-incomplete-multipart rule, keeping any rules
// the bucket already has. Servers without lifecycle support are tolerated, and
// so is MinIO, which rejects the rule (InvalidArgument) but removes stale
// multipart uploads by itself (api stale_uploads_expiry, 24h by default).
func (s *S3) ensureLifecycle(ctx context.Context) error {
	cfg, err := s.client.GetBucketLifecycle(ctx, s.bucket)
	switch {
	case err == nil:
	case errorCode(err) == "NoSuchLifecycleConfiguration":
		cfg = lifecycle.NewConfiguration()
	case lifecycleUnsupported(err):
		return nil
	default:
		return s.errorf("blob: %s: get lifecycle: %w", s.Describe(), err)
	}
	for _, r := range cfg.Rules {
		if r.ID == abortRuleID {
			return nil
		}
	}
	cfg.Rules = append(cfg.Rules, lifecycle.Rule{
		ID:                             abortRuleID,
		Status:                         "Enabled",
		RuleFilter:                     lifecycle.Filter{Prefix: ""},
		AbortIncompleteMultipartUpload: lifecycle.AbortIncompleteMultipartUpload{DaysAfterInitiation: 1},
	})
	if err := s.client.SetBucketLifecycle(ctx, s.bucket, cfg); err != nil && !lifecycleUnsupported(err) {
		return s.errorf("blob: %s: set lifecycle: %w", s.Describe(), err)
	}
	return nil
}

// lifecycleUnsupported reports a server that cannot store our lifecycle rule.
func lifecycleUnsupported(err error) bool {
	var er minio.ErrorResponse
	if !errors.As(err, &er) {
		return false
	}
	if er.Code == "NotImplemented" {
		return true
	}
	return strings.HasPrefix(er.Server, "MinIO") && (er.Code == "InvalidArgument" || er.Code == "MalformedXML")
}

// errorCode returns the S3 error code of err, or "".
func errorCode(err error) string {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		return er.Code
	}
	return ""
}

// isNotFound reports a missing object (not a missing bucket).
func isNotFound(err error) bool {
	var er minio.ErrorResponse
	if !errors.As(err, &er) {
		return false
	}
	switch er.Code {
	case "NoSuchKey", "NotFound":
		return true
	case "NoSuchBucket":
		return false
	}
	return er.StatusCode == http.StatusNotFound && er.Code == ""
}

// redactedError hides a secret in an error message but keeps the chain.
type redactedError struct {
	msg string
	err error
}

// Error returns the redacted message.
func (e *redactedError) Error() string { return e.msg }

// Unwrap returns the original error, so errors.Is and errors.As still work.
func (e *redactedError) Unwrap() error { return e.err }

// redact removes the secret key from msg.
func (s *S3) redact(msg string) string {
	if len(s.secret) < 4 { // too short to search for without mangling text
		return msg
	}
	return strings.ReplaceAll(msg, s.secret, "[REDACTED]")
}

// errorf is fmt.Errorf that never lets the secret key into the message.
func (s *S3) errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if msg := s.redact(err.Error()); msg != err.Error() {
		return &redactedError{msg, err}
	}
	return err
}

// wrap turns a minio error into "blob: <op> <key>: ...", adding ErrNotFound
// to the chain for missing objects.
func (s *S3) wrap(op, key string, err error) error {
	if isNotFound(err) {
		return s.errorf("blob: %s %s: %w: %w", op, key, ErrNotFound, err)
	}
	return s.errorf("blob: %s %s: %w", op, key, err)
}

// Put implements Store. A known size is passed to S3 as is; an unknown size
// streams multipart uploads of PartSize parts (one part buffered in memory).
// A reader error or a cancelled ctx aborts the upload, publishing nothing.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("blob: put %s: %w", key, err)
	}
	opts := minio.PutObjectOptions{PartSize: s.partSize, ContentType: "application/octet-stream"}
	if size > int64(maxParts*s.partSize) {
		opts.PartSize = 0 // too big for 10,000 parts: let minio-go size them
	}
	if size >= 0 {
		r = &exactReader{r: r, left: size}
	}
	info, err := s.client.PutObject(ctx, s.bucket, key, r, size, opts)
	if err != nil {
		return "", s.wrap("put", key, err)
	}
	return info.ETag, nil
}

// Open implements Store.
func (s *S3) Open(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	return s.OpenVersion(ctx, key, "", off, length)
}

// OpenVersion implements Store. It issues the GET immediately, so a missing
// key returns ErrNotFound here. The version is the object's ETag, sent as
// If-Match: S3 answers 412 rather than another object's bytes. The reader is
// bound to ctx: cancel ctx only after Close.
func (s *S3) OpenVersion(ctx context.Context, key, version string, off, length int64) (io.ReadCloser, error) {
	if err := CheckKey(key); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("blob: open %s: negative offset %d", key, off)
	}
	if length == 0 {
		return s.emptyAt(ctx, key, version, off)
	}
	var opts minio.GetObjectOptions
	if version != "" {
		_ = opts.SetMatchETag(version)
	}
	switch {
	case off == 0 && length < 0: // whole object, no Range header
	case length < 0:
		_ = opts.SetRange(off, 0)
	default:
		_ = opts.SetRange(off, off+length-1)
	}
	body, oi, hdr, err := s.core.GetObject(ctx, s.bucket, key, opts)
	if err != nil {
		switch errorCode(err) {
		case "InvalidRange":
			// S3 refuses a range starting at the end (and any range of an
			// empty object); reading there yields no bytes.
			return s.emptyAt(ctx, key, version, off)
		case "PreconditionFailed":
			return nil, s.errorf("blob: open %s: %w", key, ErrVersionMismatch)
		}
		return nil, s.wrap("open", key, err)
	}
	size := oi.Size // a whole-object read: its length
	if off != 0 || length >= 0 {
		size = rangeTotal(hdr.Get("Content-Range"))
	}
	if size < 0 {
		return body, nil
	}
	return &s3Body{ReadCloser: body, size: size}, nil
}

// s3Body is a body of an object whose size is known: the hot tier takes a
// copy of a read from offset 0 only when it is the whole object.
type s3Body struct {
	io.ReadCloser
	size int64
}

// Size returns the object's size (not the length of the range read).
func (b *s3Body) Size() int64 { return b.size }

// rangeTotal returns the complete length in a Content-Range header
// ("bytes 0-99/1000" → 1000), or -1.
func rangeTotal(cr string) int64 {
	_, total, ok := strings.Cut(cr, "/")
	if !ok {
		return -1
	}
	n, err := strconv.ParseInt(total, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// emptyAt returns an empty reader if key exists and off is within it.
func (s *S3) emptyAt(ctx context.Context, key, version string, off int64) (io.ReadCloser, error) {
	info, err := s.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	if version != "" && info.Version != version {
		return nil, s.errorf("blob: open %s: %w", key, ErrVersionMismatch)
	}
	if err := checkRange(off, info.Size); err != nil {
		return nil, fmt.Errorf("blob: open %s: %w", key, err)
	}
	return io.NopCloser(strings.NewReader("")), nil
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	if err := CheckKey(key); err != nil {
		return Info{}, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s.wrap("stat", key, err)
	}
	return Info{Key: key, Size: oi.Size, ModTime: oi.LastModified, Version: oi.ETag}, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
	if err != nil && !isNotFound(err) {
		return s.wrap("delete", key, err)
	}
	return nil
}

// List implements Store. Keys arrive in lexical order; an error returned by
// fn stops the listing and is returned unchanged.
func (s *S3) List(ctx context.Context, prefix string, fn func(Info) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio-go's listing goroutine when fn fails
	for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if oi.Err != nil {
			return s.errorf("blob: list %q: %w", prefix, oi.Err)
		}
		if strings.HasSuffix(oi.Key, "/") {
			continue // directory marker
		}
		if err := fn(Info{Key: oi.Key, Size: oi.Size, ModTime: oi.LastModified}); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("blob: list %q: %w", prefix, err)
	}
	return nil
}

// Ping implements Store: the bucket must exist and be reachable.
func (s *S3) Ping(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.errorf("blob: ping %s: %w", s.Describe(), err)
	}
	if !ok {
		return fmt.Errorf("blob: ping %s: bucket does not exist", s.Describe())
	}
	return nil
}

// Describe implements Store: "s3 <endpoint>/<bucket>", without credentials.
func (s *S3) Describe() string { return s.redact("s3 " + s.endpoint + "/" + s.bucket) }

// PutFile stores a complete local file. minio-go reads a file by sections
// (io.ReaderAt) without a part buffer, so memory stays small however large
// the file or however many commits run at once.
func (s *S3) PutFile(ctx context.Context, key, path string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("blob: put %s: %w", key, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("blob: put %s: %w", key, err)
	}
	opts := minio.PutObjectOptions{PartSize: s.partSize, ContentType: "application/octet-stream"}
	if st.Size() > int64(maxParts*s.partSize) {
		opts.PartSize = 0
	}
	info, err := s.client.PutObject(ctx, s.bucket, key, f, st.Size(), opts)
	if err != nil {
		return "", s.wrap("put", key, err)
	}
	return info.ETag, nil
}

var _ FilePutter = (*S3)(nil)
