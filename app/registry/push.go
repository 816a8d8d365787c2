package registry

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"artifactapi/app/localrepo"
	"artifactapi/app/oci"
)

// Push to a local docker repository (distribution-spec "Push"): blob
// uploads (monolithic POST ?digest=, POST then PUT, chunked PATCH with
// Content-Range, upload status, cancel), cross-repository mount, manifest
// PUT, and the DELETEs. Bodies stream to the blob store; see package
// localrepo for how an upload survives a change of replica.

// body returns the request body as a stream and its length (-1 when the
// client did not say), or nil for none. Never c.Body(): that would buffer.
func (r localReq) body() (io.Reader, int64) {
	cl := int64(r.c.Request().Header.ContentLength())
	if cl == 0 {
		return nil, 0
	}
	s := r.c.Context().RequestBodyStream()
	if s == nil {
		return nil, 0
	}
	if cl < 0 {
		cl = -1 // chunked or until close
	}
	return &stickyEOF{r: s}, cl
}

// stickyEOF keeps returning the first error (io.EOF included) of r. A
// fasthttp chunked body stream read again after its end blocks on the
// connection for the next request; minio-go reads again after io.EOF.
type stickyEOF struct {
	r   io.Reader
	err error
}

func (s *stickyEOF) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.r.Read(p)
	s.err = err
	return n, err
}

// contentRange parses the Content-Range of a chunk: "<start>-<end>" (the
// spec's form; "bytes " and "/<size>" tolerated). start is -1 when absent.
func (r localReq) contentRange() (start, end int64, ok bool) {
	v := strings.TrimSpace(r.c.Get("Content-Range"))
	if v == "" {
		return -1, -1, true
	}
	v = strings.TrimPrefix(strings.TrimPrefix(v, "bytes="), "bytes ")
	v, _, _ = strings.Cut(v, "/")
	a, b, found := strings.Cut(v, "-")
	s, err1 := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	e, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 64)
	if !found || err1 != nil || err2 != nil || s < 0 || e < s-1 {
		return 0, 0, false
	}
	return s, e, true
}

func (r localReq) uploadURL(id string) string { return r.base() + "/blobs/uploads/" + id }

// setUploadHeaders sets what every upload answer carries: where to send the
// next request and how many bytes the registry holds.
func (r localReq) setUploadHeaders(id string, size int64) {
	r.c.Set("Location", r.uploadURL(id))
	r.c.Set("Docker-Upload-UUID", id)
	r.c.Set("Range", fmt.Sprintf("0-%d", max(size-1, 0)))
	r.c.Response().Header.SetContentLength(0)
}

// created answers 201 for a stored blob.
func (r localReq) blobCreated(d string) error {
	r.c.Set("Location", r.base()+"/blobs/"+d)
	r.c.Set("Docker-Content-Digest", d)
	r.c.Response().Header.SetContentLength(0)
	r.done(http.StatusCreated, 0)
	return r.c.SendStatus(http.StatusCreated)
}

// startUpload answers POST /blobs/uploads/: a mount (?mount=&from=), a
// monolithic upload (?digest= with the body), or a new session (202).
func (h *Handler) startUpload(r localReq) error {
	if m := r.query("mount"); m != "" {
		d, err := oci.ParseContentDigest(m)
		if err != nil {
			return r.fail(Fail(CodeDigestInvalid, "invalid digest", map[string]string{"mount": m}))
		}
		from := h.mountSource(r.query("from"))
		b, err := h.d.Local.Mount(r.ctx(), r.repo, d, from)
		if err == nil {
			return r.blobCreated(b.Digest)
		}
		if !errors.Is(err, localrepo.ErrBlobUnknown) {
			return r.fail(localError(err, r))
		}
		// Not mountable: the client uploads it in the session opened below.
	} else if v := r.query("digest"); v != "" {
		d, err := oci.ParseContentDigest(v)
		if err != nil {
			return r.fail(Fail(CodeDigestInvalid, "invalid digest", map[string]string{"digest": v}))
		}
		body, size := r.body()
		if body == nil {
			body = strings.NewReader("")
		}
		b, err := h.d.Local.PutBlob(r.ctx(), r.repo, d, body, size)
		if err != nil {
			return r.fail(localError(err, r))
		}
		return r.blobCreated(b.Digest)
	}
	u, err := h.d.Local.StartUpload(r.ctx(), r.repo)
	if err != nil {
		return r.fail(localError(err, r))
	}
	r.setUploadHeaders(u.ID, 0)
	r.done(http.StatusAccepted, 0)
	return r.c.SendStatus(http.StatusAccepted)
}

