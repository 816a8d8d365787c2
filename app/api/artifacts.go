package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"artifactapi/app/auth"
	"artifactapi/app/cache"
	"artifactapi/app/config"
	"artifactapi/app/formats"
	"artifactapi/app/httpserve"
	"artifactapi/app/upstream"
	"artifactapi/db"
)

// SplitAPIPath takes the raw (undecoded) request path and returns the remote
// name and the raw artifact path for /api/{remote}/… and /api/v1/remote/{remote}/….
func SplitAPIPath(raw string) (remote, rest string, ok bool) {
	var s string
	switch {
	case strings.HasPrefix(raw, "/api/v1/remote/"):
		s = raw[len("/api/v1/remote/"):]
	case strings.HasPrefix(raw, "/api/"):
		s = raw[len("/api/"):]
	default:
		return "", "", false
	}
	i := strings.IndexByte(s, '/')
	if i <= 0 {
		return s, "", s != ""
	}
	return s[:i], s[i+1:], true
}

// apiCall is what one /api request allocates.
type apiCall struct {
	acc    httpserve.Access
	origin lazyOrigin
}

// lazyOrigin builds the upstream URL (and checks it cannot leave the
// remote's host) only when the engine needs it: never on a fresh hit. It
// implements cache.Origin and cache.Preparer.
type lazyOrigin struct {
	upstream.Origin
	remote      *config.Remote
	path, query string
	// accept, when set, is the Accept header sent upstream (the
	// representation a format's variant stands for).
	accept string
}

// Prepare builds the URL; its error (the path is refused) is the client's.
func (o *lazyOrigin) Prepare() error {
	if o.URL != nil {
		return nil
	}
	u, err := o.remote.UpstreamURL(o.path, o.query)
	if err != nil {
		return err
	}
	o.URL = u
	return nil
}

// Fetch implements cache.Origin.
func (o *lazyOrigin) Fetch(ctx context.Context, method string, hdr http.Header) (*upstream.Response, error) {
	if err := o.Prepare(); err != nil {
		return nil, err
	}
	if o.accept != "" {
		hdr = hdr.Clone()
		if hdr == nil {
			hdr = http.Header{}
		}
		hdr.Set("Accept", o.accept)
	}
	return o.Origin.Fetch(ctx, method, hdr)
}

