// Package registrytest gives registry tests and benchmarks a real upstream:
// Debian's docker-registry (the CNCF registry) started on a free port,
// images built in Go and pushed through the registry API, a counting (and
// on demand corrupting or failing) reverse proxy, a Bearer-token front, and
// skopeo helpers.
package registrytest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// RegistryBinary is the CNCF registry as Debian installs it.
const RegistryBinary = "/usr/bin/docker-registry"

// RegistryOptions configure an upstream registry.
type RegistryOptions struct {
	// User and Pass enable htpasswd (Basic) authentication when set.
	User, Pass string
	// Dir holds config and storage; a fresh temporary directory when empty.
	Dir string
}

// Registry is a running docker-registry process.
type Registry struct {
	Addr string // 127.0.0.1:port
	URL  string // http://127.0.0.1:port
	cmd  *exec.Cmd
	dir  string
	own  bool
	done chan struct{}
}

// StartRegistry starts docker-registry on a free port with filesystem
// storage and waits until it answers /v2/.
func StartRegistry(ctx context.Context, o RegistryOptions) (*Registry, error) {
	dir, own := o.Dir, false
	if dir == "" {
		d, err := os.MkdirTemp("", "registrytest-")
		if err != nil {
			return nil, err
		}
		dir, own = d, true
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	auth := ""
	if o.User != "" {
		out, err := exec.CommandContext(ctx, "htpasswd", "-Bbn", o.User, o.Pass).Output()
		if err != nil {
			return nil, fmt.Errorf("htpasswd: %w", err)
		}
		hp := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(hp, out, 0o600); err != nil {
			return nil, err
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: registrytest\n    path: %s\n", hp)
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: registrytest-secret
%s`, filepath.Join(dir, "data"), addr, auth)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(RegistryBinary, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", RegistryBinary, err)
	}
	r := &Registry{Addr: addr, URL: "http://" + addr, cmd: cmd, dir: dir, own: own, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(r.done) }()
	if err := waitUp(ctx, r.URL+"/v2/", r.done, 20*time.Second); err != nil {
		r.Stop()
		log, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
		return nil, fmt.Errorf("docker-registry did not come up: %w\n%s", err, log)
	}
	return r, nil
}

// Stop kills the registry and waits for it; its storage is removed when
// StartRegistry created the directory.
func (r *Registry) Stop() {
	if r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
	}
	<-r.done
	if r.own {
		_ = os.RemoveAll(r.dir)
	}
}

func waitUp(ctx context.Context, url string, died <-chan struct{}, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
		}
		select {
		case <-died:
			return errors.New("process exited")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond): // polling a server we just started
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer at %s after %s: %v", url, d, err)
		}
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// HostPort returns the host:port of an http URL.
func HostPort(u string) string {
	return strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
}
