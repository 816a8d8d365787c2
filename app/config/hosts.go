package config

import (
	"fmt"
	"net/url"
	"strings"
)

// ExtPrefix starts the path of an artifact fetched from one of a remote's
// extra hosts: "_ext/{host}/{path under the extra host's base}". It only
// has this meaning on a remote that has extra hosts.
const ExtPrefix = "_ext/"

// validateExtraHosts parses extra_hosts and files_url into r.extra.
func (r *Remote) validateExtraHosts() []string {
	var probs []string
	bad := func(key, format string, args ...any) {
		probs = append(probs, fmt.Sprintf("remote %q: %s: %s", r.Name, key, fmt.Sprintf(format, args...)))
	}
	if r.FilesURL != "" && r.Package != PackagePyPI {
		bad("files_url", "only for package \"pypi\"")
	}
	type entry struct{ key, value string }
	var entries []entry
	for _, h := range r.ExtraHosts {
		entries = append(entries, entry{"extra_hosts", h})
	}
	if r.Package == PackagePyPI && (r.Type == TypeRemote || r.FilesURL != "") {
		files := r.FilesURL
		if files == "" {
			files = DefaultPyPIFilesURL
		}
		entries = append(entries, entry{"files_url", files})
	}
	if len(entries) > 0 && r.Type != TypeRemote {
		bad("extra_hosts", "only for remotes of type \"remote\"")
		return probs
	}
	for _, e := range entries {
		u, err := parseExtraHost(e.value)
		if err != nil {
			bad(e.key, "%q: %v", e.value, err)
			continue
		}
		host := strings.ToLower(u.Host)
		if _, dup := r.extra[host]; dup {
			bad(e.key, "%q: host %s is listed twice (files_url counts as an extra host)", e.value, host)
			continue
		}
		if r.extra == nil {
			r.extra = map[string]*url.URL{}
		}
		r.extra[host] = u
	}
	return probs
}

// parseExtraHost reads "host[:port]" (https) or "http(s)://host[:port][/path]".
func parseExtraHost(s string) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("not a host or URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("scheme must be http or https")
	case u.Host == "" || strings.ContainsAny(u.Host, "/\\@"):
		return nil, fmt.Errorf("no host")
	case u.User != nil:
		return nil, fmt.Errorf("must not contain credentials")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("must not have a query or fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// extURL builds the upstream URL of an ExtPrefix path, or reports that p is
// not one.
func (r *Remote) extURL(p, rawQuery string) (*url.URL, bool, error) {
	if len(r.extra) == 0 || !strings.HasPrefix(p, ExtPrefix) {
		return nil, false, nil
	}
	host, rest, _ := strings.Cut(p[len(ExtPrefix):], "/")
	base, ok := r.extra[strings.ToLower(host)]
	if !ok {
		return nil, true, &PathError{"host " + host + " is not in the remote's extra_hosts"}
	}
	u := *base
	u.Path = base.Path + "/" + rest
	u.RawQuery = rawQuery
	back, err := url.Parse(u.String())
	if err != nil || back.Scheme != base.Scheme || back.Host != base.Host || back.User != nil {
		return nil, true, &PathError{"path would change the upstream host"}
	}
	return &u, true, nil
}

// RemotePath maps an absolute upstream URL to the path that fetches it
// through the remote: a URL under base_url to its path below it, one under
// an extra host to ExtPrefix + host + path. ok is false for any other URL
// (it must not be fetched through the remote). The query is kept; the
// fragment is the caller's.
func (r *Remote) RemotePath(abs *url.URL) (p string, ok bool) {
	if abs == nil || abs.User != nil || abs.Opaque != "" {
		return "", false
	}
	under := func(base *url.URL) (string, bool) {
		if !strings.EqualFold(abs.Scheme, base.Scheme) || !strings.EqualFold(abs.Host, base.Host) {
			return "", false
		}
		rest, found := strings.CutPrefix(abs.EscapedPath(), base.EscapedPath()+"/")
		if !found {
			return "", false
		}
		if abs.RawQuery != "" {
			rest += "?" + abs.RawQuery
		}
		return rest, true
	}
	if r.baseURL != nil {
		if rest, ok := under(r.baseURL); ok {
			return rest, true
		}
	}
	if base, found := r.extra[strings.ToLower(abs.Host)]; found {
		if rest, ok := under(base); ok {
			return ExtPrefix + strings.ToLower(abs.Host) + "/" + rest, true
		}
	}
	return "", false
}