// Artifact serves GET/HEAD/PUT/DELETE /api/{remote}/{path}.
func (h *Handler) Artifact(c *fiber.Ctx) error {
	start := time.Now()
	// A copy of the path: name and raw may outlive the request.
	name, raw, ok := SplitAPIPath(string(c.Request().URI().PathOriginal()))
	// One allocation for what the request keeps: its access line and its
	// (lazily built) origin.
	call := &apiCall{acc: httpserve.Access{Log: h.d.Log, Metrics: h.d.Metrics, Remote: name, Path: raw, Method: c.Method(), Source: "none", Start: start}}
	acc := &call.acc
	httpserve.SetHardening(&c.Response().Header)
	cfg := h.d.Config()
	r := cfg.Remotes.Remotes[name]
	fail := func(err error, p string) error {
		var status int
		var werr error
		if r != nil && r.Package == config.PackageGo {
			status, werr = writeGoError(c, err)
		} else {
			status, werr = writeError(c, err, name, p)
		}
		acc.Status = status
		acc.Finish(0, err)
		return werr
	}
	if !ok || r == nil {
		acc.UnknownRemote = true
		return fail(Fail(http.StatusNotFound, "unknown remote"), "")
	}
	p, err := config.CleanPath(raw)
	if err != nil {
		return fail(err, "")
	}
	acc.Path = p
	q, err := config.CleanQuery(string(c.Request().URI().QueryString()))
	if err != nil {
		return fail(err, p)
	}
	switch c.Method() {
	case http.MethodGet, http.MethodHead:
		// A public remote needs no credential: its reads skip this check.
		if r.Access != config.AccessPublic {
			if _, err := h.d.Admin.Authorize(c, auth.Read, r); err != nil {
				return fail(err, p)
			}
		}
	case http.MethodPut:
		return h.put(c, r, p, acc, fail)
	case http.MethodDelete:
		return h.delete(c, r, p, acc, fail)
	default:
		c.Set("Allow", "GET, HEAD, PUT, DELETE")
		return fail(Fail(http.StatusMethodNotAllowed, "method not allowed"), p)
	}
	if r.Package == config.PackageDocker {
		return fail(Fail(http.StatusBadRequest, "docker remotes are served under /v2/"), p)
	}
	// The package format's view: normalised path, representation, rewrite.
	fr := formats.Resolve(r, formats.Request{Path: p, Accept: c.Get(fiber.HeaderAccept)})
	p = fr.Path
	acc.Path = p
	v := r.Classify(p)
	if !v.Allowed {
		return fail(Fail(http.StatusForbidden, "path not allowed by the remote's patterns"), p)
	}
	// Only the remote's query_params reach the upstream and the cache key.
	q = r.FilterQuery(q)
	key := p
	if q != "" {
		key = p + "?" + q
	}
	if fr.Variant != "" {
		key, q = fr.Key(), ""
	}
	req := cache.Request{Remote: r, Path: key, Verdict: v, Method: c.Method()}
	opts := httpserve.Options{Bodies: h.bodies}
	if !r.IsLocal() {
		call.origin = lazyOrigin{Origin: cache.OriginFor(h.d.Upstream, r, nil), remote: r, path: p, query: q, accept: fr.Accept}
		req.Origin = &call.origin
		if fr.Rewrite {
			tr, key := h.rewriter(c, r, p, q)
			opts.Transform, opts.TransformKey, opts.Transformed = tr, key, h.rewrites
			// The rewritten length is only known from the body: a HEAD
			// fills the cache like a GET.
			req.Method = http.MethodGet
		} else if q == "" && formats.CarriesChecksums(r) {
			// Looked up only when the file is downloaded: a hit needs none.
			req.Expect = func(ctx context.Context) string {
				look, ok := formats.Checksums(r, p)
				if !ok {
					return ""
				}
				return h.expectFrom(r, look)(ctx)
			}
		}
	}
	err = h.d.Engine.Serve(c.UserContext(), req,
		func(res *cache.Result) error {
			if err := h.aptReleaseDownloaded(c.UserContext(), r, p, res); err != nil {
				return err
			}
			if err := h.mavenMetadataDownloaded(c.UserContext(), r, p, res); err != nil {
				return err
			}
			return httpserve.Write(c, res, acc, opts)
		},
		func() {
			c.Response().Reset()
			httpserve.SetHardening(&c.Response().Header)
		})
	if err != nil {
		return fail(err, p)
	}
	return nil
}

// expectFrom returns the lookup of a file's checksum in the metadata
// documents of its format that the cache already holds (never fetched for
// it): the first one that lists the file gives the digest it is verified
// against; none, nothing is verified.
func (h *Handler) expectFrom(r *config.Remote, look formats.ChecksumLookup) func(context.Context) string {
	return func(ctx context.Context) string {
		for _, k := range look.Docs {
			b, a, err := h.d.Engine.Stored(ctx, r.Name, k, formats.MaxMetadata)
			if err != nil {
				continue
			}
			if d := look.Find(b, a.ContentType); d != "" {
				return d
			}
		}
		if look.Fetch != "" {
			if b, ct, err := h.fetchSmall(ctx, r, look.Fetch, formats.MaxMetadata); err == nil {
				return look.Find(b, ct)
			}
		}
		return ""
	}
}

