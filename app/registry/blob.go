package registry

import (
	"net/url"

	"artifactapi/app/cache"
	"artifactapi/app/httpserve"
	"artifactapi/app/oci"
)

// blob answers GET and HEAD /v2/<name>/blobs/<digest>: streamed and shared
// like any artifact, verified against its digest before commit (a mismatch
// caches nothing and cuts the client's transfer short). A HEAD on a miss is
// the upstream's HEAD and caches nothing.
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
	req := cache.Request{Remote: r.t.Remote, Path: p, Verdict: v, Method: r.c.Method(), Origin: o, ExpectDigest: d.String()}
	return h.serve(r, req, oci.KindBlob, httpserve.Options{NoDisposition: true,
		ExtraHeaders: map[string]string{"Docker-Content-Digest": d.String(), "Content-Type": "application/octet-stream"}})
}

// tags answers GET and HEAD /v2/<name>/tags/list, a mutable entry; the
// pagination parameters n and last are forwarded and part of the cache key.
func (h *Handler) tags(r request) error {
	p := r.t.Name + "/tags/list"
	r.acc.Path = p
	v, oe := r.classify(p)
	if oe != nil {
		return r.fail(oe)
	}
	q := tagsQuery(r.c.Request().URI().QueryArgs().Peek("n"), r.c.Request().URI().QueryArgs().Peek("last"))
	key := p
	if q != "" {
		key += "?" + q
	}
	o, err := newOrigin(h.d.Upstream, r.t.Remote, r.t.Name, p, q, "application/json")
	if err != nil {
		return r.fail(toOCI(err, oci.KindTags, r.detail()))
	}
	req := cache.Request{Remote: r.t.Remote, Path: key, Verdict: v, Method: r.c.Method(), Origin: o}
	// A tag list is JSON whatever the upstream called it (never text/html).
	return h.serve(r, req, oci.KindTags, httpserve.Options{NoDisposition: true,
		ExtraHeaders: map[string]string{"Content-Type": "application/json"}})
}

func tagsQuery(n, last []byte) string {
	q := url.Values{}
	if len(n) > 0 {
		q.Set("n", string(n))
	}
	if len(last) > 0 {
		q.Set("last", string(last))
	}
	return q.Encode() // Encode sorts by key: a stable cache key
}

// serve gets req from the engine and writes it with httpserve (Range, 304,
// HEAD, streaming). A cached entry whose blob vanished is fetched again once.
func (h *Handler) serve(r request, req cache.Request, k oci.Kind, o httpserve.Options) error {
	err := h.d.Engine.Serve(r.ctx(), req,
		func(res *cache.Result) error { return httpserve.Write(r.c, res, r.acc, o) },
		func() { r.c.Response().Reset(); setAPIVersion(r.c) })
	if err != nil {
		return r.fail(toOCI(err, k, r.detail()))
	}
	return nil
}
