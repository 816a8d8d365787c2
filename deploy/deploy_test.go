package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const chart = "helm/artifactapi"

// render is one way the repository deploys artifactapi, and what a
// platform engineer may rely on in its output.
type render struct {
	name string
	// args of helm template (after the release name and chart) or, with
	// overlay set, the kustomize directory.
	values  []string
	overlay string
	// embedded: metadata and blobs in DATA_DIR on a PersistentVolumeClaim.
	embedded bool
	// secrets the render itself creates (a development overlay only).
	secrets []string
	// ingressTLS: an Ingress is rendered, with TLS.
	ingress, ingressTLS bool
	// backendPorts the app's NetworkPolicy must open.
	backendPorts []int
	// kinds that must be present besides Deployment, Service, PDB, NetworkPolicy.
	kinds []string
}

var renders = []render{
	{name: "chart default values", embedded: true,
		kinds: []string{"PersistentVolumeClaim", "ConfigMap", "ServiceAccount"}},
	{name: "chart external backends", values: []string{"ci/external-values.yaml"},
		ingress: true, ingressTLS: true, backendPorts: []int{5432, 6379, 443},
		kinds: []string{"Job", "HorizontalPodAutoscaler", "ServiceMonitor", "PrometheusRule", "Ingress"}},
	{name: "chart minimal values", values: []string{"ci/minimal-values.yaml"},
		backendPorts: []int{5432, 6379, 9000}, kinds: []string{"Job", "ConfigMap"}},
	{name: "kustomize overlays/dev", overlay: "k8s/overlays/dev", secrets: []string{"artifactapi-secret"},
		ingress: true, backendPorts: []int{5432, 6379, 9000}, kinds: []string{"Namespace", "ConfigMap"}},
	{name: "kustomize overlays/prod", overlay: "k8s/overlays/prod",
		ingress: true, ingressTLS: true, backendPorts: []int{5432, 6379, 9000},
		kinds: []string{"Namespace", "HorizontalPodAutoscaler", "Ingress"}},
}