// fetchSmall reads the small file p of remote r through the cache (from
// the upstream when it is not held, caching it as a client's request
// would): at most max bytes, and its Content-Type.
func (h *Handler) fetchSmall(ctx context.Context, r *config.Remote, p string, max int64) ([]byte, string, error) {
	v := r.Classify(p)
	if !v.Allowed {
		return nil, "", Fail(http.StatusForbidden, "path not allowed by the remote's patterns")
	}
	o := lazyOrigin{Origin: cache.OriginFor(h.d.Upstream, r, nil), remote: r, path: p}
	res, err := h.d.Engine.Get(ctx, cache.Request{Remote: r, Path: p, Verdict: v, Origin: &o, Method: http.MethodGet})
	if err != nil {
		return nil, "", err
	}
	rc, err := res.Open(ctx, 0, -1)
	if err != nil {
		return nil, "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, "", err
	}
	if int64(len(b)) > max {
		return nil, "", fmt.Errorf("api: %s/%s: more than %d bytes", r.Name, p, max)
	}
	return b, res.Artifact.ContentType, nil
}

// rewriter returns the transform of a format's metadata document at p: its
// links are made to go through the remote at the URL the client used
// (scheme and host as Fiber reports them, X-Forwarded-* included, like the
// other absolute URLs the server writes).
// The key names the rewrite: the remote's configuration (a reload makes
// new ones), the client's base URL and the document.
func (h *Handler) rewriter(c *fiber.Ctx, r *config.Remote, p, q string) (func(io.Reader, string) ([]byte, error), string) {
	base := utils.CopyString(c.BaseURL()) + "/api/" + r.Name
	// The document's URL follows from the remote, p and q: the key names
	// them, and the URL itself is built only when a body is rewritten (a
	// warm hit finds the rewrite in memory by this key).
	key := r.Instance() + "\x00" + base + "\x00" + p + "?" + q
	return func(body io.Reader, contentType string) ([]byte, error) {
		doc, err := r.UpstreamURL(p, q)
		if err != nil { // the fetch of this very document built the same URL
			return nil, Fail(http.StatusBadRequest, err.Error())
		}
		w := &formats.Rewriter{Remote: r, DocURL: doc, Base: base}
		b, err := formats.ReadMetadata(body)
		if errors.Is(err, formats.ErrTooLarge) {
			return nil, Fail(http.StatusBadGateway, err.Error())
		}
		if err != nil {
			return nil, err // a read of the stored body: the engine may recover it
		}
		out, err := w.Rewrite(b, contentType)
		if err != nil {
			return nil, Fail(http.StatusBadGateway, "the upstream's metadata could not be rewritten: "+err.Error())
		}
		return out, nil
	}, key
}

func (h *Handler) put(c *fiber.Ctx, r *config.Remote, p string, acc *httpserve.Access, fail func(error, string) error) (err error) {
	who, err := h.d.Admin.Authorize(c, auth.Write, r)
	ev := auth.Event{Action: auth.ActUpload, Remote: r.Name, Target: p}
	defer func() { h.record(c, who, ev, acc) }()
	if err != nil {
		return fail(err, p)
	}
	if !r.IsLocal() {
		return fail(Fail(http.StatusMethodNotAllowed, "uploads are only accepted by local repositories"), p)
	}
	if v := r.Classify(p); !v.Allowed {
		return fail(Fail(http.StatusForbidden, "path not allowed by the remote's patterns"), p)
	}
	if len(c.Request().URI().QueryString()) > 0 {
		return fail(Fail(http.StatusBadRequest, "uploads take no query string"), p)
	}
	max := h.d.Config().Env.MaxUploadSize
	if cl := c.Request().Header.ContentLength(); max > 0 && int64(cl) > max {
		return fail(cache.ErrTooLarge, p)
	}
	a, err := h.d.Engine.Upload(c.UserContext(), r, p, UploadBody(c), strings.TrimSpace(c.Get("X-Checksum-Sha256")), max)
	if err != nil {
		return fail(err, p)
	}
	acc.Status = http.StatusCreated
	acc.Source = "upload"
	acc.Finish(a.Size, nil)
	c.Set("Location", "/api/"+r.Name+"/"+p)
	ev.Count, ev.Detail = 1, "sha256 "+a.SHA256
	answer := fiber.Map{
		"remote": r.Name, "path": p, "size": a.Size, "sha256": a.SHA256,
		"content_type": a.ContentType, "url": "/api/" + r.Name + "/" + p,
	}
	if a.Size == 0 {
		// Usually a mistake: curl sends an empty body (and sha256sum prints
		// the empty file's digest, or nothing) when the file does not exist.
		answer["warning"] = emptyUploadWarning
	}
	return c.Status(http.StatusCreated).JSON(answer)
}

