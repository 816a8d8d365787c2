package ui

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/auth"
	"artifactapi/app/blob"
	"artifactapi/app/config"
	"artifactapi/app/localrepo"
	"artifactapi/app/oci"
	"artifactapi/db"
	"artifactapi/views"
)

const imagesRemotes = testRemotes + `
  images:
    type: local
    package: docker
`

// imagesHarness is the dashboard on a real store of local docker
// repositories (SQLite and the filesystem) holding team/app:1.0.
type imagesHarness struct {
	*harness
	store  *localrepo.Store
	meta   db.RegistryStore
	now    *time.Time
	digest oci.Digest
	size   int64 // config + layer
}

func newImagesHarness(t *testing.T) *imagesHarness {
	t.Helper()
	f, err := config.ParseRemotes("test", []byte(imagesRemotes))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := db.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	bs, err := blob.NewFS(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ih := &imagesHarness{now: &now}
	clock := func() time.Time { return *ih.now }
	ih.meta = meta.Registry()
	ih.store = localrepo.New(localrepo.Options{Meta: ih.meta, Blobs: bs, Now: clock, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	cfg := &config.Config{Env: config.Env{AdminToken: testToken}, Remotes: f}
	hs := &harness{t: t, store: &fakeStore{items: map[string][]db.Artifact{}}, engine: &fakeEngine{}, now: now}
	hs.h = New(Deps{Config: func() *config.Config { return cfg }, Meta: hs.store, Engine: hs.engine, Registry: ih.store,
		AdminToken: testToken, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Version: "test", Now: clock})
	hs.app = fiber.New(fiber.Config{StreamRequestBody: true})
	hs.h.Mount(hs.app)
	ih.harness = hs

	ctx := context.Background()
	repo := localrepo.Repo{Remote: "images", Name: "team/app"}
	put := func(data string) oci.Digest {
		d := oci.FromBytes("sha256", []byte(data))
		if _, err := ih.store.PutBlob(ctx, repo, d, strings.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
		return d
	}
	cfgD, layer := put(`{"architecture":"amd64"}`), put("layer bytes")
	ih.size = int64(len(`{"architecture":"amd64"}`) + len("layer bytes"))
	m := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + cfgD.String() + `","size":24},` +
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` + layer.String() + `","size":11}]}`
	p, err := ih.store.PutManifest(ctx, repo, oci.Reference{Tag: "1.0"}, nil, oci.MediaTypeOCIManifest, []byte(m))
	if err != nil {
		t.Fatal(err)
	}
	ih.digest = p.Digest
	return ih
}

func TestImagesScreen(t *testing.T) {
	ih := newImagesHarness(t)
	session, seed, _ := ih.signIn()
	tests := []struct {
		name   string
		target string
		hdr    map[string]string
		want   []string
		not    []string
	}{
		{name: "page lists the repository", target: "/ui/remotes/images",
			want: []string{`data-repo="team/app"`, "Run garbage collection", "Garbage collection has not run yet"}, not: []string{"Artifacts", `id="tags-title"`}},
		{name: "page with the repository selected", target: "/ui/remotes/images?repo=team%2Fapp",
			want: []string{`data-tag="1.0"`, `data-digest="` + ih.digest.String() + `"`, oci.MediaTypeOCIManifest,
				`data-bytes="` + strconv.FormatInt(ih.size, 10) + `"`, `value="docker pull example.com/images/team/app:1.0"`, "2026-01-02 03:04"}},
		{name: "tags partial", target: "/ui/remotes/images/images/tags?repo=team%2Fapp", hdr: map[string]string{"HX-Request": "true"},
			want: []string{`<section id="tags"`, `data-tag="1.0"`}, not: []string{"<html"}},
		{name: "repositories partial", target: "/ui/remotes/images/images", hdr: map[string]string{"HX-Request": "true"},
			want: []string{`<div id="repos"`, `data-repo="team/app"`}, not: []string{"<html", "Garbage collection"}},
		{name: "a generic local repository lists artifacts", target: "/ui/remotes/mine", want: []string{"Artifacts"}, not: []string{"Run garbage collection"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := ih.do(http.MethodGet, tc.target, nil, tc.hdr, session, seed)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			body = html.UnescapeString(body)
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("the page lacks %q", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(body, n) {
					t.Errorf("the page has %q", n)
				}
			}
		})
	}
	used, err := ih.store.Usage(context.Background(), "images")
	if err != nil || used <= ih.size {
		t.Fatalf("usage %d, %v; want more than the blobs (%d)", used, err, ih.size)
	}
	if _, body := ih.do(http.MethodGet, "/ui/", nil, nil, session, seed); !strings.Contains(body, `<td class="num" data-col="bytes">`+views.Bytes(used)+`</td>`) {
		t.Errorf("the overview does not show the %s the images store", views.Bytes(used))
	}
	if resp, _ := ih.do(http.MethodGet, "/ui/remotes/mine/images", nil, nil, session, seed); resp.StatusCode != http.StatusNotFound {
		t.Errorf("images of a generic repository: %d, want 404", resp.StatusCode)
	}
	if resp, _ := ih.do(http.MethodGet, "/ui/remotes/images?repo=..%2Fx", nil, nil, session, seed); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("an invalid repository name: %d, want 400", resp.StatusCode)
	}
}

func TestDeleteTag(t *testing.T) {
	ih := newImagesHarness(t)
	session, seed, token := ih.signIn()
	target := "/ui/remotes/images/images/tags?repo=team%2Fapp&tag=1.0"
	htmx := map[string]string{"HX-Request": "true"}
	if resp, _ := ih.do(http.MethodDelete, target, nil, htmx, session, seed); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("delete without the CSRF token: %d, want 403", resp.StatusCode)
	}
	if resp, _ := ih.do(http.MethodDelete, target, nil, map[string]string{"HX-Request": "true", CSRFHeader: token}); resp.StatusCode == http.StatusOK {
		t.Fatalf("delete without a session: %d", resp.StatusCode)
	}
	ref := oci.Reference{Tag: "1.0"}
	repo := localrepo.Repo{Remote: "images", Name: "team/app"}
	if _, err := ih.store.Manifest(context.Background(), repo, ref); err != nil {
		t.Fatalf("the refused deletes removed the tag: %v", err)
	}
	resp, body := ih.do(http.MethodDelete, target, nil, map[string]string{"HX-Request": "true", CSRFHeader: token}, session, seed)
	if resp.StatusCode != http.StatusOK || body != "" || resp.Header.Get("HX-Trigger") != "images-changed" {
		t.Fatalf("delete: %d %q, HX-Trigger %q; want 200, empty, images-changed", resp.StatusCode, body, resp.Header.Get("HX-Trigger"))
	}
	if _, err := ih.store.Manifest(context.Background(), repo, ref); !errors.Is(err, localrepo.ErrManifestUnknown) {
		t.Errorf("pull of the deleted tag: %v, want ErrManifestUnknown", err)
	}
	if _, err := ih.store.Manifest(context.Background(), repo, oci.Reference{Digest: ih.digest}); err != nil {
		t.Errorf("the manifest must stay reachable by digest: %v", err)
	}
	// Again (another tab): nothing to delete, the row goes all the same.
	if resp, _ := ih.do(http.MethodDelete, target, nil, map[string]string{"HX-Request": "true", CSRFHeader: token}, session, seed); resp.StatusCode != http.StatusOK {
		t.Errorf("second delete: %d", resp.StatusCode)
	}
	// The form posted without JavaScript.
	form := url.Values{CSRFField: {token}, "repo": {"team/app"}, "tag": {"nope"}}
	resp, _ = ih.do(http.MethodPost, "/ui/remotes/images/images/tags/delete", strings.NewReader(form.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, session, seed)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/remotes/images?repo=team%2Fapp" {
		t.Errorf("form delete: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestRunGCFromTheDashboard(t *testing.T) {
	ih := newImagesHarness(t)
	session, seed, token := ih.signIn()
	ctx := context.Background()
	repo := localrepo.Repo{Remote: "images", Name: "team/app"}
	orphan := oci.FromBytes("sha256", []byte("orphan blob"))
	if _, err := ih.store.PutBlob(ctx, repo, orphan, strings.NewReader("orphan blob"), 11); err != nil {
		t.Fatal(err)
	}
	*ih.now = ih.now.Add(2 * time.Hour) // past the grace period
	htmx := map[string]string{"HX-Request": "true", CSRFHeader: token}
	if resp, _ := ih.do(http.MethodPost, "/ui/remotes/images/gc", nil, map[string]string{"HX-Request": "true"}, session, seed); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("gc without the CSRF token: %d, want 403", resp.StatusCode)
	}
	if _, ok, _ := ih.store.LastGC(ctx); ok {
		t.Fatal("a refused request ran a collection")
	}
	resp, body := ih.do(http.MethodPost, "/ui/remotes/images/gc", nil, htmx, session, seed)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("gc: %d %s", resp.StatusCode, body)
	}
	for _, w := range []string{`data-state="done"`, `data-testid="gc-blobs">1<`, `data-bytes="11"`, "the dashboard"} {
		if !strings.Contains(body, w) {
			t.Errorf("the result lacks %q:\n%s", w, body)
		}
	}
	if strings.Contains(body, "hx-trigger") {
		t.Error("a finished run must not poll")
	}
	if _, err := ih.store.Blob(ctx, repo, orphan); !errors.Is(err, localrepo.ErrBlobUnknown) {
		t.Errorf("the orphan blob survived: %v", err)
	}
	if _, err := ih.store.Manifest(ctx, repo, oci.Reference{Tag: "1.0"}); err != nil {
		t.Errorf("the tagged image was collected: %v", err)
	}
	// The result is the store's: any replica, any later page shows it.
	_, page := ih.do(http.MethodGet, "/ui/remotes/images", nil, nil, session, seed)
	if !strings.Contains(page, `data-testid="gc-blobs">1<`) {
		t.Error("the remote's page does not show the last run")
	}
	// A run still going (on any replica) polls for its result, until it
	// is too old to be running: its replica stopped.
	if _, err := ih.meta.StartRegistryGC(ctx, "api", *ih.now); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		later time.Duration
		want  []string
		not   []string
	}{
		{name: "running", want: []string{`data-state="running"`, `hx-trigger="every 2s"`, "disabled"}},
		{name: "interrupted", later: 2 * localrepo.GCTimeout, want: []string{"never finished"}, not: []string{"hx-trigger", `data-state="running"`}},
	}
	for _, tc := range tests {
		*ih.now = ih.now.Add(tc.later)
		resp, body := ih.do(http.MethodGet, "/ui/remotes/images/gc", nil, map[string]string{"HX-Request": "true"}, session, seed)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", tc.name, resp.StatusCode)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the card lacks %q", tc.name, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(body, n) {
				t.Errorf("%s: the card has %q", tc.name, n)
			}
		}
	}
}

