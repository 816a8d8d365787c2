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
//  1. the first path segment when it names a docker remote, a name follows,
//     and there is no ?ns= or ns is that remote's registry host (the RKE2
//     `rewrite` form /v2/dockerhub/library/nginx/... and containerd's
//     override_path); the segment is stripped;
//  2. else, when containerd sent ?ns=<registry>, the docker remote mirroring
//     that registry (the default docker remote first when several do), path
//     unchanged: a first segment that happens to name a remote of another
//     registry does not take a pull of ns elsewhere;
//  3. else the first path segment when it names a docker remote (a rewrite
//     to a remote whose registry_host is not the ns sent);
//  4. else, without ns, the default docker remote: default_docker_remote,
//     or, when that is unset, the one docker remote mirroring docker.io
//     (dockerd's registry-mirrors only ever sends Docker Hub paths);
//  5. else NAME_UNKNOWN: a registry nobody mirrors is never answered from
//     Docker Hub, whose x/y may be a different image.
//
// One-component names on a Docker Hub remote get "library/". The final name
// must follow the repository name grammar (NAME_INVALID).
func Resolve(f *config.File, name, ns string) (Target, *Error) {
	var t Target
	ns = strings.ToLower(ns)
	var prefixed *config.Remote
	first, rest, ok := strings.Cut(name, "/")
	if ok && rest != "" && isDocker(f.Remotes[first]) {
		prefixed = f.Remotes[first]
	}
	var mirror *config.Remote
	if ns != "" {
		mirror = mirrorOf(f, ns)
	}
	switch {
	case prefixed != nil && (ns == "" || prefixed.Registry() == ns):
		t = Target{Remote: prefixed, Name: rest, Via: "prefix"}
	case mirror != nil:
		t = Target{Remote: mirror, Name: name, Via: "ns"}
	case prefixed != nil:
		t = Target{Remote: prefixed, Name: rest, Via: "prefix"}
	case ns != "":
		return t, Fail(CodeNameUnknown, "no docker remote mirrors registry "+ns, map[string]string{"ns": ns, "name": name})
	default:
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
