package setup

import (
	"os"
	"strings"
	"testing"

	"artifactapi/app/config"
)

// remotes mirrors the README's examples.
const remotes = `
default_docker_remote: dockerhub
remotes:
  dockerhub: {base_url: "https://registry-1.docker.io", package: docker}
  ghcr: {base_url: "https://ghcr.io", package: docker}
  images: {type: local, package: docker}
  secret-images: {type: local, package: docker, access: scoped}
  bitnami: {base_url: "https://charts.bitnami.com/bitnami", package: helm}
  pypi: {base_url: "https://pypi.org", package: pypi}
  npm: {base_url: "https://registry.npmjs.org", package: npm}
  gomods: {base_url: "https://proxy.golang.org", package: go}
  debian: {base_url: "https://deb.debian.org/debian", package: apt}
  central: {base_url: "https://repo.maven.apache.org/maven2", package: maven}
  almalinux: {base_url: "https://mirror.example.com/almalinux", package: rpm, description: "AlmaLinux"}
  private-rpm: {base_url: "https://mirror.example.com/el", package: rpm, access: authenticated}
  alpine: {base_url: "https://dl-cdn.alpinelinux.org", package: alpine}
  github: {base_url: "https://github.com", package: generic}
  uploads: {type: local, package: generic}
`

func remote(t *testing.T, name string) *config.Remote {
	t.Helper()
	f, err := config.ParseRemotes("test", []byte(remotes))
	if err != nil {
		t.Fatal(err)
	}
	r := f.Remotes[name]
	if r == nil {
		t.Fatalf("no remote %s", name)
	}
	return r
}

