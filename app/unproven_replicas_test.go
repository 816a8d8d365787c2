package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/cache"
	"artifactapi/app/testenv"
)

// waitChannelClosed waits for ch to close, failing the test after d.
func waitChannelClosed(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("timed out after %s waiting for %s", d, what)
	}
}

// TestPeerFillNeedsTheReplicaCredential: the internal endpoint through which
// replicas stream each other's running downloads refuses every caller
// without the replica credential, with the same small answer whether or not
// the download exists, and streams the download to the right credential.
func TestPeerFillNeedsTheReplicaCredential(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		o := newOrigin(t)
		body := randBody(1<<20, 31)
		f := o.set("/files/peer.bin", body)
		f.gate, f.sentHalf = make(chan struct{}), make(chan struct{})
		in := start(t, mode, o)
		client, err := http.Get(in.URL + "/api/gen/files/peer.bin")
		if err != nil {
			t.Fatal(err)
		}
		defer client.Body.Close()
		waitChannelClosed(t, f.sentHalf, 20*time.Second, "the download to start")

		// The URL this replica advertises to the others for the running download.
		running, ok, err := in.App.Coord.Get(context.Background(), "src:gen\x00files/peer.bin")
		if err != nil || !ok || !strings.HasPrefix(running, in.URL+cache.PeerPath) {
			t.Fatalf("advertised source %q (found %v, err %v)", running, ok, err)
		}
		unknown := in.URL + cache.PeerPath + cache.PeerKeyID("gen\x00files/absent.bin")
		right := cache.PeerToken(apptest.AdminToken)
		get := func(target string, hdr map[string]string) (*http.Response, []byte) {
			t.Helper()
			req, err := http.NewRequest(http.MethodGet, target, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			return resp, b
		}
		refusals := []struct {
			name string
			hdr  map[string]string
		}{
			{name: "no credential"},
			{name: "empty credential", hdr: map[string]string{cache.PeerHeader: ""}},
			{name: "wrong credential", hdr: map[string]string{cache.PeerHeader: "nope"}},
			{name: "credential cut short", hdr: map[string]string{cache.PeerHeader: right[:len(right)-1]}},
			{name: "credential of another secret", hdr: map[string]string{cache.PeerHeader: cache.PeerToken("another-secret")}},
			{name: "admin token as the credential", hdr: map[string]string{cache.PeerHeader: apptest.AdminToken}},
			{name: "admin bearer", hdr: apptest.Admin()},
			{name: "replica credential as bearer", hdr: map[string]string{"Authorization": "Bearer " + right}},
		}
		for _, c := range refusals {
			var first string
			for _, target := range []string{running, unknown} {
				resp, b := get(target, c.hdr)
				switch resp.StatusCode {
				case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
				default:
					t.Errorf("%s: status %d, want 401, 403 or 404", c.name, resp.StatusCode)
				}
				for _, h := range []string{"ETag", "Last-Modified", "X-Checksum-Sha256", "X-Artifact-Source", "Content-Disposition", "Content-Range"} {
					if v := resp.Header.Get(h); v != "" {
						t.Errorf("%s: refusal carries %s: %q", c.name, h, v)
					}
				}
				if len(b) > 200 || strings.Contains(string(b), "peer.bin") || strings.Contains(string(b), "files/") {
					t.Errorf("%s: refusal body says too much (%d bytes): %.200q", c.name, len(b), b)
				}
				// The same answer for a running and an unknown download: a caller
				// without the credential cannot learn what is being downloaded.
				seen := strconv.Itoa(resp.StatusCode) + " " + string(b[:min(len(b), 100)])
				if first == "" {
					first = seen
				} else if seen != first {
					t.Errorf("%s: running download answered %q, unknown one %q", c.name, first, seen)
				}
			}
		}
		if resp, _ := get(unknown, map[string]string{cache.PeerHeader: right}); resp.StatusCode != http.StatusNotFound {
			t.Errorf("right credential, no such download: %d, want 404", resp.StatusCode)
		}

		// The right credential streams the running download: the first half
		// arrives while the upstream still holds back the rest.
		req, _ := http.NewRequest(http.MethodGet, running, nil)
		req.Header.Set(cache.PeerHeader, right)
		peer, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Body.Close()
		if peer.StatusCode != http.StatusOK {
			t.Fatalf("right credential: %d", peer.StatusCode)
		}
		half := make([]byte, len(body)/2)
		if _, err := io.ReadFull(peer.Body, half); err != nil {
			t.Fatal(err)
		}
		close(f.gate)
		rest, err := io.ReadAll(peer.Body)
		if err != nil || sha(append(half, rest...)) != sha(body) {
			t.Fatalf("peer stream: %d bytes, err %v, body differs from the upstream's", len(half)+len(rest), err)
		}
		if got, err := io.ReadAll(client.Body); err != nil || len(got) != len(body) {
			t.Fatalf("the client's download: %d bytes, %v", len(got), err)
		}
		if n := o.count("/files/peer.bin"); n != 1 {
			t.Fatalf("upstream GETs = %d, want 1", n)
		}
	})
}

