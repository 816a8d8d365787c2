package httpserve

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/cache"
	"artifactapi/app/metrics"
)

// writeTransformed answers with o.Transform's rewrite of the stored body.
// The cache keeps the upstream's bytes, so the rewrite is made again on
// every answer (a revalidation answered 304 keeps it right). The validators
// and the checksum are the rewritten body's own, so a client's conditional
// request is answered 304 only when it holds exactly these bytes; Range is
// ignored (a metadata document is always sent whole, which HTTP allows).
// HEAD gets the rewritten length.
func writeTransformed(c *fiber.Ctx, res *cache.Result, acc *Access, o Options) error {
	a := res.Artifact
	h := &c.Response().Header
	body, hexSum, err := transformed(res, o, acc.Metrics)
	if err != nil {
		return unsent(c, err)
	}
	etag := `"` + hexSum + `"`
	set(h, hdrETag, etag)
	set(h, hdrChecksum, hexSum)
	lm := a.LastModified
	if lm == "" && !a.CachedAt.IsZero() && res.Source == "cache" {
		lm = HTTPDate(a.CachedAt)
	}
	if lm != "" {
		set(h, hdrLastModified, lm)
	}
	for k, v := range o.ExtraHeaders {
		h.Set(k, v)
	}
	if notModified(c.Get("If-None-Match"), c.Get("If-Modified-Since"), etag, lm) {
		c.Status(http.StatusNotModified)
		acc.Status = http.StatusNotModified
		acc.Finish(0, nil)
		return nil
	}
	c.Status(http.StatusOK)
	acc.Status = http.StatusOK
	if c.Method() == http.MethodHead {
		h.SetContentLength(len(body))
		c.Context().Response.SkipBody = true
		acc.Finish(0, nil)
		return nil
	}
	// SetBodyRaw: fasthttp sends Content-Length of the rewritten body.
	c.Response().SetBodyRaw(body)
	acc.Finish(int64(len(body)), nil)
	return nil
}

// transformed returns o.Transform's output for res's body and the output's
// sha256 in hex: from o.Transformed when the same transform of the same
// committed bytes was made before (a warm hit then hashes nothing, however
// large the document).
func transformed(res *cache.Result, o Options, m *metrics.Metrics) (body []byte, hexSum string, err error) {
	a := res.Artifact
	memoise := o.Transformed != nil && o.TransformKey != ""
	stored := res.Source == "cache"
	key := ""
	if memoise && stored && len(a.SHA256) == sha256.Size*2 {
		key = rewriteKey(o.TransformKey, a.SHA256)
		if b, digest := o.Transformed.getDigest(key); b != nil && digest != "" {
			if m != nil {
				m.Rewrites.WithLabelValues("memoised").Inc()
			}
			return b, digest, nil
		}
	}
	// Not c.Context(): see Write.
	rc, err := res.Open(metrics.Context(metrics.PhaseRequest), 0, -1)
	if err != nil {
		return nil, "", err
	}
	defer rc.Close()
	// A download in progress is hashed on its way into the transform: the
	// rewrite is then kept under the digest of exactly the bytes it was
	// made from, which is the key the first warm hit on them looks up.
	var in io.Reader = rc
	var sum hash.Hash
	if memoise && !stored {
		sum = sha256.New()
		in = io.TeeReader(rc, sum)
	}
	body, err = o.Transform(in, a.ContentType)
	if err != nil {
		return nil, "", err
	}
	if m != nil {
		m.Rewrites.WithLabelValues("computed").Inc()
	}
	out := sha256.Sum256(body)
	hexSum = hex.EncodeToString(out[:])
	if sum != nil {
		// The rest of the input, should the transform have stopped early:
		// the digest must be the whole body's.
		if _, err := io.Copy(io.Discard, in); err != nil {
			return body, hexSum, nil
		}
		key = rewriteKey(o.TransformKey, hex.EncodeToString(sum.Sum(nil)))
	}
	if key != "" && int64(len(body)) <= o.Transformed.maxObject {
		o.Transformed.putDigest(key, body, hexSum)
	}
	return body, hexSum, nil
}

// rewriteKey names the rewrite made by transform tk of the bytes whose
// sha256 is sum.
func rewriteKey(tk, sum string) string { return tk + "\x00" + sum }
