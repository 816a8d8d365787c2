package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"artifactapi/app/cache"
	"artifactapi/app/httpserve"
	"artifactapi/app/oci"
	"artifactapi/app/upstream"
)

// manifest answers GET and HEAD /v2/<name>/manifests/<reference>.
//
// Manifests are small, so both methods fill the cache with a GET: a HEAD
// (how containerd resolves a tag) then also records tag → digest, which is
// what lets a cached tag pull while the upstream is down. The body is read
// whole to compute Docker-Content-Digest, which is sent on every answer.
func (h *Handler) manifest(r request) error {
	ref, err := oci.ParseReference(r.route.Ref)
	if errors.Is(err, oci.ErrDigestInvalid) {
		return r.fail(Fail(CodeDigestInvalid, "invalid digest", map[string]string{"reference": r.route.Ref}))
	}
	if err != nil {
		return r.fail(Fail(CodeManifestUnknown, "invalid tag", map[string]string{"reference": r.route.Ref}))
	}
	p := r.t.Name + "/manifests/" + ref.String()
	r.acc.Path = p
	v, oe := r.classify(p)
	if oe != nil {
		return r.fail(oe)
	}
	var accepts []string
	for _, v := range r.c.Request().Header.PeekAll("Accept") {
		accepts = append(accepts, string(v))
	}
	if ref.IsDigest() {
		// Content is fixed by the digest: ask for every type, whatever the client takes.
		accepts = append(accepts, oci.ManifestTypes...)
	}
	accept, variant, acceptable := negotiate(accepts)
	base, err := newOrigin(h.d.Upstream, r.t.Remote, r.t.Name, p, "", accept)
	if err != nil {
		return r.fail(toOCI(err, oci.KindManifest, r.detail()))
	}
	mo := &manifestOrigin{origin: base, recent: h.recent, log: h.d.Log, metrics: h.d.Metrics, remote: r.t.Remote.Name}
	req := cache.Request{Remote: r.t.Remote, Path: p, Verdict: v, Method: http.MethodGet, Origin: &tagOrigin{mo}, Acceptable: acceptable,
		NegativeKey: p} // a tag missing upstream is missing for every Accept
	if variant != "" {
		req.Path = p + "?accept=" + variant
	}
	if ref.IsDigest() {
		mo.hint = recentKey(r.t.Remote.Name, r.t.Name, ref.Digest.String())
		req.Origin, req.ExpectDigest, req.Acceptable = mo, ref.Digest.String(), nil
	}
	ctx := r.ctx()
	res, body, err := h.readDocument(ctx, req)
	if err != nil {
		return r.fail(toOCI(err, oci.KindManifest, r.detail()))
	}
	sum := sha256.Sum256(body)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	if ref.IsDigest() && digest != ref.Digest.String() {
		// Only a corrupted stored copy can get here (fills are verified).
		h.d.Engine.Forget(ctx, r.t.Remote.Name, p)
		return r.fail(toOCI(&cache.Error{Status: http.StatusBadGateway, Msg: "stored manifest failed verification; retry"}, oci.KindManifest, r.detail()))
	}
	mediaType, ok := manifestType(res.Artifact.ContentType, body)
	if !ok {
		// Stored before manifests were checked: never serve it, fetch anew next time.
		h.d.Engine.Forget(ctx, r.t.Remote.Name, req.Path)
		e := errNotManifest(res.Artifact.ContentType)
		e.Detail = r.detail()
		return r.fail(e)
	}
	h.recent.put(recentKey(r.t.Remote.Name, r.t.Name, digest), body, mediaType)
	if !ref.IsDigest() && res.Source != "cache" {
		h.indexByDigest(r, digest, body, mediaType, base.url)
	}
	return writeManifest(r, res, body, digest, mediaType)
}

