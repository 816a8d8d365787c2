package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// MinAdminTokenLen is the shortest ADMIN_TOKEN accepted in production mode.
const MinAdminTokenLen = 32

// DefaultMinIOSecret is the well-known default of a MinIO server; a bucket
// reachable with it is open to anyone who reads MinIO's documentation.
const DefaultMinIOSecret = "minioadmin"

// placeholderWords appear in the example tokens of documentation and
// manifests (deploy/k8s/secret.yaml once shipped "REPLACE-WITH-A-RANDOM-TOKEN"),
// never in a generated one: hex and base64 output cannot spell them but by
// a chance too small to matter.
var placeholderWords = []string{"change-me", "changeme", "change_me", "replace", "placeholder", "example", "your-token", "yourtoken", "insecure"}

// Production reports whether any production backend is configured
// (PostgreSQL, Redis or S3): the deployment is shared and reachable, and
// start-up refuses the unsafe settings of unsafeProblems.
func (e Env) Production() bool {
	return e.DatabaseURL != "" || e.RedisURL != "" || e.MinIOEndpoint != ""
}

// unsafeProblems lists the settings a production deployment must not run
// with. No message contains a secret's value: only which variable is wrong
// and how to fix it.
func unsafeProblems(e Env) []string {
	if !e.Production() {
		return nil
	}
	var probs []string
	const mode = "in production mode (PostgreSQL, Redis or S3 configured)"
	if e.AdminToken == "" {
		probs = append(probs, fmt.Sprintf("ADMIN_TOKEN: unset, refused %s: each replica would make up its own, so sessions, tokens signed by /v2/token and relays between replicas would fail across them; set the same %d or more random characters on every replica, e.g. from `openssl rand -hex 32`",
			mode, MinAdminTokenLen))
	} else if why := weakToken(e.AdminToken); why != "" {
		probs = append(probs, fmt.Sprintf("ADMIN_TOKEN: %s, refused %s: set at least %d random characters, e.g. from `openssl rand -hex 32`",
			why, mode, MinAdminTokenLen))
	}
	if e.MinIOEndpoint != "" && (e.MinIOSecretKey == DefaultMinIOSecret ||
		(e.MinIOAccessKey == DefaultMinIOSecret && e.MinIOSecretKey == "")) {
		probs = append(probs, fmt.Sprintf("MINIO_ACCESS_KEY/MINIO_SECRET_KEY: MinIO's documented default credentials are refused %s: create an access key for the bucket and set it here", mode))
	}
	if e.MetricsToken != "" && len(e.MetricsToken) < 16 {
		probs = append(probs, "METRICS_TOKEN: shorter than 16 characters: use a random token, e.g. from `openssl rand -hex 16`")
	}
	return probs
}

// weakToken says why tok is not a credential ("" when it is acceptable).
func weakToken(tok string) string {
	low := strings.ToLower(tok)
	for _, w := range placeholderWords {
		if strings.Contains(low, w) {
			return "is a placeholder"
		}
	}
	if len(tok) < MinAdminTokenLen {
		return fmt.Sprintf("is shorter than %d characters", MinAdminTokenLen)
	}
	distinct := map[rune]bool{}
	for _, r := range tok {
		distinct[r] = true
	}
	if len(distinct) < 6 {
		return "repeats too few characters to be random"
	}
	return ""
}

// advertiseProblem checks ADVERTISE_URL, the base URL other replicas use to
// reach this one ("" when it is usable). An IPv6 pod IP must be written in
// brackets (RFC 3986 §3.2.2): http://fd00::1:8000 cannot tell the port from
// the address, so the message shows the bracketed form.
func advertiseProblem(s string) string {
	const example = "an http(s) URL like http://10.0.0.5:8000 or, for an IPv6 address, http://[fd00::5]:8000"
	u, err := url.Parse(s)
	if err != nil {
		if fixed, ok := bracketIPv6(s); ok {
			return fmt.Sprintf("ADVERTISE_URL: %q has an IPv6 address without brackets: write %s (in Kubernetes on IPv6 or dual-stack clusters: http://[$(POD_IP)]:8000)", s, fixed)
		}
		return fmt.Sprintf("ADVERTISE_URL: %q is not %s", s, example)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Sprintf("ADVERTISE_URL: %q is not %s (the scheme must be http or https)", s, example)
	}
	if u.Hostname() == "" {
		return fmt.Sprintf("ADVERTISE_URL: %q is not %s (no host)", s, example)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("ADVERTISE_URL: %q has no valid port (1-65535)", s)
		}
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Sprintf("ADVERTISE_URL: %q must be a plain base URL: no user, query or fragment", s)
	}
	return ""
}

// bracketIPv6 rewrites scheme://ADDR:PORT/rest (or scheme://ADDR/rest) whose
// ADDR is a bare IPv6 address into its bracketed form.
func bracketIPv6(s string) (string, bool) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return "", false
	}
	host, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		host, path = rest[:i], rest[i:]
	}
	if strings.ContainsAny(host, "[]@") || strings.Count(host, ":") < 2 {
		return "", false
	}
	// "fd00::1:8000" is also a valid address by itself; an advertised URL
	// nearly always has a port, so the last group is read as the port first.
	i := strings.LastIndexByte(host, ':')
	addr, port := host[:i], host[i+1:]
	if _, err := strconv.Atoi(port); err == nil {
		if ip := net.ParseIP(addr); ip != nil && ip.To4() == nil {
			return scheme + "://[" + addr + "]:" + port + path, true
		}
	}
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		return scheme + "://[" + host + "]" + path, true
	}
	return "", false
}
