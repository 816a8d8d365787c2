package registry

import (
	"github.com/gofiber/fiber/v2"

	"artifactapi/app/cache"
	"artifactapi/app/httpserve"
	"artifactapi/app/oci"
)

// blob answers GET and HEAD /v2/<name>/blobs/<digest>: streamed and shared
// like any artifact, verified against its digest before commit (a mismatch
// caches nothing and cuts the client's transfer short). A HEAD on a miss is
// the upstream's HEAD, remembered for headTTL, and caches nothing. Both
// methods advertise Range support; an unsatisfiable range is 416
// RANGE_INVALID in the OCI envelope.
func (h *Handler) blob(r request) error {
	d, err := oci.ParseDigest(r.route.Ref)
	if err != nil {
		return r.fail(Fail(CodeDigestInvalid, "invalid digest", map[string]string{"digest": r.route.Ref}))
	}
	p := r.t.Name + "/blobs/" + d.String()
	r.acc.Path = p
	v, oe := r.classify(p)
	if oe != nil {
		return r.fail(oe)
	}
	o, err := newOrigin(h.d.Upstream, r.t.Remote, r.t.Name, p, "", "")
	if err != nil {
		return r.fail(toOCI(err, oci.KindBlob, r.detail()))
	}
	bo := &blobOrigin{origin: o, heads: h.heads, key: recentKey(r.t.Remote.Name, r.t.Name, d.String())}
	req := cache.Request{Remote: r.t.Remote, Path: p, Verdict: v, Method: r.c.Method(), Origin: bo, ExpectDigest: d.String()}
	return h.serve(r, req, oci.KindBlob, httpserve.Options{NoDisposition: true, Bodies: h.bodies,
		ExtraHeaders: map[string]string{"Docker-Content-Digest": d.String(), "Content-Type": "application/octet-stream",
			"Accept-Ranges": "bytes"},
		RangeNotSatisfiable: func(c *fiber.Ctx) error {
			e := Fail(CodeRangeInvalid, "requested range not satisfiable", r.detail())
			return writeError(c, e)
		}}, nil)
}

// serve gets req from the engine and writes it with httpserve (Range, 304,
// HEAD, streaming). before, when set, adds headers from the result first. A
// cached entry whose blob vanished is fetched again once.
func (h *Handler) serve(r request, req cache.Request, k oci.Kind, o httpserve.Options, before func(*cache.Result)) error {
	err := h.d.Engine.Serve(r.ctx(), req,
		func(res *cache.Result) error {
			if before != nil {
				before(res)
			}
			return httpserve.Write(r.c, res, r.acc, o)
		},
		func() { r.c.Response().Reset(); setAPIVersion(r.c) })
	if err != nil {
		return r.fail(toOCI(err, k, r.detail()))
	}
	return nil
}
