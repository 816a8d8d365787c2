package upstream

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBlockedAddr(t *testing.T) {
	tests := []struct {
		name, addr string
		blocked    bool
	}{
		{name: "public v4", addr: "93.184.216.34"},
		{name: "public v6", addr: "2606:2800:220:1:248:1893:25c8:1946"},
		{name: "loopback", addr: "127.0.0.1", blocked: true},
		{name: "other loopback", addr: "127.0.0.2", blocked: true},
		{name: "loopback v6", addr: "::1", blocked: true},
		{name: "rfc1918 10/8", addr: "10.1.2.3", blocked: true},
		{name: "rfc1918 172.16/12", addr: "172.31.255.1", blocked: true},
		{name: "rfc1918 192.168/16", addr: "192.168.0.1", blocked: true},
		{name: "just outside 172.16/12", addr: "172.32.0.1"},
		{name: "ULA fc00::/7", addr: "fd12:3456::1", blocked: true},
		{name: "link-local", addr: "169.254.1.1", blocked: true},
		{name: "link-local v6", addr: "fe80::1", blocked: true},
		{name: "CGNAT", addr: "100.64.0.1", blocked: true},
		{name: "just outside CGNAT", addr: "100.128.0.1"},
		{name: "unspecified", addr: "0.0.0.0", blocked: true},
		{name: "unspecified v6", addr: "::", blocked: true},
		{name: "this network", addr: "0.1.2.3", blocked: true},
		{name: "metadata", addr: "169.254.169.254", blocked: true},
		{name: "metadata v6", addr: "fd00:ec2::254", blocked: true},
		{name: "v4-mapped loopback", addr: "::ffff:127.0.0.1", blocked: true},
		{name: "v4-mapped private", addr: "::ffff:10.0.0.1", blocked: true},
		{name: "NAT64 of metadata", addr: "64:ff9b::a9fe:a9fe", blocked: true},
		{name: "NAT64 of a public address", addr: "64:ff9b::5db8:d822"},
		{name: "broadcast", addr: "255.255.255.255", blocked: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			why := BlockedAddr(netip.MustParseAddr(tc.addr))
			if (why != "") != tc.blocked {
				t.Fatalf("BlockedAddr(%s) = %q, want blocked=%v", tc.addr, why, tc.blocked)
			}
		})
	}
}

// hits is a test server that counts its requests and the Authorization
// headers it saw.
type hits struct {
	mu    sync.Mutex
	n     int
	auths []string
}

func (h *hits) record(r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n++
	h.auths = append(h.auths, r.Header.Get("Authorization"))
}

func (h *hits) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

func (h *hits) authorizations() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.auths...)
}

// serveOn starts an HTTP server on addr ("127.0.0.2:0") answering body.
func serveOn(t *testing.T, addr, body string) (*url.URL, *hits) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	h := &hits{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.record(r)
		io.WriteString(w, body)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &url.URL{Scheme: "http", Host: ln.Addr().String()}, h
}

// redirector is an origin on 127.0.0.1 that redirects /go to the URL in its
// "to" query parameter and answers "origin" elsewhere.
func redirector(t *testing.T) *url.URL {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/go" {
			http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
			return
		}
		io.WriteString(w, "origin")
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u
}

func testClient(o Options) *Client {
	o.Timeouts = Timeouts{Connect: 5 * time.Second, Header: 5 * time.Second, Idle: 5 * time.Second}
	return NewWithOptions(o)
}

