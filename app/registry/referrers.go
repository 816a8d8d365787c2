package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"artifactapi/app/cache"
	"artifactapi/app/oci"
	"artifactapi/app/upstream"
)

// emptyIndex is the answer for a digest nothing refers to.
const emptyIndex = `{"schemaVersion":2,"mediaType":"` + oci.MediaTypeOCIIndex + `","manifests":[]}`

// referrers answers GET and HEAD /v2/<name>/referrers/<digest> (OCI
// distribution spec 1.1, "Listing Referrers"): the upstream's referrers
// API when it has one, else the referrers tag schema (the index tagged
// sha256-<hex>), else an empty index. The answer is always 200 with an OCI
// image index, cached as a mutable entry (mutable_ttl; stale while the
// upstream is down). The optional artifactType query filters it here, on
// the cached whole list, and the answer then says OCI-Filters-Applied.
func (h *Handler) referrers(r request) error {
	d, err := oci.ParseDigest(r.route.Ref)
	if err != nil {
		return r.fail(Fail(CodeDigestInvalid, "invalid digest", map[string]string{"digest": r.route.Ref}))
	}
	p := r.t.Name + "/referrers/" + d.String()
	r.acc.Path = p
	v, oe := r.classify(p)
	if oe != nil {
		return r.fail(oe)
	}
	api, err := newOrigin(h.d.Upstream, r.t.Remote, r.t.Name, p, "", oci.MediaTypeOCIIndex)
	if err != nil {
		return r.fail(toOCI(err, oci.KindReferrers, r.detail()))
	}
	tag, err := newOrigin(h.d.Upstream, r.t.Remote, r.t.Name, r.t.Name+"/manifests/"+strings.Replace(d.String(), ":", "-", 1), "",
		strings.Join(oci.ManifestTypes, ", "))
	if err != nil {
		return r.fail(toOCI(err, oci.KindReferrers, r.detail()))
	}
	req := cache.Request{Remote: r.t.Remote, Path: p, Verdict: v, Method: http.MethodGet, Origin: &referrersOrigin{api: api, tag: tag}}
	res, body, err := h.readDocument(r.ctx(), req)
	if err != nil {
		return r.fail(toOCI(err, oci.KindReferrers, r.detail()))
	}
	c := r.c
	if at := string(c.Request().URI().QueryArgs().Peek("artifactType")); at != "" {
		if body, err = filterReferrers(body, at); err != nil {
			return r.fail(toOCI(err, oci.KindReferrers, r.detail()))
		}
		c.Set("OCI-Filters-Applied", "artifactType")
	}
	c.Set("Content-Type", oci.MediaTypeOCIIndex)
	c.Set("X-Artifact-Source", res.Source)
	if res.Stale {
		c.Set("X-Artifact-Stale", "true")
	}
	r.acc.Source, r.acc.Stale = res.Source, res.Stale
	return sendDocument(r, body)
}

// referrersOrigin fetches the referrers of a digest: the referrers API,
// falling back to the tag schema when the upstream has no such API (404 or
// 405), and to an empty index when there is no such tag either.
type referrersOrigin struct {
	api, tag *origin
}

// Fetch implements cache.Origin (GET only: the registry asks with GET).
func (o *referrersOrigin) Fetch(ctx context.Context, method string, h http.Header) (*upstream.Response, error) {
	resp, err := o.api.Fetch(ctx, method, h)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		body, ok, err := readIndex(resp)
		if err != nil {
			return nil, err
		}
		if ok {
			return indexResponse(body, resp.FinalURL), nil
		}
		// 200 but no index (a web page): the upstream has no referrers API.
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		resp.Body.Close()
	default:
		return resp, nil // the engine maps 401/403/429/5xx
	}
	tresp, err := o.tag.Fetch(ctx, http.MethodGet, nil)
	if err != nil {
		return nil, err
	}
	switch tresp.StatusCode {
	case http.StatusOK:
		body, ok, err := readIndex(tresp)
		if err != nil {
			return nil, err
		}
		if ok {
			return indexResponse(body, tresp.FinalURL), nil
		}
	case http.StatusNotFound:
		tresp.Body.Close()
	default:
		return tresp, nil
	}
	return indexResponse(nil, o.api.url), nil
}

// readIndex reads and closes a body, reporting whether it is an image index.
func readIndex(resp *upstream.Response) ([]byte, bool, error) {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, oci.MaxManifestSize+1))
	if err != nil {
		return nil, false, err
	}
	if len(body) > oci.MaxManifestSize {
		return nil, false, fmt.Errorf("registry: upstream referrers larger than %d bytes", oci.MaxManifestSize)
	}
	var doc struct {
		Manifests []json.RawMessage `json:"manifests"`
	}
	if json.Unmarshal(body, &doc) != nil || doc.Manifests == nil {
		return nil, false, nil
	}
	return body, true, nil
}

// indexResponse answers body (nil: the empty index) as an OCI index
// fetched from u.
func indexResponse(body []byte, u *url.URL) *upstream.Response {
	if body == nil {
		body = []byte(emptyIndex)
	}
	return bytesResponse(body, oci.MediaTypeOCIIndex, u)
}

// filterReferrers keeps the descriptors whose artifactType is at.
func filterReferrers(body []byte, at string) ([]byte, error) {
	var doc struct {
		Manifests []json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, &cache.Error{Status: http.StatusBadGateway, Msg: "stored referrers are not an index", Err: err}
	}
	kept := []json.RawMessage{}
	for _, m := range doc.Manifests {
		var d struct {
			ArtifactType string `json:"artifactType"`
		}
		if json.Unmarshal(m, &d) == nil && d.ArtifactType == at {
			kept = append(kept, m)
		}
	}
	return json.Marshal(struct {
		SchemaVersion int               `json:"schemaVersion"`
		MediaType     string            `json:"mediaType"`
		Manifests     []json.RawMessage `json:"manifests"`
	}{2, oci.MediaTypeOCIIndex, kept})
}