// mountSource parses ?from=: a repository of a local docker remote, else
// nil (then any local repository's copy may be mounted: pushes all need
// the same admin credential, so no repository is hidden from another).
func (h *Handler) mountSource(from string) *localrepo.Repo {
	if from == "" {
		return nil
	}
	remote, rest, ok := h.localRemote("/" + from)
	if !ok || !oci.ValidName(rest) {
		return &localrepo.Repo{Remote: "", Name: from} // holds nothing: the mount falls back to an upload
	}
	return &localrepo.Repo{Remote: remote.Name, Name: rest}
}

// uploadStatus answers GET on an upload session (204 with its Range).
func (h *Handler) uploadStatus(r localReq) error {
	u, err := h.d.Local.Upload(r.ctx(), r.repo, r.upload)
	if err != nil {
		return r.fail(localError(err, r))
	}
	r.setUploadHeaders(u.ID, u.Size)
	r.done(http.StatusNoContent, 0)
	return r.c.SendStatus(http.StatusNoContent)
}

// patchUpload appends a chunk (PATCH): in order, or 416 with the upload's
// current Range so the client can resume.
func (h *Handler) patchUpload(r localReq) error {
	start, end, ok := r.contentRange()
	if !ok {
		return r.fail(&Error{Status: http.StatusRequestedRangeNotSatisfiable, Code: CodeBlobUploadInvalid, Message: "invalid Content-Range", Detail: r.detail()})
	}
	body, size := r.body()
	if start >= 0 && size >= 0 && end-start+1 != size {
		return r.fail(&Error{Status: http.StatusRequestedRangeNotSatisfiable, Code: CodeBlobUploadInvalid,
			Message: "Content-Range and Content-Length disagree", Detail: r.detail()})
	}
	if body == nil {
		body = strings.NewReader("")
	}
	n, err := h.d.Local.AppendUpload(r.ctx(), r.repo, r.upload, start, body, size)
	if err != nil {
		if errors.Is(err, localrepo.ErrRangeInvalid) {
			r.setUploadHeaders(r.upload, n)
		}
		return r.fail(localError(err, r))
	}
	r.setUploadHeaders(r.upload, n)
	r.done(http.StatusAccepted, 0)
	return r.c.SendStatus(http.StatusAccepted)
}

// putUpload completes an upload (PUT ?digest=, optionally with the last chunk).
func (h *Handler) putUpload(r localReq) error {
	v := r.query("digest")
	d, err := oci.ParseContentDigest(v)
	if err != nil {
		return r.fail(Fail(CodeDigestInvalid, "a valid ?digest= is required to complete an upload", map[string]string{"digest": v}))
	}
	start, end, ok := r.contentRange()
	if !ok {
		return r.fail(&Error{Status: http.StatusRequestedRangeNotSatisfiable, Code: CodeBlobUploadInvalid, Message: "invalid Content-Range", Detail: r.detail()})
	}
	body, size := r.body()
	if start >= 0 && size >= 0 && end-start+1 != size {
		return r.fail(&Error{Status: http.StatusRequestedRangeNotSatisfiable, Code: CodeBlobUploadInvalid,
			Message: "Content-Range and Content-Length disagree", Detail: r.detail()})
	}
	b, err := h.d.Local.FinishUpload(r.ctx(), r.repo, r.upload, d, start, body, size)
	if err != nil {
		return r.fail(localError(err, r))
	}
	return r.blobCreated(b.Digest)
}