func get(ctx context.Context, c *Client, r Request) (string, error) {
	resp, err := c.Do(ctx, r)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestRedirectAddressPolicy: a redirect may lead back to the remote's own
// host:port or to a public address; a loopback or private address reached
// any other way (an IP, or a name resolving to one) is refused when the
// socket is dialled, unless the remote allows it.
func TestRedirectAddressPolicy(t *testing.T) {
	origin := redirector(t)
	other, otherHits := serveOn(t, "127.0.0.2:0", "other")
	named, namedHits := serveOn(t, "127.0.0.1:0", "named")
	_, port, _ := net.SplitHostPort(named.Host)
	byName := &url.URL{Scheme: "http", Host: net.JoinHostPort("localhost", port)}
	onlyOther := func(a netip.Addr) string { // 127.0.0.1 plays a public address
		if a == netip.MustParseAddr("127.0.0.2") {
			return "private address"
		}
		return ""
	}
	tests := []struct {
		name         string
		blocked      func(netip.Addr) string
		to           string
		allowPrivate bool
		want         string // body, or "" when refused
		target       *hits
	}{
		{name: "back to the remote's own host:port", to: origin.String() + "/file", want: "origin"},
		{name: "another loopback address", to: other.String() + "/x", target: otherHits},
		{name: "a name resolving to loopback", to: byName.String() + "/x", target: namedHits},
		{name: "another port of the remote's host", to: named.String() + "/x", target: namedHits},
		{name: "allowed by the remote", to: other.String() + "/x", allowPrivate: true, want: "other", target: otherHits},
		{name: "a public address", blocked: onlyOther, to: named.String() + "/x", want: "named", target: namedHits},
		{name: "a private address under an injected policy", blocked: onlyOther, to: other.String() + "/x", target: otherHits},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testClient(Options{Blocked: tc.blocked})
			u := *origin
			u.Path, u.RawQuery = "/go", url.Values{"to": {tc.to}}.Encode()
			before := 0
			if tc.target != nil {
				before = tc.target.count()
			}
			body, err := get(context.Background(), c, Request{URL: &u, AllowPrivateRedirects: tc.allowPrivate})
			if tc.want != "" {
				if err != nil || body != tc.want {
					t.Fatalf("got %q, %v; want %q", body, err, tc.want)
				}
				return
			}
			var re *RefusedError
			if !errors.As(err, &re) || re.Kind != "redirect" || IsNetwork(err) {
				t.Fatalf("got %q, %v; want a refused redirect (not a network error)", body, err)
			}
			if tc.target != nil && tc.target.count() != before {
				t.Fatal("the refused target was contacted")
			}
		})
	}
}

// TestGuardedHopNeverReusesATrustedConnection: a connection dialled for a
// remote whose own host is loopback is not reused by another remote's
// redirect to that host.
func TestGuardedHopNeverReusesATrustedConnection(t *testing.T) {
	origin := redirector(t)
	other, otherHits := serveOn(t, "127.0.0.2:0", "other")
	c := testClient(Options{})
	ctx := context.Background()
	if body, err := get(ctx, c, Request{URL: other.JoinPath("direct")}); err != nil || body != "other" {
		t.Fatalf("direct request to a remote on 127.0.0.2: %q, %v", body, err)
	}
	u := *origin
	u.Path, u.RawQuery = "/go", url.Values{"to": {other.String() + "/x"}}.Encode()
	if _, err := get(ctx, c, Request{URL: &u}); !IsRefused(err) {
		t.Fatalf("redirect to a host with a pooled connection: %v; want refused", err)
	}
	if otherHits.count() != 1 {
		t.Fatalf("127.0.0.2 got %d requests, want 1 (the direct one)", otherHits.count())
	}
}

// dualListener serves TLS and plain HTTP on one port (by the first byte),
// so that https://h:p → http://h:p is a downgrade to the same host.
type dualListener struct {
	net.Listener
	tls *tls.Config
}

type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (l dualListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	first, err := br.Peek(1)
	_ = c.SetReadDeadline(time.Time{})
	pc := peekedConn{Conn: c, r: br}
	if err == nil && first[0] == 0x16 { // TLS handshake record
		return tls.Server(pc, l.tls), nil
	}
	return pc, nil
}

// TestNoCredentialsAfterDowngrade: once a redirect chain went from https to
// http, no credentials are sent, even to the same host:port.
func TestNoCredentialsAfterDowngrade(t *testing.T) {
	ts := httptest.NewTLSServer(http.NotFoundHandler()) // for its certificate
	defer ts.Close()
	roots := ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	h := &hits{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.record(r)
		switch r.URL.Path {
		case "/down":
			http.Redirect(w, r, "http://"+host+"/plain", http.StatusFound)
		case "/plain-then-up":
			http.Redirect(w, r, "https://"+host+"/tls", http.StatusFound)
		case "/stay":
			http.Redirect(w, r, "https://"+host+"/tls", http.StatusFound)
		case "/down-up":
			http.Redirect(w, r, "http://"+host+"/plain-then-up", http.StatusFound)
		default:
			io.WriteString(w, "ok")
		}
	})}
	go srv.Serve(dualListener{Listener: ln, tls: ts.TLS})
	defer srv.Close()

	tests := []struct {
		name, path string
		want       []bool // per hop: credentials sent
	}{
		{name: "https to https keeps them", path: "/stay", want: []bool{true, true}},
		{name: "https to http on the same host:port drops them", path: "/down", want: []bool{true, false}},
		{name: "and they stay dropped back on https", path: "/down-up", want: []bool{true, false, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testClient(Options{TLS: &tls.Config{RootCAs: roots}})
			before := len(h.authorizations())
			u := &url.URL{Scheme: "https", Host: host, Path: tc.path}
			body, err := get(context.Background(), c, Request{URL: u, Auth: &Credentials{Username: "robot", Password: "pw", Host: host}})
			if err != nil || body != "ok" {
				t.Fatalf("got %q, %v", body, err)
			}
			got := h.authorizations()[before:]
			if len(got) != len(tc.want) {
				t.Fatalf("%d hops, want %d", len(got), len(tc.want))
			}
			for i, sent := range tc.want {
				if (got[i] != "") != sent {
					t.Errorf("hop %d: Authorization %q, want sent=%v", i, got[i], sent)
				}
			}
		})
	}
}

