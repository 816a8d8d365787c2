package config_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"artifactapi/app/config"
)

// remote parses a remotes file holding one remote "r" with the given body
// (indented YAML keys) and returns it.
func remote(t *testing.T, body string) *config.Remote {
	t.Helper()
	f, err := config.ParseRemotes("remotes.yaml", []byte("remotes:\n  r:\n"+indent(body)))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return f.Remotes["r"]
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.Trim(s, "\n"), "\n") {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}

// TestClassify walks every row of PRODUCT §3 and the package defaults.
func TestClassify(t *testing.T) {
	generic := `base_url: http://origin.test
immutable_patterns: ["\\.tar\\.gz$", "^files/"]
mutable_patterns: ["index\\.yaml$", "nightly.*\\.tar\\.gz$"]`
	open := `base_url: http://origin.test
mutable_patterns: ["index\\.yaml$"]`
	alpine := `base_url: http://origin.test
package: alpine
immutable_patterns: [".*/x86_64/.*\\.apk$"]`
	rpm := `base_url: http://origin.test
package: rpm
immutable_patterns: [".*\\.rpm$"]`
	docker := `base_url: https://registry-1.docker.io
package: docker`
	helm := `base_url: http://origin.test
package: helm
extra_hosts: ["cdn.test"]`
	pypi := `base_url: http://origin.test
package: pypi`
	npm := `base_url: http://origin.test
package: npm`
	// A user pattern identical to a package default is user-defined (it is
	// revalidated); duplicates are compiled once and change nothing.
	dup := `base_url: http://origin.test
package: rpm
mutable_patterns: ["repomd\\.xml(\\.asc|\\.key)?$", "index\\.yaml$", "index\\.yaml$"]
immutable_patterns: [".*\\.rpm$", ".*\\.rpm$"]`
	// Unanchored: like Python re.search, a pattern matches anywhere.
	search := `base_url: http://origin.test
immutable_patterns: ["terraform_", "\\.zip"]`

	tests := []struct {
		name, remote, path string
		kind, source       string
		userMutable        bool
	}{
		{"user mutable pattern", generic, "charts/index.yaml", "mutable", "mutable_patterns", true},
		{"mutable wins over immutable", generic, "builds/nightly-2024.tar.gz", "mutable", "mutable_patterns", true},
		{"immutable pattern match", generic, "releases/v1/app.tar.gz", "immutable", "immutable_patterns", false},
		{"anchored immutable pattern", generic, "files/a.bin", "immutable", "immutable_patterns", false},
		{"anchored pattern does not match inside", generic, "x/files/a.bin", "denied", "no match", false},
		{"no match is denied", generic, "releases/v1/app.zip", "denied", "no match", false},
		{"no immutable_patterns: everything immutable", open, "anything/at/all.bin", "immutable", "no immutable_patterns", false},
		{"no immutable_patterns: mutable still wins", open, "charts/index.yaml", "mutable", "mutable_patterns", true},

		{"alpine APKINDEX is a package default", alpine, "v3.19/main/x86_64/APKINDEX.tar.gz", "mutable", "package default", false},
		{"alpine apk immutable", alpine, "v3.19/main/x86_64/curl-8.5.0-r0.apk", "immutable", "immutable_patterns", false},
		{"alpine other arch denied", alpine, "v3.19/main/aarch64/curl-8.5.0-r0.apk", "denied", "no match", false},

		{"rpm repomd.xml", rpm, "9/BaseOS/x86_64/os/repodata/repomd.xml", "mutable", "package default", false},
		{"rpm repomd.xml.asc", rpm, "9/BaseOS/x86_64/os/repodata/repomd.xml.asc", "mutable", "package default", false},
		{"rpm primary.xml.gz", rpm, "os/repodata/0123abcd-primary.xml.gz", "mutable", "package default", false},
		{"rpm primary.sqlite.bz2", rpm, "os/repodata/0123abcd-primary.sqlite.bz2", "mutable", "package default", false},
		{"rpm filelists.xml.zst", rpm, "os/repodata/0123abcd-filelists.xml.zst", "mutable", "package default", false},
		{"rpm Packages.gz", rpm, "debian/dists/stable/main/binary-amd64/Packages.gz", "mutable", "package default", false},
		{"rpm package immutable", rpm, "os/Packages/b/bash-5.1.8-9.el9.x86_64.rpm", "immutable", "immutable_patterns", false},
		{"rpm other file denied", rpm, "os/EULA", "denied", "no match", false},

		{"docker tag manifest mutable", docker, "library/nginx/manifests/latest", "mutable", "package default", false},
		{"docker nested name tag manifest mutable", docker, "bitnami/charts/redis/manifests/7.2.4", "mutable", "package default", false},
		{"docker digest manifest immutable", docker, "library/nginx/manifests/sha256:" + strings.Repeat("ab", 32), "immutable", "no immutable_patterns", false},
		{"docker tags/list mutable", docker, "library/nginx/tags/list", "mutable", "package default", false},
		{"docker referrers mutable", docker, "library/nginx/referrers/sha256:" + strings.Repeat("ab", 32), "mutable", "package default", false},
		{"docker blob immutable", docker, "library/nginx/blobs/sha256:" + strings.Repeat("cd", 32), "immutable", "no immutable_patterns", false},

		{"helm index.yaml mutable", helm, "index.yaml", "mutable", "package default", false},
		{"helm nested index.yaml mutable", helm, "stable/index.yaml", "mutable", "package default", false},
		{"helm chart immutable", helm, "demo-1.0.0.tgz", "immutable", "no immutable_patterns", false},
		{"helm provenance immutable", helm, "demo-1.0.0.tgz.prov", "immutable", "no immutable_patterns", false},
		{"helm chart on an extra host immutable", helm, "_ext/cdn.test/pub/demo-1.0.0.tgz", "immutable", "no immutable_patterns", false},

		{"pypi simple index mutable", pypi, "simple/", "mutable", "package default", false},
		{"pypi project page mutable", pypi, "simple/requests/", "mutable", "package default", false},
		{"pypi wheel immutable", pypi, "_ext/files.pythonhosted.org/packages/ab/cd/requests-2.32.3-py3-none-any.whl", "immutable", "no immutable_patterns", false},
		{"pypi sdist immutable", pypi, "packages/source/r/requests/requests-2.32.3.tar.gz", "immutable", "no immutable_patterns", false},

		{"npm document mutable", npm, "lodash", "mutable", "package default", false},
		{"npm scoped document mutable", npm, "@types/node", "mutable", "package default", false},
		{"npm registry endpoint mutable", npm, "-/v1/search", "mutable", "package default", false},
		{"npm tarball immutable", npm, "lodash/-/lodash-4.17.21.tgz", "immutable", "no immutable_patterns", false},
		{"npm scoped tarball immutable", npm, "@types/node/-/node-20.0.0.tgz", "immutable", "no immutable_patterns", false},

		{"user pattern equal to a default is user-defined", dup, "os/repodata/repomd.xml", "mutable", "mutable_patterns", true},
		{"duplicated user pattern", dup, "index.yaml", "mutable", "mutable_patterns", true},
		{"duplicated immutable pattern", dup, "os/a.rpm", "immutable", "immutable_patterns", false},

		{"unanchored match in the middle", search, "terraform/1.7.0/terraform_1.7.0_linux_amd64.zip", "immutable", "immutable_patterns", false},
		{"unanchored match before a suffix", search, "vault/1.0/vault.zip.sha256", "immutable", "immutable_patterns", false},
		{"unanchored still needs a match", search, "vault/1.0/vault.tar.gz", "denied", "no match", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := remote(t, tc.remote)
			v := r.Classify(tc.path)
			if v.Kind != tc.kind || v.Source != tc.source || v.UserMutable != tc.userMutable {
				t.Fatalf("Classify(%q) = %+v; want kind %s source %q userMutable %v", tc.path, v, tc.kind, tc.source, tc.userMutable)
			}
			if v.Allowed != (tc.kind != "denied") {
				t.Fatalf("Classify(%q).Allowed = %v for kind %s", tc.path, v.Allowed, v.Kind)
			}
			if tc.source != "no match" && tc.source != "no immutable_patterns" && v.Pattern == "" {
				t.Fatalf("Classify(%q) does not say which pattern decided: %+v", tc.path, v)
			}
			wantTTL := r.ImmutableTTL()
			if tc.kind == "mutable" {
				wantTTL = r.MutableTTL()
			}
			if got := r.TTLSeconds(v.Kind); got != wantTTL {
				t.Fatalf("TTLSeconds(%s) = %d, want %d", v.Kind, got, wantTTL)
			}
		})
	}
}

