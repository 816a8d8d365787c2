package app_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// TestSIGTERMDrainsRunningDownload: the real binary, sent SIGTERM while a
// download streams, stops accepting, lets the download finish, commits it and
// exits 0.
func TestSIGTERMDrainsRunningDownload(t *testing.T) {
	bin := buildArtifactAPI(t)
	o := newOrigin(t)
	body := randBody(3<<20, 11)
	f := o.set("/files/term.bin", body)
	f.gate, f.sentHalf = make(chan struct{}), make(chan struct{})
	dataDir := t.TempDir()
	remotes := filepath.Join(dataDir, "remotes.yaml")
	if err := os.WriteFile(remotes, []byte(remotesFor(o, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATA_DIR": dataDir, "REMOTES_CONFIG": remotes, "ADMIN_TOKEN": apptest.AdminToken, "SHUTDOWN_TIMEOUT": "30s"}
	p := startProc(t, bin, env)
	resp, err := http.Get(p.URL + "/api/gen/files/term.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	half := make([]byte, len(body)/2)
	if _, err := io.ReadFull(resp.Body, half); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "shutdown to begin", func() bool { return strings.Contains(p.logs.String(), "shutting down") })
	select {
	case <-p.done:
		t.Fatal("the process exited with a download running")
	default:
	}
	close(f.gate)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || sha(append(half, rest...)) != sha(body) {
		t.Fatalf("download cut by SIGTERM: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the process did not exit after draining")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d\n%s", code, p.logs.String())
	}
	// Restarted on the same data directory, the drained download is a hit.
	p2 := startProc(t, bin, env)
	r2, err := http.Get(p2.URL + "/api/gen/files/term.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.Header.Get("X-Artifact-Source") != "cache" || sha(got) != sha(body) {
		t.Fatalf("after restart: source %q", r2.Header.Get("X-Artifact-Source"))
	}
	if n := o.count("/files/term.bin"); n != 1 {
		t.Fatalf("upstream GETs = %d", n)
	}
}

// TestEveryMutatingRouteNeedsTheAdminCredential: no credential and a wrong
// one are refused on every route that changes state.
func TestEveryMutatingRouteNeedsTheAdminCredential(t *testing.T) {
	o := newOrigin(t)
	in := start(t, apptest.Embedded, o)
	upload(t, in, "local", "keep/me.txt", []byte("kept"))
	routes := []struct{ name, method, path, body string }{
		{name: "upload", method: "PUT", path: "/api/local/new/file.txt", body: "x"},
		{name: "upload via alias", method: "PUT", path: "/api/v1/remote/local/new/file.txt", body: "x"},
		{name: "delete local", method: "DELETE", path: "/api/local/keep/me.txt"},
		{name: "evict cached", method: "DELETE", path: "/api/gen/files/a.bin"},
		{name: "bulk evict", method: "POST", path: "/evict", body: `{"remote":"local","q":""}`},
		{name: "batch job", method: "POST", path: "/cache-artifact", body: `{"remote":"gen","paths":["files/a.bin"]}`},
	}
	for _, cred := range []struct{ name, header string }{{"none", ""}, {"wrong bearer", "Bearer nope"}, {"wrong basic", basic("admin", "nope")}} {
		for _, r := range routes {
			hdr := map[string]string{"Content-Type": "application/json"}
			if cred.header != "" {
				hdr["Authorization"] = cred.header
			}
			resp := in.Do(t, r.method, r.path, strings.NewReader(r.body), hdr)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s with %s credential: %d, want 401", r.name, cred.name, resp.StatusCode)
			}
		}
	}
	if st, _, b := in.Get(t, "/api/local/keep/me.txt", nil); st != 200 || string(b) != "kept" {
		t.Fatalf("a refused request changed state: %d %q", st, b)
	}
	// The dashboard's forms redirect to the sign-in page without a session.
	resp := in.Do(t, "POST", "/ui/remotes/local/evict", strings.NewReader("q="), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	resp.Body.Close()
	if resp.StatusCode < 300 || resp.StatusCode == http.StatusOK {
		t.Fatalf("dashboard POST without a session: %d", resp.StatusCode)
	}
}

// TestQuotaNeverEvictsPinned: artifacts cached by a pinned job stay when the
// quota evicts; the least recently used unpinned ones go instead.
func TestQuotaNeverEvictsPinned(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		o := newOrigin(t)
		for i := 0; i < 4; i++ {
			o.set(fmt.Sprintf("/q/p%d.bin", i), randBody(40_000, byte(20+i)))
		}
		extra := fmt.Sprintf("  quota:\n    base_url: %q\n    cache:\n      max_size: \"100KB\"\n", o.URL)
		in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: remotesFor(o, extra)})
		id := submitJob(t, in, `{"remote": "quota", "pin": true, "paths": ["q/p0.bin"]}`)
		waitJobDone(t, in, id)
		for _, i := range []int{1, 2, 3} { // 160 KB in all: two unpinned must go
			in.Get(t, fmt.Sprintf("/api/quota/q/p%d.bin", i), nil)
			settle(t, in)
		}
		l := list(t, in, "quota", nil)
		paths := []string{}
		for _, it := range l.Items {
			paths = append(paths, it.Path)
			if it.Path == "q/p0.bin" && !it.Pinned {
				t.Fatal("job artifact not pinned")
			}
		}
		if strings.Join(paths, ",") != "q/p0.bin,q/p3.bin" || l.Totals.Bytes > 100_000 {
			t.Fatalf("after quota: %v (%d bytes); want the pinned p0 and the newest p3", paths, l.Totals.Bytes)
		}
	})
}
