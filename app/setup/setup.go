// Package setup writes the client configuration ("set me up") of a remote:
// the copy-paste snippets each client needs to go through artifactapi —
// curl, dnf/yum, apk, containerd, RKE2, dockerd, helm, pip, npm, go, apt,
// maven — and the pull commands of an image. It is the one generator of
// these forms: the dashboard shows its output, and the README's examples
// are its output for https://artifacts.example.com (setup_test checks it).
package setup

import (
	"net/url"
	"strings"

	"artifactapi/app/config"
)

// Snippet is one piece of client configuration.
type Snippet struct {
	ID    string // stable name: "curl", "dnf", "rke2"…
	Title string // what it configures
	File  string // where it goes ("" for commands to run)
	Lang  string // sh, ini, yaml, toml, json, xml, text
	Text  string
}

// Base is the address clients reach artifactapi at.
type Base struct {
	URL  string // scheme://host[:port], no trailing slash
	Host string // host[:port]
	// Plain: plain HTTP (clients of registries must be told).
	Plain bool
}

// ParseBase reads a base URL ("https://artifacts.example.com").
func ParseBase(s string) Base {
	s = strings.TrimRight(s, "/")
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return Base{URL: s, Host: s}
	}
	return Base{URL: u.Scheme + "://" + u.Host, Host: u.Host, Plain: u.Scheme == "http"}
}

// API is the URL of remote r under /api.
func (b Base) API(r string) string { return b.URL + "/api/" + r }

// For returns the snippets of remote r, first the most common.
func For(b Base, r *config.Remote) []Snippet {
	var out []Snippet
	switch r.Package {
	case config.PackageDocker:
		if r.IsLocal() {
			out = localDocker(b, r)
		} else {
			out = mirror(b, r)
		}
	case config.PackageRPM:
		out = []Snippet{rpm(b, r), curl(b, r, "<path>")}
	case config.PackageAlpine:
		out = []Snippet{apk(b, r), curl(b, r, "<path>")}
	case config.PackageHelm:
		out = []Snippet{helm(b, r), curl(b, r, "index.yaml")}
	case config.PackagePyPI:
		out = append(pip(b, r), curl(b, r, "simple/<project>/"))
	case config.PackageNPM:
		out = append(npm(b, r), curl(b, r, "<package>"))
	case config.PackageGo:
		out = []Snippet{goproxy(b, r), curl(b, r, "<module>/@v/list")}
	case config.PackageAPT:
		out = []Snippet{apt(b, r), curl(b, r, "dists/<suite>/InRelease")}
	case config.PackageMaven:
		out = []Snippet{maven(b, r), curl(b, r, "<group/path>/<artifact>/<version>/<file>")}
	default:
		out = []Snippet{curl(b, r, "<path>"), wget(b, r)}
	}
	return out
}

// private is the credential hint of a remote not readable anonymously.
func private(r *config.Remote) bool { return r.Access != "" && r.Access != config.AccessPublic }

func curl(b Base, r *config.Remote, example string) Snippet {
	cred := ""
	if private(r) {
		cred = "-u \"$USER:$TOKEN\" "
	}
	text := "curl -fLO " + cred + b.API(r.Name) + "/" + example + "\n"
	if r.IsLocal() && r.Package != config.PackageDocker {
		text += "# upload (a token with the write scope):\ncurl -fT ./file -H \"Authorization: Bearer $TOKEN\" " + b.API(r.Name) + "/<path>\n"
	}
	return Snippet{ID: "curl", Title: "curl", Lang: "sh", Text: text}
}

func wget(b Base, r *config.Remote) Snippet {
	return Snippet{ID: "wget", Title: "wget", Lang: "sh", Text: "wget " + b.API(r.Name) + "/<path>\n"}
}

func rpm(b Base, r *config.Remote) Snippet {
	text := "[" + r.Name + "]\nname=" + title(r) + "\n" +
		"# the repository's path under " + orLocal(r) + " follows /api/" + r.Name + "/\n" +
		"baseurl=" + b.API(r.Name) + "/$releasever/BaseOS/$basearch/os/\nenabled=1\ngpgcheck=1\n"
	if private(r) {
		text += "username=<user>\npassword=<token>\n"
	}
	return Snippet{ID: "dnf", Title: "dnf / yum", File: "/etc/yum.repos.d/" + r.Name + ".repo", Lang: "ini", Text: text}
}

