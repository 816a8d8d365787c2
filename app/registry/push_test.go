package registry_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/registry/registrytest"
)

const localRemotes = `
remotes:
  loc:
    type: local
    package: docker
  small:
    type: local
    package: docker
    cache: {max_size: 64KiB}
`

// skopeo runs skopeo with a private policy and auth file.
func skopeo(t *testing.T, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "skopeo", append([]string{"--policy", policy}, args...)...)
	cmd.Env = append(os.Environ(), "REGISTRY_AUTH_FILE="+filepath.Join(dir, "auth.json"), "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// writeDir lays an image out in skopeo's dir: format.
func writeDir(t *testing.T, img *registrytest.Image) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "src")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"version": []byte("Directory Transport Version: 1.1\n"), "manifest.json": img.Manifest.Data}
	for _, b := range append([]registrytest.Blob{img.Config}, img.Layers...) {
		files[strings.TrimPrefix(b.Digest, "sha256:")] = b.Data
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestSkopeoPushPull pushes images with `skopeo copy` into a local
// repository and pulls them back byte-identically, on both backends.
func TestSkopeoPushPull(t *testing.T) {
	if _, err := exec.LookPath("skopeo"); err != nil {
		t.Fatal("skopeo is required (apt-get install skopeo; make deps)")
	}
	for _, mode := range apptest.Modes {
		t.Run(string(mode), func(t *testing.T) {
			in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: localRemotes})
			host := registrytest.HostPort(in.URL)
			creds := "--dest-creds=admin:" + apptest.AdminToken
			tests := []struct {
				name   string
				docker bool
				layers []int
				ref    string
			}{
				{name: "oci image, two layers (one of 3 MiB)", layers: []int{3 << 20, 1000}, ref: "loc/team/app:v1"},
				{name: "docker schema 2", docker: true, layers: []int{5000}, ref: "loc/other:latest"},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					img, err := registrytest.NewImage("linux/amd64", tc.layers, tc.docker)
					if err != nil {
						t.Fatal(err)
					}
					src := writeDir(t, img)
					skopeo(t, "copy", "--dest-tls-verify=false", "--retry-times", "0", creds, "dir:"+src, "docker://"+host+"/"+tc.ref)
					out := filepath.Join(t.TempDir(), "pulled")
					// Anonymous pull: reads are open.
					skopeo(t, "copy", "--src-tls-verify=false", "--retry-times", "0", "docker://"+host+"/"+tc.ref, "dir:"+out)
					want, err := registrytest.DirFiles(src)
					if err != nil {
						t.Fatal(err)
					}
					got, err := registrytest.DirFiles(out)
					if err != nil {
						t.Fatal(err)
					}
					if err := registrytest.SameFiles(want, got); err != nil {
						t.Fatalf("pulled image differs from the pushed one: %v", err)
					}
				})
			}
			// Pushing the same image again (skopeo checks each blob) and
			// listing tags.
			code, _, body := in.Get(t, "/v2/loc/team/app/tags/list", nil)
			if code != http.StatusOK || !strings.Contains(string(body), `"v1"`) {
				t.Errorf("tags/list = %d %s", code, body)
			}
		})
	}
}

