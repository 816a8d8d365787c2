// Package upstream is the HTTP client artifactapi uses to talk to remotes:
// bounded timeouts, redirects that never carry credentials to another host
// (nor over plain HTTP once the chain was https) and never reach a
// loopback, private, link-local or metadata address the remote did not
// name (checked on the resolved address when dialling), conditional requests, Basic and Bearer-challenge auth, and errors that tell
// "upstream unreachable" apart from "upstream answered with an error".
package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Timeouts bounds every phase of an upstream exchange.
type Timeouts struct {
	Connect time.Duration // TCP connect + TLS handshake
	Header  time.Duration // request sent → response headers
	Idle    time.Duration // longest pause between two body reads
}

// NetworkError means the upstream could not be reached or stopped answering:
// connection refused, DNS failure, timeout, TLS failure, reset mid-body.
type NetworkError struct {
	Op  string
	Err error
}

// Error names the operation and the cause ("GET example.com: dial tcp …:
// connection refused"); callers say what it means ("upstream unreachable"),
// so the phrase is not printed twice.
func (e *NetworkError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *NetworkError) Unwrap() error { return e.Err }

// IsNetwork reports whether err is (or wraps) a NetworkError.
func IsNetwork(err error) bool {
	var ne *NetworkError
	return errors.As(err, &ne)
}

// Credentials authenticate against one host only.
type Credentials struct {
	Username, Password string
	Host               string // credentials are sent only to this host (host:port)
}

// Request is one upstream call.
type Request struct {
	Method string
	URL    *url.URL
	Header http.Header // extra headers (Accept, If-None-Match, …)
	Auth   *Credentials
	// TokenKey names the bearer token cache entry (e.g. remote name); "" disables
	// the Bearer challenge flow.
	TokenKey string
	// TokenScope is the scope the Bearer challenge is expected to name
	// ("repository:library/nginx:pull"): its cached token is sent first, so
	// requests for several repositories of one registry each reuse their
	// own token instead of presenting the last one fetched and being refused.
	TokenScope string
	// AllowPrivateRedirects lets redirects and Bearer realms reach loopback,
	// private, link-local, CGNAT and metadata addresses. Without it only
	// URL's own host:port may be such an address (the remote named it).
	AllowPrivateRedirects bool
	// Remote names the remote the request is made for: its outcome is
	// reported to the Client's Observer ("" for requests of no remote,
	// e.g. between replicas: not observed).
	Remote string

	// remote is set on a token request: the request whose challenge named
	// the realm. Its host:port, not the realm's, is the one the remote named.
	remote *url.URL
}

// Response is an upstream answer. Body must be closed; reading it is subject
// to the idle timeout.
type Response struct {
	StatusCode    int
	Header        http.Header
	ContentLength int64
	Body          io.ReadCloser
	FinalURL      *url.URL
}

// Client performs upstream requests. It is safe for concurrent use.
type Client struct {
	hc       *http.Client
	idle     time.Duration
	tokens   *tokenCache
	ua       string
	observer Observer
}

// Options configure a Client.
type Options struct {
	Timeouts  Timeouts
	UserAgent string
	// Blocked says why an address reached through a redirect or a token
	// realm must not be dialled ("" = allowed). Default: BlockedAddr.
	Blocked func(netip.Addr) string
	// TLS configures connections to upstreams (e.g. a private root CA).
	TLS *tls.Config
	// Observe, when set, receives the outcome of every request made for a
	// remote (Request.Remote), for upstream health.
	Observe Observer
}

// New builds a Client with the given timeouts and the default address policy.
func New(t Timeouts, userAgent string) *Client {
	return NewWithOptions(Options{Timeouts: t, UserAgent: userAgent})
}

// NewWithOptions builds a Client.
func NewWithOptions(o Options) *Client {
	t := o.Timeouts
	if o.Blocked == nil {
		o.Blocked = BlockedAddr
	}
	dialer := &net.Dialer{Timeout: t.Connect, KeepAlive: 30 * time.Second}
	g := newGuard(dialer, o.Blocked)
	transport := func(proxy func(*http.Request) (*url.URL, error), dial func(context.Context, string, string) (net.Conn, error)) *http.Transport {
		return &http.Transport{
			Proxy:                 proxy,
			DialContext:           dial,
			TLSClientConfig:       o.TLS.Clone(),
			TLSHandshakeTimeout:   t.Connect,
			ResponseHeaderTimeout: t.Header,
			ExpectContinueTimeout: time.Second,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			// Digests and lengths are computed on the raw bytes.
			DisableCompression: true,
			ForceAttemptHTTP2:  true,
		}
	}
	c := &Client{idle: t.Idle, tokens: newTokenCache(), ua: o.UserAgent, observer: o.Observe}
	c.hc = &http.Client{
		// Two pools: a connection dialled unchecked for the host a remote
		// named is never reused for a hop that must be checked.
		Transport: &authTransport{
			trusted: transport(http.ProxyFromEnvironment, dialer.DialContext),
			guarded: transport(g.proxy, g.dialContext),
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			// Never carry an Authorization header set by a previous hop.
			req.Header.Del("Authorization")
			return nil
		},
	}
	return c
}

// authTransport adds credentials only when the request goes to their host
// and the chain has not gone from https to http, so a redirect to a CDN or
// another host never sees them; and it sends a hop to any host:port the
// remote did not name through the checking dialer.
type authTransport struct{ trusted, guarded http.RoundTripper }

