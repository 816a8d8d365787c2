package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"artifactapi/app/cache"
	"artifactapi/app/config"
	"artifactapi/app/metrics"
	"artifactapi/app/oci"
	"artifactapi/app/upstream"
)

// origin fetches one URL of a docker remote: the remote's credentials go to
// its own host only (Basic, or used at the token service of a Bearer
// challenge, TokenKey = remote name). It implements cache.Origin.
type origin struct {
	client   *upstream.Client
	url      *url.URL
	auth     *upstream.Credentials
	tokenKey string
	scope    string // expected Bearer scope: "repository:<name>:pull"
	accept   string // Accept header sent upstream, "" for none
	private  bool   // the remote's allow_private_redirects
	remote   string // the remote's name, for upstream health
}

func newOrigin(cl *upstream.Client, r *config.Remote, name, p, rawQuery, accept string) (*origin, error) {
	base := r.BaseURLParsed()
	if base == nil {
		return nil, fmt.Errorf("remote %q has no base_url", r.Name)
	}
	// base_url is the registry root; tolerate one written with its /v2.
	if !strings.HasSuffix(base.Path, "/v2") {
		p = "v2/" + p
	}
	u, err := r.UpstreamURL(p, rawQuery)
	if err != nil {
		return nil, err
	}
	return &origin{client: cl, url: u, auth: upstream.CredentialsFor(r.Username, r.Password, base), tokenKey: r.Name,
		scope: "repository:" + name + ":pull", accept: accept, private: r.AllowPrivateRedirects, remote: r.Name}, nil
}

// Fetch issues method with the extra headers h.
func (o *origin) Fetch(ctx context.Context, method string, h http.Header) (*upstream.Response, error) {
	hdr := http.Header{}
	for k, v := range h {
		hdr[k] = v
	}
	if o.accept != "" {
		hdr.Set("Accept", o.accept)
	}
	return o.client.Do(ctx, upstream.Request{Method: method, URL: o.url, Header: hdr, Auth: o.auth, TokenKey: o.tokenKey,
		TokenScope: o.scope, AllowPrivateRedirects: o.private, Remote: o.remote})
}

// manifestOrigin fetches a manifest. A GET body is read whole (bounded by
// oci.MaxManifestSize), checked against the upstream's Docker-Content-Digest
// and given a manifest media type when the upstream's is generic. A
// by-digest manifest this process has just served under a tag is answered
// from memory instead of asking upstream again (containerd resolves a tag
// with HEAD, then GETs the digest).
type manifestOrigin struct {
	*origin
	recent  *recentManifests
	hint    string // recent-manifest key of a by-digest request, "" for a tag
	log     *slog.Logger
	metrics *metrics.Metrics
	remote  string
}

// Fetch implements cache.Origin.
func (o *manifestOrigin) Fetch(ctx context.Context, method string, h http.Header) (*upstream.Response, error) {
	if method == http.MethodGet && o.hint != "" {
		if m, ok := o.recent.get(o.hint); ok {
			return bytesResponse(m.body, m.mediaType, o.url), nil
		}
	}
	resp, err := o.origin.Fetch(ctx, method, h)
	if err != nil || method != http.MethodGet || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, oci.MaxManifestSize+1))
	if err != nil {
		return nil, err // a NetworkError stays one: a cached tag is then served stale
	}
	if len(body) > oci.MaxManifestSize {
		return nil, fmt.Errorf("registry: upstream manifest larger than %d bytes", oci.MaxManifestSize)
	}
	sum := sha256.Sum256(body)
	got := "sha256:" + hex.EncodeToString(sum[:])
	if want := resp.Header.Get("Docker-Content-Digest"); strings.HasPrefix(want, "sha256:") && want != got {
		o.metrics.Errors.WithLabelValues("verify").Inc()
		o.log.Error("manifest digest mismatch: not cached", "remote", o.remote, "url", o.url.Path, "expected", want, "got", got)
		return nil, fmt.Errorf("registry: upstream manifest digest %s does not match its bytes (%s)", want, got)
	}
	mt, ok := manifestType(resp.Header.Get("Content-Type"), body)
	if !ok {
		o.log.Warn("upstream manifest without a manifest media type: not cached", "remote", o.remote, "url", o.url.Path,
			"content_type", resp.Header.Get("Content-Type"))
		return nil, errNotManifest(resp.Header.Get("Content-Type"))
	}
	out := bytesResponse(body, mt, resp.FinalURL)
	out.Header.Set("ETag", resp.Header.Get("ETag"))
	return out, nil
}

// errNotManifest is an upstream answer to a manifest request that is not
// one (an HTML error page, an unknown type): never cached nor relayed.
func errNotManifest(contentType string) *Error {
	return &Error{Status: http.StatusBadGateway, Code: CodeManifestInvalid,
		Message: "upstream answered with something that is not a manifest",
		Err:     fmt.Errorf("registry: upstream manifest has type %q and no known manifest mediaType", contentType)}
}

