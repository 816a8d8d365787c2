package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Observation is what one upstream exchange of a remote showed about the
// upstream's health: reported once when the headers arrived (or the request
// failed) and once more if the body then broke.
type Observation struct {
	Remote string
	// Kind is "" for an exchange that reached the upstream and got an
	// answer it can live with (2xx, 3xx, 304, and 4xx other than 429: the
	// upstream is there), else one of the Kind* constants.
	Kind string
	// Status is the upstream's HTTP status (0 when none arrived).
	Status int
	// Detail says what failed, in words, without URL, query, user info or
	// credential ("" on success).
	Detail string
	// Latency is the time to the response headers (token exchange
	// included); zero for a body failure.
	Latency time.Duration
	// Body is set for a failure while reading the body after good headers.
	Body bool
}

// Failed reports whether the observation is an upstream failure.
func (o Observation) Failed() bool { return o.Kind != "" }

// Kinds of upstream failure, as Observation.Kind and the outcome label of
// the artifactapi_upstream_requests_total metric.
const (
	KindDNS         = "dns"          // the name did not resolve
	KindRefused     = "refused"      // connection refused
	KindTimeout     = "timeout"      // connect, TLS or header timeout, or a stalled body
	KindTLS         = "tls"          // handshake or certificate failure
	KindReset       = "reset"        // connection reset or closed early
	KindNetwork     = "network"      // another network failure
	KindHTTP5xx     = "http_5xx"     // the upstream answered with a server error
	KindRateLimited = "rate_limited" // HTTP 429
	KindAuth        = "auth"         // the token service refused the credentials
	KindBody        = "body_broken"  // the body broke after good headers
	KindPolicy      = "policy"       // a redirect or token realm this client refuses to follow
	KindOther       = "error"        // anything else
	OutcomeOK       = "ok"           // an answer (Kind "")
	OutcomeHTTP4xx  = "http_4xx"     // an answer with a client error: the upstream is there
)

// Outcome is the metric label of an observation: its Kind, or "ok" /
// "http_4xx" for an answer.
func (o Observation) Outcome() string {
	switch {
	case o.Kind != "":
		return o.Kind
	case o.Status >= 400:
		return OutcomeHTTP4xx
	}
	return OutcomeOK
}

// Observer receives every observation of a Client. It is called on the
// request's goroutine and must be cheap (aggregate in memory).
type Observer func(Observation)

// observe reports the result of Do for r.
func (c *Client) observe(r Request, start time.Time, resp *Response, err error) {
	if c.observer == nil || r.Remote == "" {
		return
	}
	o := Observation{Remote: r.Remote, Latency: time.Since(start)}
	switch {
	case errors.Is(err, context.Canceled):
		return // the caller gave up: says nothing about the upstream
	case err != nil:
		o.Kind, o.Detail = Classify(err)
		var he *HTTPError
		if errors.As(err, &he) {
			o.Status = he.Status
		}
	case resp.StatusCode == http.StatusTooManyRequests:
		o.Status, o.Kind, o.Detail = resp.StatusCode, KindRateLimited, "rate limited (HTTP 429)"
	case resp.StatusCode >= 500:
		o.Status, o.Kind, o.Detail = resp.StatusCode, KindHTTP5xx, "server error (HTTP "+strconv.Itoa(resp.StatusCode)+")"
	default:
		o.Status = resp.StatusCode
	}
	o.Detail = Scrub(o.Detail, r.secrets()...)
	c.observer(o)
}

// secrets are the values of r that must never appear in a message.
func (r Request) secrets() []string {
	if r.Auth == nil {
		return nil
	}
	return []string{r.Auth.Password}
}

// observeBody returns the hook an idleBody calls when the body breaks.
func (c *Client) observeBody(r Request) func(error) {
	if c.observer == nil || r.Remote == "" {
		return nil
	}
	secrets := r.secrets()
	return func(err error) {
		if errors.Is(err, context.Canceled) {
			return
		}
		kind, detail := Classify(err)
		if kind != KindTimeout {
			kind = KindBody
		}
		c.observer(Observation{Remote: r.Remote, Kind: kind, Body: true, Detail: Scrub("download cut short: "+detail, secrets...)})
	}
}