func TestPackageDefaultsAreCopies(t *testing.T) {
	d := config.PackageDefaults(config.PackageRPM)
	if len(d) == 0 {
		t.Fatal("rpm has no default mutable patterns")
	}
	d[0] = "changed"
	if config.PackageDefaults(config.PackageRPM)[0] == "changed" {
		t.Fatal("PackageDefaults returns the shared slice")
	}
	if len(config.PackageDefaults(config.PackageGeneric)) != 0 {
		t.Fatal("generic remotes have built-in mutable patterns")
	}
}

func TestTTLDefaults(t *testing.T) {
	r := remote(t, "base_url: http://origin.test")
	if r.ImmutableTTL() != 0 || r.MutableTTL() != 3600 || r.NegativeTTLSeconds() != 60 {
		t.Fatalf("defaults: immutable %d mutable %d negative %d; want 0, 3600, 60", r.ImmutableTTL(), r.MutableTTL(), r.NegativeTTLSeconds())
	}
	r = remote(t, "base_url: http://origin.test\ncache: {immutable_ttl: 0, mutable_ttl: 0, max_size: 2GiB}\nnegative_ttl: 0")
	if r.ImmutableTTL() != 0 || r.MutableTTL() != 0 || r.NegativeTTLSeconds() != 0 || r.MaxSizeBytes() != 2<<30 {
		t.Fatalf("explicit zeros: %d %d %d %d", r.ImmutableTTL(), r.MutableTTL(), r.NegativeTTLSeconds(), r.MaxSizeBytes())
	}
}

