package registry

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"artifactapi/app/cache"
	"artifactapi/app/config"
	"artifactapi/app/httpserve"
	"artifactapi/app/localrepo"
	"artifactapi/app/metrics"
	"artifactapi/app/oci"
)

// Codes of the push API (distribution-spec "Error Codes") beyond those of
// the pull-through surface.
const (
	CodeBlobUploadUnknown   = "BLOB_UPLOAD_UNKNOWN"
	CodeBlobUploadInvalid   = "BLOB_UPLOAD_INVALID"
	CodeManifestBlobUnknown = "MANIFEST_BLOB_UNKNOWN"
	CodeSizeInvalid         = "SIZE_INVALID"
	CodeTagInvalid          = "TAG_INVALID"
)

// What a /v2 path of a local docker repository addresses.
type localKind int

const (
	localManifest localKind = iota
	localBlob
	localUpload
	localTags
	localReferrers
)

// localReq is one request to a local docker repository.
type localReq struct {
	c      *fiber.Ctx
	remote *config.Remote
	repo   localrepo.Repo
	kind   localKind
	ref    string // manifest reference, blob or subject digest
	upload string // upload session id ("" for POST .../blobs/uploads/)
	acc    *httpserve.Access
	fail   func(*Error) error
}

// ctx is the context of storage calls (see request.ctx: never the
// recycled *fasthttp.RequestCtx).
func (r localReq) ctx() context.Context { return metrics.Context(metrics.PhaseRequest) }

func (r localReq) detail() map[string]string {
	return map[string]string{"remote": r.repo.Remote, "name": r.repo.Name}
}

// base is the path prefix of the repository in URLs we hand out.
func (r localReq) base() string { return "/v2/" + r.repo.Remote + "/" + r.repo.Name }

// localRemote returns the local docker remote named by the first segment of
// p (a /v2 path after "/v2") and the rest of the path. Local repositories
// are addressed by their remote's name only: never by ?ns= nor as the
// default docker remote.
func (h *Handler) localRemote(p string) (*config.Remote, string, bool) {
	if h.d.Local == nil {
		return nil, "", false
	}
	first, rest, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	r := h.d.Config().Remotes.Remotes[first]
	if r == nil || !r.IsLocal() || r.Package != config.PackageDocker {
		return nil, "", false
	}
	return r, rest, true
}

// splitLocal splits the path of a repository below its remote.
func splitLocal(rest string) (kind localKind, name, ref, upload string, ok bool) {
	if i := strings.LastIndex(rest, "/referrers/"); i > 0 {
		ref = rest[i+len("/referrers/"):]
		if ref != "" && !strings.Contains(ref, "/") {
			return localReferrers, rest[:i], ref, "", true
		}
	}
	route := oci.SplitPath(rest)
	switch route.Kind {
	case oci.KindManifest:
		return localManifest, route.Name, route.Ref, "", true
	case oci.KindBlob:
		return localBlob, route.Name, route.Ref, "", true
	case oci.KindTags:
		return localTags, route.Name, "", "", true
	case oci.KindUpload:
		id := strings.Trim(rest[len(route.Name)+len("/blobs/uploads"):], "/")
		return localUpload, route.Name, "", id, !strings.Contains(id, "/")
	}
	return 0, "", "", "", false
}

// local answers a request to a local docker repository: a full registry.
// Reads follow the remote's read policy (access:); every write needs the
// write scope on the remote.
func (h *Handler) local(c *fiber.Ctx, remote *config.Remote, rest string, acc *httpserve.Access, fail func(*Error) error) error {
	acc.Remote = remote.Name
	kind, name, ref, upload, ok := splitLocal(rest)
	if !ok {
		e := Fail(CodeUnsupported, "unsupported registry endpoint", map[string]string{"path": acc.Path})
		e.Status = http.StatusNotFound
		return fail(e)
	}
	if !oci.ValidName(name) {
		return fail(Fail(CodeNameInvalid, "invalid repository name", map[string]string{"name": name, "remote": remote.Name}))
	}
	r := localReq{c: c, remote: remote, repo: localrepo.Repo{Remote: remote.Name, Name: name, MaxSize: remote.MaxSizeBytes()},
		kind: kind, ref: ref, upload: upload, acc: acc, fail: fail}
	m := c.Method()
	read := m == http.MethodGet || m == http.MethodHead
	if !read || kind == localUpload {
		if e := h.authorize(c, remote); e != nil {
			err := fail(e)
			if e.Code == CodeUnauthorized { // after fail: writeError sets Basic
				c.Set(fiber.HeaderWWWAuthenticate, challenge(c, "repository:"+remote.Name+"/"+name+":pull,push"))
			}
			return err
		}
	} else if e := h.authorizeRead(c, remote, remote.Name+"/"+name); e != nil {
		return fail(e)
	}
	switch {
	case kind == localManifest && read:
		return h.localManifest(r)
	case kind == localManifest && m == http.MethodPut:
		return h.putManifest(r)
	case kind == localManifest && m == http.MethodDelete:
		return h.deleteManifest(r)
	case kind == localBlob && read:
		return h.localBlob(r)
	case kind == localBlob && m == http.MethodDelete:
		return h.deleteBlob(r)
	case kind == localTags && read:
		return h.localTags(r)
	case kind == localReferrers && read:
		return h.localReferrerIndex(r)
	case kind == localUpload && upload == "" && m == http.MethodPost:
		return h.startUpload(r)
	case kind == localUpload && upload != "":
		switch m {
		case http.MethodGet, http.MethodHead:
			return h.uploadStatus(r)
		case http.MethodPatch:
			return h.patchUpload(r)
		case http.MethodPut:
			return h.putUpload(r)
		case http.MethodDelete:
			return h.cancelUpload(r)
		}
	}
	return fail(Fail(CodeUnsupported, "method not allowed here", map[string]string{"method": m}))
}

