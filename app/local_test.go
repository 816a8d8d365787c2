package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/blob"
	"artifactapi/app/testenv"
)

// genReader yields n deterministic pseudo-random bytes without holding them.
type genReader struct {
	n, off int64
	x      uint32
}

func newGen(n int64, seed uint32) *genReader { return &genReader{n: n, x: seed*2654435761 + 1} }

func (g *genReader) Read(p []byte) (int, error) {
	if g.off >= g.n {
		return 0, io.EOF
	}
	if rem := g.n - g.off; int64(len(p)) > rem {
		p = p[:rem]
	}
	for i := range p {
		g.x = g.x*1664525 + 1013904223
		p[i] = byte(g.x >> 24)
	}
	g.off += int64(len(p))
	return len(p), nil
}

func genSHA(n int64, seed uint32) string {
	h := sha256.New()
	_, _ = io.Copy(h, newGen(n, seed))
	return hex.EncodeToString(h.Sum(nil))
}

const localRemotes = `remotes:
  local:
    type: local
  local-ow:
    type: local
    allow_overwrite: true
  gen:
    base_url: "http://127.0.0.1:9/never-contacted"
`

// put uploads body (size -1: chunked) with optional headers.
func put(t *testing.T, in *apptest.Instance, path string, body io.Reader, size int64, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, in.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func withAdmin(extra map[string]string) map[string]string {
	h := apptest.Admin()
	for k, v := range extra {
		h[k] = v
	}
	return h
}

// spoolUploads lists upload spool files of an instance.
func spoolUploads(t *testing.T, in *apptest.Instance) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(in.DataDir, "spool", "upload-*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// assertNothingStored checks the path is absent from HTTP, metadata, the
// listing and the blob store, and that no spool file is left behind.
func assertNothingStored(t *testing.T, in *apptest.Instance, remote, p string) {
	t.Helper()
	if st, _, b := in.Get(t, "/api/"+remote+"/"+p, nil); st != http.StatusNotFound {
		t.Errorf("GET %s after a refused upload: %d %.100q", p, st, b)
	}
	if _, ok := artifact(t, in, remote, p); ok {
		t.Errorf("%s has metadata after a refused upload", p)
	}
	for _, it := range list(t, in, remote, nil).Items {
		if it.Path == p {
			t.Errorf("the listing of %s shows %s after a refused upload", remote, p)
		}
	}
	var keys []string
	err := in.App.Blobs.List(context.Background(), remote+"/", func(i blob.Info) error {
		if strings.HasSuffix(i.Key, "/"+filepath.Base(p)) {
			keys = append(keys, i.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("blob store holds %q after a refused upload", keys)
	}
	testenv.Eventually(t, 10*time.Second, "upload spool files to be removed", func() bool { return len(spoolUploads(t, in)) == 0 })
}

func TestLocalUploadStreams(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: localRemotes})
		const size = 20 << 20
		want := genSHA(size, 7)
		pr, pw := io.Pipe()
		type answer struct {
			status int
			body   string
		}
		done := make(chan answer, 1)
		go func() {
			st, b := put(t, in, "/api/local/big/blob.bin", pr, size, withAdmin(map[string]string{"X-Checksum-Sha256": want}))
			done <- answer{st, b}
		}()
		src := newGen(size, 7)
		if _, err := io.CopyN(pw, src, size/2); err != nil {
			t.Fatal(err)
		}
		// The server writes the upload to its spool while the client still
		// holds back the second half: the body is streamed, not buffered.
		testenv.Eventually(t, 20*time.Second, "the first half to reach the spool", func() bool {
			for _, f := range spoolUploads(t, in) {
				if fi, err := os.Stat(f); err == nil && fi.Size() >= 1<<20 {
					return true
				}
			}
			return false
		})
		select {
		case a := <-done:
			t.Fatalf("upload answered before its body ended: %d %s", a.status, a.body)
		default:
		}
		if _, err := io.Copy(pw, src); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		a := <-done
		if a.status != http.StatusCreated {
			t.Fatalf("PUT: %d %s", a.status, a.body)
		}
		var created struct {
			Size   int64  `json:"size"`
			SHA256 string `json:"sha256"`
			URL    string `json:"url"`
		}
		if err := json.Unmarshal([]byte(a.body), &created); err != nil || created.Size != size || created.SHA256 != want || created.URL != "/api/local/big/blob.bin" {
			t.Fatalf("PUT answer %s (%v)", a.body, err)
		}
		for _, path := range []string{"/api/local/big/blob.bin", "/api/v1/remote/local/big/blob.bin"} {
			resp := in.Do(t, http.MethodGet, path, nil, nil)
			h := sha256.New()
			n, err := io.Copy(h, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || n != size || hex.EncodeToString(h.Sum(nil)) != want {
				t.Fatalf("GET %s: %d, %d bytes, err %v", path, resp.StatusCode, n, err)
			}
			if got := resp.Header.Get("X-Checksum-Sha256"); got != want {
				t.Fatalf("GET %s: X-Checksum-Sha256 %q, want %q", path, got, want)
			}
			if got := resp.Header.Get("Content-Length"); got != strconv.Itoa(size) {
				t.Fatalf("GET %s: Content-Length %q", path, got)
			}
		}
		if len(spoolUploads(t, in)) != 0 {
			t.Fatalf("spool files left after a committed upload: %q", spoolUploads(t, in))
		}
	})
}

func TestLocalUploadChecksum(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: localRemotes})
		body := "checked content\n"
		sum := sha256.Sum256([]byte(body))
		good := hex.EncodeToString(sum[:])
		tests := []struct {
			name, path, header string
			want               int
		}{
			{"matching checksum", "c/good.txt", good, http.StatusCreated},
			{"sha256: prefix", "c/prefixed.txt", "sha256:" + good, http.StatusCreated},
			{"upper case", "c/upper.txt", strings.ToUpper(good), http.StatusCreated},
			{"mismatch", "c/bad.txt", strings.Repeat("0", 64), http.StatusBadRequest},
			{"not hex", "c/nothex.txt", "not-a-checksum", http.StatusBadRequest},
			{"mismatch on a large body", "c/bad-large.bin", good, http.StatusBadRequest},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				var r io.Reader = strings.NewReader(body)
				size := int64(len(body))
				if strings.HasSuffix(tc.path, ".bin") {
					size = 3 << 20
					r = newGen(size, 3)
				}
				st, b := put(t, in, "/api/local/"+tc.path, r, size, withAdmin(map[string]string{"X-Checksum-Sha256": tc.header}))
				if st != tc.want {
					t.Fatalf("PUT with X-Checksum-Sha256 %q: %d %s; want %d", tc.header, st, b, tc.want)
				}
				if tc.want != http.StatusCreated {
					if !strings.Contains(b, "checksum") {
						t.Errorf("400 body does not say why: %s", b)
					}
					assertNothingStored(t, in, "local", tc.path)
					return
				}
				st, h, got := in.Get(t, "/api/local/"+tc.path, nil)
				if st != 200 || string(got) != body || h.Get("X-Checksum-Sha256") != good {
					t.Fatalf("GET after upload: %d %q sha %q", st, got, h.Get("X-Checksum-Sha256"))
				}
			})
		}
	})
}

