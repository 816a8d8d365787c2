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

func (a *appProc) stop() {
	_ = a.cmd.Process.Signal(os.Interrupt)
	select {
	case <-a.done:
	case <-time.After(30 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
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
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return a, nil
			}
		}
		select {
		case <-a.done:
			return nil, fmt.Errorf("artifactapi exited during startup")
		case <-time.After(100 * time.Millisecond):
		}
	}
	a.stop()
	return nil, fmt.Errorf("artifactapi not ready after 60s")
}
