package app_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"artifactapi/app/apptest"
)

// BenchmarkWarmHit4KiB compares warm 4 KiB cache hits: anonymous on a
// public remote, and with an API token (cached verification, no database
// round trip) or a password on a scoped one. The authenticated rates
// should stay at 0.9x the anonymous one or better.
func BenchmarkWarmHit4KiB(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 4096)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer up.Close()
	in := apptest.Start(b, apptest.NewBackends(b, apptest.Embedded), apptest.Options{Remotes: accessRemotes(up.URL),
		Env: map[string]string{"LOG_LEVEL": "error"}})
	secret, _ := newToken(b, in, map[string]any{"name": "bench", "owner": "svc", "owner_kind": "service", "scopes": []string{"read:private"}})
	call(b, in, http.MethodPost, "/admin/users", apptest.Admin(), map[string]any{"name": "bench", "password": "bench-password-1", "scopes": []string{"read"}}, nil)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	cases := []struct {
		name, path, auth string
	}{
		{name: "anonymous", path: "/api/pub/f.bin"},
		{name: "token", path: "/api/private/f.bin", auth: "Bearer " + secret},
		{name: "password", path: "/api/private/f.bin", auth: basicAuth("bench", "bench-password-1")},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			get := func() {
				req, _ := http.NewRequest(http.MethodGet, in.URL+tc.path, nil)
				if tc.auth != "" {
					req.Header.Set("Authorization", tc.auth)
				}
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || n != 4096 {
					b.Fatalf("%d, %d bytes", resp.StatusCode, n)
				}
			}
			get() // warm: cached artifact, verified credential
			b.SetBytes(4096)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					get()
				}
			})
		})
	}
}