// TestTagPages: a repository's tags come 50 a page, the next page linked
// both for htmx and without JavaScript.
func TestTagPages(t *testing.T) {
	ih := newImagesHarness(t)
	session, seed, _ := ih.signIn()
	ctx := context.Background()
	repo := localrepo.Repo{Remote: "images", Name: "team/app"}
	m, err := ih.store.Manifest(ctx, repo, oci.Reference{Tag: "1.0"})
	if err != nil {
		t.Fatal(err)
	}
	var more []string
	for i := 0; i < tagsPerPage; i++ {
		more = append(more, fmt.Sprintf("v%03d", i)) // sorted after "1.0"
	}
	if _, err := ih.store.PutManifest(ctx, repo, oci.Reference{Digest: ih.digest}, more, m.MediaType, m.Body); err != nil {
		t.Fatal(err)
	}
	last := more[len(more)-2] // page 1: "1.0" and v000…v048
	_, body := ih.do(http.MethodGet, "/ui/remotes/images?repo=team%2Fapp", nil, nil, session, seed)
	body = html.UnescapeString(body)
	if n := strings.Count(body, "<tr data-tag="); n != tagsPerPage {
		t.Errorf("first page: %d tags, want %d", n, tagsPerPage)
	}
	if !strings.Contains(body, `href="/ui/remotes/images?repo=team%2Fapp&tags_after=`+last+`"`) ||
		!strings.Contains(body, `hx-get="/ui/remotes/images/images/tags?after=`+last+`&repo=team%2Fapp"`) {
		t.Fatalf("no link to the next page after %s", last)
	}
	for _, target := range []string{"/ui/remotes/images?repo=team%2Fapp&tags_after=" + last, "/ui/remotes/images/images/tags?after=" + last + "&repo=team%2Fapp"} {
		_, body = ih.do(http.MethodGet, target, nil, map[string]string{"HX-Request": strconv.FormatBool(strings.Contains(target, "/tags?"))}, session, seed)
		if n := strings.Count(body, "<tr data-tag="); n != 1 || !strings.Contains(body, `data-tag="`+more[len(more)-1]+`"`) {
			t.Errorf("%s: %d tags, want %s only", target, n, more[len(more)-1])
		}
		if strings.Contains(body, `rel="next"`) && strings.Contains(body, "tags_after") {
			t.Errorf("%s: a next link on the last page", target)
		}
	}
}

