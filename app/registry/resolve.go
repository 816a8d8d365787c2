package registry

import (
	"strings"

	"artifactapi/app/config"
	"artifactapi/app/oci"
)

// DockerHub is the registry host of Docker Hub as containerd names it in ?ns=.
const DockerHub = "docker.io"

// Target is the remote and upstream repository a /v2 request addresses.
type Target struct {
	Remote *config.Remote
	Name   string // repository name upstream ("library/" added for Docker Hub)
	Via    string // how the remote was chosen: "prefix", "ns" or "default"
}

// Resolve picks the remote for the repository name of a /v2 path (PRODUCT §6):
//
//  1. the first path segment when it names a docker remote and a name
//     follows (the RKE2 `rewrite` form /v2/dockerhub/library/nginx/...);
//  2. else, when containerd sent ?ns=<registry>, the docker remote mirroring
//     that registry (the default docker remote first when several do). A
//     registry nobody mirrors is NAME_UNKNOWN: answering ghcr.io/x/y from
//     Docker Hub's x/y would serve a different image;
//  3. else the default docker remote: default_docker_remote, or, when that
//     is unset, the one docker remote mirroring docker.io (dockerd's
//     registry-mirrors only ever sends Docker Hub paths);
//  4. else NAME_UNKNOWN.
//
// One-component names on a Docker Hub remote get "library/". The final name
// must follow the repository name grammar (NAME_INVALID).
func Resolve(f *config.File, name, ns string) (Target, *Error) {
	var t Target
	if first, rest, ok := strings.Cut(name, "/"); ok && rest != "" && isDocker(f.Remotes[first]) {
		t = Target{Remote: f.Remotes[first], Name: rest, Via: "prefix"}
	} else if ns != "" {
		r := mirrorOf(f, strings.ToLower(ns))
		if r == nil {
			return t, Fail(CodeNameUnknown, "no docker remote mirrors registry "+ns, map[string]string{"ns": ns, "name": name})
		}
		t = Target{Remote: r, Name: name, Via: "ns"}
	} else {
		r := defaultRemote(f)
		if r == nil {
			return t, Fail(CodeNameUnknown, "no docker remote named by the path and no default docker remote (set default_docker_remote)",
				map[string]string{"name": name})
		}
		t = Target{Remote: r, Name: name, Via: "default"}
	}
	if t.Remote.Registry() == DockerHub && !strings.Contains(t.Name, "/") {
		t.Name = "library/" + t.Name
	}
	if !oci.ValidName(t.Name) {
		return t, Fail(CodeNameInvalid, "invalid repository name", map[string]string{"name": t.Name, "remote": t.Remote.Name})
	}
	return t, nil
}

func isDocker(r *config.Remote) bool {
	return r != nil && r.Package == config.PackageDocker && !r.IsLocal()
}

// mirrorOf returns the docker remote mirroring registry host, preferring
// the default docker remote, then the first by name.
func mirrorOf(f *config.File, host string) *config.Remote {
	if d := f.Remotes[f.DefaultDockerRemote]; isDocker(d) && d.Registry() == host {
		return d
	}
	for _, n := range f.Names() {
		if r := f.Remotes[n]; isDocker(r) && r.Registry() == host {
			return r
		}
	}
	return nil
}

// defaultRemote is default_docker_remote, else the only docker.io mirror.
func defaultRemote(f *config.File) *config.Remote {
	if f.DefaultDockerRemote != "" {
		if d := f.Remotes[f.DefaultDockerRemote]; isDocker(d) {
			return d
		}
		return nil
	}
	var only *config.Remote
	for _, n := range f.Names() {
		if r := f.Remotes[n]; isDocker(r) && r.Registry() == DockerHub {
			if only != nil {
				return nil // ambiguous: the operator must choose
			}
			only = r
		}
	}
	return only
}