// TestTokenRealmPolicy: the remote's credentials go to a Bearer realm over
// https, or to the remote's own scheme and host; a realm on a private
// address the remote did not name is never fetched unless it allows it.
func TestTokenRealmPolicy(t *testing.T) {
	realmHits := &hits{}
	token := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		realmHits.record(r)
		io.WriteString(w, `{"token":"tok"}`)
	})
	tlsRealm := httptest.NewTLSServer(token)
	defer tlsRealm.Close()
	roots := tlsRealm.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	plainRealm := httptest.NewServer(token)
	defer plainRealm.Close()
	privLn, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	privRealm := &http.Server{Handler: token}
	go privRealm.Serve(privLn)
	defer privRealm.Close()
	plainURL, _ := url.Parse(plainRealm.URL)

	var realm string // the realm the registry names, set per row
	var mu sync.Mutex
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			token(w, r)
			return
		}
		if r.Header.Get("Authorization") == "Bearer tok" {
			io.WriteString(w, "manifest")
			return
		}
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`",service="reg",scope="repository:x:pull"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer reg.Close()
	regURL, _ := url.Parse(reg.URL)
	onlyPriv := func(a netip.Addr) string { // 127.0.0.1 plays a public address
		if a == netip.MustParseAddr("127.0.0.2") {
			return "private address"
		}
		return ""
	}
	creds := &Credentials{Username: "robot", Password: "pw", Host: regURL.Host}
	tests := []struct {
		name         string
		realm        string
		blocked      func(netip.Addr) string
		auth         *Credentials
		allowPrivate bool
		ok           bool
		realmAuth    bool // the realm saw the credentials
	}{
		{name: "remote's own scheme and host", realm: reg.URL + "/token", auth: creds, ok: true, realmAuth: true},
		{name: "https realm elsewhere", realm: tlsRealm.URL + "/token", blocked: onlyPriv, auth: creds, ok: true, realmAuth: true},
		{name: "plain http realm elsewhere gets no credentials", realm: plainRealm.URL + "/token", blocked: onlyPriv, auth: creds},
		{name: "anonymous plain http realm elsewhere", realm: plainRealm.URL + "/token", blocked: onlyPriv, ok: true},
		{name: "realm on a private address the remote did not name", realm: "http://" + privLn.Addr().String() + "/token"},
		{name: "realm on a name resolving to loopback", realm: "http://localhost:" + plainURL.Port() + "/token"},
		{name: "private realm allowed by the remote", realm: "http://" + privLn.Addr().String() + "/token", allowPrivate: true, ok: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			realm = tc.realm
			mu.Unlock()
			c := testClient(Options{Blocked: tc.blocked, TLS: &tls.Config{RootCAs: roots}})
			before := len(realmHits.authorizations())
			body, err := get(context.Background(), c, Request{URL: regURL.JoinPath("v2/x/manifests/v1"), Auth: tc.auth,
				TokenKey: "reg", TokenScope: "repository:x:pull", AllowPrivateRedirects: tc.allowPrivate})
			seen := realmHits.authorizations()[before:]
			if !tc.ok {
				var re *RefusedError
				if !errors.As(err, &re) || re.Kind != "token realm" {
					t.Fatalf("got %q, %v; want a refused token realm", body, err)
				}
				if len(seen) != 0 {
					t.Fatalf("the refused realm was contacted (Authorization %q)", seen)
				}
				return
			}
			if err != nil || body != "manifest" {
				t.Fatalf("got %q, %v", body, err)
			}
			if len(seen) != 1 || (seen[0] != "") != tc.realmAuth || strings.Contains(seen[0], "Bearer") {
				t.Fatalf("realm saw Authorization %q, want credentials=%v", seen, tc.realmAuth)
			}
		})
	}
}