// TestHelmLint: helm lint --strict passes with the default values and with
// every values file under ci/.
func TestHelmLint(t *testing.T) {
	helm := tool(t, "helm", helmModule)
	files, err := filepath.Glob(filepath.Join(chart, "ci", "*.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("want ci/*-values.yaml files in the chart, got %v (%v)", files, err)
	}
	cases := [][]string{{"lint", "--strict", chart}}
	for _, f := range files {
		cases = append(cases, []string{"lint", "--strict", chart, "-f", f})
	}
	for _, args := range cases {
		if out, err := run(helm, args...); err != nil {
			t.Errorf("%v\n%s", err, out)
		}
	}
}

// TestRenders renders the chart with each values file and both Kustomize
// overlays, decodes every object strictly as its Kubernetes type (unknown
// fields fail), and checks it as a cluster enforcing the "restricted" Pod
// Security profile, and an operator, would.
func TestRenders(t *testing.T) {
	helm := tool(t, "helm", helmModule)
	kustomize := tool(t, "kustomize", kustomizeModule)
	kubevalidate := validator(t)
	for _, r := range renders {
		t.Run(r.name, func(t *testing.T) {
			var out []byte
			var err error
			if r.overlay != "" {
				out, err = run(kustomize, "build", r.overlay)
			} else {
				args := []string{"template", "artifactapi", chart, "--namespace", "artifact-storage"}
				for _, v := range r.values {
					args = append(args, "-f", filepath.Join(chart, v))
				}
				out, err = run(helm, args...)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Run("strict schema", func(t *testing.T) { validate(t, kubevalidate, out) })
			objs := parseObjects(t, out)
			checks := []struct {
				name  string
				check func(*testing.T, render, []object)
			}{
				{"kinds", checkKinds},
				{"restricted pod security", checkRestricted},
				{"images pinned", checkImages},
				{"credentials from existing secrets", checkCredentials},
				{"app probes and drain", checkAppPod},
				{"spool and ephemeral storage", checkStorage},
				{"pod disruption budget", checkPDB},
				{"network policies", checkNetworkPolicies},
				{"ingress streams with tls", checkIngress},
				{"autoscaler owns replicas", checkHPA},
			}
			for _, c := range checks {
				t.Run(c.name, func(t *testing.T) { c.check(t, r, objs) })
			}
		})
	}
}

// TestChartRefuses: values that would deploy something broken or unsafe
// stop helm template with a message naming the value to fix.
func TestChartRefuses(t *testing.T) {
	helm := tool(t, "helm", helmModule)
	external := []string{"--set", "postgresql.host=pg", "--set", "postgresql.existingSecret=pg",
		"--set", "redis.existingSecret=redis", "--set", "s3.endpoint=s3:9000", "--set", "s3.existingSecret=s3"}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no admin token secret", []string{"--set", "adminToken.existingSecret="}, "adminToken.existingSecret"},
		{"image tag latest", []string{"--set", "image.tag=latest"}, "never latest"},
		{"malformed digest", []string{"--set", "image.digest=sha256:abc"}, "image.digest"},
		{"two replicas on embedded storage", []string{"--set", "replicaCount=2"}, "external PostgreSQL, Redis and S3"},
		{"autoscaling without redis", []string{"--set", "postgresql.host=pg", "--set", "postgresql.existingSecret=pg",
			"--set", "s3.endpoint=s3:9000", "--set", "s3.existingSecret=s3", "--set", "autoscaling.enabled=true"}, "external PostgreSQL, Redis and S3"},
		{"postgresql without a secret", []string{"--set", "postgresql.host=pg"}, "postgresql.existingSecret"},
		{"s3 without a secret", []string{"--set", "s3.endpoint=s3:9000"}, "s3.existingSecret"},
		{"a credential as plain env", append(append([]string{}, external...), "--set", "env.DBPASS=hunter2"), "env.DBPASS"},
		{"remotes from two sources", []string{"--set", "remotes.existingConfigMap=a", "--set", "remotes.existingSecret=b"}, "not both"},
		{"spool size in bytes", append(append([]string{}, external...), "--set", "spool.size=1000000"), "Mi, Gi or Ti"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"template", "artifactapi", chart}, c.args...)
			_, err := run(helm, args...)
			if err == nil {
				t.Fatalf("helm template %v rendered; want it refused", c.args)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("refused without naming %q:\n%v", c.want, err)
			}
		})
	}
}

// TestChartFileCopies: the chart embeds the alert rules and the dashboard
// from copies inside its own directory (helm reads nothing outside it);
// each copy parses, and is identical to the file of record under deploy/.
func TestChartFileCopies(t *testing.T) {
	cases := []struct {
		name, copy, source string
	}{
		{"prometheus rules", "helm/artifactapi/files/prometheus-rules.yaml", "prometheus/rules.yaml"},
		{"grafana dashboard", "helm/artifactapi/files/grafana-dashboard.json", "grafana/artifactapi.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := os.ReadFile(c.copy)
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := yaml.Unmarshal(b, &doc); err != nil || len(doc) == 0 {
				t.Fatalf("%s does not parse: %v", c.copy, err)
			}
			src, err := os.ReadFile(c.source)
			if os.IsNotExist(err) {
				t.Logf("%s does not exist: only the chart's copy is checked", c.source)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(stripHeader(b), stripHeader(src)) {
				t.Fatalf("%s differs from %s: copy it (cp deploy/%s deploy/%s)", c.copy, c.source, c.source, c.copy)
			}
		})
	}
}

// stripHeader drops leading comment lines, so the chart's copy may say
// where it comes from.
func stripHeader(b []byte) []byte {
	lines := strings.Split(string(b), "\n")
	for len(lines) > 0 && strings.HasPrefix(lines[0], "#") {
		lines = lines[1:]
	}
	return []byte(strings.Join(lines, "\n"))
}
