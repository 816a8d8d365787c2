package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// ownServer is a backend server process this test starts, kills and restarts.
type ownServer struct {
	t    *testing.T
	args []string
	env  []string
	cmd  *exec.Cmd
	done chan struct{}
	up   func() bool
}

func (s *ownServer) start() {
	s.t.Helper()
	s.cmd = exec.Command(s.args[0], s.args[1:]...)
	s.cmd.Env = append(os.Environ(), s.env...)
	// The server dies with the test process.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", s.args[0], err)
	}
	done := make(chan struct{})
	s.done = done
	go func() { _ = s.cmd.Wait(); close(done) }()
	testenv.Eventually(s.t, 60*time.Second, s.args[0]+" to accept requests", s.up)
}

// kill stops the server with SIGKILL and waits for it (idempotent).
func (s *ownServer) kill() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

// ownMinIO starts a private MinIO server (not the shared one).
func ownMinIO(t *testing.T) (*ownServer, map[string]string) {
	bin, err := testenv.MinIOBinary()
	if err != nil {
		t.Fatal(err)
	}
	addr, err := testenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s := &ownServer{t: t, args: []string{bin, "server", t.TempDir(), "--address", addr, "--console-address", "127.0.0.1:0", "--quiet"},
		env: []string{"MINIO_ROOT_USER=ownminio", "MINIO_ROOT_PASSWORD=ownminio-secret", "MINIO_BROWSER=off"}}
	s.up = func() bool {
		resp, err := http.Get("http://" + addr + "/minio/health/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	s.start()
	t.Cleanup(s.kill)
	return s, map[string]string{"MINIO_ENDPOINT": addr, "MINIO_ACCESS_KEY": "ownminio", "MINIO_SECRET_KEY": "ownminio-secret",
		"MINIO_BUCKET": "own-" + testenv.RandomID(4), "MINIO_SECURE": "false"}
}

// ownRedis starts a private Redis server (not the shared one).
func ownRedis(t *testing.T) (*ownServer, map[string]string) {
	addr, err := testenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	port := addr[strings.LastIndex(addr, ":")+1:]
	s := &ownServer{t: t, args: []string{"redis-server", "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no"}}
	s.up = func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}
	s.start()
	t.Cleanup(s.kill)
	return s, map[string]string{"REDIS_URL": "redis://" + addr + "/0"}
}

// readiness is GET /ready (or /health) as a probe sees it.
type readiness struct {
	status     int
	components map[string]struct {
		OK bool `json:"ok"`
	}
}

func probe(t *testing.T, in *apptest.Instance, path string) readiness {
	t.Helper()
	st, _, b := in.Get(t, path, nil)
	r := readiness{status: st}
	var v struct {
		Components map[string]struct {
			OK bool `json:"ok"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %d %q is not JSON", path, st, b)
	}
	r.components = v.Components
	return r
}

// TestReadyFollowsTheStores: /ready answers 503 while the blob store or the
// metadata store cannot be reached (and 200 again when the blob store is
// back); Redis being down does not make the replica unready. /health stays 200.
func TestReadyFollowsTheStores(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(t *testing.T, b *apptest.Backends) (env map[string]string, breakIt, repair func())
		down    string // the component that must report the outage
		ready   bool   // /ready during the outage
		repairs bool
	}{
		{name: "blob store killed", down: "blobs", repairs: true,
			setup: func(t *testing.T, b *apptest.Backends) (map[string]string, func(), func()) {
				m, env := ownMinIO(t)
				return env, m.kill, m.start
			}},
		{name: "metadata database dropped", down: "metadata",
			setup: func(t *testing.T, b *apptest.Backends) (map[string]string, func(), func()) {
				return nil, func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					conn, err := pgx.Connect(ctx, testenv.PostgresBaseDSN())
					if err != nil {
						t.Fatal(err)
					}
					defer conn.Close(ctx)
					if _, err := conn.Exec(ctx, "DROP DATABASE "+pgx.Identifier{b.Env["DBNAME"]}.Sanitize()+" WITH (FORCE)"); err != nil {
						t.Fatal(err)
					}
				}, nil
			}},
		{name: "redis killed", down: "coordination", ready: true, repairs: true,
			setup: func(t *testing.T, b *apptest.Backends) (map[string]string, func(), func()) {
				r, env := ownRedis(t)
				return env, r.kill, r.start
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := apptest.NewBackends(t, apptest.Production)
			env, breakIt, repair := c.setup(t, b)
			in := apptest.Start(t, b, apptest.Options{Remotes: "remotes:\n  local:\n    type: local\n", Env: env})
			if r := probe(t, in, "/ready"); r.status != 200 {
				t.Fatalf("/ready before the outage: %d %+v", r.status, r.components)
			}
			breakIt()
			want := http.StatusServiceUnavailable
			if c.ready {
				want = http.StatusOK
			}
			var r readiness
			testenv.Eventually(t, 20*time.Second, c.down+" reported down", func() bool {
				started := time.Now()
				r = probe(t, in, "/ready")
				if d := time.Since(started); d > 8*time.Second {
					t.Fatalf("/ready took %s", d)
				}
				return !r.components[c.down].OK
			})
			if r.status != want {
				t.Fatalf("/ready with %s down: %d, want %d (%+v)", c.down, r.status, want, r.components)
			}
			// Each component is checked on its own, with its own deadline: only
			// the one that is down is named.
			for name, comp := range r.components {
				if name != c.down && !comp.OK {
					t.Errorf("/ready with %s down also names %s: %+v", c.down, name, r.components)
				}
			}
			if h := probe(t, in, "/health"); h.status != 200 || h.components[c.down].OK {
				t.Errorf("/health with %s down: %d %+v", c.down, h.status, h.components)
			}
			if !c.repairs {
				return
			}
			repair()
			testenv.Eventually(t, 30*time.Second, "/ready after "+c.down+" is back", func() bool {
				r = probe(t, in, "/ready")
				return r.status == 200 && r.components[c.down].OK
			})
		})
	}
}

// TestShutdownTimeoutExpires: SIGTERM while a download hangs longer than
// SHUTDOWN_TIMEOUT makes the real binary give up after about the timeout and
// exit non-zero; nothing of the cut download is cached, and after a restart
// the artifact is downloaded afresh.
func TestShutdownTimeoutExpires(t *testing.T) {
	bin := buildArtifactAPI(t)
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		const timeout = 2 * time.Second
		o := newOrigin(t)
		body := randBody(2<<20, 13)
		f := o.set("/files/hang.bin", body)
		f.gate, f.sentHalf = make(chan struct{}), make(chan struct{})
		dataDir := t.TempDir()
		remotes := filepath.Join(dataDir, "remotes.yaml")
		if err := os.WriteFile(remotes, []byte(remotesFor(o, "")), 0o644); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"DATA_DIR": dataDir, "REMOTES_CONFIG": remotes, "ADMIN_TOKEN": apptest.AdminToken,
			"SHUTDOWN_TIMEOUT": timeout.String(), "UPSTREAM_IDLE_TIMEOUT": "5m"}
		for k, v := range apptest.NewBackends(t, mode).Env {
			env[k] = v
		}
		p := startProc(t, bin, env)
		resp, err := http.Get(p.URL + "/api/gen/files/hang.bin")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if _, err := io.ReadFull(resp.Body, make([]byte, len(body)/2)); err != nil {
			t.Fatal(err)
		}
		sent := time.Now()
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case <-p.done:
		case <-time.After(timeout + 20*time.Second):
			t.Fatalf("still running %s after SIGTERM with SHUTDOWN_TIMEOUT=%s", time.Since(sent), timeout)
		}
		took := time.Since(sent)
		t.Logf("exited %s after SIGTERM, code %d", took, p.cmd.ProcessState.ExitCode())
		if took < timeout-100*time.Millisecond || took > timeout+5*time.Second {
			t.Errorf("exited %s after SIGTERM; want about SHUTDOWN_TIMEOUT (%s)", took, timeout)
		}
		if code := p.cmd.ProcessState.ExitCode(); code == 0 {
			t.Errorf("exit code 0 after abandoning a download\n%s", p.logs.String())
		}
		if !strings.Contains(p.logs.String(), "downloads still running at shutdown") {
			t.Errorf("the abandoned download is not logged\n%s", p.logs.String())
		}
		if _, err := io.ReadAll(resp.Body); err == nil {
			t.Error("the client read a complete body from a download cut at shutdown")
		}

		close(f.gate)
		o.set("/files/hang.bin", body) // the upstream answers in full from now on
		p2 := startProc(t, bin, env)
		if left := spoolFiles(t, dataDir); len(left) != 0 {
			t.Fatalf("spool not emptied at startup: %v", left)
		}
		lr, err := http.Get(p2.URL + "/artifacts/gen")
		if err != nil {
			t.Fatal(err)
		}
		listing, _ := io.ReadAll(lr.Body)
		lr.Body.Close()
		if strings.Contains(string(listing), "hang.bin") {
			t.Fatalf("the cut download is listed: %s", listing)
		}
		r, err := http.Get(p2.URL + "/api/gen/files/hang.bin")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil || r.StatusCode != 200 || r.Header.Get("X-Artifact-Source") != "remote" || sha(got) != sha(body) {
			t.Fatalf("after restart: %d from %q, %d bytes, err %v", r.StatusCode, r.Header.Get("X-Artifact-Source"), len(got), err)
		}
		if n := o.count("/files/hang.bin"); n != 2 {
			t.Fatalf("upstream GETs = %d, want 2 (the cut one, then a full one)", n)
		}
	})
}
