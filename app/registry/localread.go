package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"artifactapi/app/localrepo"
	"artifactapi/app/oci"
)

// localManifest answers GET and HEAD of a pushed manifest, by tag or
// digest, with the exact bytes and media type it was pushed with.
func (h *Handler) localManifest(r localReq) error {
	ref, err := oci.ParseContentReference(r.ref)
	if errors.Is(err, oci.ErrDigestInvalid) {
		return r.fail(Fail(CodeDigestInvalid, "invalid digest", map[string]string{"reference": r.ref}))
	}
	if err != nil {
		return r.fail(Fail(CodeManifestUnknown, "invalid tag", map[string]string{"reference": r.ref}))
	}
	m, err := h.d.Local.Manifest(r.ctx(), r.repo, ref)
	if err != nil {
		return r.fail(localError(err, r))
	}
	c := r.c
	c.Set("Content-Type", m.MediaType)
	c.Set("Docker-Content-Digest", m.Digest)
	c.Set("ETag", `"`+m.Digest+`"`)
	c.Set("X-Artifact-Source", "local")
	if inm := c.Get("If-None-Match"); inm != "" && etagMatches(inm, `"`+m.Digest+`"`) {
		r.done(http.StatusNotModified, 0)
		return c.SendStatus(http.StatusNotModified)
	}
	c.Status(http.StatusOK)
	if c.Method() == http.MethodHead {
		c.Response().Header.SetContentLength(len(m.Body))
		c.Context().Response.SkipBody = true
		r.done(http.StatusOK, 0)
		return nil
	}
	r.done(http.StatusOK, int64(len(m.Body)))
	h.d.Local.Pulled(r.repo, m.Digest)
	return c.Send(m.Body)
}

// localBlob answers GET and HEAD of a blob the repository holds, with
// single byte ranges (206; 416 for a range outside the blob).
func (h *Handler) localBlob(r localReq) error {
	d, err := oci.ParseContentDigest(r.ref)
	if err != nil {
		return r.fail(Fail(CodeDigestInvalid, "invalid digest", map[string]string{"digest": r.ref}))
	}
	b, err := h.d.Local.Blob(r.ctx(), r.repo, d)
	if err != nil {
		return r.fail(localError(err, r))
	}
	c := r.c
	c.Set("Docker-Content-Digest", b.Digest)
	c.Set("ETag", `"`+b.Digest+`"`)
	c.Set("Accept-Ranges", "bytes")
	c.Set("X-Artifact-Source", "local")
	off, n, partial, ok := blobRange(c.Get("Range"), b.Size)
	if !ok {
		e := &Error{Status: http.StatusRequestedRangeNotSatisfiable, Code: CodeUnsupported, Message: "range not satisfiable",
			Detail: map[string]string{"range": c.Get("Range"), "size": strconv.FormatInt(b.Size, 10)}}
		c.Set("Content-Range", fmt.Sprintf("bytes */%d", b.Size))
		return r.fail(e)
	}
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		c.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, b.Size))
	}
	c.Set("Content-Type", "application/octet-stream")
	c.Status(status)
	if c.Method() == http.MethodHead || n == 0 {
		c.Response().Header.SetContentLength(int(n))
		if c.Method() == http.MethodHead {
			c.Context().Response.SkipBody = true
		}
		r.done(status, 0)
		return nil
	}
	body, err := h.d.Local.OpenBlob(r.ctx(), b, off, n)
	if err != nil {
		c.Response().Header.Del("Content-Range")
		return r.fail(localError(err, r))
	}
	// fasthttp reads and closes the body after the handler returns.
	c.Context().SetBodyStream(body, int(n))
	r.done(status, n)
	return nil
}

// blobRange parses a single "bytes=" range of a blob of size bytes. ok is
// false when the range cannot be satisfied: it starts past the end, ends
// before it starts, or is an empty suffix. Anything else unparseable, or
// several ranges, is ignored (the whole blob, as RFC 9110 allows).
func blobRange(h string, size int64) (off, n int64, partial, ok bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, size, false, true
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, size, false, true
	}
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == "" {
		k, err := strconv.ParseInt(b, 10, 64)
		if err != nil || k < 0 {
			return 0, size, false, true
		}
		if k == 0 || size == 0 {
			return 0, 0, false, false
		}
		k = min(k, size)
		return size - k, k, true, true
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 {
		return 0, size, false, true
	}
	end := size - 1
	if b != "" {
		e, err := strconv.ParseInt(b, 10, 64)
		if err != nil {
			return 0, size, false, true
		}
		if e < start {
			return 0, 0, false, false
		}
		end = min(e, size-1)
	}
	if start >= size {
		return 0, 0, false, false
	}
	return start, end - start + 1, true, true
}

// localTags answers GET /tags/list with pagination (n, last) and a Link
// header to the next page.
func (h *Handler) localTags(r localReq) error {
	n := -1
	if v := r.query("n"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 0 {
			return r.fail(&Error{Status: http.StatusBadRequest, Code: CodeUnsupported, Message: "n must be a non-negative integer", Detail: r.detail()})
		}
		n = k
	}
	last := r.query("last")
	tags := []string{}
	more := false
	if n != 0 {
		got, m, err := h.d.Local.Tags(r.ctx(), r.repo, last, n)
		if err != nil {
			return r.fail(localError(err, r))
		}
		tags, more = append(tags, got...), m
	}
	if more {
		q := url.Values{"n": {strconv.Itoa(n)}, "last": {tags[len(tags)-1]}}
		r.c.Set("Link", fmt.Sprintf(`<%s/tags/list?%s>; rel="next"`, r.base(), q.Encode()))
	}
	body, err := json.Marshal(map[string]any{"name": r.repo.Remote + "/" + r.repo.Name, "tags": tags})
	if err != nil {
		return r.fail(toOCI(err, oci.KindTags, r.detail()))
	}
	return r.sendJSON(http.StatusOK, "application/json", body)
}

// localReferrerIndex answers GET /referrers/<digest> (OCI 1.1): an image index of the
// manifests whose subject is the digest, filtered by ?artifactType=.
func (h *Handler) localReferrerIndex(r localReq) error {
	d, err := oci.ParseContentDigest(r.ref)
	if err != nil {
		return r.fail(Fail(CodeDigestInvalid, "invalid digest", map[string]string{"digest": r.ref}))
	}
	at := r.query("artifactType")
	descs, err := h.d.Local.Referrers(r.ctx(), r.repo, d, at)
	if err != nil {
		return r.fail(localError(err, r))
	}
	if at != "" {
		r.c.Set("OCI-Filters-Applied", "artifactType")
	}
	body, err := json.Marshal(struct {
		SchemaVersion int                    `json:"schemaVersion"`
		MediaType     string                 `json:"mediaType"`
		Manifests     []localrepo.Descriptor `json:"manifests"`
	}{2, oci.MediaTypeOCIIndex, descs})
	if err != nil {
		return r.fail(toOCI(err, oci.KindUnknown, r.detail()))
	}
	return r.sendJSON(http.StatusOK, oci.MediaTypeOCIIndex, body)
}

func (r localReq) sendJSON(status int, ctype string, body []byte) error {
	r.c.Set("Content-Type", ctype)
	r.c.Status(status)
	if r.c.Method() == http.MethodHead {
		r.c.Response().Header.SetContentLength(len(body))
		r.c.Context().Response.SkipBody = true
		r.done(status, 0)
		return nil
	}
	r.done(status, int64(len(body)))
	return r.c.Send(body)
}
