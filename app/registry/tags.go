package registry

import (
	"context"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"artifactapi/app/cache"
	"artifactapi/app/httpserve"
	"artifactapi/app/oci"
	"artifactapi/app/upstream"
)

// tags answers GET and HEAD /v2/<name>/tags/list, a mutable entry; the
// pagination parameters n and last are forwarded and part of the cache key.
// When the upstream has a next page, its Link header is answered rewritten
// to the path the client used (remote prefix, ?ns=), so paging clients
// (regctl, skopeo, crane) walk every page through the mirror.
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
	req := cache.Request{Remote: r.t.Remote, Path: key, Verdict: v, Method: r.c.Method(), Origin: &tagsOrigin{o}}
	// A tag list is JSON whatever the upstream called it (never text/html).
	return h.serve(r, req, oci.KindTags, httpserve.Options{NoDisposition: true,
		ExtraHeaders: map[string]string{"Content-Type": "application/json"}},
		func(res *cache.Result) {
			ct := res.Artifact.ContentType
			if res.Upstream != nil {
				ct = res.Upstream.Header.Get("Content-Type")
			}
			if next := nextPage(ct); next != "" {
				r.c.Set("Link", r.nextLink(next))
			}
		})
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

// nextParam is the media type parameter that carries a tag list's next
// page (its n and last) in the stored Content-Type. The type itself is
// never sent (tag lists are served as application/json): it is where the
// cache entry keeps the one upstream header a tag list needs.
const nextParam = "next"

// tagsOrigin fetches a tag list and records the upstream's
// `Link: <…?n=&last=>; rel="next"` in the answer's Content-Type.
type tagsOrigin struct{ *origin }

// Fetch implements cache.Origin.
func (o *tagsOrigin) Fetch(ctx context.Context, method string, h http.Header) (*upstream.Response, error) {
	resp, err := o.origin.Fetch(ctx, method, h)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	ct := "application/json"
	if next := linkNext(resp.Header.Values("Link")); next != "" {
		ct = mime.FormatMediaType(ct, map[string]string{nextParam: next})
	}
	resp.Header.Set("Content-Type", ct)
	return resp, nil
}

// linkNext returns the n and last query of the rel="next" target among
// Link header values (RFC 8288), "" when there is none.
func linkNext(values []string) string {
	for _, v := range values {
		for _, link := range strings.Split(v, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(link), ";")
			if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			if !relNext(params) {
				continue
			}
			u, err := url.Parse(target[1 : len(target)-1])
			if err != nil {
				continue
			}
			q := u.Query()
			if next := tagsQuery([]byte(q.Get("n")), []byte(q.Get("last"))); next != "" {
				return next
			}
		}
	}
	return ""
}

func relNext(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(k), "rel") {
			for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(v), `"`)) {
				if strings.EqualFold(rel, "next") {
					return true
				}
			}
		}
	}
	return false
}

// nextPage returns the next page's query recorded in a stored Content-Type.
func nextPage(contentType string) string {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return ""
	}
	return params[nextParam]
}

// nextLink is the Link header of the next page on the path the client used.
func (r request) nextLink(next string) string {
	q := next
	if r.ns != "" {
		q += "&ns=" + url.QueryEscape(r.ns)
	}
	return "</v2/" + r.route.Name + "/tags/list?" + q + `>; rel="next"`
}
