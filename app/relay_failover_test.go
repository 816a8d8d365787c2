package app_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// rangeOrigin serves one file with an ETag and Range support. The first
// plain GET sends half the body and then hangs until released; every
// later request (ranged or not) is served whole.
type rangeOrigin struct {
	body     []byte
	etag     string
	mu       sync.Mutex
	ranges   []string // Range headers received
	gets     int
	sentHalf chan struct{}
	release  chan struct{}
	once     sync.Once
}

func newRangeOrigin(t *testing.T, body []byte) (*rangeOrigin, string) {
	sum := sha256.Sum256(body)
	o := &rangeOrigin{body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`,
		sentHalf: make(chan struct{}), release: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: o}
	go srv.Serve(ln)
	t.Cleanup(func() {
		select {
		case <-o.release:
		default:
			close(o.release)
		}
		srv.Close()
	})
	return o, "http://" + ln.Addr().String()
}

func (o *rangeOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.gets++
	first := o.gets == 1
	if rg := r.Header.Get("Range"); rg != "" {
		o.ranges = append(o.ranges, rg)
	}
	o.mu.Unlock()
	w.Header().Set("ETag", o.etag)
	w.Header().Set("Content-Type", "application/octet-stream")
	if !first {
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(o.body))
		return
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(o.body)))
	half := len(o.body) / 2
	_, _ = w.Write(o.body[:half])
	w.(http.Flusher).Flush()
	o.once.Do(func() { close(o.sentHalf) })
	select {
	case <-o.release:
	case <-r.Context().Done():
	}
}

func (o *rangeOrigin) seen() (gets int, ranges []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.gets, append([]string(nil), o.ranges...)
}

// replicaPair starts two real binaries sharing PostgreSQL, Redis and MinIO,
// each advertising itself to the other.
func replicaPair(t *testing.T, base string) (p0, p1 *proc, b *apptest.Backends) {
	bin := buildArtifactAPI(t)
	b = apptest.NewBackends(t, apptest.Production)
	start := func() *proc {
		dir := t.TempDir()
		remotes := filepath.Join(dir, "remotes.yaml")
		if err := os.WriteFile(remotes, []byte(fmt.Sprintf("remotes:\n  gen:\n    base_url: %q\n", base)), 0o644); err != nil {
			t.Fatal(err)
		}
		addr, err := testenv.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"DATA_DIR": dir, "REMOTES_CONFIG": remotes, "ADMIN_TOKEN": apptest.AdminToken,
			"ADVERTISE_URL": "http://" + addr, "LISTEN_ADDR": addr}
		for k, v := range b.Env {
			env[k] = v
		}
		return startProcAt(t, bin, addr, env)
	}
	return start(), start(), b
}

// fillLocks lists the fill locks held in Redis under the backends' prefix.
func fillLocks(t *testing.T, b *apptest.Backends) []string {
	t.Helper()
	opt, err := redis.ParseURL(b.Env["REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	keys, err := c.Keys(ctx, b.Env["REDIS_PREFIX"]+"lock:fill:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestRelayFailover: a client streams a download through replica p1 while
// replica p0 leads it; p0 is killed midway. p1 continues from the upstream
// with a Range request for exactly the missing bytes and the client receives
// the whole, correct body without an error; p1 commits it.
func TestRelayFailover(t *testing.T) {
	const size = 8 << 20
	body := randBody(size, 7)
	o, base := newRangeOrigin(t, body)
	p0, p1, _ := replicaPair(t, base)

	lead, err := http.Get(p0.URL + "/api/gen/big/file.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer lead.Body.Close()
	<-o.sentHalf
	relay, err := http.Get(p1.URL + "/api/gen/big/file.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Body.Close()
	if relay.StatusCode != 200 || relay.Header.Get("Content-Length") != fmt.Sprint(size) {
		t.Fatalf("relayed GET: %d, Content-Length %q", relay.StatusCode, relay.Header.Get("Content-Length"))
	}
	got := make([]byte, size/4)
	if _, err := io.ReadFull(relay.Body, got); err != nil {
		t.Fatalf("reading the relayed start: %v", err)
	}
	// p1 has relayed part of what p0 had; p0 now dies.
	p0.kill(t)
	rest, err := io.ReadAll(relay.Body)
	if err != nil {
		t.Fatalf("the relayed client was cut when the leading replica died: %v after %d bytes\n%s",
			err, len(got)+len(rest), p1.logs.String())
	}
	if !bytes.Equal(append(got, rest...), body) {
		t.Fatalf("relayed body differs from the origin's (%d bytes)", len(got)+len(rest))
	}
	_, ranges := o.seen()
	if len(ranges) != 1 || !strings.HasPrefix(ranges[0], "bytes=") || ranges[0] == "bytes=0-" {
		t.Fatalf("origin Range requests = %q; want one for the missing bytes", ranges)
	}
	// p1 committed it: the next GET is a hit with the right digest.
	testenv.Eventually(t, 20*time.Second, "p1 to serve the artifact from its cache", func() bool {
		r, err := http.Get(p1.URL + "/api/gen/big/file.bin")
		if err != nil {
			return false
		}
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		return err == nil && r.Header.Get("X-Artifact-Source") == "cache" && bytes.Equal(b, body)
	})
}

// TestDeadLeaderDoesNotBlockNewRequests: the replica leading a download is
// killed; a new request on another replica is answered at once from the
// upstream while the dead replica's fill lock still exists.
func TestDeadLeaderDoesNotBlockNewRequests(t *testing.T) {
	const size = 4 << 20
	body := randBody(size, 9)
	o, base := newRangeOrigin(t, body)
	p0, p1, b := replicaPair(t, base)
	lead, err := http.Get(p0.URL + "/api/gen/big/file.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer lead.Body.Close()
	<-o.sentHalf
	p0.kill(t)
	if len(fillLocks(t, b)) != 1 {
		t.Fatalf("want the dead replica's fill lock in Redis, have %v", fillLocks(t, b))
	}
	r, err := http.Get(p1.URL + "/api/gen/big/file.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil || r.StatusCode != 200 || !bytes.Equal(got, body) {
		t.Fatalf("GET on the surviving replica: %d, %d bytes, %v", r.StatusCode, len(got), err)
	}
	if locks := fillLocks(t, b); len(locks) == 0 {
		t.Fatal("the dead replica's lock had expired: the test proves nothing")
	}
}
