package cache

import (
	"context"
	"crypto/sha1" //nolint:gosec // package formats still publish SHA-1 checksums (npm shasum, Maven .sha1)
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"strings"
)

// expectation is a Request.ExpectDigest being checked: "sha256:<hex>",
// "sha512:<hex>" or "sha1:<hex>". SHA-256 is computed for every download
// (it names the stored artifact); another algorithm is computed alongside it
// only when a request asks for it. A digest in any other form is not checked.
type expectation struct {
	digest string    // as asked
	algo   string    // "sha256", "sha512", "sha1"; "" when nothing is checked
	want   string    // lowercase hex
	h      hash.Hash // the extra hash; nil for sha256 (the spool's own)
}

// expectedDigest is the digest req asks to verify, looked up if need be.
func expectedDigest(ctx context.Context, req Request) string {
	if req.ExpectDigest == "" && req.Expect != nil {
		return req.Expect(ctx)
	}
	return req.ExpectDigest
}

// newExpectation parses d (Request.ExpectDigest).
func newExpectation(d string) expectation {
	algo, hx, ok := strings.Cut(d, ":")
	if !ok || hx == "" {
		return expectation{}
	}
	x := expectation{digest: d, algo: algo, want: strings.ToLower(hx)}
	switch algo {
	case "sha256":
	case "sha512":
		x.h = sha512.New()
	case "sha1":
		x.h = sha1.New() //nolint:gosec // checking a checksum the format publishes
	default:
		return expectation{}
	}
	return x
}

// write adds body bytes to the extra hash, if any.
func (x expectation) write(p []byte) {
	if x.h != nil {
		x.h.Write(p)
	}
}

// check compares the expected digest with the body's; sha256 is the body's
// SHA-256 in hex. It returns the digest the body has, in the expected
// algorithm, and whether it matches (true when nothing is expected).
func (x expectation) check(sha256 string) (got string, ok bool) {
	switch {
	case x.algo == "":
		return "", true
	case x.h == nil:
		got = sha256
	default:
		got = hex.EncodeToString(x.h.Sum(nil))
	}
	return x.algo + ":" + got, got == x.want
}
