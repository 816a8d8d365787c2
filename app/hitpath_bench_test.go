package app_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
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
				testenv.Eventually(b, 20*time.Second, "a cache hit", func() bool {
					st, h, got := in.Get(b, tc.path, hdr)
					return st == http.StatusOK && len(got) == len(body) && h.Get("X-Artifact-Source") == "cache"
				})
				h := in.App.Fiber.Handler()
				var ctx fasthttp.RequestCtx
				serve := func() {
					ctx.Request.Reset()
					ctx.Response.Reset()
					ctx.Request.SetRequestURI(tc.path)
					ctx.Request.Header.SetMethod(http.MethodGet)
					ctx.Request.Header.SetHost("bench")
					if hdr != nil {
						ctx.Request.Header.Set("Authorization", hdr["Authorization"])
					}
					h(&ctx)
					if ctx.Response.StatusCode() != http.StatusOK || len(ctx.Response.Body()) != len(body) ||
						string(ctx.Response.Header.Peek("X-Artifact-Source")) != "cache" {
						b.Fatalf("%d, %d bytes, source %q", ctx.Response.StatusCode(), len(ctx.Response.Body()),
							ctx.Response.Header.Peek("X-Artifact-Source"))
					}
				}
				serve() // the body is in the in-memory body cache from here on
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					serve()
				}
			})
		}
	}
}