func TestLocalOverwrite(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: localRemotes})
		tests := []struct {
			name, remote string
			second       int
			final        string
		}{
			{"overwrite refused", "local", http.StatusConflict, "v1"},
			{"allow_overwrite", "local-ow", http.StatusCreated, "v2"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				path := "/api/" + tc.remote + "/pkg/tool.txt"
				if st, b := put(t, in, path, strings.NewReader("v1"), 2, apptest.Admin()); st != http.StatusCreated {
					t.Fatalf("first PUT: %d %s", st, b)
				}
				if st, b := put(t, in, path, strings.NewReader("v2"), 2, apptest.Admin()); st != tc.second {
					t.Fatalf("second PUT: %d %s; want %d", st, b, tc.second)
				}
				st, h, got := in.Get(t, path, nil)
				sum := sha256.Sum256([]byte(tc.final))
				if st != 200 || string(got) != tc.final || h.Get("X-Checksum-Sha256") != hex.EncodeToString(sum[:]) {
					t.Fatalf("GET: %d %q %q; want %q", st, got, h.Get("X-Checksum-Sha256"), tc.final)
				}
				if l := list(t, in, tc.remote, nil); l.Totals.Count != 1 {
					t.Fatalf("listing holds %d entries, want 1", l.Totals.Count)
				}
			})
		}
	})
}

