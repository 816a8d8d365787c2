package cache_test

import (
	"context"
	"crypto/sha1" //nolint:gosec // the formats' own checksums
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"artifactapi/app/cache"
	"artifactapi/app/coord"
	"artifactapi/app/testenv"
	"artifactapi/db"
)

// TestExpectDigest: a download is verified against Request.ExpectDigest in
// any of the algorithms the package formats publish; a mismatch is a 502 and
// nothing is cached, a match is committed, a digest in another form is not
// checked.
func TestExpectDigest(t *testing.T) {
	body := []byte("tarball bytes, as the upstream sends them")
	other := []byte("other bytes")
	s256, s512, s1 := sha256.Sum256(body), sha512.Sum512(body), sha1.Sum(body)    //nolint:gosec
	o256, o512, o1 := sha256.Sum256(other), sha512.Sum512(other), sha1.Sum(other) //nolint:gosec
	tests := []struct {
		name   string
		expect string
		ok     bool
	}{
		{name: "none", expect: "", ok: true},
		{name: "sha256 match", expect: "sha256:" + hex.EncodeToString(s256[:]), ok: true},
		{name: "sha256 mismatch", expect: "sha256:" + hex.EncodeToString(o256[:]), ok: false},
		{name: "sha512 match", expect: "sha512:" + hex.EncodeToString(s512[:]), ok: true},
		{name: "sha512 mismatch", expect: "sha512:" + hex.EncodeToString(o512[:]), ok: false},
		{name: "sha1 match", expect: "sha1:" + hex.EncodeToString(s1[:]), ok: true},
		{name: "sha1 match uppercase hex", expect: "sha1:" + strings.ToUpper(hex.EncodeToString(s1[:])), ok: true},
		{name: "sha1 mismatch", expect: "sha1:" + hex.EncodeToString(o1[:]), ok: false},
		{name: "unknown algorithm not checked", expect: "md5:0123", ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			e, _, meta := newEngineMeta(t, coord.NewLocal())
			r := remote(t)
			o := &countingOrigin{body: body}
			req := cache.Request{Remote: r, Path: "pkg/-/pkg-1.0.0.tgz", Verdict: r.Classify("pkg/-/pkg-1.0.0.tgz"),
				Origin: o, Method: http.MethodGet, ExpectDigest: tt.expect}
			// A small body may be verified before headers are published:
			// the mismatch then comes from Get itself, else from the read.
			res, err := e.Get(ctx, req)
			if err == nil {
				defer res.Release()
				var rc io.ReadCloser
				rc, err = res.Open(ctx, 0, -1)
				if err == nil {
					_, err = io.ReadAll(rc)
					rc.Close()
				}
				if err == nil {
					_, err = res.Committed(ctx)
				}
			}
			testenv.Eventually(t, 5*time.Second, "fill done", func() bool { return e.InFlight() == 0 })
			_, gerr := meta.GetArtifact(ctx, r.Name, req.Path)
			if tt.ok {
				if err != nil || gerr != nil {
					t.Fatalf("want committed: read %v, lookup %v", err, gerr)
				}
				return
			}
			var ce *cache.Error
			if !errors.As(err, &ce) || ce.Status != http.StatusBadGateway || ce.Msg != "digest mismatch from upstream" {
				t.Fatalf("want 502 digest mismatch, got %v", err)
			}
			if !errors.Is(gerr, db.ErrNotFound) {
				t.Fatalf("mismatched download cached: %v", gerr)
			}
		})
	}
}