// cancelUpload answers DELETE on an upload session (204).
func (h *Handler) cancelUpload(r localReq) error {
	if err := h.d.Local.CancelUpload(r.ctx(), r.repo, r.upload); err != nil {
		return r.fail(localError(err, r))
	}
	r.done(http.StatusNoContent, 0)
	return r.c.SendStatus(http.StatusNoContent)
}

// putManifest answers PUT /manifests/<reference>: the body (at most
// oci.MaxManifestSize) is stored as pushed.
func (h *Handler) putManifest(r localReq) error {
	ref, err := oci.ParseContentReference(r.ref)
	if errors.Is(err, oci.ErrDigestInvalid) {
		return r.fail(Fail(CodeDigestInvalid, "invalid digest", map[string]string{"reference": r.ref}))
	}
	if err != nil {
		return r.fail(&Error{Status: http.StatusBadRequest, Code: CodeTagInvalid, Message: "invalid tag", Detail: map[string]string{"reference": r.ref}})
	}
	body, _ := r.body()
	if body == nil {
		return r.fail(&Error{Status: http.StatusBadRequest, Code: CodeManifestInvalid, Message: "empty manifest", Detail: r.detail()})
	}
	raw, err := io.ReadAll(io.LimitReader(body, oci.MaxManifestSize+1))
	if err != nil {
		return r.fail(&Error{Status: http.StatusBadRequest, Code: CodeManifestInvalid, Message: "could not read the manifest", Detail: r.detail(), Err: err})
	}
	if len(raw) > oci.MaxManifestSize {
		return r.fail(&Error{Status: http.StatusRequestEntityTooLarge, Code: CodeSizeInvalid,
			Message: fmt.Sprintf("a manifest may not exceed %d bytes", oci.MaxManifestSize), Detail: r.detail()})
	}
	var tags []string
	for _, t := range r.c.Request().URI().QueryArgs().PeekMulti("tag") {
		if !oci.ValidTag(string(t)) {
			return r.fail(&Error{Status: http.StatusBadRequest, Code: CodeTagInvalid, Message: "invalid tag", Detail: map[string]string{"tag": string(t)}})
		}
		tags = append(tags, string(t))
	}
	p, err := h.d.Local.PutManifest(r.ctx(), r.repo, ref, tags, r.c.Get("Content-Type"), raw)
	if err != nil {
		return r.fail(localError(err, r))
	}
	r.c.Set("Location", r.base()+"/manifests/"+p.Digest.String())
	r.c.Set("Docker-Content-Digest", p.Digest.String())
	if p.Subject != "" {
		r.c.Set("OCI-Subject", p.Subject)
	}
	if len(tags) > 0 {
		r.c.Set("OCI-Tag", strings.Join(tags, ", "))
	}
	r.c.Response().Header.SetContentLength(0)
	r.done(http.StatusCreated, 0)
	return r.c.SendStatus(http.StatusCreated)
}

// deleteManifest answers DELETE /manifests/<reference>: a tag, or a
// manifest by digest with its tags (202).
func (h *Handler) deleteManifest(r localReq) error {
	ref, err := oci.ParseContentReference(r.ref)
	if err != nil {
		return r.fail(Fail(CodeDigestInvalid, "invalid reference", map[string]string{"reference": r.ref}))
	}
	if err := h.d.Local.DeleteManifest(r.ctx(), r.repo, ref); err != nil {
		return r.fail(localError(err, r))
	}
	r.done(http.StatusAccepted, 0)
	return r.c.SendStatus(http.StatusAccepted)
}

// deleteBlob answers DELETE /blobs/<digest> (202): the repository no
// longer holds it; its bytes go at garbage collection.
func (h *Handler) deleteBlob(r localReq) error {
	d, err := oci.ParseContentDigest(r.ref)
	if err != nil {
		return r.fail(Fail(CodeDigestInvalid, "invalid digest", map[string]string{"digest": r.ref}))
	}
	if err := h.d.Local.DeleteBlob(r.ctx(), r.repo, d); err != nil {
		return r.fail(localError(err, r))
	}
	r.done(http.StatusAccepted, 0)
	return r.c.SendStatus(http.StatusAccepted)
}
