package upstream

import (
	"context"
	"net/http"
	"net/url"
)

// Origin fetches one URL of a remote, with the remote's credentials sent to
// the remote's own host only. It implements cache.Origin.
type Origin struct {
	Client *Client
	URL    *url.URL
	Auth   *Credentials
	// AllowPrivateRedirects: see Request.
	AllowPrivateRedirects bool
	// Remote names the remote, for upstream health (see Request.Remote).
	Remote string
}

// Fetch issues method with extra headers.
func (o *Origin) Fetch(ctx context.Context, method string, h http.Header) (*Response, error) {
	return o.Client.Do(ctx, Request{Method: method, URL: o.URL, Header: h, Auth: o.Auth, AllowPrivateRedirects: o.AllowPrivateRedirects, Remote: o.Remote})
}

// CredentialsFor returns the credentials of a remote bound to its base host, or nil.
func CredentialsFor(user, pass string, base *url.URL) *Credentials {
	if user == "" || base == nil {
		return nil
	}
	return &Credentials{Username: user, Password: pass, Host: base.Host}
}
