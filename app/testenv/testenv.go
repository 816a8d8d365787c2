// Package testenv gives integration tests real services: a fresh PostgreSQL
// database, a Redis key prefix and a MinIO bucket. A missing service fails the
// test; nothing is ever skipped.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// RandomID returns n random bytes, hex encoded.
func RandomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// PostgresBaseDSN is the server the tests use (TEST_PG_DSN overrides).
func PostgresBaseDSN() string {
	return env("TEST_PG_DSN", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
}

// PostgresParams describes a fresh database in the DBHOST/DBPORT/... form.
type PostgresParams struct {
	DSN                              string
	Host, Port, User, Pass, Database string
}

// Postgres creates a fresh database for this test and drops it at cleanup.
func Postgres(t testing.TB) PostgresParams {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	base := PostgresBaseDSN()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("testenv: PostgreSQL is required (%s): %v", redactDSN(base), err)
	}
	defer conn.Close(ctx)
	name := "artifactapi_test_" + RandomID(6)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testenv: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			return
		}
		defer c.Close(ctx)
		_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatalf("testenv: parse dsn: %v", err)
	}
	p := PostgresParams{Host: cfg.Host, Port: fmt.Sprint(cfg.Port), User: cfg.User, Pass: cfg.Password, Database: name}
	p.DSN = fmt.Sprintf("postgres://%s@%s:%s/%s?sslmode=disable", p.User, p.Host, p.Port, name)
	if p.Pass != "" {
		p.DSN = fmt.Sprintf("postgres://%s:%s@%s:%s/%s?sslmode=disable", p.User, p.Pass, p.Host, p.Port, name)
	}
	return p
}

func redactDSN(s string) string {
	if i := strings.Index(s, "@"); i > 0 {
		if j := strings.Index(s, "://"); j > 0 && j < i {
			return s[:j+3] + "…" + s[i:]
		}
	}
	return s
}

// RedisURL is the server the tests use (TEST_REDIS_URL overrides).
func RedisURL() string { return env("TEST_REDIS_URL", "redis://127.0.0.1:6379/0") }

// Redis checks the server and returns its URL and a fresh key prefix whose
// keys are deleted at cleanup.
func Redis(t testing.TB) (url, prefix string) {
	t.Helper()
	url = RedisURL()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("testenv: redis url: %v", err)
	}
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		t.Fatalf("testenv: Redis is required at %s: %v", url, err)
	}
	prefix = "artifactapi-test-" + RandomID(6) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		c.Close()
	})
	return url, prefix
}

// MinIOParams locates a MinIO server and a fresh bucket name (not yet created).
type MinIOParams struct {
	Endpoint, AccessKey, SecretKey, Bucket string
}

var (
	minioOnce sync.Once
	minioSrv  MinIOParams
	minioErr  error
)

// MinIO returns a running MinIO server and a fresh bucket name. It uses the
// server named by TEST_MINIO_ENDPOINT (with TEST_MINIO_ACCESS_KEY and
// TEST_MINIO_SECRET_KEY), else starts `minio` from PATH or $GOPATH/bin once per
// test process.
func MinIO(t testing.TB) MinIOParams {
	t.Helper()
	minioOnce.Do(func() { minioSrv, minioErr = startMinIO() })
	if minioErr != nil {
		t.Fatalf("testenv: MinIO is required: %v", minioErr)
	}
	p := minioSrv
	p.Bucket = "test-" + RandomID(6)
	return p
}

func startMinIO() (MinIOParams, error) {
	if ep := os.Getenv("TEST_MINIO_ENDPOINT"); ep != "" {
		return MinIOParams{Endpoint: ep, AccessKey: env("TEST_MINIO_ACCESS_KEY", "minioadmin"), SecretKey: env("TEST_MINIO_SECRET_KEY", "minioadmin")}, waitHealthy(ep, 20*time.Second)
	}
	bin, err := MinIOBinary()
	if err != nil {
		return MinIOParams{}, err
	}
	dir, err := os.MkdirTemp("", "artifactapi-minio-")
	if err != nil {
		return MinIOParams{}, err
	}
	addr, err := FreeAddr()
	if err != nil {
		return MinIOParams{}, err
	}
	cmd := exec.Command(bin, "server", dir, "--address", addr, "--console-address", "127.0.0.1:0", "--quiet")
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER=testadmin", "MINIO_ROOT_PASSWORD=testadmin-secret", "MINIO_BROWSER=off")
	// The server dies with the test process.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return MinIOParams{}, fmt.Errorf("start %s: %w", bin, err)
	}
	// The server lives as long as the test process; it is killed with it.
	go func() { _ = cmd.Wait(); _ = os.RemoveAll(dir) }()
	return MinIOParams{Endpoint: addr, AccessKey: "testadmin", SecretKey: "testadmin-secret"}, waitHealthy(addr, 30*time.Second)
}

// MinIOBinary finds the minio server binary.
func MinIOBinary() (string, error) {
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	p := filepath.Join(gopath, "bin", "minio")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("minio binary not found in PATH or %s (make deps installs it)", p)
	}
	return p, nil
}

func waitHealthy(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		resp, err := http.Get("http://" + addr + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("minio at %s not healthy after %s: %v", addr, d, err)
		}
		time.Sleep(100 * time.Millisecond) // polling a server we just started
	}
}

// FreeAddr returns a free 127.0.0.1:port.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Eventually waits for cond to become true, polling until the deadline.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