// tagOrigin is a manifestOrigin for a tag; its Revalidate makes the engine
// check an expired tag with a HEAD (free of Docker Hub's pull limit) and
// download again only when the digest moved.
type tagOrigin struct{ *manifestOrigin }

// Revalidate implements cache.Revalidator: current when the upstream's
// Docker-Content-Digest equals the cached bytes' sha256. A network error or
// a 429 is returned as such, so the engine serves the cached tag stale.
func (o *tagOrigin) Revalidate(ctx context.Context, cached cache.Artifact) (bool, error) {
	resp, err := o.origin.Fetch(ctx, http.MethodHead, nil)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return cached.SHA256 != "" && resp.Header.Get("Docker-Content-Digest") == "sha256:"+cached.SHA256, nil
	case http.StatusTooManyRequests:
		return false, &upstream.HTTPError{Status: resp.StatusCode, What: "manifest HEAD"}
	}
	return false, nil // let the GET decide (404 evicts, 5xx fails)
}

func bytesResponse(body []byte, mediaType string, u *url.URL) *upstream.Response {
	h := http.Header{}
	h.Set("Content-Type", mediaType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	return &upstream.Response{StatusCode: http.StatusOK, Header: h, ContentLength: int64(len(body)),
		Body: io.NopCloser(bytes.NewReader(body)), FinalURL: u}
}

// manifestType is the media type a manifest is served with: the upstream's
// when it is a manifest type, else the document's own mediaType when that
// is one, else the type its shape shows (schema 1, an index, an image
// manifest). ok is false for anything else — an HTML page, JSON that is no
// manifest, a mediaType nobody pulls — which is never served under /v2.
func manifestType(upstreamType string, body []byte) (mediaType string, ok bool) {
	if oci.IsManifestType(upstreamType) {
		return upstreamType, true
	}
	var doc struct {
		SchemaVersion int             `json:"schemaVersion"`
		MediaType     string          `json:"mediaType"`
		Manifests     json.RawMessage `json:"manifests"`
		Signatures    json.RawMessage `json:"signatures"`
		Config        json.RawMessage `json:"config"`
		Layers        json.RawMessage `json:"layers"`
		FSLayers      json.RawMessage `json:"fsLayers"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return "", false
	}
	switch {
	case doc.MediaType != "":
		return doc.MediaType, oci.IsManifestType(doc.MediaType)
	case doc.SchemaVersion == 1 && doc.Signatures != nil:
		return oci.MediaTypeDockerSchema1, true
	case doc.SchemaVersion == 1 && doc.FSLayers != nil:
		return "application/vnd.docker.distribution.manifest.v1+json", true
	case doc.SchemaVersion == 2 && doc.Manifests != nil:
		return oci.MediaTypeOCIIndex, true
	case doc.SchemaVersion == 2 && doc.Config != nil && doc.Layers != nil:
		return oci.MediaTypeOCIManifest, true
	}
	return "", false
}

// negotiate turns the client's Accept values into the Accept sent upstream,
// the cache key variant of a tag, and the test of a cached manifest (nil:
// any type will do).
//
// A client that accepts every manifest type (or sends none, or */*) gets
// them all asked of the upstream, plus any extra types it named, and shares
// the tag's main cache entry. A client that accepts fewer is asked for with
// its own Accept, so the upstream negotiates for it (e.g. one platform's
// manifest instead of an index), and its answer is cached under a variant
// of the tag's key (variant = its sorted types): it never replaces the
// index other clients need to pick their platform.
func negotiate(values []string) (upstreamAccept, variant string, acceptable func(cache.Artifact) bool) {
	all := strings.Join(oci.ManifestTypes, ", ")
	var types []string
	seen := map[string]bool{}
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			t := oci.BaseType(part)
			if t == "*/*" || t == "application/*" {
				return all, "", nil
			}
			if t != "" && !seen[t] {
				seen[t] = true
				types = append(types, t)
			}
		}
	}
	if len(types) == 0 {
		return all, "", nil
	}
	acceptable = func(a cache.Artifact) bool { return seen[oci.BaseType(a.ContentType)] }
	extras := make([]string, 0, len(types))
	for _, t := range types {
		if !isOneOf(t, oci.ManifestTypes) {
			extras = append(extras, t)
		}
	}
	if len(extras)+len(oci.ManifestTypes) == len(types) { // every manifest type is accepted
		return strings.Join(append(append([]string(nil), oci.ManifestTypes...), extras...), ", "), "", acceptable
	}
	sorted := append([]string(nil), types...)
	sort.Strings(sorted)
	return strings.Join(types, ", "), strings.Join(sorted, ","), acceptable
}

func isOneOf(s string, list []string) bool {
	for _, v := range list {
		if s == v {
			return true
		}
	}
	return false
}