func (a *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	x, _ := req.Context().Value(exchangeKey{}).(*exchange)
	if x == nil {
		return a.trusted.RoundTrip(req)
	}
	if cr := x.auth; x.hop(req.URL) && cr != nil && strings.EqualFold(req.URL.Host, cr.host) {
		req = req.Clone(req.Context())
		if cr.bearer != "" {
			req.Header.Set("Authorization", "Bearer "+cr.bearer)
		} else if cr.user != "" {
			req.SetBasicAuth(cr.user, cr.pass)
		}
	}
	if x.guarded(req.URL) {
		return a.guarded.RoundTrip(req)
	}
	return a.trusted.RoundTrip(req)
}

type reqAuth struct {
	host, user, pass, bearer string
}

// Do performs the request. A NetworkError is returned when the upstream is
// unreachable; any HTTP status (including 4xx/5xx) is a Response.
func (c *Client) Do(ctx context.Context, r Request) (resp *Response, err error) {
	start := time.Now()
	defer func() { c.observe(r, start, resp, err) }()
	resp, err = c.do(ctx, r, "")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized && r.TokenKey != "" {
		ch, ok := ParseChallenge(resp.Header.Get("WWW-Authenticate"))
		if ok && ch.Scheme == "bearer" {
			drain(resp.Body)
			tok, terr := c.token(ctx, r, ch)
			if terr != nil {
				return nil, terr
			}
			resp, err = c.do(ctx, r, tok)
			if err != nil {
				return nil, err
			}
			if resp.StatusCode == http.StatusUnauthorized {
				c.tokens.drop(r.TokenKey, ch.Scope)
			}
		}
	}
	return resp, nil
}

func (c *Client) do(ctx context.Context, r Request, bearer string) (*Response, error) {
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	if bearer == "" && r.TokenKey != "" && r.TokenScope != "" {
		bearer = c.tokens.get(r.TokenKey, r.TokenScope)
	}
	if bearer == "" && r.TokenKey != "" {
		bearer = c.tokens.get(r.TokenKey, "")
	}
	// The body outlives this call: its context is cancelled by Close or by the idle timer.
	rctx, cancel := context.WithCancel(ctx)
	named, kind := r.URL, "redirect"
	if r.remote != nil {
		named, kind = r.remote, "token realm"
	}
	x := &exchange{trusted: canonicalAddr(named), allowPrivate: r.AllowPrivateRedirects}
	if r.Auth != nil || bearer != "" {
		ra := &reqAuth{bearer: bearer}
		if r.Auth != nil {
			ra.host, ra.user, ra.pass = r.Auth.Host, r.Auth.Username, r.Auth.Password
		}
		if ra.host == "" {
			ra.host = r.URL.Host
		}
		x.auth = ra
	}
	rctx = context.WithValue(rctx, exchangeKey{}, x)
	req, err := http.NewRequestWithContext(rctx, method, r.URL.String(), nil)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("upstream: build request: %w", err)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if c.ua != "" {
		req.Header.Set("User-Agent", c.ua)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var re *RefusedError
		if errors.As(err, &re) {
			return nil, &RefusedError{Kind: kind, Target: re.Target, Reason: re.Reason}
		}
		return nil, &NetworkError{Op: method + " " + hostOnly(r.URL), Err: scrubURLError(err)}
	}
	body := newIdleBody(resp.Body, c.idle, cancel)
	body.onErr = c.observeBody(r)
	return &Response{StatusCode: resp.StatusCode, Header: resp.Header, ContentLength: resp.ContentLength, Body: body, FinalURL: resp.Request.URL}, nil
}

// hostOnly names the upstream without path or query (which may carry tokens).
func hostOnly(u *url.URL) string { return u.Scheme + "://" + u.Host }

// scrubURLError drops the URL (it may carry signed query parameters) from a client error.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func drain(rc io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, rc, 64<<10)
	_ = rc.Close()
}

// idleBody cancels the request when no Read completes within the idle timeout.
type idleBody struct {
	rc     io.ReadCloser
	idle   time.Duration
	timer  *time.Timer
	cancel context.CancelFunc
	mu     sync.Mutex
	fired  bool
	// onErr, when set, is told once that the body broke (upstream health).
	onErr    func(error)
	reported bool
}

func newIdleBody(rc io.ReadCloser, idle time.Duration, cancel context.CancelFunc) *idleBody {
	b := &idleBody{rc: rc, idle: idle, cancel: cancel}
	if idle > 0 {
		b.timer = time.AfterFunc(idle, func() {
			b.mu.Lock()
			b.fired = true
			b.mu.Unlock()
			cancel()
		})
	}
	return b
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if b.timer != nil && n > 0 {
		b.timer.Reset(b.idle)
	}
	if err != nil && err != io.EOF {
		b.mu.Lock()
		fired, report := b.fired, b.onErr != nil && !b.reported
		b.reported = true
		b.mu.Unlock()
		if fired {
			err = &stallError{idle: b.idle}
		}
		err = &NetworkError{Op: "read body", Err: err}
		if report {
			b.onErr(err)
		}
		return n, err
	}
	return n, err
}

// stallError is a body that sent nothing for the idle timeout.
type stallError struct{ idle time.Duration }

func (e *stallError) Error() string   { return fmt.Sprintf("no data for %s", e.idle) }
func (e *stallError) Timeout() bool   { return true }
func (e *stallError) Temporary() bool { return true }

func (b *idleBody) Close() error {
	if b.timer != nil {
		b.timer.Stop()
	}
	err := b.rc.Close()
	b.cancel()
	return err
}
