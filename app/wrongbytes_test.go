package app_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// consistent fails unless the body is exactly what the headers describe.
func consistent(t *testing.T, what string, status int, h http.Header, body []byte) {
	t.Helper()
	if status != http.StatusOK {
		t.Fatalf("%s: status %d: %s", what, status, body)
	}
	sum := sha256.Sum256(body)
	if h.Get("X-Artifact-Source") == "remote" && h.Get("X-Checksum-Sha256") == "" {
		// A download streamed as it arrives: its digest is not known yet.
	} else if got := hex.EncodeToString(sum[:]); got != h.Get("X-Checksum-Sha256") {
		t.Fatalf("%s: body sha256 %s, header says %s (%d bytes, Content-Length %s)", what, got,
			h.Get("X-Checksum-Sha256"), len(body), h.Get("Content-Length"))
	}
	if cl := h.Get("Content-Length"); cl != strconv.Itoa(len(body)) {
		t.Fatalf("%s: Content-Length %s, body %d bytes", what, cl, len(body))
	}
}

// TestLostEvictionNoticeNeverServesOtherBytes: two replicas on PostgreSQL +
// Redis + MinIO both know an artifact; Redis dies, so the eviction notice of
// one never reaches the other; the artifact is deleted and fetched again with
// new content on the first. The second replica must serve either the new
// artifact or nothing — never its remembered headers with the new object's
// bytes — and stop trusting what it remembers while Redis is gone.
func TestLostEvictionNoticeNeverServesOtherBytes(t *testing.T) {
	rd := testenv.StartPrivateRedis(t)
	b := apptest.NewBackends(t, apptest.Production)
	b.Env["REDIS_URL"] = rd.URL
	o := newOrigin(t)
	const big, small = "/files/big.bin", "/files/small.txt"
	oldBig, newBig := randBody(300<<10, 1), randBody(200<<10, 2) // beyond the in-memory body cache
	oldSmall, newSmall := []byte("old small body\n"), []byte("the new small body, longer\n")
	o.set(big, oldBig)
	o.set(small, oldSmall)
	r0 := apptest.Start(t, b, apptest.Options{Remotes: remotesFor(o, "")})
	r1 := apptest.Start(t, b, apptest.Options{Remotes: remotesFor(o, "")})
	for _, p := range []string{big, small} {
		st, h, body := r0.Get(t, "/api/gen"+p, nil)
		consistent(t, "r0 first GET "+p, st, h, body)
		settle(t, r0)
		st, h, body = r1.Get(t, "/api/gen"+p, nil)
		consistent(t, "r1 first GET "+p, st, h, body)
		if h.Get("X-Artifact-Source") != "cache" {
			t.Fatalf("r1: %s not a hit", p)
		}
	}

	rd.Kill()
	o.set(big, newBig)
	o.set(small, newSmall)
	for _, p := range []string{big, small} {
		resp := r0.Do(t, http.MethodDelete, "/api/gen"+p, nil, apptest.Admin())
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("DELETE %s on r0: %d", p, resp.StatusCode)
		}
		st, h, body := r0.Get(t, "/api/gen"+p, nil)
		consistent(t, "r0 GET after delete "+p, st, h, body)
		settle(t, r0)
	}

	// The large artifact is read from the blob store: its old object is gone,
	// so r1 can only serve the new one, at once.
	st, h, body := r1.Get(t, "/api/gen"+big, nil)
	consistent(t, "r1 GET "+big, st, h, body)
	if string(body) != string(newBig) {
		t.Fatalf("r1 served %d bytes of the old artifact after it was replaced", len(body))
	}
	// The small one may come from memory for as long as r1 has not noticed
	// that Redis is gone (about a second); every answer is whole and true to
	// its headers, and the new content arrives without any notice.
	testenv.Eventually(t, 10*time.Second, "r1 to serve the new small artifact", func() bool {
		st, h, body := r1.Get(t, "/api/gen"+small, nil)
		consistent(t, "r1 GET "+small, st, h, body)
		return string(body) == string(newSmall)
	})
	for i := 0; i < 20; i++ {
		st, h, body := r1.Get(t, "/api/gen"+big, map[string]string{"Range": fmt.Sprintf("bytes=%d-", i*1000)})
		if st != http.StatusPartialContent || string(body) != string(newBig[i*1000:]) {
			t.Fatalf("r1 range %d: status %d, %d bytes", i, st, len(body))
		}
		_ = h
	}
}
