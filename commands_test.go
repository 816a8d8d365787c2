package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"artifactapi/app/config"
)

// runBinary runs bin with args and env (added to a clean production-free
// environment) and returns its exit status and output.
func runBinary(t *testing.T, bin string, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "ADMIN_TOKEN=", "DBHOST=", "DATABASE_URL=", "REDIS_URL=", "MINIO_ENDPOINT=", "LISTEN_ADDR=", "PORT=")
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%v did not exit\nstderr: %s", args, stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, stdout.String(), stderr.String()
}

// TestHealthcheckCommand: `artifactapi healthcheck` exits 0 only when the
// health URL answers 200, so a container runtime without a shell can use it.
func TestHealthcheckCommand(t *testing.T) {
	bin := buildBinary(t)
	var status atomic.Int64 // the handler runs on the server's goroutines
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := closed.Addr().String()
	closed.Close()

	tests := []struct {
		name     string
		status   int
		env      []string
		args     []string
		wantCode int
		wantErr  string
	}{
		{name: "healthy, --url", status: 200, args: []string{"healthcheck", "--url", srv.URL + "/health"}},
		{name: "healthy, default URL from PORT", status: 200, env: []string{"PORT=" + port}, args: []string{"healthcheck"}},
		{name: "healthy, default URL from LISTEN_ADDR", status: 200, env: []string{"LISTEN_ADDR=:" + port}, args: []string{"healthcheck"}},
		{name: "answers 503", status: 503, args: []string{"healthcheck", "--url", srv.URL + "/health"}, wantCode: 1, wantErr: "503"},
		{name: "nothing listening", status: 200, args: []string{"healthcheck", "--url", "http://" + deadAddr + "/health"}, wantCode: 1, wantErr: "refused"},
		{name: "extra argument", status: 200, args: []string{"healthcheck", "x"}, wantCode: 2, wantErr: "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status.Store(int64(tc.status))
			code, _, stderr := runBinary(t, bin, tc.env, tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.wantCode, stderr)
			}
			if tc.wantErr != "" && !strings.Contains(stderr, tc.wantErr) {
				t.Fatalf("stderr lacks %q: %s", tc.wantErr, stderr)
			}
		})
	}
}

// TestProductionStartRefused: serve and migrate stop before connecting to
// anything when production settings are unsafe, saying what to fix and
// never printing the secret.
func TestProductionStartRefused(t *testing.T) {
	bin := buildBinary(t)
	remotes := filepath.Join(t.TempDir(), "remotes.yaml")
	if err := os.WriteFile(remotes, []byte("remotes:\n  r:\n    base_url: https://example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const placeholder = "REPLACE-WITH-A-RANDOM-TOKEN"
	base := []string{"REMOTES_CONFIG=" + remotes, "DATA_DIR=" + t.TempDir(), "DBHOST=127.0.0.1", "DBNAME=never_created",
		"MINIO_ENDPOINT=127.0.0.1:1", "MINIO_ACCESS_KEY=minioadmin", "MINIO_SECRET_KEY=minioadmin", "ADVERTISE_URL=http://fd00::1:8000",
		"ADMIN_TOKEN=" + placeholder}
	for _, cmd := range []string{"serve", "migrate"} {
		t.Run(cmd, func(t *testing.T) {
			code, _, stderr := runBinary(t, bin, base, cmd)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stderr: %s", code, stderr)
			}
			for _, want := range []string{"ADMIN_TOKEN", "placeholder", "MINIO_SECRET_KEY", "http://[fd00::1]:8000"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q: %s", want, stderr)
				}
			}
			if strings.Contains(stderr, placeholder) || strings.Contains(stderr, "minioadmin") {
				t.Errorf("stderr shows a secret: %s", stderr)
			}
		})
	}
}

// TestMaintenanceCommands: `artifactapi migrate` creates the metadata
// store's schema and exits without serving; `backup DIR` and `restore DIR`
// run from the command line (TestBackupRestore proves what they keep).
func TestMaintenanceCommands(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	remotes := filepath.Join(data, "remotes.yaml")
	if err := os.WriteFile(remotes, []byte("remotes:\n  r:\n    base_url: https://example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// No remotes file: a migration Job mounts none.
	code, _, stderr := runBinary(t, bin, []string{"DATA_DIR=" + data, "REMOTES_CONFIG=" + remotes + ".missing", "LISTEN_ADDR=127.0.0.1:0"}, "migrate")
	if code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, stderr)
	}
	if !strings.Contains(stderr, "migrations applied") {
		t.Fatalf("stderr: %s", stderr)
	}
	if _, err := os.Stat(filepath.Join(data, "artifactapi.db")); err != nil {
		t.Fatalf("no database: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "blobs")); err == nil {
		t.Fatal("migrate opened the blob store: it did more than migrate")
	}

	// backup DIR and restore DIR, on the embedded store migrate created.
	backupDir := filepath.Join(t.TempDir(), "backup")
	code, _, stderr = runBinary(t, bin, []string{"DATA_DIR=" + data}, "backup", backupDir)
	if code != 0 || !strings.Contains(stderr, "backup: complete") {
		t.Fatalf("backup: exit %d; stderr: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(backupDir, "backup.json")); err != nil {
		t.Fatalf("backup wrote no manifest: %v", err)
	}
	restored := t.TempDir()
	code, _, stderr = runBinary(t, bin, []string{"DATA_DIR=" + restored}, "restore", backupDir)
	if code != 0 || !strings.Contains(stderr, "restore: complete") {
		t.Fatalf("restore: exit %d; stderr: %s", code, stderr)
	}
	code, _, stderr = runBinary(t, bin, []string{"DATA_DIR=" + restored}, "restore", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "not a backup") {
		t.Fatalf("restore of an empty directory: exit %d; stderr: %s", code, stderr)
	}
	code, _, stderr = runBinary(t, bin, nil, "backup")
	if code != 2 || !strings.Contains(stderr, "one directory") {
		t.Fatalf("backup without a directory: exit %d; stderr: %s", code, stderr)
	}
}

// TestShippedSecretsPassStartupChecks: every Secret shipped under deploy/
// (the dev overlay's, with its bundled backends) holds an environment the
// production start-up checks accept, or the pods it feeds could not start.
func TestShippedSecretsPassStartupChecks(t *testing.T) {
	var found int
	err := filepath.WalkDir("deploy", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") || strings.Contains(p, "/templates/") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var doc struct {
				Kind       string            `yaml:"kind"`
				StringData map[string]string `yaml:"stringData"`
			}
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				return nil
			} else if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			if doc.Kind != "Secret" || doc.StringData["ADMIN_TOKEN"] == "" {
				continue
			}
			found++
			env := doc.StringData
			if _, err := config.LoadEnv(func(k string) string { return env[k] }); err != nil {
				t.Errorf("%s: the app would refuse to start: %v", p, err)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Fatal("no Secret with ADMIN_TOKEN found under deploy/: the walk no longer sees the manifests")
	}
}