// Classify names the kind of an upstream failure and describes it in words
// an operator understands ("connection refused by 10.0.0.5:443"). The
// description may still hold a host name; callers scrub it (Scrub).
func Classify(err error) (kind, detail string) {
	var (
		dnsErr  *net.DNSError
		he      *HTTPError
		re      *RefusedError
		certErr *tls.CertificateVerificationError
		unkAuth x509.UnknownAuthorityError
		hostErr x509.HostnameError
		invErr  x509.CertificateInvalidError
		recErr  tls.RecordHeaderError
		alert   tls.AlertError
		netErr  net.Error
		opErr   *net.OpError
		stall   *stallError
	)
	switch {
	case errors.As(err, &stall):
		return KindTimeout, "the upstream stopped sending (" + stall.Error() + ")"
	case errors.As(err, &he):
		if he.Status == http.StatusUnauthorized || he.Status == http.StatusForbidden {
			return KindAuth, he.What + " refused the credentials (HTTP " + strconv.Itoa(he.Status) + ")"
		}
		if he.Status == http.StatusTooManyRequests {
			return KindRateLimited, he.What + " rate limited (HTTP 429)"
		}
		if he.Status >= 500 {
			return KindHTTP5xx, he.What + " server error (HTTP " + strconv.Itoa(he.Status) + ")"
		}
		return KindOther, he.What + " answered HTTP " + strconv.Itoa(he.Status)
	case errors.As(err, &re):
		return KindPolicy, re.Public()
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return KindDNS, "DNS: no such host " + dnsErr.Name
		}
		return KindDNS, "DNS lookup of " + dnsErr.Name + " failed: " + dnsErr.Err
	case errors.As(err, &certErr), errors.As(err, &unkAuth), errors.As(err, &hostErr), errors.As(err, &invErr):
		return KindTLS, "TLS certificate not accepted: " + innermost(err)
	case errors.As(err, &recErr):
		return KindTLS, "TLS handshake failed: the server did not answer with TLS (plain HTTP on an https URL?)"
	case errors.As(err, &alert):
		return KindTLS, "TLS handshake failed: " + innermost(err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return KindRefused, "connection refused" + at(err)
	case errors.As(err, &netErr) && netErr.Timeout():
		if errors.As(err, &opErr) && opErr.Op == "dial" {
			return KindTimeout, "connect timed out" + at(err)
		}
		if strings.Contains(err.Error(), "TLS handshake") {
			return KindTimeout, "TLS handshake timed out"
		}
		return KindTimeout, "timed out waiting for the upstream"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.EPIPE):
		return KindReset, "connection reset or closed by the upstream"
	case strings.Contains(err.Error(), "tls:"):
		return KindTLS, "TLS failure: " + innermost(err)
	case IsNetwork(err):
		return KindNetwork, "network error: " + innermost(err)
	}
	return KindOther, innermost(err)
}

// at names the address of a dial error (" to 10.0.0.5:443"), or "".
func at(err error) string {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Addr != nil {
		return " by " + opErr.Addr.String()
	}
	return ""
}

// innermost is the message of err's last wrapped cause, which is the one
// that says what happened without repeating the request.
func innermost(err error) string {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}

var (
	// userInfo matches the user info of a URL ("https://user:pass@").
	userInfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]*@`)
	// urlQuery matches the query of a URL, where signed URLs keep credentials.
	urlQuery = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^\s?#"]*)\?[^\s"]*`)
	// authValue matches an Authorization header value in a message.
	authValue = regexp.MustCompile(`(?i)(authorization[=:]\s*|bearer\s+|basic\s+|token[=:]\s*|password[=:]\s*)[^\s,;"&]+`)
)

// Scrub removes from msg what must never be shown: user info and queries
// of URLs, authorization values, and each of secrets (passwords, tokens).
func Scrub(msg string, secrets ...string) string {
	for _, s := range secrets {
		if len(s) >= 3 {
			msg = strings.ReplaceAll(msg, s, "REDACTED")
		}
	}
	msg = userInfo.ReplaceAllString(msg, "${1}")
	msg = urlQuery.ReplaceAllString(msg, "${1}")
	msg = authValue.ReplaceAllString(msg, "${1}REDACTED")
	if r := []rune(msg); len(r) > 300 {
		msg = string(r[:300]) + "…"
	}
	return msg
}
