package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
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
// (regctl, skopeo, crane) walk every page through the mirror. An upstream
// that ignores n and last (docker-registry 2.8) is paged by the mirror
// (see pageTags).
func (h *Handler) tags(r request) error {
	p := r.t.Name + "/tags/list"
	r.acc.Path = p
	v, oe := r.classify(p)
	if oe != nil {
		return r.fail(oe)
	}
	args := r.c.Request().URI().QueryArgs()
	q := tagsQuery(args.Peek("n"), args.Peek("last"))
	key := p
	if q != "" {
		key += "?" + q
	}
	o, err := newOrigin(h.d.Upstream, r.t.Remote, r.t.Name, p, q, "application/json")
	if err != nil {
		return r.fail(toOCI(err, oci.KindTags, r.detail()))
	}
	req := cache.Request{Remote: r.t.Remote, Path: key, Verdict: v, Method: r.c.Method(),
		Origin: newTagsOrigin(o, string(args.Peek("n")), string(args.Peek("last")))}
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
type tagsOrigin struct {
	*origin
	n    int    // the client's n, -1 when absent or not a number
	last string // the client's last, "" when absent
}

func newTagsOrigin(o *origin, n, last string) *tagsOrigin {
	k, err := strconv.Atoi(n)
	if err != nil || k < 0 {
		k = -1
	}
	return &tagsOrigin{origin: o, n: k, last: last}
}

// Fetch implements cache.Origin.
func (o *tagsOrigin) Fetch(ctx context.Context, method string, h http.Header) (*upstream.Response, error) {
	resp, err := o.origin.Fetch(ctx, method, h)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	next := linkNext(resp.Header.Values("Link"))
	if method == http.MethodGet && (o.n >= 0 || o.last != "") {
		if resp, next, err = o.page(resp, next); err != nil {
			return nil, err
		}
	}
	ct := "application/json"
	if next != "" {
		ct = mime.FormatMediaType(ct, map[string]string{nextParam: next})
	}
	resp.Header.Set("Content-Type", ct)
	return resp, nil
}

// maxTagList bounds the tag list read to page it (Docker Hub's largest
// repositories list some 10⁴ tags, well under 1 MiB).
const maxTagList = 16 << 20

// page applies n and last to an upstream answer that ignored them: it
// returns the page and its next-page query in place of the upstream's. An
// answer that honoured them (or that is too large or no tag list) is
// returned as it came, with next unchanged.
func (o *tagsOrigin) page(resp *upstream.Response, next string) (*upstream.Response, string, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTagList+1))
	if err != nil {
		resp.Body.Close()
		return nil, "", err // a NetworkError stays one: a cached list is then served stale
	}
	if len(body) > maxTagList {
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
		return resp, next, nil
	}
	resp.Body.Close()
	if paged, pageNext, changed := pageTags(body, o.n, o.last); changed {
		// The upstream's validators (ETag, Last-Modified) stay: the page is
		// a function of the list they validate.
		body, next = paged, pageNext
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return resp, next, nil
}

// readCloser reads from one reader and closes another.
type readCloser struct {
	io.Reader
	io.Closer
}

// pageTags is the page of a tag list after last with at most n tags
// (n < 0: no limit), in lexical (byte) order, as local repositories answer
// it, and the next page's query when tags remain. changed is false when the
// list already is such a page (the upstream applied n and last itself), or
// is not a tag list: its bytes are then kept as they are.
func pageTags(body []byte, n int, last string) (page []byte, next string, changed bool) {
	var doc map[string]json.RawMessage
	var tags []string
	if json.Unmarshal(body, &doc) != nil || json.Unmarshal(doc["tags"], &tags) != nil {
		return nil, "", false
	}
	honoured := n < 0 || len(tags) <= n
	for _, t := range tags {
		if last != "" && t <= last {
			honoured = false
		}
	}
	if honoured {
		return nil, "", false
	}
	after := make([]string, 0, len(tags))
	for _, t := range tags {
		if last == "" || t > last {
			after = append(after, t)
		}
	}
	sort.Strings(after)
	if n >= 0 && len(after) > n {
		after = after[:n]
		if n > 0 {
			next = tagsQuery([]byte(strconv.Itoa(n)), []byte(after[n-1]))
		}
	}
	doc["tags"], _ = json.Marshal(after)
	page, err := json.Marshal(doc)
	if err != nil {
		return nil, "", false
	}
	return page, next, true
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