// indexByDigest stores a manifest just fetched by tag under its digest as
// well, so that a pull by digest (containerd resolves a tag, then GETs the
// digest) is answered from the cache while the upstream is down, after a
// restart too. The copy is filled from the bytes in hand (no upstream
// request), verified and committed by the engine in the background.
func (h *Handler) indexByDigest(r request, digest string, body []byte, mediaType string, u *url.URL) {
	p := r.t.Name + "/manifests/" + digest
	v := r.t.Remote.Classify(p)
	if !v.Allowed {
		return
	}
	b := append([]byte(nil), body...)
	req := cache.Request{Remote: r.t.Remote, Path: p, Verdict: v, Method: http.MethodGet, ExpectDigest: digest,
		Origin: fixedOrigin(func() *upstream.Response { return bytesResponse(b, mediaType, u) })}
	res, err := h.d.Engine.Get(r.ctx(), req)
	if err != nil {
		h.d.Log.Debug("manifest not indexed by digest", "remote", r.t.Remote.Name, "path", p, "err", err)
		return
	}
	res.Release() // a fill goes on without readers
}

// fixedOrigin answers every GET with the response it builds.
type fixedOrigin func() *upstream.Response

// Fetch implements cache.Origin.
func (o fixedOrigin) Fetch(context.Context, string, http.Header) (*upstream.Response, error) {
	return o(), nil
}

// readManifest reads a result's body whole (bounded) and releases it. For a
// download in progress it returns once the engine has verified it; a cache
// hit comes from bodies when it is there (checked against its digest when
// it was read).
func readManifest(ctx context.Context, res *cache.Result, bodies *httpserve.BodyCache) ([]byte, error) {
	defer res.Release()
	if res.Artifact.Size > oci.MaxManifestSize {
		return nil, &cache.Error{Status: http.StatusBadGateway, Msg: "manifest too large"}
	}
	if res.Source == "cache" && res.SizeKnown {
		b, ok, err := bodies.Read(ctx, res.Artifact, res.Open)
		if err != nil {
			return nil, err // Engine.Serve recovers a vanished or replaced object
		}
		if ok {
			return b, nil
		}
	}
	rc, err := res.Open(ctx, 0, -1)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	body, err := io.ReadAll(io.LimitReader(rc, oci.MaxManifestSize+1))
	if err != nil {
		var ce *cache.Error
		if errors.As(err, &ce) || cache.Recoverable(err) {
			return nil, err
		}
		return nil, &cache.Error{Status: http.StatusBadGateway, Msg: "manifest download failed", Err: err}
	}
	if len(body) > oci.MaxManifestSize {
		return nil, &cache.Error{Status: http.StatusBadGateway, Msg: "manifest too large"}
	}
	return body, nil
}

// writeManifest sends the manifest with its media type, digest and length;
// a matching If-None-Match gets 304, a HEAD no body.
func writeManifest(r request, res *cache.Result, body []byte, digest, mediaType string) error {
	c := r.c
	etag := `"` + digest + `"`
	c.Set("Content-Type", mediaType)
	c.Set("Docker-Content-Digest", digest)
	c.Set("ETag", etag)
	c.Set("X-Artifact-Source", res.Source)
	if res.Stale {
		c.Set("X-Artifact-Stale", "true")
	}
	r.acc.Source, r.acc.Stale = res.Source, res.Stale
	if inm := c.Get("If-None-Match"); inm != "" && etagMatches(inm, etag) {
		r.acc.Status = http.StatusNotModified
		r.acc.Finish(0, nil)
		return c.SendStatus(http.StatusNotModified)
	}
	return sendDocument(r, body)
}

// readDocument reads a small JSON document (manifest, referrers index)
// through the engine, whole and bounded.
func (h *Handler) readDocument(ctx context.Context, req cache.Request) (res *cache.Result, body []byte, err error) {
	err = h.d.Engine.Serve(ctx, req, func(got *cache.Result) (err error) {
		res = got
		body, err = readManifest(ctx, got, h.bodies)
		return err
	}, nil)
	return res, body, err
}

// sendDocument answers 200 with body (headers already set); a HEAD gets
// its length and no body.
func sendDocument(r request, body []byte) error {
	c := r.c
	r.acc.Status = http.StatusOK
	c.Status(http.StatusOK)
	if c.Method() == http.MethodHead {
		c.Response().Header.SetContentLength(len(body))
		c.Context().Response.SkipBody = true
		r.acc.Finish(0, nil)
		return nil
	}
	r.acc.Finish(int64(len(body)), nil)
	return c.Send(body)
}

func etagMatches(inm, etag string) bool {
	for _, t := range strings.Split(inm, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
