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
	// Build, when URL is nil, makes it on first need (Prepare): a cache hit
	// never contacts the origin and need not build and check its URL.
	Build func() (*url.URL, error)
}

// Prepare builds the URL if it is not built yet; its error is the caller's
// (a path that would leave the remote's host). It implements cache.Preparer.
func (o *Origin) Prepare() error {
	if o.URL != nil || o.Build == nil {
		return nil
	}
	u, err := o.Build()
	if err != nil {
		return err
	}
	o.URL = u
	return nil
}

// Fetch issues method with extra headers.
func (o *Origin) Fetch(ctx context.Context, method string, h http.Header) (*Response, error) {
	if err := o.Prepare(); err != nil {
		return nil, err
	}
	return o.Client.Do(ctx, Request{Method: method, URL: o.URL, Header: h, Auth: o.Auth})
}

// CredentialsFor returns the credentials of a remote bound to its base host, or nil.
func CredentialsFor(user, pass string, base *url.URL) *Credentials {
	if user == "" || base == nil {
		return nil
	}
	return &Credentials{Username: user, Password: pass, Host: base.Host}
}