func apk(b Base, r *config.Remote) Snippet {
	root := b.API(r.Name)
	if private(r) {
		root = strings.Replace(root, "://", "://<user>:<token>@", 1)
	}
	if !strings.HasSuffix(strings.TrimRight(r.BaseURL, "/"), "/alpine") {
		root += "/alpine"
	}
	text := "# the release of this host (v3.20…); main and community\n" +
		"echo \"" + root + "/v$(cut -d. -f1,2 /etc/alpine-release)/main\" >> /etc/apk/repositories\n" +
		"echo \"" + root + "/v$(cut -d. -f1,2 /etc/alpine-release)/community\" >> /etc/apk/repositories\n" +
		"apk update\n"
	return Snippet{ID: "apk", Title: "apk", File: "/etc/apk/repositories", Lang: "sh", Text: text}
}

func helm(b Base, r *config.Remote) Snippet {
	return Snippet{ID: "helm", Title: "helm", Lang: "sh",
		Text: "helm repo add " + r.Name + " " + b.API(r.Name) + "\nhelm search repo " + r.Name + "/\n"}
}

func pip(b Base, r *config.Remote) []Snippet {
	idx := b.API(r.Name) + "/simple/"
	return []Snippet{
		{ID: "pip", Title: "pip", Lang: "sh", Text: "pip install --index-url " + idx + " requests\n" +
			"pip config set global.index-url " + idx + "\n" +
			"export PIP_INDEX_URL=" + idx + "\n"},
		{ID: "pip.conf", Title: "pip.conf", File: "/etc/pip.conf (or ~/.config/pip/pip.conf)", Lang: "ini",
			Text: "[global]\nindex-url = " + idx + "\n"},
	}
}

func npm(b Base, r *config.Remote) []Snippet {
	reg := b.API(r.Name) + "/"
	return []Snippet{
		{ID: "npm", Title: "npm", Lang: "sh", Text: "npm install --registry " + reg + " lodash\n" +
			"npm config set registry " + reg + "\n"},
		{ID: "npmrc", Title: ".npmrc", File: ".npmrc (project) or ~/.npmrc", Lang: "ini", Text: "registry=" + reg + "\naudit=false\n"},
	}
}

func goproxy(b Base, r *config.Remote) Snippet {
	p := b.API(r.Name)
	return Snippet{ID: "go", Title: "go (GOPROXY, GOSUMDB)", Lang: "sh",
		Text: "export GOPROXY=" + p + "   # add \",direct\" to fall back to VCS\n" +
			"# GOSUMDB stays sum.golang.org (the default): its requests go through the remote.\n" +
			"# explicitly: export GOSUMDB=\"sum.golang.org " + p + "/sumdb/sum.golang.org\"\n" +
			"go mod download\n" +
			"# for good: go env -w GOPROXY=" + p + "\n"}
}

func apt(b Base, r *config.Remote) Snippet {
	return Snippet{ID: "apt", Title: "apt", File: "/etc/apt/sources.list.d/" + r.Name + ".list", Lang: "text",
		Text: "# the suite, components and keyring of your distribution\n" +
			"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] " + b.API(r.Name) + " bookworm main\n"}
}

func maven(b Base, r *config.Remote) Snippet {
	return Snippet{ID: "maven", Title: "maven", File: "~/.m2/settings.xml", Lang: "xml",
		Text: "<settings>\n  <mirrors>\n    <mirror>\n      <id>artifactapi</id>\n      <mirrorOf>central</mirrorOf>\n" +
			"      <url>" + b.API(r.Name) + "</url>\n    </mirror>\n  </mirrors>\n</settings>\n"}
}

func title(r *config.Remote) string {
	if r.Description != "" {
		return r.Description
	}
	return r.Name
}

func orLocal(r *config.Remote) string {
	if r.BaseURL == "" {
		return "the repository"
	}
	return r.BaseURL
}
