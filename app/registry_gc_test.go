package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// TestRegistryGCRecorded: a collection run through POST /registry/gc on one
// replica is the last run every replica reports (what the dashboard shows),
// and still is after a restart.
func TestRegistryGCRecorded(t *testing.T) {
	b := apptest.NewBackends(t, apptest.Production)
	opts := apptest.Options{Remotes: "remotes:\n  images:\n    type: local\n    package: docker\n",
		Env: map[string]string{"REGISTRY_GC_GRACE": "1s"}}
	a, other := apptest.Start(t, b, opts), apptest.Start(t, b, opts)
	ctx := context.Background()
	if _, ok, err := other.App.Local.LastGC(ctx); ok || err != nil {
		t.Fatalf("a run before any collection: %v, %v", ok, err)
	}
	// A blob no manifest references.
	data := "an orphan layer"
	sum := sha256.Sum256([]byte(data))
	d := "sha256:" + hex.EncodeToString(sum[:])
	hdr := apptest.Admin()
	hdr["Content-Type"] = "application/octet-stream"
	resp := a.Do(t, http.MethodPost, "/v2/images/team/app/blobs/uploads/?digest="+d, strings.NewReader(data), hdr)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("blob upload: %d", resp.StatusCode)
	}
	var rep struct {
		Uploads int   `json:"uploads"`
		Blobs   int   `json:"blobs"`
		Bytes   int64 `json:"bytes_deleted"`
	}
	// Collections inside the grace period keep it; the first after it removes it.
	testenv.Eventually(t, 20*time.Second, "a collection to remove the orphan", func() bool {
		resp := a.Do(t, http.MethodPost, "/registry/gc", nil, apptest.Admin())
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &rep) != nil {
			t.Fatalf("POST /registry/gc: %d %s", resp.StatusCode, body)
		}
		return rep.Blobs == 1
	})
	if rep.Bytes != int64(len(data)) {
		t.Errorf("bytes deleted %d, want %d", rep.Bytes, len(data))
	}
	for _, in := range []*apptest.Instance{a, other} {
		run, ok, err := in.App.Local.LastGC(ctx)
		if err != nil || !ok || run.Running() || run.StartedBy != "api" || run.Blobs != 1 || run.Bytes != int64(len(data)) || run.Error != "" {
			t.Errorf("%s: last run %+v, %v, %v", in.URL, run, ok, err)
		}
	}
	want, _, _ := a.App.Local.LastGC(ctx)
	a.Stop()
	other.Stop()
	restarted := apptest.Start(t, b, opts)
	if got, ok, err := restarted.App.Local.LastGC(ctx); err != nil || !ok || got != want {
		t.Errorf("after a restart: %+v, %v, %v; want %+v", got, ok, err, want)
	}
}
