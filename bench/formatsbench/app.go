package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// appProc is the artifactapi process under measurement.
type appProc struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

func (a *appProc) stop() { stopProc(a.cmd, a.done, 30*time.Second) }

// stopProc interrupts cmd and waits for done (closed when it has exited);
// after grace, it kills it.
func stopProc(cmd *exec.Cmd, done <-chan struct{}, grace time.Duration) {
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

// waitReady waits until a GET of url answers 200, for at most a minute;
// done is closed if the process that should answer exits first.
func waitReady(url string, done <-chan struct{}) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("exited during startup")
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("not ready after 60s")
}

// startApp starts bin with the remotes given (YAML) and waits until it is
// ready. The backends come from the environment (DBHOST, REDIS_URL,
// MINIO_*); without them the app runs on SQLite and the filesystem in work.
func startApp(ctx context.Context, bin, work, remotes string) (*appProc, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	file := filepath.Join(work, "remotes.yaml")
	if err := os.WriteFile(file, []byte(remotes), 0o600); err != nil {
		return nil, err
	}
	a := &appProc{addr: addr, done: make(chan struct{})}
	a.cmd = exec.CommandContext(ctx, bin)
	a.cmd.Env = append(os.Environ(), "LISTEN_ADDR="+addr, "DATA_DIR="+filepath.Join(work, "data"),
		"REMOTES_CONFIG="+file, "ADMIN_TOKEN=formatsbench-admin-token-0123456789abcdef", "LOG_LEVEL=error")
	a.cmd.Stderr = os.Stderr
	if err := a.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = a.cmd.Wait(); close(a.done) }()
	if err := waitReady("http://"+addr+"/ready", a.done); err != nil {
		a.stop()
		return nil, fmt.Errorf("artifactapi: %w", err)
	}
	return a, nil
}
