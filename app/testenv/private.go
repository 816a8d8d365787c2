package testenv

import (
	"context"
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// PrivateRedis is a redis-server of this test's own, which the test may kill
// (the machine's shared Redis is never stopped).
type PrivateRedis struct {
	URL  string
	Addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartPrivateRedis starts redis-server on a free port. A missing binary
// fails the test.
func StartPrivateRedis(t testing.TB) *PrivateRedis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("testenv: redis-server is required for this test: %v", err)
	}
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	r := &PrivateRedis{URL: "redis://" + addr + "/0", Addr: addr, done: make(chan struct{})}
	r.cmd = exec.Command(bin, "--bind", host, "--port", port, "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("testenv: start redis-server: %v", err)
	}
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(r.Kill)
	opt, _ := redis.ParseURL(r.URL)
	c := redis.NewClient(opt)
	defer c.Close()
	Eventually(t, 10*time.Second, "private redis-server to answer", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return c.Ping(ctx).Err() == nil
	})
	return r
}

// Kill stops the server with SIGKILL and waits for it to exit (idempotent).
func (r *PrivateRedis) Kill() {
	_ = r.cmd.Process.Kill()
	<-r.done
}

// PrivateMinIO is a MinIO server of this test's own, which the test may
// pause, resume or kill (the shared test server is never stopped).
type PrivateMinIO struct {
	MinIOParams
	cmd  *exec.Cmd
	done chan struct{}
}

// StartPrivateMinIO starts a MinIO server on a free port with a fresh
// bucket name. A missing binary fails the test.
func StartPrivateMinIO(t testing.TB) *PrivateMinIO {
	t.Helper()
	bin, err := MinIOBinary()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	m := &PrivateMinIO{MinIOParams: MinIOParams{Endpoint: addr, AccessKey: "privadmin", SecretKey: "privadmin-secret", Bucket: "test-" + RandomID(6)},
		done: make(chan struct{})}
	m.cmd = exec.Command(bin, "server", t.TempDir(), "--address", addr, "--console-address", "127.0.0.1:0", "--quiet")
	m.cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+m.AccessKey, "MINIO_ROOT_PASSWORD="+m.SecretKey, "MINIO_BROWSER=off")
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("testenv: start minio: %v", err)
	}
	go func() { _ = m.cmd.Wait(); close(m.done) }()
	t.Cleanup(m.Kill)
	if err := waitHealthy(addr, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return m
}

// Pause stops the server with SIGSTOP: connections are accepted by the
// kernel but never answered (a hung backend). Resume undoes it.
func (m *PrivateMinIO) Pause() { _ = m.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused server.
func (m *PrivateMinIO) Resume() { _ = m.cmd.Process.Signal(syscall.SIGCONT) }

// Kill stops the server with SIGKILL and waits for it to exit (idempotent).
func (m *PrivateMinIO) Kill() {
	_ = m.cmd.Process.Kill()
	<-m.done
}

// Pause stops the server with SIGSTOP (a hung backend); Resume undoes it.
func (r *PrivateRedis) Pause() { _ = r.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume continues a paused server.
func (r *PrivateRedis) Resume() { _ = r.cmd.Process.Signal(syscall.SIGCONT) }
