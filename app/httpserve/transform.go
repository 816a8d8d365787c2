package httpserve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/cache"
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
	// Not c.Context(): see Write.
	rc, err := res.Open(context.Background(), 0, -1)
	if err != nil {
		return unsent(c, err)
	}
	body, err := o.Transform(rc, a.ContentType)
	rc.Close()
	if err != nil {
		return unsent(c, err)
	}
	sum := sha256.Sum256(body)
	hexSum := hex.EncodeToString(sum[:])
	etag := `"` + hexSum + `"`
	set(h, hdrETag, etag)
	set(h, hdrChecksum, hexSum)
	lm := a.LastModified
	if lm == "" && !a.CachedAt.IsZero() && res.Source == "cache" {
		lm = a.CachedAt.UTC().Format(http.TimeFormat)
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
