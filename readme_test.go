package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// readmeSession returns the shell block of the README's "A short session".
func readmeSession(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n## A short session\n")
	if i < 0 {
		t.Fatal(`README.md has no "## A short session" section`)
	}
	s = s[i:]
	start := strings.Index(s, "```bash\n")
	if start < 0 {
		t.Fatal(`"A short session" has no bash block`)
	}
	s = s[start+len("```bash\n"):]
	end := strings.Index(s, "\n```")
	if end < 0 {
		t.Fatal(`"A short session": unterminated bash block`)
	}
	return s[:end+1]
}

// TestReadmeSession runs the README's short session as a human would paste
// it, against the built binary with the shipped remotes.yaml, every
// base_url pointing at a local fake upstream. Two substitutions only: the
// port (8000 may be taken on a shared machine) and `make run`, which starts
// the binary built here instead of `go run .`. Any failing command fails
// the test.
func TestReadmeSession(t *testing.T) {
	session := readmeSession(t)
	if !strings.Contains(session, "make run &") || !strings.Contains(session, "/ready") {
		t.Fatalf("the session no longer starts the server and waits for /ready:\n%s", session)
	}
	bin := buildBinary(t)
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprintf(w, "artifact at %s\n", r.URL.Path)
	}))
	defer up.Close()

	dir := t.TempDir()
	remotes, err := os.ReadFile("remotes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	remotes = regexp.MustCompile(`(?m)^(\s*base_url:\s*).*$`).ReplaceAll(remotes, []byte(`${1}"`+up.URL+`"`))
	if err := os.WriteFile(filepath.Join(dir, "remotes.yaml"), remotes, 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	serverLog := filepath.Join(dir, "server.log")
	script := `set -euo pipefail
make() {
	if [ "$*" = run ]; then exec "$ARTIFACTAPI_BIN" serve >"$SERVER_LOG" 2>&1; fi
	echo "the README session runs 'make $*': only 'make run' is simulated" >&2
	return 1
}
set -x
` + strings.ReplaceAll(session, "localhost:8000", "localhost:"+port)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ARTIFACTAPI_BIN="+bin, "SERVER_LOG="+serverLog, "PORT="+port,
		"LISTEN_ADDR=", "REMOTES_CONFIG=", "DATA_DIR=", "DBHOST=", "DATABASE_URL=", "REDIS_URL=", "MINIO_ENDPOINT=", "LOG_FORMAT=text")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the server is in the script's group
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) // the server started by `make run &`
	}
	logs, _ := os.ReadFile(serverLog)
	if runErr != nil {
		t.Fatalf("the README session failed: %v\n--- session output ---\n%s\n--- server log ---\n%s", runErr, out.String(), logs)
	}
	if strings.Contains(out.String(), `"warning"`) {
		t.Errorf("an upload in the session was refused or empty:\n%s", out.String())
	}
	for _, want := range []string{"X-Artifact-Source: remote", `"sha256"`, "artifactapi_"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("session output lacks %q:\n%s", want, out.String())
		}
	}
	if hits.Load() == 0 {
		t.Errorf("the fake upstream was never asked: the session did not reach it\n%s", logs)
	}
}

// freePort returns a port nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}
