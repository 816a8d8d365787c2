package setup

import (
	"strings"

	"artifactapi/app/config"
)

// Pull is how each client pulls one image through artifactapi.
type Pull struct {
	// Docker is the docker/podman command (podman takes the same).
	Docker string
	// Ctr is the containerd command.
	Ctr string
	// RKE2 is the registries.yaml of an RKE2/k3s node that pulls the image
	// as Image names it (the name pods use).
	RKE2  string
	Image string
}

// reference is "name:tag" or "name@digest".
func reference(name, ref string) string {
	if strings.Contains(ref, ":") {
		return name + "@" + ref
	}
	return name + ":" + ref
}

// PullOf returns the pull commands of image name at ref (a tag or a
// digest) of docker remote r: by the prefix form (/v2/<remote>/<name>)
// for docker and ctr; through the registry's mirror entry for RKE2 (a
// mirror remote), where pods keep the upstream image name.
func PullOf(b Base, r *config.Remote, name, ref string) Pull {
	prefixed := reference(b.Host+"/"+r.Name+"/"+name, ref)
	p := Pull{Docker: "docker pull " + prefixed, Ctr: "ctr images pull " + plainFlag(b) + prefixed}
	if r.IsLocal() {
		p.RKE2, p.Image = rke2Self(b, r), prefixed
		return p
	}
	p.RKE2, p.Image = rke2Mirror(b, r), reference(r.Registry()+"/"+name, ref)
	return p
}

func plainFlag(b Base) string {
	if b.Plain {
		return "--plain-http "
	}
	return ""
}

// rke2Mirror is the registries.yaml mirror entry of a mirror remote: the
// rewrite prepends the remote's name (SEED's Kubernetes/RKE2 form).
func rke2Mirror(b Base, r *config.Remote) string {
	return "mirrors:\n  " + r.Registry() + ":\n    endpoint:\n      - \"" + b.URL + "\"\n    rewrite:\n      \"^(.*)$\": \"" + r.Name + "/$1\"\n" +
		auth(b, r)
}

// rke2Self is the registries.yaml entry for pulling from artifactapi's own
// host (a local repository): needed for plain HTTP or credentials.
func rke2Self(b Base, r *config.Remote) string {
	return "mirrors:\n  \"" + b.Host + "\":\n    endpoint:\n      - \"" + b.URL + "\"\n" + auth(b, r)
}

func auth(b Base, r *config.Remote) string {
	if !private(r) {
		return ""
	}
	return "configs:\n  \"" + b.Host + "\":\n    auth:\n      username: <user>\n      password: <token>\n"
}

// exampleImage is an image a remote of this registry is likely to hold.
func exampleImage(r *config.Remote) (name, tag string) {
	if r.IsLocal() {
		return "team/app", "1.0"
	}
	if r.Registry() == "docker.io" {
		return "library/alpine", "3.20"
	}
	return "owner/image", "tag"
}

func mirror(b Base, r *config.Remote) []Snippet {
	name, tag := exampleImage(r)
	p := PullOf(b, r, name, tag)
	out := []Snippet{
		{ID: "rke2", Title: "RKE2 / k3s", File: "/etc/rancher/rke2/registries.yaml (k3s: /etc/rancher/k3s/registries.yaml)", Lang: "yaml",
			Text: p.RKE2},
		{ID: "containerd", Title: "containerd", File: "/etc/containerd/certs.d/" + r.Registry() + "/hosts.toml", Lang: "toml",
			Text: "server = \"" + strings.TrimRight(r.BaseURL, "/") + "\"\n\n" +
				"[host.\"" + b.URL + "\"]\n  capabilities = [\"pull\", \"resolve\"]\n\n" +
				"# or, naming the remote:\n" +
				"# [host.\"" + b.URL + "/v2/" + r.Name + "\"]\n#   capabilities = [\"pull\", \"resolve\"]\n#   override_path = true\n"},
	}
	if r.Registry() == "docker.io" { // dockerd mirrors Docker Hub only
		out = append(out, Snippet{ID: "dockerd", Title: "dockerd", File: "/etc/docker/daemon.json", Lang: "json", Text: daemonJSON(b)})
	}
	return append(out,
		Snippet{ID: "docker", Title: "docker / podman", Lang: "sh", Text: p.Docker + "\n" + strings.Replace(p.Docker, "docker", "podman", 1) + "\n"},
		Snippet{ID: "ctr", Title: "ctr (containerd)", Lang: "sh", Text: p.Ctr + "\n"},
		Snippet{ID: "curl", Title: "curl", Lang: "sh", Text: "curl -s " + b.URL + "/v2/" + r.Name + "/" + name + "/tags/list\n"})
}

func daemonJSON(b Base) string {
	if b.Plain {
		return "{\n  \"registry-mirrors\": [\"" + b.URL + "\"],\n  \"insecure-registries\": [\"" + b.Host + "\"]\n}\n"
	}
	return "{ \"registry-mirrors\": [\"" + b.URL + "\"] }\n"
}

func localDocker(b Base, r *config.Remote) []Snippet {
	name, tag := exampleImage(r)
	p := PullOf(b, r, name, tag)
	push := "docker login -u <user> " + b.Host + "\n" +
		"docker tag app:" + tag + " " + p.Image + " && docker push " + p.Image + "\n" + p.Docker + "\n"
	out := []Snippet{
		{ID: "docker", Title: "docker / podman", Lang: "sh", Text: push},
		{ID: "ctr", Title: "ctr (containerd)", Lang: "sh", Text: p.Ctr + "\n"},
		{ID: "rke2", Title: "RKE2 / k3s", File: "/etc/rancher/rke2/registries.yaml (k3s: /etc/rancher/k3s/registries.yaml)", Lang: "yaml", Text: p.RKE2},
		{ID: "containerd", Title: "containerd", File: "/etc/containerd/certs.d/" + b.Host + "/hosts.toml", Lang: "toml",
			Text: "server = \"" + b.URL + "\"\n\n[host.\"" + b.URL + "\"]\n  capabilities = [\"pull\", \"resolve\", \"push\"]\n"},
	}
	if b.Plain {
		out = append(out, Snippet{ID: "dockerd", Title: "dockerd", File: "/etc/docker/daemon.json", Lang: "json",
			Text: "{ \"insecure-registries\": [\"" + b.Host + "\"] }\n"})
	}
	return out
}
