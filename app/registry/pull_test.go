package registry_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/registry/registrytest"
)

// world is one mode's setup: real upstream registries behind counting
// proxies, and an artifactapi instance with a docker remote for each case.
type world struct {
	main, basic, outage             *registrytest.Registry
	hubProxy, moveProxy, flakyProxy *registrytest.Proxy
	basicProxy, outageProxy         *registrytest.Proxy
	tokenProxy                      *registrytest.Proxy
	front                           *registrytest.BearerFront
	push, pushBasic, pushOutage     *registrytest.Pusher
	app                             *apptest.Instance
	appHost                         string
}

func newWorld(t *testing.T, mode apptest.Mode) *world {
	ctx := context.Background()
	w := &world{}
	start := func(o registrytest.RegistryOptions) *registrytest.Registry {
		r, err := registrytest.StartRegistry(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Stop)
		return r
	}
	proxy := func(target string, wrap func(http.Handler) http.Handler) *registrytest.Proxy {
		p, err := registrytest.NewProxy(target, wrap)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	w.main = start(registrytest.RegistryOptions{})
	w.basic = start(registrytest.RegistryOptions{User: "puller", Pass: "s3cret-pass"})
	w.outage = start(registrytest.RegistryOptions{})
	w.hubProxy = proxy(w.main.URL, nil)
	w.moveProxy = proxy(w.main.URL, nil)
	w.flakyProxy = proxy(w.main.URL, nil)
	w.basicProxy = proxy(w.basic.URL, nil)
	w.outageProxy = proxy(w.outage.URL, nil)
	w.front = &registrytest.BearerFront{User: "tok-user", Pass: "tok-pass"}
	w.tokenProxy = proxy(w.main.URL, w.front.Wrap)
	w.push = &registrytest.Pusher{Base: w.main.URL}
	w.pushBasic = &registrytest.Pusher{Base: w.basic.URL, User: "puller", Pass: "s3cret-pass"}
	w.pushOutage = &registrytest.Pusher{Base: w.outage.URL}
	remotes := fmt.Sprintf(`
remotes:
  hub:
    base_url: %q
    package: docker
    registry_host: docker.io
    cache: {mutable_ttl: 3600}
  quay:
    base_url: %q
    package: docker
    registry_host: quay.io
  restricted:
    base_url: %q
    package: docker
    immutable_patterns: ["^allowed/"]
  moving:
    base_url: %q
    package: docker
    cache: {mutable_ttl: 1}
  flaky:
    base_url: %q
    package: docker
  basicreg:
    base_url: %q
    package: docker
    username: puller
    password: s3cret-pass
  nocreds:
    base_url: %q
    package: docker
  tokenreg:
    base_url: %q
    package: docker
    username: tok-user
    password: tok-pass
  outage:
    base_url: %q
    package: docker
    cache: {mutable_ttl: 1}
`, w.hubProxy.URL, w.hubProxy.URL, w.hubProxy.URL, w.moveProxy.URL, w.flakyProxy.URL,
		w.basicProxy.URL, w.basicProxy.URL, w.tokenProxy.URL, w.outageProxy.URL)
	w.app = apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: remotes})
	w.appHost = registrytest.HostPort(w.app.URL)
	return w
}

// pull copies docker://host/ref to a fresh dir: and returns its files.
func pull(t *testing.T, host, ref string, flags ...string) map[string][]byte {
	t.Helper()
	files, err := tryPull(t, host, ref, flags...)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func tryPull(t *testing.T, host, ref string, flags ...string) (map[string][]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "pull")
	if _, err := registrytest.Copy(ctx, "docker://"+host+"/"+ref, "dir:"+dir, flags...); err != nil {
		return nil, err
	}
	return registrytest.DirFiles(dir)
}

func same(t *testing.T, direct, proxied map[string][]byte) {
	t.Helper()
	if err := registrytest.SameFiles(direct, proxied); err != nil {
		t.Fatalf("pull through artifactapi differs from a direct pull: %v", err)
	}
}

func image(t *testing.T, platform string, layers []int, docker bool) *registrytest.Image {
	t.Helper()
	img, err := registrytest.NewImage(platform, layers, docker)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func pushImage(t *testing.T, p *registrytest.Pusher, name, tag string, img *registrytest.Image) {
	t.Helper()
	if err := p.PushImage(context.Background(), name, tag, img); err != nil {
		t.Fatal(err)
	}
}

// get sends a request to the app and returns status, headers and body.
func (w *world) get(t *testing.T, method, path string, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	resp := w.app.Do(t, method, path, nil, hdr)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, b
}

func TestPullThrough(t *testing.T) {
	for _, mode := range apptest.Modes {
		t.Run(string(mode), func(t *testing.T) {
			w := newWorld(t, mode)
			t.Run("single-arch image, second pull makes no upstream request", w.singleArch)
			t.Run("multi-arch index with all platforms", w.multiArch)
			t.Run("nested namespace", w.nested)
			t.Run("basic auth upstream", w.basicAuth)
			t.Run("bearer token upstream", w.bearer)
			t.Run("containerd ns without prefix", w.containerdNS)
			t.Run("dockerd un-prefixed and library mapping", w.dockerdDefault)
			t.Run("rke2 prefix form", w.rke2Prefix)
			t.Run("denied image never reaches upstream", w.denied)
			t.Run("tag moved upstream is served after mutable_ttl", w.tagMoved)
			t.Run("blob corrupted in transit caches nothing", w.corrupted)
			t.Run("concurrent cold pulls share one upstream download per blob", w.concurrent)
			t.Run("upstream stopped: cached tag still pulls, stale", w.upstreamStopped)
		})
	}
}
