package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Challenge is a parsed WWW-Authenticate header.
type Challenge struct {
	Scheme  string // lower case: "bearer", "basic"
	Realm   string
	Service string
	Scope   string
	Params  map[string]string
}

// ParseChallenge parses `Bearer realm="…",service="…",scope="a,b"`. Quoted
// values may contain commas and escaped quotes (RFC 7235 §2.1).
func ParseChallenge(h string) (Challenge, bool) {
	h = strings.TrimSpace(h)
	sp := strings.IndexByte(h, ' ')
	if h == "" {
		return Challenge{}, false
	}
	ch := Challenge{Params: map[string]string{}}
	if sp < 0 {
		ch.Scheme = strings.ToLower(h)
		return ch, true
	}
	ch.Scheme = strings.ToLower(h[:sp])
	rest := h[sp+1:]
	for len(rest) > 0 {
		rest = strings.TrimLeft(rest, " ,")
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			break
		}
		key := strings.ToLower(strings.TrimSpace(rest[:eq]))
		rest = rest[eq+1:]
		var val string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(rest); i++ {
				c := rest[i]
				if c == '\\' && i+1 < len(rest) {
					i++
					b.WriteByte(rest[i])
					continue
				}
				if c == '"' {
					break
				}
				b.WriteByte(c)
			}
			val = b.String()
			if i < len(rest) {
				i++
			}
			rest = rest[i:]
		} else {
			end := strings.IndexByte(rest, ',')
			if end < 0 {
				end = len(rest)
			}
			val = strings.TrimSpace(rest[:end])
			rest = rest[end:]
		}
		ch.Params[key] = val
	}
	ch.Realm, ch.Service, ch.Scope = ch.Params["realm"], ch.Params["service"], ch.Params["scope"]
	return ch, true
}

type tokenEntry struct {
	token   string
	expires time.Time
}

// tokenCache keeps bearer tokens per (key, scope) until shortly before expiry.
type tokenCache struct {
	mu sync.Mutex
	m  map[string]tokenEntry
}

func newTokenCache() *tokenCache { return &tokenCache{m: map[string]tokenEntry{}} }

func (t *tokenCache) get(key, scope string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	// scope "" asks for the last token of this key (used before a challenge is seen).
	e, ok := t.m[key+"\x00"+scope]
	if !ok || time.Now().After(e.expires) {
		return ""
	}
	return e.token
}

func (t *tokenCache) put(key, scope, tok string, ttl time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := tokenEntry{token: tok, expires: time.Now().Add(ttl)}
	t.m[key+"\x00"+scope] = e
	t.m[key+"\x00"] = e
}

func (t *tokenCache) drop(key, scope string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, key+"\x00"+scope)
	delete(t.m, key+"\x00")
}

// token answers a Bearer challenge: GET realm?service=…&scope=… with Basic
// credentials when the request has any, and caches the result. A realm on
// a host:port other than the remote's is reached like a redirect target
// (never a private address unless the remote allows it), and credentials
// go there only over https.
func (c *Client) token(ctx context.Context, r Request, ch Challenge) (string, error) {
	if tok := c.tokens.get(r.TokenKey, ch.Scope); tok != "" {
		// A cached token for this scope was just refused: drop it and fetch anew.
		c.tokens.drop(r.TokenKey, ch.Scope)
	}
	realm, err := url.Parse(ch.Realm)
	if err != nil || (realm.Scheme != "https" && realm.Scheme != "http") {
		return "", fmt.Errorf("upstream: bearer realm %q is not a URL", ch.Realm)
	}
	q := realm.Query()
	if ch.Service != "" {
		q.Set("service", ch.Service)
	}
	if ch.Scope != "" {
		q.Set("scope", ch.Scope)
	}
	realm.RawQuery = q.Encode()
	// The realm is fetched under the remote's address policy: a host:port
	// other than the remote's own must not be a private address.
	tr := Request{Method: http.MethodGet, URL: realm, AllowPrivateRedirects: r.AllowPrivateRedirects, remote: r.URL}
	if r.Auth != nil && r.Auth.Username != "" {
		// The token service is often another host by design: credentials go
		// to it, but only over https, or to the remote's own scheme and host.
		if realm.Scheme != "https" && (realm.Scheme != r.URL.Scheme || !strings.EqualFold(realm.Host, r.URL.Host)) {
			return "", &RefusedError{Kind: "token realm", Target: hostOnly(realm),
				Reason: "the remote's credentials are sent to another host over https only"}
		}
		tr.Auth = &Credentials{Username: r.Auth.Username, Password: r.Auth.Password, Host: realm.Host}
	}
	resp, err := c.do(ctx, tr, "")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", &HTTPError{Status: resp.StatusCode, What: "token service"}
	}
	var body struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 1<<20)).Decode(&body); err != nil {
		return "", fmt.Errorf("upstream: token service answer: %w", err)
	}
	tok := body.Token
	if tok == "" {
		tok = body.AccessToken
	}
	if tok == "" {
		return "", fmt.Errorf("upstream: token service returned no token")
	}
	ttl := time.Duration(body.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = 60 * time.Second
	}
	// Refresh shortly before expiry.
	margin := ttl / 10
	if margin > 30*time.Second {
		margin = 30 * time.Second
	}
	c.tokens.put(r.TokenKey, ch.Scope, tok, ttl-margin)
	return tok, nil
}

// HTTPError is an upstream that answered with an unexpected status.
type HTTPError struct {
	Status int
	What   string
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("upstream %s answered HTTP %d", e.What, e.Status)
}
