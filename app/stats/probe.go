package stats

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"artifactapi/app/config"
	"artifactapi/app/upstream"
)

// probeTimeout bounds a connection test.
const probeTimeout = 15 * time.Second

// Probe is the result of a connection test, explained.
type Probe struct {
	Remote string `json:"remote"`
	Method string `json:"method"`
	// URL is the address tested, without user info or query.
	URL       string  `json:"url"`
	OK        bool    `json:"ok"`               // the upstream answered and the answer is usable
	Status    int     `json:"status"`           // 0 when no answer arrived
	LatencyMS float64 `json:"latency_ms"`       // to the response headers, or to the failure
	Kind      string  `json:"kind,omitempty"`   // the failure kind (dns, refused, timeout, tls…)
	Detail    string  `json:"detail,omitempty"` // what failed, secret-free
	// Explanation says in words what the result means for the remote.
	Explanation string    `json:"explanation"`
	At          time.Time `json:"at"`
}

// Prober tests a remote's upstream with one request.
type Prober struct {
	Client *upstream.Client
	Now    func() time.Time
}

// Test sends one HEAD (a GET when HEAD is not allowed) to the base URL of
// r, or to /v2/ for a docker remote, with the remote's credentials (a
// docker remote answers the Bearer challenge as pulls do). The exchange
// counts in the remote's health like any other.
func (p Prober) Test(ctx context.Context, r *config.Remote) Probe {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	res := Probe{Remote: r.Name, Method: http.MethodHead, At: now()}
	base := r.BaseURLParsed()
	if base == nil || r.IsLocal() {
		res.Explanation = "A local repository has no upstream to test."
		return res
	}
	u := *base
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	if u.Path == "" {
		u.Path = "/"
	}
	req := upstream.Request{Method: http.MethodHead, URL: &u, Auth: upstream.CredentialsFor(r.Username, r.Password, base),
		AllowPrivateRedirects: r.AllowPrivateRedirects, Remote: r.Name}
	if r.Package == config.PackageDocker {
		u.Path = strings.TrimSuffix(u.Path, "/")
		if !strings.HasSuffix(u.Path, "/v2") {
			u.Path += "/v2"
		}
		u.Path += "/"
		req.TokenKey = r.Name
	}
	res.URL = u.String()
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	start := time.Now()
	resp, err := p.Client.Do(ctx, req)
	if err == nil && (resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotImplemented) {
		resp.Body.Close()
		req.Method, res.Method = http.MethodGet, http.MethodGet
		start = time.Now()
		resp, err = p.Client.Do(ctx, req)
	}
	res.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	secret := ""
	if req.Auth != nil {
		secret = req.Auth.Password
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			res.Kind, res.Detail = upstream.KindTimeout, fmt.Sprintf("no answer within %s", probeTimeout)
		} else {
			res.Kind, res.Detail = upstream.Classify(err)
			res.Detail = upstream.Scrub(res.Detail, secret)
		}
		res.Explanation = explainFailure(res)
		return res
	}
	resp.Body.Close()
	res.Status = resp.StatusCode
	res.OK, res.Explanation = explainAnswer(res, r)
	return res
}

// explainFailure says what a failed exchange means.
func explainFailure(p Probe) string {
	host := hostOf(p.URL)
	why := map[string]string{
		upstream.KindDNS:         "the name " + host + " does not resolve: check base_url and this server's DNS",
		upstream.KindRefused:     "nothing accepts connections at " + host + ": the upstream is down, or the port is wrong",
		upstream.KindTimeout:     "the upstream did not answer in time: a firewall may drop the connection, or it is overloaded",
		upstream.KindTLS:         "the TLS handshake failed: the certificate is not trusted, expired or for another name, or the port does not speak TLS",
		upstream.KindReset:       "the connection was closed before an answer: a proxy or the upstream cut it",
		upstream.KindNetwork:     "a network error stopped the request",
		upstream.KindAuth:        "the token service refused the configured credentials",
		upstream.KindRateLimited: "the token service rate-limits this server",
		upstream.KindHTTP5xx:     "the token service failed",
		upstream.KindPolicy:      "the upstream redirected to an address this remote may not reach (allow_private_redirects)",
	}[p.Kind]
	if why == "" {
		why = "the request failed"
	}
	return fmt.Sprintf("Not reachable: %s (%s, after %.0f ms).", why, p.Detail, p.LatencyMS)
}

// explainAnswer says what an upstream answer means, and whether it is good.
func explainAnswer(p Probe, r *config.Remote) (bool, string) {
	took := fmt.Sprintf("%s %s answered HTTP %d %s in %.0f ms", p.Method, p.URL, p.Status, http.StatusText(p.Status), p.LatencyMS)
	switch {
	case p.Status < 400:
		return true, "Reachable: " + took + "."
	case p.Status == http.StatusUnauthorized || p.Status == http.StatusForbidden:
		if r.Username == "" {
			return false, "Reachable, but access is refused: " + took + ". This remote sends no credentials; set username and password if the upstream needs them."
		}
		return false, "Reachable, but access is refused: " + took + ". Check the username and password of this remote."
	case p.Status == http.StatusNotFound:
		return true, "Reachable: " + took + ". Many file servers answer 404 for the base URL itself; artifact paths below it can still be found."
	case p.Status == http.StatusTooManyRequests:
		return false, "Reachable, but rate-limited: " + took + ". Requests will fail until the limit resets."
	case p.Status >= 500:
		return false, "Reachable, but failing: " + took + ". The upstream has a server-side problem."
	}
	return true, "Reachable: " + took + "."
}

func hostOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return "the upstream"
}
