package app_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// buildArtifactAPI builds the real binary from the module root.
func buildArtifactAPI(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(t.TempDir(), "artifactapi")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return bin
}

// proc is one artifactapi process started by the test.
type proc struct {
	cmd  *exec.Cmd
	URL  string
	logs *apptest.SyncBuffer
	done chan struct{}
}

// startProc runs bin with env and waits until /ready answers 200.
func startProc(t *testing.T, bin string, env map[string]string) *proc {
	t.Helper()
	addr, err := testenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return startProcAt(t, bin, addr, env)
}

// startProcAt is startProc listening on addr.
func startProcAt(t *testing.T, bin, addr string, env map[string]string) *proc {
	t.Helper()
	p := &proc{URL: "http://" + addr, logs: &apptest.SyncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin)
	p.cmd.Env = append(os.Environ(), "LISTEN_ADDR="+addr, "LOG_FORMAT=text")
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill(t) })
	testenv.Eventually(t, 30*time.Second, "artifactapi to be ready", func() bool {
		select {
		case <-p.done:
			t.Fatalf("artifactapi exited during startup:\n%s", p.logs.String())
		default:
		}
		resp, err := http.Get(p.URL + "/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// kill sends SIGKILL to this process (idempotent) and reaps it.
func (p *proc) kill(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	if err := p.cmd.Process.Kill(); err != nil {
		t.Errorf("kill: %v", err)
	}
	<-p.done
}

// gatedOrigin serves one file; while gated it sends the first half and then
// waits for the gate to open.
type gatedOrigin struct {
	body []byte
	mu   sync.Mutex
	hits int
	gate chan struct{}
	// sentHalf is closed when a gated answer has sent its first half.
	sentHalf chan struct{}
	once     sync.Once
	gated    bool
}

func (o *gatedOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/big/file.bin" {
		http.NotFound(w, r)
		return
	}
	o.mu.Lock()
	o.hits++
	gated := o.gated
	o.mu.Unlock()
	w.Header().Set("Content-Length", strconv.Itoa(len(o.body)))
	w.Header().Set("Content-Type", "application/octet-stream")
	if !gated {
		_, _ = w.Write(o.body)
		return
	}
	half := len(o.body) / 2
	_, _ = w.Write(o.body[:half])
	w.(http.Flusher).Flush()
	o.once.Do(func() { close(o.sentHalf) })
	select {
	case <-o.gate:
	case <-r.Context().Done():
	}
	// The connection's process is dead by now: end without the rest.
}

func (o *gatedOrigin) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits
}

// spoolFiles returns the size of every file in dir/spool.
func spoolFiles(t *testing.T, dataDir string) map[string]int64 {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dataDir, "spool"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			out[e.Name()] = fi.Size()
		}
	}
	return out
}

// TestKilledMidDownload kills the real binary with SIGKILL while it streams a
// download, restarts it on the same data directory and checks that nothing
// partial survives or is served.
func TestKilledMidDownload(t *testing.T) {
	bin := buildArtifactAPI(t)
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		const size = 4 << 20
		body := randBody(size, 42)
		sum := sha256.Sum256(body)
		want := hex.EncodeToString(sum[:])
		o := &gatedOrigin{body: body, gate: make(chan struct{}), sentHalf: make(chan struct{}), gated: true}
		srv := &http.Server{Handler: o}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })

		dataDir := t.TempDir()
		remotes := filepath.Join(dataDir, "remotes.yaml")
		yaml := fmt.Sprintf("remotes:\n  gen:\n    base_url: %q\n", "http://"+ln.Addr().String())
		if err := os.WriteFile(remotes, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"DATA_DIR": dataDir, "REMOTES_CONFIG": remotes, "ADMIN_TOKEN": apptest.AdminToken}
		for k, v := range apptest.NewBackends(t, mode).Env {
			env[k] = v
		}

		p := startProc(t, bin, env)
		resp, err := http.Get(p.URL + "/api/gen/big/file.bin")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-Artifact-Source") != "remote" {
			t.Fatalf("first GET: %d source %q", resp.StatusCode, resp.Header.Get("X-Artifact-Source"))
		}
		got := make([]byte, size/2)
		if _, err := io.ReadFull(resp.Body, got); err != nil {
			t.Fatalf("reading the first half: %v", err)
		}
		if string(got) != string(body[:size/2]) {
			t.Fatal("the first half differs from the origin's")
		}
		<-o.sentHalf
		partial := spoolFiles(t, dataDir)
		p.kill(t)

		// After SIGKILL the spool holds the partial download and nothing else.
		after := spoolFiles(t, dataDir)
		if len(partial) != 1 || len(after) != 1 {
			t.Fatalf("spool before kill %v, after kill %v; want one partial file", partial, after)
		}
		for name, n := range after {
			if n < size/2 || n >= size {
				t.Fatalf("spool file %s holds %d bytes; want a partial download of %d", name, n, size)
			}
		}
		if _, err := io.ReadAll(resp.Body); err == nil {
			t.Fatal("the client read a complete body from a killed server")
		}

		// The origin recovers; the binary restarts on the same data directory.
		o.mu.Lock()
		o.gated = false
		o.mu.Unlock()
		close(o.gate)
		hits := o.count()
		p2 := startProc(t, bin, env)
		if left := spoolFiles(t, dataDir); len(left) != 0 {
			t.Fatalf("spool not emptied at startup: %v", left)
		}
		for i, wantSource := range []string{"remote", "cache"} {
			started := time.Now()
			r, err := http.Get(p2.URL + "/api/gen/big/file.bin")
			t.Logf("GET %d after restart answered in %s", i, time.Since(started))
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			n, err := io.Copy(h, r.Body)
			r.Body.Close()
			if err != nil || r.StatusCode != 200 || n != size || hex.EncodeToString(h.Sum(nil)) != want {
				t.Fatalf("GET %d after restart: %d, %d bytes, err %v\n%s", i, r.StatusCode, n, err, p2.logs.String())
			}
			if src := r.Header.Get("X-Artifact-Source"); src != wantSource {
				t.Fatalf("GET %d after restart: X-Artifact-Source %q, want %q", i, src, wantSource)
			}
			if got := r.Header.Get("X-Checksum-Sha256"); i == 1 && got != want {
				t.Fatalf("cache hit X-Checksum-Sha256 %q, want %q", got, want)
			}
			if wantSource == "remote" {
				testenv.Eventually(t, 20*time.Second, "the download to be listed", func() bool {
					lr, err := http.Get(p2.URL + "/artifacts/gen")
					if err != nil {
						return false
					}
					b, _ := io.ReadAll(lr.Body)
					lr.Body.Close()
					return strings.Contains(string(b), `"big/file.bin"`)
				})
			}
		}
		if got := o.count(); got != hits+1 {
			t.Fatalf("origin GETs after restart: %d, want 1 (a full download, then a hit)", got-hits)
		}
	})
}
