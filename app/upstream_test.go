package app_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// TestRedirectNeverCarriesCredentials: the remote's credentials go to its own
// host only, never to the host a redirect points at (GitHub → CDN). The
// "CDN" is another port of 127.0.0.1, so the remote allows private redirects.
func TestRedirectNeverCarriesCredentials(t *testing.T) {
	var mu sync.Mutex
	var cdnAuth []string
	cdn := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		cdnAuth = append(cdnAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Write([]byte("payload from cdn"))
	})}
	cdnLn, _ := net.Listen("tcp", "127.0.0.1:0")
	go cdn.Serve(cdnLn)
	defer cdn.Close()
	var originAuth string
	origin := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		mu.Lock()
		originAuth = user + ":" + pass
		mu.Unlock()
		http.Redirect(w, r, "http://"+cdnLn.Addr().String()+"/blob?sig=abc", http.StatusFound)
	})}
	originLn, _ := net.Listen("tcp", "127.0.0.1:0")
	go origin.Serve(originLn)
	defer origin.Close()
	remotes := fmt.Sprintf(`remotes:
  gh:
    base_url: "http://%s"
    username: "robot"
    password: "redirect-secret-pw"
    allow_private_redirects: true
`, originLn.Addr())
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: remotes})
	st, _, b := in.Get(t, "/api/gh/releases/download/v1/tool.tar.gz", nil)
	if st != 200 || string(b) != "payload from cdn" {
		t.Fatalf("redirected download: %d %q", st, b)
	}
	mu.Lock()
	defer mu.Unlock()
	if originAuth != "robot:redirect-secret-pw" {
		t.Fatalf("origin did not get the remote's credentials: %q", originAuth)
	}
	if len(cdnAuth) != 1 || cdnAuth[0] != "" {
		t.Fatalf("credentials leaked to the redirect target: %q", cdnAuth)
	}
}

// TestUpstreamStallIsBounded: an upstream that stops sending mid-body is cut
// after UPSTREAM_IDLE_TIMEOUT and nothing is cached.
func TestUpstreamStallIsBounded(t *testing.T) {
	o := newOrigin(t)
	f := o.set("/files/stall.bin", randBody(200_000, 10))
	f.gate, f.sentHalf = make(chan struct{}), make(chan struct{}) // never opened
	defer close(f.gate)
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: remotesFor(o, ""),
		Env: map[string]string{"UPSTREAM_IDLE_TIMEOUT": "300ms"}})
	start := time.Now()
	resp, err := http.Get(in.URL + "/api/gen/files/stall.bin")
	if err == nil {
		_, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr == nil {
			t.Fatal("a stalled download completed")
		}
	}
	testenv.Eventually(t, 10*time.Second, "stalled download abandoned", func() bool { return in.App.Engine.InFlight() == 0 })
	if time.Since(start) > 8*time.Second {
		t.Fatalf("stall not bounded by the idle timeout")
	}
	if _, ok := artifact(t, in, "gen", "files/stall.bin"); ok {
		t.Fatal("stalled download cached")
	}
}

// TestRedirectToPrivateAddressRefused: a remote on 127.0.0.1 that redirects
// to another loopback address (by IP or by a name resolving to one) gets
// the client a 502 that says why, nothing is cached and the target is never
// contacted, unless the remote sets allow_private_redirects.
func TestRedirectToPrivateAddressRefused(t *testing.T) {
	var mu sync.Mutex
	targetHits := 0
	target := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		targetHits++
		mu.Unlock()
		w.Write([]byte("internal bytes"))
	})}
	targetLn, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	go target.Serve(targetLn)
	defer target.Close()
	named := newOrigin(t) // a second server on 127.0.0.1, reached as "localhost"
	named.set("/x.bin", []byte("internal bytes"))
	_, namedPort, _ := net.SplitHostPort(named.ln.Addr().String())

	mux := http.NewServeMux()
	mux.HandleFunc("/by-ip/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+targetLn.Addr().String()+"/x.bin", http.StatusFound)
	})
	mux.HandleFunc("/by-name/", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://localhost:"+namedPort+"/x.bin", http.StatusFound)
	})
	originLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := &http.Server{Handler: mux}
	go origin.Serve(originLn)
	defer origin.Close()
	base := "http://" + originLn.Addr().String()
	remotes := fmt.Sprintf(`remotes:
  strict:
    base_url: %q
  internal:
    base_url: %q
    allow_private_redirects: true
`, base, base)
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: remotes})
	tests := []struct {
		name, path string
		status     int
		body       string // expected body (200) or a part of the error
	}{
		{name: "loopback IP", path: "/api/strict/by-ip/a.bin", status: http.StatusBadGateway, body: "redirect refused: loopback address"},
		{name: "name resolving to loopback", path: "/api/strict/by-name/a.bin", status: http.StatusBadGateway, body: "redirect refused: loopback address"},
		{name: "again: nothing was cached", path: "/api/strict/by-ip/a.bin", status: http.StatusBadGateway, body: "redirect refused"},
		{name: "remote allows private redirects", path: "/api/internal/by-ip/a.bin", status: http.StatusOK, body: "internal bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, _, b := in.Get(t, tc.path, nil)
			if st != tc.status || !strings.Contains(string(b), tc.body) {
				t.Fatalf("GET %s = %d %s; want %d with %q", tc.path, st, b, tc.status, tc.body)
			}
			settle(t, in)
		})
	}
	if _, ok := artifact(t, in, "strict", "by-ip/a.bin"); ok {
		t.Error("the refused redirect was cached")
	}
	mu.Lock()
	defer mu.Unlock()
	if targetHits != 1 || named.count("/x.bin") != 0 {
		t.Errorf("private targets contacted %d and %d times, want 1 (the allowed remote) and 0", targetHits, named.count("/x.bin"))
	}
}