func snippet(t *testing.T, b Base, r *config.Remote, id string) Snippet {
	t.Helper()
	for _, s := range For(b, r) {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("%s has no %q snippet", r.Name, id)
	return Snippet{}
}

func TestParseBase(t *testing.T) {
	tests := []struct {
		name, in string
		want     Base
	}{
		{name: "https", in: "https://artifacts.example.com", want: Base{URL: "https://artifacts.example.com", Host: "artifacts.example.com"}},
		{name: "plain HTTP with a port and a slash", in: "http://10.0.0.5:8000/", want: Base{URL: "http://10.0.0.5:8000", Host: "10.0.0.5:8000", Plain: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseBase(tc.in); got != tc.want {
				t.Errorf("ParseBase(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestSnippets(t *testing.T) {
	https, plain := ParseBase("https://artifacts.example.com"), ParseBase("http://10.0.0.5:8000")
	tests := []struct {
		name   string
		base   Base
		remote string
		id     string
		want   []string // substrings, in order
		not    []string
	}{
		{name: "rke2 mirror entry rewrites to the remote", base: https, remote: "ghcr", id: "rke2",
			want: []string{"mirrors:\n  ghcr.io:\n    endpoint:\n      - \"https://artifacts.example.com\"\n    rewrite:\n      \"^(.*)$\": \"ghcr/$1\"\n"}},
		{name: "containerd hosts.toml in the registry's directory", base: plain, remote: "ghcr", id: "containerd",
			want: []string{`server = "https://ghcr.io"`, `[host."http://10.0.0.5:8000"]`, `# [host."http://10.0.0.5:8000/v2/ghcr"]`}},
		{name: "dockerd over plain HTTP is told it is insecure", base: plain, remote: "dockerhub", id: "dockerd",
			want: []string{`"registry-mirrors": ["http://10.0.0.5:8000"]`, `"insecure-registries": ["10.0.0.5:8000"]`}},
		{name: "docker pull of a Docker Hub mirror uses library/", base: https, remote: "dockerhub", id: "docker",
			want: []string{"docker pull artifacts.example.com/dockerhub/library/alpine:3.20", "podman pull artifacts.example.com/dockerhub/library/alpine:3.20"}},
		{name: "ctr over plain HTTP", base: plain, remote: "dockerhub", id: "ctr", want: []string{"ctr images pull --plain-http 10.0.0.5:8000/dockerhub/library/alpine:3.20"}},
		{name: "local docker: push and pull", base: https, remote: "images", id: "docker",
			want: []string{"docker login -u <user> artifacts.example.com", "docker push artifacts.example.com/images/team/app:1.0"}},
		{name: "private local docker: registries.yaml carries the credential", base: https, remote: "secret-images", id: "rke2",
			want: []string{"\"artifacts.example.com\":", "configs:", "password: <token>"}},
		{name: "public local docker: no credential", base: https, remote: "images", id: "rke2", not: []string{"configs:"}},
		{name: "dnf .repo", base: https, remote: "almalinux", id: "dnf",
			want: []string{"[almalinux]", "name=AlmaLinux", "baseurl=https://artifacts.example.com/api/almalinux/$releasever/BaseOS/$basearch/os/", "gpgcheck=1"},
			not:  []string{"password="}},
		{name: "dnf .repo of a private remote", base: https, remote: "private-rpm", id: "dnf", want: []string{"username=<user>", "password=<token>"}},
		{name: "apk adds /alpine under the CDN root", base: https, remote: "alpine", id: "apk",
			want: []string{`"https://artifacts.example.com/api/alpine/alpine/v$(cut -d. -f1,2 /etc/alpine-release)/main" >> /etc/apk/repositories`, "/community"}},
		{name: "helm", base: plain, remote: "bitnami", id: "helm", want: []string{"helm repo add bitnami http://10.0.0.5:8000/api/bitnami"}},
		{name: "pip.conf", base: https, remote: "pypi", id: "pip.conf", want: []string{"[global]\nindex-url = https://artifacts.example.com/api/pypi/simple/\n"}},
		{name: ".npmrc", base: https, remote: "npm", id: "npmrc", want: []string{"registry=https://artifacts.example.com/api/npm/\n"}},
		{name: "GOPROXY and GOSUMDB through the proxy", base: https, remote: "gomods", id: "go",
			want: []string{"export GOPROXY=https://artifacts.example.com/api/gomods", `GOSUMDB="sum.golang.org https://artifacts.example.com/api/gomods/sumdb/sum.golang.org"`}},
		{name: "apt sources.list", base: https, remote: "debian", id: "apt", want: []string{"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] https://artifacts.example.com/api/debian bookworm main"}},
		{name: "maven settings.xml", base: https, remote: "central", id: "maven", want: []string{"<mirrorOf>central</mirrorOf>", "<url>https://artifacts.example.com/api/central</url>"}},
		{name: "generic curl", base: https, remote: "github", id: "curl", want: []string{"curl -fLO https://artifacts.example.com/api/github/<path>"}},
		{name: "generic local: upload too", base: https, remote: "uploads", id: "curl", want: []string{"curl -fT ./file", "https://artifacts.example.com/api/uploads/<path>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := snippet(t, tc.base, remote(t, tc.remote), tc.id).Text
			rest := text
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("missing (or out of order) %q in:\n%s", w, text)
				}
				rest = rest[i+len(w):]
			}
			for _, n := range tc.not {
				if strings.Contains(text, n) {
					t.Errorf("unexpected %q in:\n%s", n, text)
				}
			}
		})
	}
}

// TestSnippetsPerPackage: each package gets its clients' snippets, and a
// dockerd snippet only for a mirror of Docker Hub (dockerd mirrors nothing else).
func TestSnippetsPerPackage(t *testing.T) {
	b := ParseBase("https://artifacts.example.com")
	tests := []struct {
		remote string
		want   string
	}{
		{"dockerhub", "rke2 containerd dockerd docker ctr curl"},
		{"ghcr", "rke2 containerd docker ctr curl"},
		{"images", "docker ctr rke2 containerd"},
		{"almalinux", "dnf curl"},
		{"alpine", "apk curl"},
		{"bitnami", "helm curl"},
		{"pypi", "pip pip.conf curl"},
		{"npm", "npm npmrc curl"},
		{"gomods", "go curl"},
		{"debian", "apt curl"},
		{"central", "maven curl"},
		{"github", "curl wget"},
	}
	for _, tc := range tests {
		t.Run(tc.remote, func(t *testing.T) {
			var ids []string
			for _, s := range For(b, remote(t, tc.remote)) {
				ids = append(ids, s.ID)
				if !strings.HasSuffix(s.Text, "\n") || s.Title == "" {
					t.Errorf("%s: snippet %q has no title or does not end its last line", tc.remote, s.ID)
				}
			}
			if got := strings.Join(ids, " "); got != tc.want {
				t.Errorf("snippets %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPullOf(t *testing.T) {
	https, plain := ParseBase("https://artifacts.example.com"), ParseBase("http://127.0.0.1:8000")
	tests := []struct {
		name          string
		base          Base
		remote        string
		repo, ref     string
		docker, ctr   string
		image, rke2In string
	}{
		{name: "mirror by tag: pods keep the upstream name", base: https, remote: "dockerhub", repo: "library/nginx", ref: "1.27",
			docker: "docker pull artifacts.example.com/dockerhub/library/nginx:1.27", ctr: "ctr images pull artifacts.example.com/dockerhub/library/nginx:1.27",
			image: "docker.io/library/nginx:1.27", rke2In: "\"^(.*)$\": \"dockerhub/$1\""},
		{name: "mirror by digest", base: plain, remote: "ghcr", repo: "o/tool", ref: "sha256:" + strings.Repeat("a", 64),
			docker: "docker pull 127.0.0.1:8000/ghcr/o/tool@sha256:" + strings.Repeat("a", 64),
			ctr:    "ctr images pull --plain-http 127.0.0.1:8000/ghcr/o/tool@sha256:" + strings.Repeat("a", 64),
			image:  "ghcr.io/o/tool@sha256:" + strings.Repeat("a", 64), rke2In: "endpoint:\n      - \"http://127.0.0.1:8000\""},
		{name: "local repository: pods name artifactapi's host", base: plain, remote: "images", repo: "team/app", ref: "1.0",
			docker: "docker pull 127.0.0.1:8000/images/team/app:1.0", ctr: "ctr images pull --plain-http 127.0.0.1:8000/images/team/app:1.0",
			image: "127.0.0.1:8000/images/team/app:1.0", rke2In: "mirrors:\n  \"127.0.0.1:8000\":\n    endpoint:\n      - \"http://127.0.0.1:8000\"\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := PullOf(tc.base, remote(t, tc.remote), tc.repo, tc.ref)
			if p.Docker != tc.docker || p.Ctr != tc.ctr || p.Image != tc.image || !strings.Contains(p.RKE2, tc.rke2In) {
				t.Errorf("got %+v\nwant docker %q, ctr %q, image %q, registries.yaml with %q", p, tc.docker, tc.ctr, tc.image, tc.rke2In)
			}
		})
	}
}

// TestReadmeAgrees: the README's client examples are this generator's
// output for https://artifacts.example.com, so the two cannot drift apart.
func TestReadmeAgrees(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	base := ParseBase("https://artifacts.example.com")
	tests := []struct {
		remote, id string
		whole      bool // the whole snippet is a README block; else each command line is in the README
	}{
		{"dockerhub", "rke2", true},
		{"dockerhub", "containerd", true},
		{"dockerhub", "dockerd", true},
		{"central", "maven", true},
		{"bitnami", "helm", false},
		{"pypi", "pip", false},
		{"npm", "npm", false},
		{"gomods", "go", false},
		{"debian", "apt", false},
	}
	for _, tc := range tests {
		t.Run(tc.remote+"/"+tc.id, func(t *testing.T) {
			s := snippet(t, base, remote(t, tc.remote), tc.id)
			if tc.whole {
				if !strings.Contains(readme, "\n"+s.Text+"```") {
					t.Errorf("README.md has no block reading exactly:\n%s", s.Text)
				}
				return
			}
			for _, line := range strings.Split(strings.TrimSpace(s.Text), "\n") {
				if strings.HasPrefix(line, "# the ") || strings.HasPrefix(line, "helm search") {
					continue // hints of the dashboard only
				}
				if !strings.Contains(readme, "\n"+line+"\n") {
					t.Errorf("README.md has no line %q", line)
				}
			}
		})
	}
}