// authorize checks the admin credential of a push: UNAUTHORIZED with the
// Basic challenge (what docker login, skopeo and the conformance suite
// answer), or TOOMANYREQUESTS while the address is throttled.
func (h *Handler) authorize(c *fiber.Ctx, r *config.Remote) *Error {
	if h.d.AuthorizeWrite == nil {
		return Fail(CodeDenied, "pushing is disabled", nil)
	}
	err := h.d.AuthorizeWrite(c, r)
	if err == nil {
		return nil
	}
	if h.d.StatusOf != nil {
		switch st, wait := h.d.StatusOf(err); st {
		case http.StatusTooManyRequests:
			e := Fail(CodeTooManyRequests, "too many wrong credentials from this address; retry later", nil)
			secs := int64((wait + time.Second - 1) / time.Second)
			e.Err = &cache.Error{Status: st, Msg: "throttled", RetryAfter: strconv.FormatInt(max(secs, 1), 10)}
			return e
		case http.StatusForbidden:
			what := "push to "
			if c.Method() == http.MethodDelete {
				what = "delete from "
			}
			return Fail(CodeDenied, "this credential may not "+what+r.Name, map[string]string{"remote": r.Name})
		}
	}
	return Fail(CodeUnauthorized, "pushing needs a credential with the write scope on "+r.Name+" (or ADMIN_TOKEN)", nil)
}

// localError maps an error of the local store to the OCI envelope.
func localError(err error, r localReq) *Error {
	d := r.detail()
	e := func(status int, code, msg string) *Error {
		return &Error{Status: status, Code: code, Message: msg, Detail: d, Err: err}
	}
	switch {
	case errors.Is(err, localrepo.ErrBlobUnknown):
		return e(http.StatusNotFound, CodeBlobUnknown, "blob unknown to registry")
	case errors.Is(err, localrepo.ErrManifestUnknown):
		return e(http.StatusNotFound, CodeManifestUnknown, "manifest unknown")
	case errors.Is(err, localrepo.ErrUploadUnknown):
		return e(http.StatusNotFound, CodeBlobUploadUnknown, "blob upload unknown to registry")
	case errors.Is(err, localrepo.ErrDigestInvalid):
		return e(http.StatusBadRequest, CodeDigestInvalid, "provided digest did not match uploaded content")
	case errors.Is(err, localrepo.ErrManifestBlobUnknown):
		return e(http.StatusBadRequest, CodeManifestBlobUnknown, publicMessage(err, "manifest references a blob or manifest this repository does not hold"))
	case errors.Is(err, localrepo.ErrManifestInvalid):
		return e(http.StatusBadRequest, CodeManifestInvalid, publicMessage(err, "manifest invalid"))
	case errors.Is(err, localrepo.ErrRangeInvalid):
		return e(http.StatusRequestedRangeNotSatisfiable, CodeBlobUploadInvalid, publicMessage(err, "chunk out of order"))
	case errors.Is(err, localrepo.ErrSizeInvalid):
		return e(http.StatusBadRequest, CodeSizeInvalid, publicMessage(err, "content length does not match"))
	case errors.Is(err, localrepo.ErrQuota):
		return e(http.StatusForbidden, CodeDenied, publicMessage(err, "quota exceeded"))
	}
	return toOCI(err, oci.KindUnknown, d)
}

// publicMessage is the message of one of the store's own errors: they name
// only digests, sizes and the remote, never a secret or a storage path.
func publicMessage(err error, fallback string) string {
	if msg := err.Error(); strings.HasPrefix(msg, "localrepo: ") {
		return strings.TrimPrefix(msg, "localrepo: ")
	}
	return fallback
}

// done records a successful answer in the access log.
func (r localReq) done(status int, bytes int64) {
	r.acc.Status = status
	r.acc.Source = "local"
	r.acc.Finish(bytes, nil)
}

// query returns a copy of a query parameter.
func (r localReq) query(k string) string {
	return utils.CopyString(string(r.c.Request().URI().QueryArgs().Peek(k)))
}