func TestLocalAdminCredential(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: localRemotes})
		basic := func(user, pass string) string {
			return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
		}
		tok := apptest.AdminToken
		tests := []struct {
			name, auth string
			want       int
		}{
			{"missing credential", "", http.StatusUnauthorized},
			{"wrong bearer token", "Bearer " + tok + "x", http.StatusUnauthorized},
			{"token prefix only", "Bearer " + tok[:len(tok)-1], http.StatusUnauthorized},
			{"empty bearer", "Bearer ", http.StatusUnauthorized},
			{"basic with a wrong password", basic("admin", "nope"), http.StatusUnauthorized},
			{"basic with the token as user name", basic(tok, ""), http.StatusUnauthorized},
			{"basic not base64", "Basic %%%", http.StatusUnauthorized},
			{"unknown scheme", "Token " + tok, http.StatusUnauthorized},
			{"bearer token", "Bearer " + tok, http.StatusCreated},
			{"lower-case scheme", "bearer " + tok, http.StatusCreated},
			{"basic with any user", basic("ci-robot", tok), http.StatusCreated},
			{"basic with an empty user", basic("", tok), http.StatusCreated},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				p := "auth/" + strconv.Itoa(i) + ".txt"
				hdr := map[string]string{}
				if tc.auth != "" {
					hdr["Authorization"] = tc.auth
				}
				resp := in.Do(t, http.MethodPut, "/api/local/"+p, strings.NewReader("x"), hdr)
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.want {
					t.Fatalf("PUT with %q: %d %s; want %d", tc.auth, resp.StatusCode, b, tc.want)
				}
				if tc.want == http.StatusUnauthorized {
					if resp.Header.Get("WWW-Authenticate") == "" {
						t.Errorf("401 without WWW-Authenticate")
					}
					assertNothingStored(t, in, "local", p)
					// DELETE needs the same credential: the entry put by an admin survives.
					if st, _ := put(t, in, "/api/local/"+p, strings.NewReader("kept"), 4, apptest.Admin()); st != http.StatusCreated {
						t.Fatalf("admin PUT: %d", st)
					}
					del := in.Do(t, http.MethodDelete, "/api/local/"+p, nil, hdr)
					del.Body.Close()
					if del.StatusCode != http.StatusUnauthorized {
						t.Fatalf("DELETE with %q: %d, want 401", tc.auth, del.StatusCode)
					}
					if st, _, got := in.Get(t, "/api/local/"+p, nil); st != 200 || string(got) != "kept" {
						t.Fatalf("after a refused DELETE: %d %q", st, got)
					}
				}
				del := in.Do(t, http.MethodDelete, "/api/local/"+p, nil, apptest.Admin())
				del.Body.Close()
				if del.StatusCode != http.StatusOK {
					t.Fatalf("admin DELETE: %d", del.StatusCode)
				}
				if st, _, _ := in.Get(t, "/api/local/"+p, nil); st != http.StatusNotFound {
					t.Fatalf("GET after DELETE: %d", st)
				}
				del = in.Do(t, http.MethodDelete, "/api/local/"+p, nil, apptest.Admin())
				del.Body.Close()
				if del.StatusCode != http.StatusNotFound {
					t.Fatalf("second DELETE: %d, want 404", del.StatusCode)
				}
			})
		}
	})
}

// putHeld uploads through a pipe: it declares size (-1: chunked), sends
// the first send bytes and ends the body only when finish is set. A refusal
// therefore reaches the client while it is not writing, as a real client
// waiting on a slow disk would see it. With expect, the client sends
// "Expect: 100-continue" and waits for it before the body. It returns the
// answer and the body bytes the client wrote.
func putHeld(t *testing.T, in *apptest.Instance, path string, size, send int64, finish, expect bool) (int, string, int64) {
	t.Helper()
	pr, pw := io.Pipe()
	body := &counter{r: pr}
	go func() {
		if _, err := io.CopyN(pw, newGen(send, 9), send); err == nil && finish {
			pw.Close()
		}
	}()
	defer pw.CloseWithError(errors.New("upload abandoned by the test"))
	hdr := apptest.Admin()
	if expect {
		hdr["Expect"] = "100-continue"
	}
	st, b := put(t, in, path, body, size, hdr)
	return st, b, body.n.Load()
}

func TestLocalRefusedUploads(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: localRemotes,
			Env: map[string]string{"MAX_UPLOAD_SIZE": "4MiB"}})
		const limit = 4 << 20
		tests := []struct {
			name, remote, path string
			size, send         int64 // declared (-1: chunked) and sent
			finish, expect     bool
			want               int
		}{
			{"upload to a remote", "gen", "file.bin", 10, 10, true, false, http.StatusMethodNotAllowed},
			{"upload to an unknown remote", "nope", "file.bin", 10, 10, true, false, http.StatusNotFound},
			// The client waits for "100 Continue": refused before it sends a byte.
			{"declared too large, waiting for 100 Continue", "local", "big/declared-expect.bin", limit + 1, 64 << 10, false, true, http.StatusRequestEntityTooLarge},
			// The client sends at once: the server answers without reading and
			// lingers on close, so the answer is read rather than a reset.
			{"declared too large", "local", "big/declared.bin", limit + 1, 64 << 10, false, false, http.StatusRequestEntityTooLarge},
			{"chunked, one byte over", "local", "big/over.bin", -1, limit + 1, false, false, http.StatusRequestEntityTooLarge},
			{"chunked, exactly the limit", "local", "big/exact.bin", -1, limit, true, false, http.StatusCreated},
			{"declared, exactly the limit", "local", "big/exact-declared.bin", limit, limit, true, false, http.StatusCreated},
			{"declared, exactly the limit, waiting for 100 Continue", "local", "big/exact-expect.bin", limit, limit, true, true, http.StatusCreated},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				st, b, sent := putHeld(t, in, "/api/"+tc.remote+"/"+tc.path, tc.size, tc.send, tc.finish, tc.expect)
				if st != tc.want {
					t.Fatalf("PUT %d of %d bytes: %d %s; want %d", tc.send, tc.size, st, b, tc.want)
				}
				if tc.expect && tc.want != http.StatusCreated && sent != 0 {
					t.Fatalf("the client sent %d body bytes after asking for 100 Continue; want the refusal first", sent)
				}
				if tc.want == http.StatusCreated {
					if st, _, got := in.Get(t, "/api/"+tc.remote+"/"+tc.path, nil); st != 200 || int64(len(got)) != tc.send {
						t.Fatalf("GET after upload: %d, %d bytes", st, len(got))
					}
					return
				}
				if tc.remote == "local" {
					assertNothingStored(t, in, tc.remote, tc.path)
				}
			})
		}
	})
}
