package upstream

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// RefusedError is a request the client would not make: a redirect or a
// token realm leading to an address the remote may not reach, or credentials
// that would leave over plain HTTP. It is not a NetworkError: trying again
// later (or serving a stale copy because of it) makes no sense.
type RefusedError struct {
	Kind   string // "redirect" or "token realm"
	Target string // the address or URL refused (never shown to clients)
	Reason string // "loopback address"
}

func (e *RefusedError) Error() string {
	return "upstream: " + e.Kind + " to " + e.Target + " refused: " + e.Reason
}

// Public is the client-facing text: it names no address.
func (e *RefusedError) Public() string { return "upstream " + e.Kind + " refused: " + e.Reason }

// IsRefused reports whether err is (or wraps) a RefusedError.
func IsRefused(err error) bool {
	var re *RefusedError
	return errors.As(err, &re)
}

var (
	cgnat     = netip.MustParsePrefix("100.64.0.0/10")
	thisNet   = netip.MustParsePrefix("0.0.0.0/8")
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	metadata4 = netip.MustParseAddr("169.254.169.254")
	metadata6 = netip.MustParseAddr("fd00:ec2::254")
)

// BlockedAddr is the default address policy for hosts reached through a
// redirect or a token realm the remote did not name. It returns why a is
// refused, or "" when a is a public unicast address. IPv4-mapped and NAT64
// forms are judged by the IPv4 address they carry.
func BlockedAddr(a netip.Addr) string {
	a = a.Unmap()
	if nat64.Contains(a) {
		b := a.As16()
		a = netip.AddrFrom4([4]byte(b[12:]))
	}
	switch {
	case !a.IsValid():
		return "invalid address"
	case a == metadata4 || a == metadata6:
		return "cloud metadata address"
	case a.IsUnspecified() || thisNet.Contains(a):
		return "unspecified address"
	case a.IsLoopback():
		return "loopback address"
	case a.IsLinkLocalUnicast():
		return "link-local address"
	case a.IsPrivate():
		return "private address"
	case cgnat.Contains(a):
		return "shared (CGNAT) address"
	case a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "multicast or broadcast address"
	}
	return ""
}

// exchange is the state of one logical request, redirects included, kept in
// its context: which host the remote named, whether private addresses may
// be reached elsewhere, the credentials and whether the chain went from
// https to http (after which no credentials are sent, even to the same host).
type exchange struct {
	trusted      string // canonical host:port the remote named
	allowPrivate bool
	auth         *reqAuth
	sawTLS       atomic.Bool
	downgraded   atomic.Bool
}

type exchangeKey struct{}

// hop records one request of the chain and reports whether credentials may
// go with it. Hops are sequential: http.Client calls RoundTrip for each in turn.
func (x *exchange) hop(u *url.URL) (sendCredentials bool) {
	switch u.Scheme {
	case "https":
		x.sawTLS.Store(true)
	case "http":
		if x.sawTLS.Load() {
			x.downgraded.Store(true)
		}
	}
	return !x.downgraded.Load()
}

// guarded reports whether a hop to u must go through the checking dialer.
func (x *exchange) guarded(u *url.URL) bool {
	return !x.allowPrivate && canonicalAddr(u) != x.trusted
}

// canonicalAddr is u's lower-case host:port, with the scheme's default port.
func canonicalAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "socks5", "socks5h":
			port = "1080"
		default:
			port = "80"
		}
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// guard dials for hops the remote did not name: every address a name
// resolves to is checked when the socket is about to connect (so a DNS
// answer that changes between two lookups cannot slip past), except the
// configured HTTP proxy's, which resolves names itself; through a proxy
// only literal addresses can be checked.
type guard struct {
	blocked func(netip.Addr) string
	checked *net.Dialer
	plain   *net.Dialer
	proxies sync.Map // canonical proxy host:port → true
}

func newGuard(plain *net.Dialer, blocked func(netip.Addr) string) *guard {
	g := &guard{blocked: blocked, plain: plain}
	checked := *plain
	checked.Control = func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return &RefusedError{Kind: "redirect", Target: address, Reason: "unparseable address"}
		}
		if why := blocked(ap.Addr()); why != "" {
			return &RefusedError{Kind: "redirect", Target: address, Reason: why}
		}
		return nil
	}
	g.checked = &checked
	return g
}

func (g *guard) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if _, ok := g.proxies.Load(addr); ok {
		return g.plain.DialContext(ctx, network, addr)
	}
	return g.checked.DialContext(ctx, network, addr)
}

// proxy is the guarded transport's Proxy: the environment's, remembering
// the proxy's address for dialContext and refusing a literal blocked address
// that the proxy would otherwise connect to for us.
func (g *guard) proxy(req *http.Request) (*url.URL, error) {
	pu, err := http.ProxyFromEnvironment(req)
	if err != nil || pu == nil {
		return pu, err
	}
	if a, perr := netip.ParseAddr(strings.Trim(req.URL.Hostname(), "[]")); perr == nil {
		if why := g.blocked(a); why != "" {
			return nil, &RefusedError{Kind: "redirect", Target: req.URL.Host, Reason: why}
		}
	}
	g.proxies.Store(canonicalAddr(pu), true)
	return pu, nil
}