// TestReplicasWithoutAdvertiseURLWaitForTheCommit: two replicas sharing
// PostgreSQL, Redis and MinIO but without ADVERTISE_URL cannot stream each
// other's downloads; a client of the second replica waits for the first
// replica's commit and gets the right bytes, and the upstream is asked once.
func TestReplicasWithoutAdvertiseURLWaitForTheCommit(t *testing.T) {
	o := newOrigin(t)
	body := randBody(2<<20, 32)
	f := o.set("/files/noadv.bin", body)
	f.gate, f.sentHalf = make(chan struct{}), make(chan struct{})
	b := apptest.NewBackends(t, apptest.Production)
	opts := apptest.Options{Remotes: remotesFor(o, ""), Env: map[string]string{"ADVERTISE_URL": ""}}
	a, c := apptest.Start(t, b, opts), apptest.Start(t, b, opts)
	if a.App.Config().Env.AdvertiseURL != "" || c.App.Config().Env.AdvertiseURL != "" {
		t.Fatal("ADVERTISE_URL is set")
	}
	first, err := http.Get(a.URL + "/api/gen/files/noadv.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Body.Close()
	half := make([]byte, len(body)/2)
	if _, err := io.ReadFull(first.Body, half); err != nil {
		t.Fatal(err)
	}

	type answer struct {
		status int
		h      http.Header
		body   []byte
		err    error
	}
	second := make(chan answer, 1)
	go func() {
		resp, err := http.Get(c.URL + "/api/gen/files/noadv.bin")
		if err != nil {
			second <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		second <- answer{status: resp.StatusCode, h: resp.Header, body: got, err: err}
	}()
	// The second replica is waiting on the first one's download.
	testenv.Eventually(t, 20*time.Second, "the second replica to wait for the download", func() bool { return c.App.Engine.InFlight() == 1 })
	select {
	case r := <-second:
		t.Fatalf("the second replica answered while the first one's download was held: %d %v", r.status, r.err)
	default:
	}
	close(f.gate)
	rest, err := io.ReadAll(first.Body)
	if err != nil || sha(append(half, rest...)) != sha(body) {
		t.Fatalf("first replica's client: %v", err)
	}
	var r answer
	select {
	case r = <-second:
	case <-time.After(30 * time.Second):
		t.Fatal("the second replica never answered after the first one committed")
	}
	if r.err != nil || r.status != 200 || sha(r.body) != sha(body) {
		t.Fatalf("second replica: %d, %d bytes, err %v", r.status, len(r.body), r.err)
	}
	if src, sum := r.h.Get("X-Artifact-Source"), r.h.Get("X-Checksum-Sha256"); src != "cache" || sum != sha(body) {
		t.Fatalf("second replica: source %q checksum %q; want the committed copy", src, sum)
	}
	if n := o.count("/files/noadv.bin"); n != 1 {
		t.Fatalf("upstream GETs = %d, want 1", n)
	}
	if strings.Contains(c.Logs.String(), "relaying a download from another replica") || strings.Contains(a.Logs.String(), "PEER") {
		t.Fatal("a replica streamed from another without ADVERTISE_URL")
	}
}

// heldOrigin serves fixed bodies; the first request it ever receives sends
// half of its body and then waits for release (or for the client to go).
// It counts requests and answers sent in full, per path.
type heldOrigin struct {
	URL       string
	mu        sync.Mutex
	bodies    map[string][]byte
	gets      map[string]int
	completed map[string]int
	first     bool
	held      chan struct{} // closed when the held answer has sent its half
	release   chan struct{}
}

func newHeldOrigin(t *testing.T, bodies map[string][]byte) *heldOrigin {
	o := &heldOrigin{bodies: bodies, gets: map[string]int{}, completed: map[string]int{}, held: make(chan struct{}), release: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: o}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	o.URL = "http://" + ln.Addr().String()
	return o
}

func (o *heldOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	body, ok := o.bodies[r.URL.Path]
	o.gets[r.URL.Path]++
	hold := ok && !o.first
	if ok {
		o.first = true
	}
	o.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Content-Type", "application/octet-stream")
	if hold {
		_, _ = w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		close(o.held)
		select {
		case <-o.release:
		case <-r.Context().Done():
			return // the client died: this answer never completes
		}
		if _, err := w.Write(body[len(body)/2:]); err != nil {
			return
		}
	} else if _, err := w.Write(body); err != nil {
		return
	}
	o.mu.Lock()
	o.completed[r.URL.Path]++
	o.mu.Unlock()
}

func (o *heldOrigin) counts(p string) (gets, completed int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.gets[p], o.completed[p]
}

// TestReplicaKilledMidJobLeaseTakeover: a batch job runs on replica A (the
// real binary) whose first download hangs; A is killed with SIGKILL; replica
// B, on the same PostgreSQL, Redis and MinIO, takes over A's lease, downloads
// every item to completion exactly once and the job ends done.
func TestReplicaKilledMidJobLeaseTakeover(t *testing.T) {
	bin := buildArtifactAPI(t)
	bodies := map[string][]byte{}
	var paths []string
	for i := range 5 {
		p := "files/job" + strconv.Itoa(i) + ".bin"
		bodies["/"+p] = randBody(300_000, byte(40+i))
		paths = append(paths, p)
	}
	o := newHeldOrigin(t, bodies)
	b := apptest.NewBackends(t, apptest.Production)
	yaml := "remotes:\n  gen:\n    base_url: \"" + o.URL + "\"\n    immutable_patterns: [\"\\\\.bin$\"]\n"
	dir := t.TempDir()
	remotes := filepath.Join(dir, "remotes.yaml")
	if err := os.WriteFile(remotes, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATA_DIR": dir, "REMOTES_CONFIG": remotes, "ADMIN_TOKEN": apptest.AdminToken, "JOB_CONCURRENCY": "1"}
	for k, v := range b.Env {
		env[k] = v
	}
	a := startProc(t, bin, env)

	req, _ := http.NewRequest(http.MethodPost, a.URL+"/cache-artifact", strings.NewReader(`{"remote": "gen", "paths": `+quoted(paths)+`}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+apptest.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var submitted struct{ ID string }
	err = json.NewDecoder(resp.Body).Decode(&submitted)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusAccepted || submitted.ID == "" {
		t.Fatalf("POST /cache-artifact: %d %+v %v", resp.StatusCode, submitted, err)
	}
	waitChannelClosed(t, o.held, 30*time.Second, "replica A to start the job")
	a.kill(t)

	// B starts after A died: everything it does is a takeover.
	bb := apptest.Start(t, b, apptest.Options{Remotes: yaml, Env: map[string]string{"JOB_CONCURRENCY": "2"}})
	var v jobView
	// A's claim lasts 30 s and its fill lock 10 s after the kill.
	testenv.Eventually(t, 120*time.Second, "replica B to finish the job", func() bool {
		v = getJobView(t, bb, submitted.ID)
		return v.State == "done"
	})
	if len(v.Items) != len(paths) {
		t.Fatalf("job has %d items, want %d", len(v.Items), len(paths))
	}
	heldPaths := 0
	for _, it := range v.Items {
		if it.State != "cached" || it.Worker != bb.App.Jobs.Instance() {
			t.Errorf("%s: %s by %q (%s); want cached by replica B", it.Path, it.State, it.Worker, it.Reason)
		}
		gets, completed := o.counts("/" + it.Path)
		if completed != 1 {
			t.Errorf("%s: downloaded to completion %d times, want 1", it.Path, completed)
		}
		switch gets {
		case 1:
		case 2: // the download A was running when it died
			heldPaths++
		default:
			t.Errorf("%s: %d upstream GETs", it.Path, gets)
		}
		if st, h, got := bb.Get(t, "/api/gen/"+it.Path, nil); st != 200 || h.Get("X-Artifact-Source") != "cache" || sha(got) != sha(bodies["/"+it.Path]) {
			t.Errorf("%s after the job: %d from %q, body matches %v", it.Path, st, h.Get("X-Artifact-Source"), sha(got) == sha(bodies["/"+it.Path]))
		}
	}
	if heldPaths != 1 {
		t.Errorf("%d items were fetched twice; want exactly the one A was running", heldPaths)
	}
}