// emptyUploadWarning is the "warning" of an answer to an empty upload: it is
// stored, as asked, but rarely what was meant.
const emptyUploadWarning = "the upload was empty (0 bytes, sha256 e3b0c442…): stored, but check that the file you sent exists and is not empty"

func (h *Handler) delete(c *fiber.Ctx, r *config.Remote, p string, acc *httpserve.Access, fail func(error, string) error) error {
	ev := auth.Event{Action: auth.ActEvict, Remote: r.Name, Target: p}
	if r.IsLocal() {
		ev.Action = auth.ActDelete
	}
	who, err := h.d.Admin.Authorize(c, auth.Delete, r)
	defer func() { h.record(c, who, ev, acc) }()
	if err != nil {
		return fail(err, p)
	}
	key := p
	if q := r.FilterQuery(string(c.Request().URI().QueryString())); q != "" {
		key = p + "?" + q
	}
	reason := "evicted"
	if r.IsLocal() {
		reason = "deleted"
	}
	keys := []string{key}
	if !r.IsLocal() && key == p {
		// A format's metadata: every representation (pypi JSON/HTML, npm
		// full/abbreviated) under its normalised path.
		keys = formats.Keys(r, p)
		key = keys[0]
	}
	evicted := false
	for _, k := range keys {
		err := h.d.Engine.Evict(c.UserContext(), r.Name, k, reason)
		if errors.Is(err, db.ErrNotFound) {
			continue
		}
		if err != nil {
			return fail(err, p)
		}
		evicted = true
	}
	if !evicted {
		return fail(db.ErrNotFound, p)
	}
	acc.Status = http.StatusOK
	acc.Finish(0, nil)
	return c.JSON(fiber.Map{"remote": r.Name, "path": key, reason: true})
}

// record writes the audit entry of a mutation of /api, its outcome taken
// from the status answered.
func (h *Handler) record(c *fiber.Ctx, who *auth.Principal, ev auth.Event, acc *httpserve.Access) {
	switch st := acc.Status; {
	case st == http.StatusUnauthorized || st == http.StatusForbidden || st == http.StatusTooManyRequests:
		ev.Outcome = auth.OutcomeDenied
	case st >= 400:
		ev.Outcome = auth.OutcomeFailed
		ev.Detail = strconv.Itoa(st) + " " + http.StatusText(st)
	}
	h.d.Admin.Record(c, who, ev)
}

// UploadBody is the request body of an upload, streamed. A body with a
// declared length that ends early (the client went away) ends with
// io.ErrUnexpectedEOF, not io.EOF: a cut upload is never stored as a short
// file.
func UploadBody(c *fiber.Ctx) io.Reader {
	body := c.Context().RequestBodyStream()
	if body == nil {
		return bytes.NewReader(c.Body())
	}
	if cl := c.Request().Header.ContentLength(); cl >= 0 {
		return &declaredBody{r: body, left: int64(cl)}
	}
	return body
}

// declaredBody reads a body of a declared length.
type declaredBody struct {
	r    io.Reader
	left int64
}

func (d *declaredBody) Read(p []byte) (int, error) {
	if d.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > d.left {
		p = p[:d.left]
	}
	n, err := d.r.Read(p)
	d.left -= int64(n)
	if err == io.EOF && d.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
