package formats_test

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/config"
	"artifactapi/app/testenv"
)

// TestMavenPaths: the built-in classification of a maven remote.
func TestMavenPaths(t *testing.T) {
	f, err := config.ParseRemotes("remotes.yaml", []byte("remotes:\n  central:\n    base_url: http://repo.example/maven2\n    package: maven\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := f.Remotes["central"]
	for _, tc := range []struct{ name, path, kind string }{
		{"metadata", "org/example/demo/maven-metadata.xml", "mutable"},
		{"metadata sha1", "org/example/demo/maven-metadata.xml.sha1", "mutable"},
		{"metadata sha512", "org/example/demo/maven-metadata.xml.sha512", "mutable"},
		{"snapshot metadata", "org/example/demo/1.2.0-SNAPSHOT/maven-metadata.xml", "mutable"},
		{"snapshot jar", "org/example/demo/1.2.0-SNAPSHOT/demo-1.2.0-20261129.120000-1.jar", "mutable"},
		{"release pom", "org/example/demo/1.0.0/demo-1.0.0.pom", "immutable"},
		{"release jar sha1", "org/example/demo/1.0.0/demo-1.0.0.jar.sha1", "immutable"},
		{"release named like metadata", "org/example/demo/1.0.0/maven-metadata.xml.bak", "immutable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if v := r.Classify(tc.path); !v.Allowed || v.Kind != tc.kind {
				t.Errorf("Classify(%q) = %+v, want allowed %s", tc.path, v, tc.kind)
			}
		})
	}
}

// mavenArtifact publishes a release of org.example:demo on host (pom and
// jar with .sha1 and .md5, as Maven Central lays them out) and returns
// the files by path.
func mavenArtifact(host *fakeHost, version string) map[string][]byte {
	dir := "/maven2/org/example/demo/" + version + "/demo-" + version
	files := map[string][]byte{
		dir + ".pom": []byte(fmt.Sprintf(`<project><modelVersion>4.0.0</modelVersion><groupId>org.example</groupId><artifactId>demo</artifactId><version>%s</version></project>`, version)),
		dir + ".jar": []byte("PK\x03\x04 demo jar " + version + strings.Repeat("x", 4096)),
	}
	for p, b := range map[string][]byte{dir + ".pom": files[dir+".pom"], dir + ".jar": files[dir+".jar"]} {
		s1, m5 := sha1.Sum(b), md5.Sum(b)
		files[p+".sha1"] = []byte(hex.EncodeToString(s1[:]))
		files[p+".md5"] = []byte(hex.EncodeToString(m5[:]))
	}
	for p, b := range files {
		host.put(p, b, "")
	}
	return files
}

// mavenMetadata publishes the artifact's maven-metadata.xml and its .sha1.
func mavenMetadata(host *fakeHost, versions ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "<metadata><groupId>org.example</groupId><artifactId>demo</artifactId><versioning><latest>%[1]s</latest><release>%[1]s</release><versions>", versions[len(versions)-1])
	for _, v := range versions {
		fmt.Fprintf(&b, "<version>%s</version>", v)
	}
	b.WriteString("</versions><lastUpdated>20261129120000</lastUpdated></versioning></metadata>")
	doc := []byte(b.String())
	sum := sha1.Sum(doc)
	host.put("/maven2/org/example/demo/maven-metadata.xml", doc, "text/xml")
	host.put("/maven2/org/example/demo/maven-metadata.xml.sha1", []byte(hex.EncodeToString(sum[:])), "")
	return doc
}

// mavenResolve replays what Maven 3 (`mvn dependency:get
// -Dartifact=org.example:demo:LATEST`, resolver 1.x) asks a repository:
// the version list and its checksum, then for the chosen version the pom,
// its .sha1, the jar and its .sha1, verifying each file against its .sha1
// as Maven's checksum policy "fail" does. It returns the bodies by path.
func mavenResolve(t *testing.T, in *apptest.Instance, version string) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	dir := "org/example/demo/"
	base := dir + version + "/demo-" + version
	for _, p := range []string{dir + "maven-metadata.xml", base + ".pom", base + ".jar"} {
		for _, q := range []string{p, p + ".sha1"} {
			status, _, b := in.Get(t, "/api/central/"+q, map[string]string{"User-Agent": "Apache-Maven/3.8.7 (Java 17; Linux)"})
			if status != http.StatusOK {
				t.Fatalf("GET %s: %d %s", q, status, b)
			}
			got["/maven2/"+q] = b
		}
		sum := sha1.Sum(got["/maven2/"+p])
		if want := strings.TrimSpace(string(got["/maven2/"+p+".sha1"])); hex.EncodeToString(sum[:]) != want {
			t.Fatalf("%s: sha1 %x, its .sha1 says %s", p, sum, want)
		}
	}
	if !bytes.Contains(got["/maven2/"+dir+"maven-metadata.xml"], []byte("<version>"+version+"</version>")) {
		t.Fatalf("maven-metadata.xml does not list %s", version)
	}
	return got
}

// TestMavenClient: Maven 3's request sequence through a maven remote: cold
// through artifactapi, the bytes and checksums the upstream's, a new release
// listed after mutable_ttl, everything served with the upstream stopped.
// (`mvn dependency:get` itself needs its plugins from Maven Central.)
func TestMavenClient(t *testing.T) {
	for _, mode := range apptest.Modes {
		t.Run(string(mode), func(t *testing.T) {
			upstream := newFakeHost(t)
			want := mavenArtifact(upstream, "1.0.0")
			mavenMetadata(upstream, "1.0.0")
			in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: fmt.Sprintf(`
remotes:
  central:
    base_url: %q
    package: maven
    cache:
      mutable_ttl: 1
`, upstream.URL()+"/maven2")})

			check := func(got, want map[string][]byte) {
				t.Helper()
				n := 0
				for p, b := range got {
					if w, ok := want[p]; ok {
						n++
						if !bytes.Equal(b, w) {
							t.Fatalf("%s: %d bytes differ from the upstream's %d", p, len(b), len(w))
						}
					}
				}
				if n != 4 { // pom, jar and their .sha1
					t.Fatalf("compared %d files with the upstream's, want 4", n)
				}
			}
			check(mavenResolve(t, in, "1.0.0"), want)
			if all, direct := upstream.count("/"); all != 6 || direct != 0 {
				t.Fatalf("upstream: %d requests, %d not from artifactapi; want 6 and 0", all, direct)
			}

			// A new release: its metadata is listed once mutable_ttl has passed.
			next := mavenArtifact(upstream, "1.1.0")
			meta := mavenMetadata(upstream, "1.0.0", "1.1.0")
			testenv.Eventually(t, 30*time.Second, "maven-metadata.xml to list 1.1.0", func() bool {
				_, _, b := in.Get(t, "/api/central/org/example/demo/maven-metadata.xml", nil)
				return bytes.Equal(b, meta)
			})
			check(mavenResolve(t, in, "1.1.0"), next)

			upstream.stop()
			check(mavenResolve(t, in, "1.0.0"), want)
			check(mavenResolve(t, in, "1.1.0"), next)
		})
	}
}