// TestPushSurface checks what the conformance suite does not: who may
// push, quotas, and the error envelope of refusals.
func TestPushSurface(t *testing.T) {
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: localRemotes})
	blob := bytes.Repeat([]byte("x"), 100)
	dig := registrytest.Digest(blob)
	big := bytes.Repeat([]byte("y"), 80<<10)
	bigDig := registrytest.Digest(big)
	// Tokens of the token service: anonymous, and for the admin credential.
	issued := func(hdr map[string]string) string {
		resp := in.Do(t, "GET", "/v2/token", nil, hdr)
		defer resp.Body.Close()
		var tok struct{ Token string }
		if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 || !strings.HasPrefix(tok.Token, "v2t.") ||
			strings.Contains(tok.Token, apptest.AdminToken) {
			t.Fatalf("GET /v2/token: %d %v %q", resp.StatusCode, err, tok.Token)
		}
		return tok.Token
	}
	anonTok := issued(nil)
	adminTok := issued(map[string]string{"Authorization": basic("admin", apptest.AdminToken)})
	tests := []struct {
		name       string
		method     string
		path       string
		body       []byte
		hdr        map[string]string
		wantStatus int
		wantCode   string
		wantHeader map[string]string
		wantBody   string
	}{
		{name: "ping without credential is challenged", method: "GET", path: "/v2/", wantStatus: 401, wantCode: "UNAUTHORIZED",
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="` + in.URL + `/v2/token",service="artifactapi"`}},
		{name: "ping with the anonymous token", method: "GET", path: "/v2/", hdr: map[string]string{"Authorization": "Bearer " + anonTok}, wantStatus: 200},
		{name: "ping with the admin credential", method: "GET", path: "/v2/", hdr: apptest.Admin(), wantStatus: 200},
		{name: "anonymous token", method: "GET", path: "/v2/token?scope=repository:loc/a:pull", wantStatus: 200, wantBody: `"token":"v2t.`},
		{name: "admin token", method: "GET", path: "/v2/token?scope=repository:loc/a:push", hdr: map[string]string{"Authorization": basic("admin", apptest.AdminToken)},
			wantStatus: 200, wantBody: `"token":"v2t.`},
		{name: "token with a wrong password", method: "GET", path: "/v2/token", hdr: map[string]string{"Authorization": basic("admin", "nope")},
			wantStatus: 401, wantBody: "invalid credentials"},
		{name: "empty Basic credential asks for an anonymous token", method: "GET", path: "/v2/token", hdr: map[string]string{"Authorization": basic("", "")},
			wantStatus: 200, wantBody: `"token":"v2t.eyJlIjo`},
		{name: "push with the anonymous token", method: "POST", path: "/v2/loc/a/blobs/uploads/?digest=" + dig, body: blob,
			hdr: map[string]string{"Authorization": "Bearer " + anonTok}, wantStatus: 401, wantCode: "UNAUTHORIZED"},
		{name: "push with an issued admin token", method: "POST", path: "/v2/loc/t/blobs/uploads/?digest=" + dig, body: blob,
			hdr: map[string]string{"Authorization": "Bearer " + adminTok}, wantStatus: 201},
		{name: "push without credential", method: "POST", path: "/v2/loc/a/blobs/uploads/", wantStatus: 401, wantCode: "UNAUTHORIZED",
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="` + in.URL + `/v2/token",service="artifactapi",scope="repository:loc/a:pull,push"`}},
		{name: "push with a wrong token", method: "POST", path: "/v2/loc/a/blobs/uploads/?digest=" + dig, body: blob,
			hdr: map[string]string{"Authorization": "Bearer nope"}, wantStatus: 401, wantCode: "UNAUTHORIZED"},
		{name: "monolithic push", method: "POST", path: "/v2/loc/a/blobs/uploads/?digest=" + dig, body: blob, hdr: apptest.Admin(),
			wantStatus: 201, wantHeader: map[string]string{"Docker-Content-Digest": dig, "Location": "/v2/loc/a/blobs/" + dig}},
		{name: "anonymous pull", method: "GET", path: "/v2/loc/a/blobs/" + dig, wantStatus: 200,
			wantHeader: map[string]string{"Content-Length": "100", "Docker-Distribution-API-Version": "registry/2.0"}},
		{name: "delete without credential", method: "DELETE", path: "/v2/loc/a/blobs/" + dig, wantStatus: 401, wantCode: "UNAUTHORIZED"},
		{name: "not in another repository", method: "HEAD", path: "/v2/loc/b/blobs/" + dig, wantStatus: 404},
		{name: "wrong digest", method: "POST", path: "/v2/loc/a/blobs/uploads/?digest=" + bigDig, body: blob, hdr: apptest.Admin(),
			wantStatus: 400, wantCode: "DIGEST_INVALID"},
		{name: "over quota", method: "POST", path: "/v2/small/a/blobs/uploads/?digest=" + bigDig, body: big, hdr: apptest.Admin(),
			wantStatus: 403, wantCode: "DENIED"},
		{name: "manifest referencing a missing blob", method: "PUT", path: "/v2/loc/a/manifests/v1", hdr: withType(apptest.Admin(), registrytest.OCIManifest),
			body:       []byte(`{"schemaVersion":2,"mediaType":"` + registrytest.OCIManifest + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + bigDig + `","size":1},"layers":[]}`),
			wantStatus: 400, wantCode: "MANIFEST_BLOB_UNKNOWN"},
		{name: "unknown upload", method: "GET", path: "/v2/loc/a/blobs/uploads/nope", hdr: apptest.Admin(), wantStatus: 404, wantCode: "BLOB_UPLOAD_UNKNOWN"},
		{name: "remote repository refuses pushes", method: "POST", path: "/v2/nosuch/a/blobs/uploads/", hdr: apptest.Admin(), wantStatus: 405, wantCode: "UNSUPPORTED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != nil {
				body = bytes.NewReader(tc.body)
			}
			resp := in.Do(t, tc.method, tc.path, body, tc.hdr)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, b)
			}
			if tc.wantCode != "" {
				var env struct {
					Errors []struct{ Code, Message string } `json:"errors"`
				}
				if err := json.Unmarshal(b, &env); err != nil || len(env.Errors) != 1 || env.Errors[0].Code != tc.wantCode {
					t.Errorf("body %s, want code %s", b, tc.wantCode)
				}
				if tc.wantCode == "DENIED" && !strings.Contains(env.Errors[0].Message, "quota") {
					t.Errorf("the refusal does not explain the quota: %q", env.Errors[0].Message)
				}
			}
			if !strings.Contains(string(b), tc.wantBody) {
				t.Errorf("body %s does not contain %s", b, tc.wantBody)
			}
			for k, v := range tc.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func withType(h map[string]string, ctype string) map[string]string {
	out := map[string]string{"Content-Type": ctype}
	for k, v := range h {
		out[k] = v
	}
	return out
}

// TestUploadAcrossReplicas sends each request of a chunked upload to
// another replica (two instances on one PostgreSQL, Redis and MinIO, as
// behind a load balancer), then pulls from the other.
func TestUploadAcrossReplicas(t *testing.T) {
	b := apptest.NewBackends(t, apptest.Production)
	reps := []*apptest.Instance{
		apptest.Start(t, b, apptest.Options{Remotes: localRemotes}),
		apptest.Start(t, b, apptest.Options{Remotes: localRemotes}),
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	dig := registrytest.Digest(data)
	resp := reps[0].Do(t, "POST", "/v2/loc/team/app/blobs/uploads/", nil, apptest.Admin())
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	const chunk = 20000
	for i, off := 0, 0; off < len(data); i, off = i+1, off+chunk {
		end := min(off+chunk, len(data))
		hdr := apptest.Admin()
		hdr["Content-Range"] = fmt.Sprintf("%d-%d", off, end-1)
		resp := reps[i%2].Do(t, "PATCH", loc, bytes.NewReader(data[off:end]), hdr)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Range") != fmt.Sprintf("0-%d", end-1) {
			t.Fatalf("PATCH %d-%d on replica %d: %d, Range %q", off, end-1, i%2, resp.StatusCode, resp.Header.Get("Range"))
		}
		loc = resp.Header.Get("Location")
	}
	resp = reps[1].Do(t, "PUT", loc+"?digest="+dig, nil, apptest.Admin())
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT on replica 1: %d", resp.StatusCode)
	}
	code, _, got := reps[0].Get(t, "/v2/loc/team/app/blobs/"+dig, nil)
	if code != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("GET on replica 0: %d, %d bytes", code, len(got))
	}
}
