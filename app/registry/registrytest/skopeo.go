package registrytest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
)

// Copy runs `skopeo copy` from src (docker://host:port/name:tag over plain
// HTTP) to dst (dir:…, oci:…) with extra flags (--all, --src-creds …) and
// returns the combined output.
func Copy(ctx context.Context, src, dst string, flags ...string) (string, error) {
	// A private policy and auth file: the host's must not change the result.
	dir, err := os.MkdirTemp("", "skopeo-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	policy := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(policy, []byte(`{"default":[{"type":"insecureAcceptAnything"}]}`), 0o600); err != nil {
		return "", err
	}
	args := append([]string{"--policy", policy, "copy", "--src-tls-verify=false", "--retry-times", "0"}, flags...)
	args = append(args, src, dst)
	cmd := exec.CommandContext(ctx, "skopeo", args...)
	cmd.Env = append(os.Environ(), "REGISTRY_AUTH_FILE="+filepath.Join(dir, "auth.json"), "HOME="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("skopeo %v: %w\n%s", args, err, out.String())
	}
	return out.String(), nil
}

// DirFiles reads every file of a skopeo dir: destination, by name.
func DirFiles(dir string) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out[e.Name()] = b
	}
	return out, nil
}

// SameFiles compares two dir: pulls and describes the first difference.
func SameFiles(a, b map[string][]byte) error {
	names := make([]string, 0, len(a))
	for n := range a {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(a) != len(b) {
		return fmt.Errorf("%d files vs %d", len(a), len(b))
	}
	for _, n := range names {
		if !bytes.Equal(a[n], b[n]) {
			return fmt.Errorf("file %s differs (%d vs %d bytes)", n, len(a[n]), len(b[n]))
		}
	}
	return nil
}
