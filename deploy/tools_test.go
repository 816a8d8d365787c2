package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The renderers, built from the Go module proxy at pinned versions (their
// dependency trees stay out of go.mod). kustomize v5.8.3 needs Go 1.27.
const (
	helmModule      = "helm.sh/helm/v3/cmd/helm@v3.22.0"
	kustomizeModule = "sigs.k8s.io/kustomize/kustomize/v5@v5.8.2"
)

// tool builds a pinned Go command (name is its binary) into a directory
// kept between runs (go install relinks only when the build changed) and
// returns its path. A tool that cannot be built fails the test: nothing
// here is skipped.
func tool(t *testing.T, name, module string) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "artifactapi-deploy-tools", strings.NewReplacer("/", "_", "@", "_").Replace(module))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", module)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cannot build %s (the Go module proxy must be reachable): %v\n%s", module, err, out)
	}
	return filepath.Join(dir, name)
}

// validator builds testdata/kubevalidate (strict decoding against the
// Kubernetes API types, a module of its own so client-go stays out of
// go.mod) and returns its path.
func validator(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kubevalidate")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join("testdata", "kubevalidate")
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cannot build testdata/kubevalidate (the Go module proxy must be reachable): %v\n%s", err, out)
	}
	return bin
}

// validate runs the validator on a rendered stream; it fails the test on
// any object the API server would reject for its shape.
func validate(t *testing.T, bin string, rendered []byte) {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Stdin = bytes.NewReader(rendered)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rendered objects do not decode strictly as Kubernetes types: %v\n%s", err, out)
	}
}

// run executes a renderer and returns its standard output; a non-zero exit
// is returned as an error carrying standard error.
func run(bin string, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// object is one rendered Kubernetes object.
type object map[string]any

func (o object) kind() string { return str(o, "kind") }
func (o object) name() string { return str(o, "metadata", "name") }
func (o object) String() string {
	return o.kind() + "/" + o.name()
}

// parseObjects splits a multi-document YAML stream into objects.
func parseObjects(t *testing.T, b []byte) []object {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var objs []object
	for {
		var o map[string]any
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("rendered YAML does not parse: %v", err)
		}
		if o == nil {
			continue
		}
		if o["kind"] == nil || o["apiVersion"] == nil {
			t.Fatalf("rendered document without kind or apiVersion: %v", o)
		}
		objs = append(objs, o)
	}
	if len(objs) == 0 {
		t.Fatal("nothing rendered")
	}
	return objs
}

// dig follows map keys; nil when a step is missing.
func dig(v any, path ...string) any {
	if o, ok := v.(object); ok {
		v = map[string]any(o)
	}
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func str(v any, path ...string) string {
	s, _ := dig(v, path...).(string)
	return s
}

func list(v any, path ...string) []any {
	l, _ := dig(v, path...).([]any)
	return l
}

func mapping(v any, path ...string) map[string]any {
	m, _ := dig(v, path...).(map[string]any)
	return m
}

// boolean reports whether the value at path is YAML true (unset: false).
func boolean(v any, path ...string) bool {
	b, _ := dig(v, path...).(bool)
	return b
}

// number reads an integer or a numeric string; ok is false when unset.
func number(v any, path ...string) (int, bool) {
	switch n := dig(v, path...).(type) {
	case int:
		return n, true
	case string:
		i, err := strconv.Atoi(n)
		return i, err == nil
	}
	return 0, false
}

// quantity parses a Kubernetes quantity (10Gi, 512Mi, 1G, 1500) into bytes.
func quantity(s string) (float64, error) {
	units := []struct {
		suffix string
		factor float64
	}{
		{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
		{"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
	}
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			f, err := strconv.ParseFloat(strings.TrimSuffix(s, u.suffix), 64)
			return f * u.factor, err
		}
	}
	return strconv.ParseFloat(s, 64)
}
