package cache

import "testing"

func TestDetectType(t *testing.T) {
	cases := []struct {
		name, upstream, file string
		head                 []byte
		want                 string
	}{
		{name: "specific upstream type wins", upstream: "application/vnd.oci.image.manifest.v1+json", file: "x.bin", want: "application/vnd.oci.image.manifest.v1+json"},
		{name: "octet-stream falls to extension", upstream: "application/octet-stream", file: "tool.tar.gz", want: "application/gzip"},
		{name: "zip by extension", file: "terraform_1.6.0_linux_amd64.zip", want: "application/zip"},
		{name: "rpm", file: "pkg-1.0-1.noarch.rpm", want: "application/x-rpm"},
		{name: "sniffed when no extension", file: "terragrunt_linux_amd64", head: []byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00"), want: "application/x-executable"},
		{name: "sniffed gzip", file: "download", head: []byte{0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0}, want: "application/gzip"},
		{name: "nothing known", file: "blob", want: "application/octet-stream"},
	}
	for _, c := range cases {
		if got := DetectType(c.upstream, c.file, c.head); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestStorageKey(t *testing.T) {
	k := StorageKey("github", "gruntwork-io/terragrunt/releases/download/v0.96.1/terragrunt_linux_amd64.tar.gz")
	if len(k) != len("github/")+16+len("/terragrunt_linux_amd64.tar.gz") || k[:7] != "github/" {
		t.Fatalf("key %q", k)
	}
	if Filename("a/b/?x=1") != "index" || Filename("a/b.tgz?x=1") != "b.tgz" {
		t.Fatal("filename")
	}
}