// TestAllowPrivateRedirects: off unless the remote says so.
func TestAllowPrivateRedirects(t *testing.T) {
	if remote(t, "base_url: http://origin.test").AllowPrivateRedirects {
		t.Fatal("allow_private_redirects defaults to true")
	}
	if !remote(t, "base_url: http://10.0.0.5\nallow_private_redirects: true").AllowPrivateRedirects {
		t.Fatal("allow_private_redirects: true not read")
	}
}

// TestAccessPolicy: public unless the remote says otherwise.
func TestAccessPolicy(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{name: "default", yaml: "base_url: http://origin.test", want: config.AccessPublic},
		{name: "public", yaml: "base_url: http://origin.test\naccess: public", want: config.AccessPublic},
		{name: "authenticated", yaml: "base_url: http://origin.test\naccess: authenticated", want: config.AccessAuthenticated},
		{name: "scoped", yaml: "base_url: http://origin.test\naccess: scoped", want: config.AccessScoped},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := remote(t, tc.yaml).Access; got != tc.want {
				t.Fatalf("Access = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestValidationErrors checks that each refused file says which remote and
// which key is wrong, and why.
func TestValidationErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of one problem
	}{
		{"unknown package", "bad:\n    base_url: http://x\n    package: conan", []string{`remote "bad"`, "package", `"conan"`}},
		{"extra host not http", "bad:\n    base_url: http://x\n    package: helm\n    extra_hosts: [\"ftp://cdn\"]", []string{`remote "bad"`, "extra_hosts", "scheme"}},
		{"extra host with credentials", "bad:\n    base_url: http://x\n    package: helm\n    extra_hosts: [\"https://u:p@cdn\"]", []string{`remote "bad"`, "extra_hosts", "credentials"}},
		{"extra host twice", "bad:\n    base_url: http://x\n    package: helm\n    extra_hosts: [cdn, \"https://CDN/x\"]", []string{`remote "bad"`, "extra_hosts", "twice"}},
		{"files_url outside pypi", "bad:\n    base_url: http://x\n    package: helm\n    files_url: https://files.example", []string{`remote "bad"`, "files_url", "pypi"}},
		{"files_url not http", "bad:\n    base_url: http://x\n    package: pypi\n    files_url: ftp://files", []string{`remote "bad"`, "files_url", "scheme"}},
		{"extra hosts on a local repository", "bad:\n    type: local\n    package: helm\n    extra_hosts: [cdn]", []string{`remote "bad"`, "extra_hosts", `type "remote"`}},
		{"unknown type", "bad:\n    base_url: http://x\n    type: mirror", []string{`remote "bad"`, "type", `"mirror"`}},
		{"remote without base_url", "bad:\n    package: generic", []string{`remote "bad"`, "base_url", "required"}},
		{"base_url not http", "bad:\n    base_url: ftp://x/", []string{`remote "bad"`, "base_url", "ftp://x/"}},
		{"base_url with credentials", "bad:\n    base_url: http://u:pw@x/", []string{`remote "bad"`, "base_url", "credentials"}},
		{"look-ahead", "bad:\n    base_url: http://x\n    immutable_patterns: [\"a(?=x)\"]", []string{`remote "bad"`, "immutable_patterns", "(?=x)", "look-ahead", "RE2"}},
		{"negative look-ahead", "bad:\n    base_url: http://x\n    mutable_patterns: [\"a(?!x)\"]", []string{`remote "bad"`, "mutable_patterns", "look-ahead"}},
		{"negative look-behind", "bad:\n    base_url: http://x\n    mutable_patterns: [\"(?<!x)a\"]", []string{`remote "bad"`, "look-behind"}},
		{"look-behind", "bad:\n    base_url: http://x\n    mutable_patterns: [\"(?<=x)a\"]", []string{`remote "bad"`, "mutable_patterns", "(?<=x)", "look-behind", "RE2"}},
		{"back-reference", "bad:\n    base_url: http://x\n    immutable_patterns: [\"(a)\\\\1\"]", []string{`remote "bad"`, "immutable_patterns", `(a)\\1`, "back-reference", "RE2"}},
		{"other bad regexp", "bad:\n    base_url: http://x\n    immutable_patterns: [\"a[\"]", []string{`remote "bad"`, "immutable_patterns", "missing closing ]"}},
		{"unknown key typo", "good:\n    base_url: http://y\n  bad:\n    base_url: http://x\n    immutable_pattern: [\"x\"]", []string{`remote "bad"`, "line 6", "unknown key `immutable_pattern`; did you mean `immutable_patterns`?"}},
		{"unknown cache key typo", "bad:\n    base_url: http://x\n    cache:\n      mutable_tll: 5", []string{`remote "bad"`, "line 5", "unknown key `mutable_tll`; did you mean `mutable_ttl`?"}},
		{"unknown key far from any", "bad:\n    base_url: http://x\n    colour: blue", []string{`remote "bad"`, "unknown key `colour`", "not a known remote key", "base_url"}},
		{"unknown top-level key typo", "r:\n    base_url: http://x\ndefault_docker_remot: r", []string{"unknown key `default_docker_remot`; did you mean `default_docker_remote`?"}},
		{"negative mutable TTL", "bad:\n    base_url: http://x\n    cache:\n      mutable_ttl: -1", []string{`remote "bad"`, "cache.mutable_ttl", ">= 0", "-1"}},
		{"negative immutable TTL", "bad:\n    base_url: http://x\n    cache:\n      immutable_ttl: -5", []string{`remote "bad"`, "cache.immutable_ttl", "-5"}},
		{"negative negative_ttl", "bad:\n    base_url: http://x\n    negative_ttl: -2", []string{`remote "bad"`, "negative_ttl", "-2", "0 turns the negative cache off"}},
		{"TTL not a number", "bad:\n    base_url: http://x\n    cache:\n      mutable_ttl: soon", []string{"soon"}},
		{"bad max_size", "bad:\n    base_url: http://x\n    cache:\n      max_size: lots", []string{`remote "bad"`, "cache.max_size", `"lots"`}},
		{"max_size with a junk unit", "bad:\n    base_url: http://x\n    cache:\n      max_size: 5 gigs", []string{`remote "bad"`, "cache.max_size", `"5 gigs"`}},
		{"zero max_size", "bad:\n    base_url: http://x\n    cache:\n      max_size: 0GiB", []string{`remote "bad"`, "cache.max_size"}},
		{"password without username", "bad:\n    base_url: http://x\n    password: pw", []string{`remote "bad"`, "password", "username"}},
		{"default docker remote is local", "loc:\n    type: local\n    package: docker\ndefault_docker_remote: loc", []string{"default_docker_remote", `"loc"`, "local repository"}},
		{"private redirects on a local repository", "bad:\n    type: local\n    allow_private_redirects: true", []string{`remote "bad"`, "allow_private_redirects", "local"}},
		{"private redirects not a boolean", "bad:\n    base_url: http://x\n    allow_private_redirects: sometimes", []string{"sometimes"}},
		{"private redirects typo", "bad:\n    base_url: http://x\n    allow_private_redirect: true", []string{`remote "bad"`, "unknown key `allow_private_redirect`; did you mean `allow_private_redirects`?"}},
		{"reserved name", "v1:\n    base_url: http://x", []string{`remote "v1"`, "name"}},
		{"reserved name policies", "policies:\n    base_url: http://x", []string{`remote "policies"`, "name"}},
		{"unknown access policy", "bad:\n    base_url: http://x\n    access: private", []string{`remote "bad"`, "access", `"private"`, "public, authenticated or scoped"}},
		{"default docker remote is not docker", "gen:\n    base_url: http://x\ndefault_docker_remote: gen", []string{"default_docker_remote", `"gen"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "remotes:\n  " + tc.yaml + "\n"
			_, err := config.ParseRemotes("remotes.yaml", []byte(src))
			var ve *config.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("ParseRemotes accepted:\n%s\nerr = %v", src, err)
			}
			if !strings.Contains(err.Error(), "remotes.yaml") {
				t.Errorf("error does not name the file: %v", err)
			}
			for _, p := range ve.Problems {
				if containsAll(p, tc.want) {
					return
				}
			}
			t.Fatalf("no problem mentions all of %q:\n%s", tc.want, err)
		})
	}
}

func TestValidationReportsEveryProblemOnce(t *testing.T) {
	src := `remotes:
  a:
    base_url: http://x
    immutable_patterns: ["(?=x)", "(?=x)"]
  b:
    package: conan
`
	_, err := config.ParseRemotes("remotes.yaml", []byte(src))
	var ve *config.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("accepted: %v", err)
	}
	// (?=x) twice is one problem; b lacks base_url and has a bad package.
	if len(ve.Problems) != 3 {
		t.Fatalf("want 3 problems, got %d:\n%s", len(ve.Problems), err)
	}
}

func containsAll(s string, subs []string) bool {
	for _, w := range subs {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

func TestShippedRemotesParse(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "remotes.yaml")
	f, err := config.LoadRemotesFile(path)
	if err != nil {
		t.Fatalf("shipped remotes.yaml: %v", err)
	}
	for _, name := range []string{"github", "github-archive", "hashicorp-releases", "alpine", "almalinux", "helm-charts", "apt-mirror", "local-generic"} {
		if f.Remotes[name] == nil {
			t.Errorf("shipped remotes.yaml lacks the SEED remote %q", name)
		}
	}
	if r := f.Remotes["local-generic"]; r != nil && !r.IsLocal() {
		t.Errorf("local-generic is not a local repository")
	}
	if r := f.Remotes["github-archive"]; r != nil {
		if v := r.Classify("owner/repo/archive/refs/heads/main.tar.gz"); v.Kind != "mutable" || !v.UserMutable {
			t.Errorf("github-archive main tarball: %+v", v)
		}
		if v := r.Classify("owner/repo/archive/refs/tags/v1.0.tar.gz"); v.Kind != "immutable" {
			t.Errorf("github-archive tag tarball: %+v", v)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int64
		bad  bool
	}{
		{name: "plain bytes", in: "123", want: 123},
		{name: "bytes suffix", in: "512B", want: 512},
		{name: "KB is decimal", in: "10KB", want: 10_000},
		{name: "KiB is binary", in: "10KiB", want: 10 << 10},
		{name: "K is binary", in: "10K", want: 10 << 10},
		{name: "MiB", in: "500MiB", want: 500 << 20},
		{name: "MB", in: "3MB", want: 3_000_000},
		{name: "GiB", in: "50GiB", want: 50 << 30},
		{name: "G", in: "2G", want: 2 << 30},
		{name: "TB", in: "1TB", want: 1_000_000_000_000},
		{name: "TiB", in: "1TiB", want: 1 << 40},
		{name: "fraction", in: "1.5GiB", want: 3 << 29},
		{name: "lower case", in: "5gib", want: 5 << 30},
		{name: "spaces", in: " 2 MiB ", want: 2 << 20},
		{name: "empty", in: "", bad: true},
		{name: "words", in: "lots", bad: true},
		{name: "negative", in: "-1", bad: true},
		{name: "negative with unit", in: "-1GiB", bad: true},
		{name: "unknown unit", in: "5 gigs", bad: true},
		{name: "junk before unit", in: "10XB", bad: true},
		{name: "trailing junk", in: "10 MiB please", bad: true},
		{name: "not a number", in: "NaN", bad: true},
		{name: "infinite", in: "Inf", bad: true},
		{name: "overflow", in: "1e30", bad: true},
		{name: "overflow with unit", in: "99999999999TiB", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := config.ParseSize(tc.in)
			if tc.bad {
				if err == nil {
					t.Fatalf("ParseSize(%q) = %d, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

func envFunc(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadEnvDefaults(t *testing.T) {
	e, err := config.LoadEnv(envFunc(nil))
	if err != nil {
		t.Fatal(err)
	}
	if e.ListenAddr != ":8000" || e.RemotesPath != "remotes.yaml" || e.DataDir != "./data" || e.DatabaseURL != "" ||
		e.RedisURL != "" || e.MinIOEndpoint != "" || e.MinIOBucket != "artifacts" || e.MaxUploadSize != 0 {
		t.Fatalf("embedded defaults: %+v", e)
	}
	e, _ = config.LoadEnv(envFunc(map[string]string{"PORT": "9001"}))
	if e.ListenAddr != ":9001" {
		t.Fatalf("PORT=9001 → %q", e.ListenAddr)
	}
	e, _ = config.LoadEnv(envFunc(map[string]string{"PORT": "9001", "LISTEN_ADDR": "127.0.0.1:7000"}))
	if e.ListenAddr != "127.0.0.1:7000" {
		t.Fatalf("LISTEN_ADDR wins over PORT: %q", e.ListenAddr)
	}
}

func TestLoadEnvDSN(t *testing.T) {
	tests := []struct {
		name                    string
		env                     map[string]string
		host, user, pass, dbase string
		hasPass                 bool
	}{
		{"all DB vars", map[string]string{"DBHOST": "db.internal", "DBPORT": "6543", "DBUSER": "app", "DBPASS": "p@ss/w:rd?#", "DBNAME": "artifacts"},
			"db.internal:6543", "app", "p@ss/w:rd?#", "artifacts", true},
		{"default port, no password", map[string]string{"DBHOST": "db", "DBUSER": "app", "DBNAME": "a"}, "db:5432", "app", "", "a", false},
		{"DATABASE_URL wins", map[string]string{"DATABASE_URL": "postgres://u:pw@other:1/x", "DBHOST": "db", "DBNAME": "a"}, "other:1", "u", "pw", "x", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.env["ADMIN_TOKEN"] = goodToken // production mode needs one
			e, err := config.LoadEnv(envFunc(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(e.DatabaseURL)
			if err != nil {
				t.Fatalf("DSN %q: %v", e.DatabaseURL, err)
			}
			pass, hasPass := u.User.Password()
			if u.Scheme != "postgres" && u.Scheme != "postgresql" || u.Host != tc.host || u.User.Username() != tc.user ||
				pass != tc.pass || hasPass != tc.hasPass || strings.TrimPrefix(u.Path, "/") != tc.dbase {
				t.Fatalf("DSN %q: host %s user %s pass %q/%v db %s", e.DatabaseURL, u.Host, u.User.Username(), pass, hasPass, u.Path)
			}
		})
	}
}

func TestLoadEnvRefusesBadValues(t *testing.T) {
	tests := []struct {
		name, key, value string
	}{
		{"MINIO_SECURE not a bool", "MINIO_SECURE", "maybe"},
		{"LOG_FORMAT unknown", "LOG_FORMAT", "xml"},
		{"timeout not a duration", "UPSTREAM_CONNECT_TIMEOUT", "soon"},
		{"negative timeout", "UPSTREAM_IDLE_TIMEOUT", "-5s"},
		{"MAX_UPLOAD_SIZE not a size", "MAX_UPLOAD_SIZE", "lots"},
		{"MAX_UPLOAD_SIZE zero", "MAX_UPLOAD_SIZE", "0"},
		{"JOB_CONCURRENCY zero", "JOB_CONCURRENCY", "0"},
		{"JOB_CONCURRENCY not a number", "JOB_CONCURRENCY", "four"},
		{"AUDIT_RETENTION not a duration", "AUDIT_RETENTION", "forever"},
		{"AUTH_CACHE_TTL negative", "AUTH_CACHE_TTL", "-1s"},
		{"GC_HEAP_FLOOR not a size", "GC_HEAP_FLOOR", "big"},
		{"HOT_CACHE_SIZE negative", "HOT_CACHE_SIZE", "-1GiB"},
		{"DISK_MIN_FREE not a size", "DISK_MIN_FREE", "some"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.LoadEnv(envFunc(map[string]string{tc.key: tc.value}))
			var ve *config.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("%s=%q accepted (err %v)", tc.key, tc.value, err)
			}
			if !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("error does not name %s: %v", tc.key, err)
			}
		})
	}
	// Plain seconds are accepted for timeouts.
	e, err := config.LoadEnv(envFunc(map[string]string{"UPSTREAM_HEADER_TIMEOUT": "45", "MAX_UPLOAD_SIZE": "5GiB"}))
	if err != nil || e.HeaderTimeout.Seconds() != 45 || e.MaxUploadSize != 5<<30 {
		t.Fatalf("UPSTREAM_HEADER_TIMEOUT=45, MAX_UPLOAD_SIZE=5GiB: %v %v %v", e.HeaderTimeout, e.MaxUploadSize, err)
	}
	// Sizes with "0" for off: the default, a value, and off.
	for _, tc := range []struct {
		value string
		want  int64
	}{{"", 64 << 20}, {"256MiB", 256 << 20}, {"0", 0}} {
		e, err := config.LoadEnv(envFunc(map[string]string{"GC_HEAP_FLOOR": tc.value}))
		if err != nil || e.GCHeapFloor != tc.want {
			t.Fatalf("GC_HEAP_FLOOR=%q: %d, %v; want %d", tc.value, e.GCHeapFloor, err, tc.want)
		}
	}
}

// TestRedactedHidesSecrets renders the /config document and looks for every
// configured secret value.
func TestRedactedHidesSecrets(t *testing.T) {
	const (
		dbPass    = "db-pw-SECRET-3"
		minio     = "minio-SECRET-4"
		admin     = "admin-SECRET-5-0123456789abcdef0123"
		redisPass = "redis-pw-SECRET-6"
		upstream  = "upstream-pw-SECRET-1"
	)
	remotes := fmt.Sprintf(`remotes:
  private:
    base_url: https://artifacts.example.com/repo
    username: deploy
    password: %q
  docker:
    base_url: https://registry.example.com
    package: docker
    username: bot
    password: %q
`, upstream, upstream+"-docker")
	f, err := config.ParseRemotes("remotes.yaml", []byte(remotes))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		secrets []string
	}{
		{"DB vars", map[string]string{"DBHOST": "db", "DBUSER": "app", "DBPASS": dbPass, "DBNAME": "a",
			"MINIO_ENDPOINT": "s3:9000", "MINIO_ACCESS_KEY": "AK", "MINIO_SECRET_KEY": minio, "ADMIN_TOKEN": admin,
			"REDIS_URL": "redis://default:" + redisPass + "@cache:6379/0"}, []string{dbPass, minio, admin, redisPass}},
		{"DATABASE_URL", map[string]string{"DATABASE_URL": "postgres://app:" + dbPass + "@db:5432/a", "ADMIN_TOKEN": admin,
			"REDIS_URL": "redis://:" + redisPass + "@cache:6379"}, []string{dbPass, admin, redisPass}},
		{"keyword/value DATABASE_URL", map[string]string{"DATABASE_URL": "host=db user=app password=" + dbPass + " dbname=a", "ADMIN_TOKEN": admin},
			[]string{dbPass, admin}},
		{"quoted keyword/value password", map[string]string{"DATABASE_URL": "host=db password='" + dbPass + " x' dbname=a", "ADMIN_TOKEN": admin},
			[]string{dbPass + " x", dbPass, admin}},
		{"password in the URL query", map[string]string{"DATABASE_URL": "postgres://db/a?sslmode=disable&password=" + dbPass, "ADMIN_TOKEN": admin},
			[]string{dbPass, admin}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := config.LoadEnv(envFunc(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			c := &config.Config{Env: e, Remotes: f}
			out, err := json.Marshal(c.Redacted(map[string]string{"metadata": "postgres"}))
			if err != nil {
				t.Fatal(err)
			}
			all := append([]string{upstream, upstream + "-docker"}, tc.secrets...)
			for _, s := range all {
				if strings.Contains(string(out), s) {
					t.Errorf("Redacted() contains the secret %q:\n%s", s, out)
				}
			}
			// Every secret is also known to the log scrubber.
			known := strings.Join(c.Secrets(), "\n")
			for _, s := range all {
				if !strings.Contains(known, s) {
					t.Errorf("Secrets() misses %q", s)
				}
			}
			// The non-secret parts are still shown.
			for _, want := range []string{"deploy", "https://artifacts.example.com/repo", "REDACTED"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("Redacted() lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