// fakeAccess signs in the users of its map (any secret) into sessions named
// after them.
type fakeAccess map[string]*auth.Principal

func (f fakeAccess) Basic(_ context.Context, user, _ string) (*auth.Principal, error) {
	if p := f[user]; p != nil {
		return p, nil
	}
	return nil, auth.ErrUnauthorized
}

func (f fakeAccess) StartSession(_ context.Context, p *auth.Principal, _ time.Duration, _ string) (string, error) {
	return p.Name, nil
}

func (f fakeAccess) Session(_ context.Context, id string) (*auth.Principal, error) {
	if p := f[id]; p != nil {
		return p, nil
	}
	return nil, auth.ErrUnauthorized
}

func (f fakeAccess) EndSession(context.Context, string) error { return nil }

// TestImagesPermissions: reading shows no delete and no GC button; deleting
// a tag needs the delete permission on the remote, and a collection (which
// spans every local docker repository) the global admin one.
func TestImagesPermissions(t *testing.T) {
	ih := newImagesHarness(t)
	ih.h.d.Access = fakeAccess{
		"reader":  {Kind: auth.KindUser, Name: "reader", Scopes: []auth.Scope{{Action: auth.Read}}},
		"deleter": {Kind: auth.KindUser, Name: "deleter", Scopes: []auth.Scope{{Action: auth.Delete, Remotes: "images"}}},
		"owner":   {Kind: auth.KindUser, Name: "owner", Scopes: []auth.Scope{{Action: auth.Admin, Remotes: "images"}}},
		"root":    {Kind: auth.KindUser, Name: "root", Scopes: []auth.Scope{{Action: auth.Admin}}},
	}
	signIn := func(user string) (*http.Cookie, *http.Cookie, string) {
		resp, body := ih.do(http.MethodGet, "/ui/login", nil, nil)
		seed, m := cookieNamed(resp, CSRFCookie), metaToken.FindStringSubmatch(body)
		token := html.UnescapeString(m[1])
		form := url.Values{"username": {user}, "token": {"pw"}, CSRFField: {token}}
		resp, _ = ih.do(http.MethodPost, "/ui/login", strings.NewReader(form.Encode()),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, seed)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign in as %s: %d", user, resp.StatusCode)
		}
		return cookieNamed(resp, SessionCookie), seed, token
	}
	tests := []struct {
		user             string
		deleteBtn, gcBtn bool
		deleteSt, gcSt   int
	}{
		{user: "reader", deleteSt: http.StatusForbidden, gcSt: http.StatusForbidden},
		{user: "deleter", deleteBtn: true, deleteSt: http.StatusOK, gcSt: http.StatusForbidden},
		{user: "owner", deleteBtn: true, deleteSt: http.StatusOK, gcSt: http.StatusForbidden},
		{user: "root", deleteBtn: true, gcBtn: true, deleteSt: http.StatusOK, gcSt: http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.user, func(t *testing.T) {
			session, seed, token := signIn(tc.user)
			resp, page := ih.do(http.MethodGet, "/ui/remotes/images?repo=team%2Fapp", nil, nil, session, seed)
			if resp.StatusCode != http.StatusOK || !strings.Contains(page, `data-tag="1.0"`) {
				t.Fatalf("page: %d", resp.StatusCode)
			}
			if got := strings.Contains(page, "Delete tag 1.0"); got != tc.deleteBtn {
				t.Errorf("delete button shown: %v, want %v", got, tc.deleteBtn)
			}
			if got := strings.Contains(page, "Run garbage collection"); got != tc.gcBtn {
				t.Errorf("GC button shown: %v, want %v", got, tc.gcBtn)
			}
			hdr := map[string]string{"HX-Request": "true", CSRFHeader: token}
			resp, _ = ih.do(http.MethodDelete, "/ui/remotes/images/images/tags?repo=team%2Fapp&tag=gone", nil, hdr, session, seed)
			if resp.StatusCode != tc.deleteSt {
				t.Errorf("tag delete: %d, want %d", resp.StatusCode, tc.deleteSt)
			}
			resp, _ = ih.do(http.MethodPost, "/ui/remotes/images/gc", nil, hdr, session, seed)
			if resp.StatusCode != tc.gcSt {
				t.Errorf("GC: %d, want %d", resp.StatusCode, tc.gcSt)
			}
		})
	}
	if run, ok, _ := ih.store.LastGC(context.Background()); !ok || run.StartedBy != "dashboard" {
		t.Errorf("the admin's run was not recorded: %+v", run)
	}
}
