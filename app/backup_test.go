package app_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"artifactapi/app"
	"artifactapi/app/apptest"
	"artifactapi/app/config"
	"artifactapi/app/registry/registrytest"
)

// served is what a client got for one URL path: the proof a restore must
// reproduce.
type served struct {
	path, sha string
}

const manifestAccept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"

// fetch GETs path and returns its body's sha256 (failing unless 200).
func fetch(t *testing.T, in *apptest.Instance, path string, hdr map[string]string) (string, http.Header) {
	t.Helper()
	st, h, b := in.Get(t, path, hdr)
	if st != http.StatusOK {
		t.Fatalf("GET %s = %d %s\n%s", path, st, b, in.Logs.String())
	}
	return sha(b), h
}

// fillImage pulls (or reads back) an image by tag, manifest and blobs, and
// returns what was served.
func fillImage(t *testing.T, in *apptest.Instance, repo, tag string, img *registrytest.Image) []served {
	t.Helper()
	mpath := "/v2/" + repo + "/manifests/" + tag
	sum, h := fetch(t, in, mpath, map[string]string{"Accept": manifestAccept})
	if got := h.Get("Docker-Content-Digest"); got != img.Manifest.Digest {
		t.Fatalf("%s digest %s, want %s", mpath, got, img.Manifest.Digest)
	}
	out := []served{{mpath, sum}}
	for _, b := range append([]registrytest.Blob{img.Config}, img.Layers...) {
		p := "/v2/" + repo + "/blobs/" + b.Digest
		s, _ := fetch(t, in, p, nil)
		if "sha256:"+s != b.Digest {
			t.Fatalf("%s served other bytes", p)
		}
		out = append(out, served{p, s})
	}
	return out
}

// TestBackupRestore fills every kind of content on each backend — generic
// artifacts of a remote, a docker image pulled through a mirror, a file
// uploaded to a local repository, an image pushed to a local registry, and
// a user — backs up, restores into a fresh database and bucket (or a fresh
// DATA_DIR), and starts a new instance on the restored data with every
// upstream stopped: everything serves with the same sha256 and no upstream
// request is made.
func TestBackupRestore(t *testing.T) {
	for _, mode := range apptest.Modes {
		t.Run(string(mode), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			var stopped atomic.Bool
			var fileHits atomic.Int64
			files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fileHits.Add(1)
				if stopped.Load() {
					panic(http.ErrAbortHandler) // the upstream is gone: the connection drops
				}
				n := 1000
				if strings.HasSuffix(r.URL.Path, "big.bin") {
					n = 300 << 10
				}
				_, _ = w.Write(bytes.Repeat([]byte(r.URL.Path[len(r.URL.Path)-1:]), n))
			}))
			defer files.Close()
			reg, err := registrytest.StartRegistry(ctx, registrytest.RegistryOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(reg.Stop)
			mirrored, err := registrytest.NewImage("linux/amd64", []int{4096, 70 << 10}, true)
			if err != nil {
				t.Fatal(err)
			}
			if err := (&registrytest.Pusher{Base: reg.URL}).PushImage(ctx, "team/app", "v1", mirrored); err != nil {
				t.Fatal(err)
			}
			proxy, err := registrytest.NewProxy(reg.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			remotes := fmt.Sprintf(`remotes:
  files:
    base_url: %q
  hub:
    base_url: %q
    package: docker
  uploads:
    type: local
  images:
    type: local
    package: docker
`, files.URL, proxy.URL)

			src := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: remotes})
			var want []served
			for _, p := range []string{"/api/files/a/small.txt", "/api/files/b/big.bin"} {
				s, _ := fetch(t, src, p, nil)
				want = append(want, served{p, s})
			}
			want = append(want, fillImage(t, src, "hub/team/app", "v1", mirrored)...)
			upload(t, src, "uploads", "tools/tool.tgz", []byte("a tool, uploaded"))
			want = append(want, served{"/api/uploads/tools/tool.tgz", sha([]byte("a tool, uploaded"))})
			pushed, err := registrytest.NewImage("linux/arm64", []int{8192}, false)
			if err != nil {
				t.Fatal(err)
			}
			if err := (&registrytest.Pusher{Base: src.URL, User: "admin", Pass: apptest.AdminToken}).PushImage(ctx, "images/team/pushed", "v2", pushed); err != nil {
				t.Fatal(err)
			}
			want = append(want, fillImage(t, src, "images/team/pushed", "v2", pushed)...)
			if st := call(t, src, http.MethodPost, "/admin/users", apptest.Admin(),
				map[string]any{"name": "restored-user", "password": "restored-password-1", "scopes": []string{"read"}}, nil); st != http.StatusCreated {
				t.Fatalf("create user: %d", st)
			}

			dir := filepath.Join(t.TempDir(), "backup")
			rep, err := app.Backup(ctx, src.App.Config().Env, dir, app.NewLogger(src.Logs, "text", "info", nil))
			if err != nil {
				t.Fatalf("backup: %v", err)
			}
			if rep.Dropped != 0 || rep.Objects < 8 {
				t.Fatalf("backup report %+v: want every object (8 or more) and none left out", rep)
			}
			src.Stop()
			stopped.Store(true)
			reg.Stop()
			upstreamBefore, registryBefore := fileHits.Load(), proxy.Total()

			fresh := apptest.NewBackends(t, mode)
			dataDir := t.TempDir()
			vars := map[string]string{"DATA_DIR": dataDir, "ADMIN_TOKEN": apptest.AdminToken}
			for k, v := range fresh.Env {
				vars[k] = v
			}
			env, err := config.LoadEnv(func(k string) string { return vars[k] })
			if err != nil {
				t.Fatal(err)
			}
			var restoreLog apptest.SyncBuffer
			if _, err := app.Restore(ctx, env, dir, app.NewLogger(&restoreLog, "text", "info", nil)); err != nil {
				t.Fatalf("restore: %v\n%s", err, restoreLog.String())
			}
			// A second restore into the now filled store is refused.
			if _, err := app.Restore(ctx, env, dir, app.NewLogger(&restoreLog, "text", "info", nil)); err == nil || !strings.Contains(err.Error(), "not empty") {
				t.Fatalf("restore into a filled store: %v", err)
			}

			dst := apptest.Start(t, fresh, apptest.Options{Remotes: remotes, DataDir: dataDir})
			for _, w := range want {
				hdr := map[string]string(nil)
				if strings.Contains(w.path, "/manifests/") {
					hdr = map[string]string{"Accept": manifestAccept}
				}
				got, h := fetch(t, dst, w.path, hdr)
				if got != w.sha {
					t.Errorf("%s: sha256 %s after restore, %s before", w.path, got, w.sha)
				}
				if src := h.Get("X-Artifact-Source"); strings.HasPrefix(w.path, "/api/") && src != "cache" {
					t.Errorf("%s: X-Artifact-Source %q after restore", w.path, src)
				}
			}
			if n, m := fileHits.Load()-upstreamBefore, proxy.Total()-registryBefore; n != 0 || m != 0 {
				t.Fatalf("the restored instance asked the upstreams: %d file requests, %d registry requests", n, m)
			}
			if st, _, b := dst.Get(t, "/admin/users", apptest.Admin()); st != http.StatusOK || !strings.Contains(string(b), "restored-user") {
				t.Fatalf("users after restore: %d %s", st, b)
			}
		})
	}
}
