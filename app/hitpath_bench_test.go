package app_test

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// BenchmarkHitHandler measures the server side of a warm 4 KiB hit alone:
// the request goes straight into the Fiber handler (no socket, no client),
// so allocs/op and ns/op are the server's own cost per hit, on each backend
// combination. Production needs scripts/with-services.sh.
//
//	go test -run '^$' -bench HitHandler -benchmem ./app/
func BenchmarkHitHandler(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 4096)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer up.Close()
	for _, mode := range apptest.Modes {
		for _, tc := range []struct{ name, path string }{{"", "/api/pub/f.bin"}, {"/token", "/api/private/f.bin"}} {
			b.Run(string(mode)+tc.name, func(b *testing.B) {
				in := apptest.Start(b, apptest.NewBackends(b, mode), apptest.Options{Remotes: accessRemotes(up.URL)})
				var hdr map[string]string
				if tc.name != "" {
					// An API token scoped to the remote: each hit checks it.
					secret, _ := newToken(b, in, map[string]any{"name": "bench", "owner": "bench", "owner_kind": "service", "scopes": []string{"read:private"}})
					hdr = map[string]string{"Authorization": "Bearer " + secret}
				}
				benchHits(b, in, tc.path, hdr, len(body))
			})
		}
	}
}

// BenchmarkFormatHit is BenchmarkHitHandler for the package formats' warm
// hits, the requests of bench/formats.sh: a PEP 503 project page (served
// rewritten), a wheel on the files host (through _ext), an npm abbreviated
// document (rewritten) and an npm tarball.
//
//	go test -run '^$' -bench FormatHit -benchmem ./app/
func BenchmarkFormatHit(b *testing.B) {
	wheel := bytes.Repeat([]byte("w"), 1200)
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(wheel) }))
	defer files.Close()
	s256, s1 := sha256.Sum256(wheel), sha1.Sum(wheel) // the clients' checksums are verified: they must be right
	page := `<!DOCTYPE html><html><body><a href="` + files.URL + `/packages/demo/demo-1.0.0-py3-none-any.whl#sha256=` +
		hex.EncodeToString(s256[:]) + `" data-requires-python="&gt;=3.7">demo-1.0.0-py3-none-any.whl</a><br/></body></html>`
	var npmURL string
	npm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".tgz") {
			w.Write(wheel)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.npm.install-v1+json")
		fmt.Fprintf(w, `{"name":"demo","modified":"2026-11-29T00:00:00.000Z","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{"name":"demo","version":"1.0.0","dist":{"tarball":"%s/demo/-/demo-1.0.0.tgz","shasum":"%s"}}}}`, npmURL, hex.EncodeToString(s1[:]))
	}))
	defer npm.Close()
	npmURL = npm.URL
	index := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, page)
	}))
	defer index.Close()
	remotes := fmt.Sprintf("remotes:\n  py:\n    base_url: %q\n    package: pypi\n    files_url: %q\n  js:\n    base_url: %q\n    package: npm\n",
		index.URL, files.URL, npm.URL)
	for _, mode := range apptest.Modes {
		in := apptest.Start(b, apptest.NewBackends(b, mode), apptest.Options{Remotes: remotes})
		for _, tc := range []struct{ name, path, accept string }{
			{"pypi-page", "/api/py/simple/demo/", "application/vnd.pypi.simple.v1+html"},
			{"pypi-wheel", "/api/py/_ext/" + strings.TrimPrefix(files.URL, "http://") + "/packages/demo/demo-1.0.0-py3-none-any.whl", ""},
			{"npm-document", "/api/js/demo", "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"},
			{"npm-tarball", "/api/js/demo/-/demo-1.0.0.tgz", ""},
		} {
			b.Run(string(mode)+"/"+tc.name, func(b *testing.B) {
				hdr := map[string]string{}
				if tc.accept != "" {
					hdr["Accept"] = tc.accept
				}
				benchHits(b, in, tc.path, hdr, -1)
			})
		}
	}
}

// benchHits waits until path is a cache hit, then measures hits on it
// handed straight to the Fiber handler with the headers hdr; each must be a
// 200 from the cache, of bodyLen bytes unless bodyLen < 0.
func benchHits(b *testing.B, in *apptest.Instance, path string, hdr map[string]string, bodyLen int) {
	testenv.Eventually(b, 20*time.Second, "a cache hit", func() bool {
		st, h, got := in.Get(b, path, hdr)
		return st == http.StatusOK && (bodyLen < 0 || len(got) == bodyLen) && h.Get("X-Artifact-Source") == "cache"
	})
	h := in.App.Fiber.Handler()
	var ctx fasthttp.RequestCtx
	serve := func() {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.SetRequestURI(path)
		ctx.Request.Header.SetMethod(http.MethodGet)
		ctx.Request.Header.SetHost("bench")
		for k, v := range hdr {
			ctx.Request.Header.Set(k, v)
		}
		h(&ctx)
		if ctx.Response.StatusCode() != http.StatusOK || (bodyLen >= 0 && len(ctx.Response.Body()) != bodyLen) ||
			string(ctx.Response.Header.Peek("X-Artifact-Source")) != "cache" {
			b.Fatalf("%d, %d bytes, source %q", ctx.Response.StatusCode(), len(ctx.Response.Body()),
				ctx.Response.Header.Peek("X-Artifact-Source"))
		}
	}
	serve() // a small body is in the in-memory body cache from here on
	in.Logs.Discard()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		serve()
	}
}
