package testenv

import (
	"context"
	"net"
	"os/exec"
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
