package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"artifactapi/app/testenv"
)

// buildBinary compiles the command into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "artifactapi")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestCLI runs the real binary: help never starts the server or reads a
// file named after a flag, and check-config's exit status says whether the
// file is valid.
func TestCLI(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	valid := write("valid.yaml", "remotes:\n  r:\n    base_url: https://example.com\n")
	invalid := write("invalid.yaml", "remotes:\n  r:\n    base_ur: https://example.com\n")
	syntax := write("syntax.yaml", "remotes:\n  r:\n    base_url: [https://example.com\n")
	missing := filepath.Join(dir, "missing.yaml")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{name: "help", args: []string{"help"}, wantStdout: []string{"Usage:", "check-config", "ADMIN_TOKEN"}},
		{name: "--help", args: []string{"--help"}, wantStdout: []string{"Usage:"}},
		{name: "-h", args: []string{"-h"}, wantStdout: []string{"Usage:"}},
		{name: "serve --help", args: []string{"serve", "--help"}, wantStdout: []string{"Usage:"}},
		{name: "serve -h", args: []string{"serve", "-h"}, wantStdout: []string{"Usage:"}},
		{name: "migrate --help", args: []string{"migrate", "--help"}, wantStdout: []string{"Usage:"}},
		{name: "check-config --help", args: []string{"check-config", "--help"}, wantStdout: []string{"Usage:", "check-config"}},
		{name: "check-config valid", args: []string{"check-config", valid}, wantStdout: []string{"OK, 1 remotes (r)"}},
		{name: "check-config via --config", args: []string{"--config", valid, "check-config"}, wantStdout: []string{"OK"}},
		{name: "check-config invalid", args: []string{"check-config", invalid}, wantCode: 1,
			wantStderr: []string{"base_ur", "did you mean `base_url`?"}},
		{name: "check-config syntax error", args: []string{"check-config", syntax}, wantCode: 1, wantStderr: []string{"line 3"}},
		{name: "check-config missing file", args: []string{"check-config", missing}, wantCode: 1, wantStderr: []string{"missing.yaml", "no such file"}},
		{name: "check-config two files", args: []string{"check-config", valid, valid}, wantCode: 2, wantStderr: []string{"one file"}},
		{name: "unknown command", args: []string{"serv"}, wantCode: 2, wantStderr: []string{`unknown command "serv"`, "Usage:"}},
		{name: "unknown flag", args: []string{"serve", "--lisen", ":1"}, wantCode: 2, wantStderr: []string{"lisen", "Usage:"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A command that starts the server instead of answering is
			// stopped by the deadline and fails the test.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, tc.args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "LISTEN_ADDR=127.0.0.1:0", "DATA_DIR="+filepath.Join(dir, "data"),
				"REMOTES_CONFIG="+missing, "ADMIN_TOKEN=", "DBHOST=", "DATABASE_URL=", "REDIS_URL=", "MINIO_ENDPOINT=")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("%v did not exit (it started serving?)\nstderr: %s", tc.args, stderr.String())
			}
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.wantCode {
				t.Fatalf("%v: exit %d, want %d\nstdout: %s\nstderr: %s", tc.args, code, tc.wantCode, stdout.String(), stderr.String())
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
				t.Errorf("%v created the data directory: it started", tc.args)
			}
		})
	}
}

// TestHelpIsConsistentAboutTheToken: the generated admin token is logged
// once, so the help must not also promise it is never logged.
func TestHelpIsConsistentAboutTheToken(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := cli([]string{"help"}, &out, &errOut); code != 0 {
		t.Fatalf("help: exit %d: %s", code, errOut.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if !strings.Contains(line, "ADMIN_TOKEN") {
			continue
		}
		if strings.Contains(line, "logged once") || strings.Contains(line, "printed once") {
			if strings.Contains(line, "never logged or shown]") && !strings.Contains(line, "value you set") {
				t.Fatalf("ADMIN_TOKEN help contradicts itself: %s", line)
			}
		}
		return
	}
	t.Fatal("help does not list ADMIN_TOKEN")
}

// TestHeapFloor runs the real binary (built without the race detector,
// which writes to every allocation) with and without GC_HEAP_FLOOR: with it
// the collector's next goal is at least the floor on a small live heap, and
// resident memory does not grow by the reserve behind it.
func TestHeapFloor(t *testing.T) {
	bin := buildBinary(t)
	const floor = 256 << 20
	start := func(floorEnv string) (nextGC, rss int64, log string) {
		dir := t.TempDir()
		remotes := filepath.Join(dir, "remotes.yaml")
		if err := os.WriteFile(remotes, []byte("remotes:\n  r:\n    base_url: http://127.0.0.1:9\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		addr, err := testenv.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "serve")
		cmd.Env = append(os.Environ(), "LISTEN_ADDR="+addr, "DATA_DIR="+filepath.Join(dir, "data"), "GC_HEAP_FLOOR="+floorEnv,
			"GOGC=", "GOMEMLIMIT=", "REMOTES_CONFIG="+remotes, "ADMIN_TOKEN=", "METRICS_TOKEN=",
			"DBHOST=", "DATABASE_URL=", "REDIS_URL=", "MINIO_ENDPOINT=")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		defer func() { _ = cmd.Process.Kill(); <-exited }()
		var metrics string
		testenv.Eventually(t, 30*time.Second, "the server's /metrics", func() bool {
			select {
			case <-exited:
				t.Fatalf("the server exited:\n%s", out.String())
			default:
			}
			resp, err := http.Get("http://" + addr + "/metrics")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			metrics = string(b)
			return err == nil && resp.StatusCode == http.StatusOK
		})
		for _, l := range strings.Split(metrics, "\n") {
			if v, ok := strings.CutPrefix(l, "go_memstats_next_gc_bytes "); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("go_memstats_next_gc_bytes %q: %v", v, err)
				}
				nextGC = int64(f)
			}
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(status), "\n") {
			if f := strings.Fields(l); len(f) == 3 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				rss = kb << 10
			}
		}
		if nextGC == 0 || rss == 0 {
			t.Fatalf("no next GC goal (%d) or RSS (%d) read", nextGC, rss)
		}
		// A graceful stop flushes the batched log lines; the output is
		// read once the process is gone.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-exited
		return nextGC, rss, out.String()
	}
	offGoal, offRSS, _ := start("0")
	onGoal, onRSS, log := start("256MiB")
	t.Logf("without a floor: next GC at %d MiB, RSS %d MiB; with a 256 MiB floor: %d MiB, RSS %d MiB",
		offGoal>>20, offRSS>>20, onGoal>>20, onRSS>>20)
	if offGoal >= floor {
		t.Fatalf("the goal is %d MiB without a floor: the test cannot tell the floor's effect", offGoal>>20)
	}
	if onGoal < floor {
		t.Errorf("next GC at %d MiB with GC_HEAP_FLOOR=256MiB", onGoal>>20)
	}
	if onRSS-offRSS > 32<<20 {
		t.Errorf("RSS %d MiB with the floor against %d MiB without: the 128 MiB reserve is resident", onRSS>>20, offRSS>>20)
	}
	if !strings.Contains(log, "GC heap floor 256 MiB") {
		t.Errorf("the startup log does not report the floor:\n%s", log)
	}
}
