package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"artifactapi/app/apptest"
	"artifactapi/app/registry/registrytest"
	"artifactapi/app/testenv"
)

const (
	dashboardFile = "../deploy/grafana/artifactapi.json"
	rulesFile     = "../deploy/prometheus/rules.yaml"
	rulesTestFile = "../deploy/prometheus/rules_test.yaml"
	// promtoolModule is the pinned promtool the rules are checked with.
	promtoolModule = "github.com/prometheus/prometheus/cmd/promtool@v0.316.0"
)

var metricName = regexp.MustCompile(`\bartifactapi_[a-zA-Z0-9_]+`)

// dashboardQueries returns every PromQL expression of the Grafana dashboard:
// panel targets and template variable queries.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, c := range v {
				if s, ok := c.(string); ok && (k == "expr" || k == "definition" || k == "query") {
					out = append(out, s)
				}
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(doc)
	return out
}

// ruleQueries returns the expression of every alerting and recording rule.
func ruleQueries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Rules []struct {
				Alert, Record, Expr string
			}
		}
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	var out []string
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			out = append(out, r.Expr)
		}
	}
	return out
}

// metricNames extracts the artifactapi_* series names queried by exprs.
func metricNames(exprs []string) []string {
	set := map[string]bool{}
	for _, e := range exprs {
		for _, m := range metricName.FindAllString(e, -1) {
			set[m] = true
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// exposed returns the sample names of a Prometheus text exposition.
func exposed(body []byte) map[string]bool {
	out := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			out[line[:i]] = true
		}
	}
	return out
}

// TestDashboardAndRulesMetricsExist: every series the Grafana dashboard
// and the alert rules query is exported by a live production-mode instance
// after ordinary traffic (a miss, a hit, an upstream failure, a batch job,
// a remote with a quota), so no panel stays empty and no alert can never
// fire for want of its series. /metrics answers only with METRICS_TOKEN.
func TestDashboardAndRulesMetricsExist(t *testing.T) {
	queried := metricNames(append(dashboardQueries(t), ruleQueries(t)...))
	if len(queried) < 15 {
		t.Fatalf("only %d metric names found in the dashboard and rules: %v", len(queried), queried)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/broken.bin"):
			http.Error(w, "upstream trouble", http.StatusInternalServerError)
		default:
			_, _ = w.Write([]byte("artifact " + r.URL.Path))
		}
	}))
	defer up.Close()
	const metricsToken = "metrics-token-0123456789abcdef"
	b := apptest.NewBackends(t, apptest.Production)
	in := apptest.Start(t, b, apptest.Options{
		Env: map[string]string{"METRICS_TOKEN": metricsToken, "STATS_FLUSH_INTERVAL": "100ms"},
		Remotes: fmt.Sprintf(`remotes:
  files:
    base_url: %s
    cache:
      max_size: 10MiB
  images:
    type: local
    package: docker
    cache:
      max_size: 20MiB
`, up.URL),
	})
	img, err := registrytest.NewImage("linux/amd64", []int{4096}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := (&registrytest.Pusher{Base: in.URL, User: "admin", Pass: apptest.AdminToken}).PushImage(context.Background(), "images/team/app", "v1", img); err != nil {
		t.Fatal(err)
	}
	pushed := int64(len(img.Config.Data) + len(img.Layers[0].Data) + len(img.Manifest.Data))
	for _, p := range []string{"a/one.bin", "a/one.bin", "a/two.bin", "a/broken.bin"} {
		in.Get(t, "/api/files/"+p, nil)
	}
	id := submitJob(t, in, `{"remote": "files", "paths": ["b/three.bin", "b/four.bin"]}`)
	testenv.Eventually(t, 30*time.Second, "the job finishes", func() bool {
		return getJobView(t, in, id).State == "done"
	})

	st, _, _ := in.Get(t, "/metrics", nil)
	if st != http.StatusUnauthorized {
		t.Fatalf("/metrics without METRICS_TOKEN = %d, want 401", st)
	}
	st, _, _ = in.Get(t, "/metrics", map[string]string{"Authorization": "Bearer wrong-token-0123456789"})
	if st != http.StatusUnauthorized {
		t.Fatalf("/metrics with a wrong token = %d, want 401", st)
	}
	// Shared upstream state reaches /metrics after a stats flush: wait for
	// every name, and say which never came.
	var body []byte
	var missing []string
	defer func() {
		if len(missing) > 0 {
			t.Errorf("queried by %s or %s but absent from /metrics: %s", dashboardFile, rulesFile, strings.Join(missing, ", "))
		}
	}()
	testenv.Eventually(t, 20*time.Second, "every series the dashboard and the rules query", func() bool {
		st, _, body = in.Get(t, "/metrics", map[string]string{"Authorization": "Bearer " + metricsToken})
		have := exposed(body)
		missing = missing[:0]
		for _, n := range queried {
			if !have[n] {
				missing = append(missing, n)
			}
		}
		// The last item is counted just after the job shows done.
		counted := strings.Contains(string(body), `artifactapi_job_items_total{remote="files",state="cached"} 2`)
		return st == http.StatusOK && len(missing) == 0 && counted
	})
	for _, want := range []string{`artifactapi_backend_up{backend="postgres",component="metadata"} 1`,
		`artifactapi_backend_up{backend="s3",component="blobs"} 1`, `artifactapi_backend_up{backend="redis",component="coordination"} 1`,
		`artifactapi_storage_quota_bytes{remote="files"} 1.048576e+07`, `artifactapi_job_items_total{remote="files",state="cached"} 2`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// A local registry's storage is its pushed blobs, as its quota counts them.
	if want := fmt.Sprintf(`artifactapi_storage_bytes{remote="images"} %d`+"\n", pushed); !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %q:\n%s", want, regexp.MustCompile(`(?m)^artifactapi_storage_.*$`).FindAllString(string(body), -1))
	}
	if strings.Contains(in.Logs.String(), metricsToken) {
		t.Error("METRICS_TOKEN appears in the logs")
	}
}

// promtool returns the pinned promtool, building it with `go install` when
// it is not installed yet. It fails (never skips) when it cannot.
func promtool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	gobin := os.Getenv("GOBIN")
	if gobin == "" {
		out, err := exec.Command("go", "env", "GOPATH").Output()
		if err != nil {
			t.Fatalf("go env GOPATH: %v", err)
		}
		gobin = filepath.Join(strings.TrimSpace(string(out)), "bin")
	}
	p := filepath.Join(gobin, "promtool")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	t.Logf("building %s (a few minutes the first time)", promtoolModule)
	cmd := exec.Command("go", "install", promtoolModule)
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool is required to check %s: go install %s: %v\n%s", rulesFile, promtoolModule, err, out)
	}
	return p
}

// TestPrometheusRulesCheck: the alert rules pass `promtool check rules`,
// and their unit tests (deploy/prometheus/rules_test.yaml: each alert fires
// on the series it is about, and not on healthy ones) pass.
func TestPrometheusRulesCheck(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{{"check", "rules", rulesFile}, {"test", "rules", rulesTestFile}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if !strings.Contains(string(out), "SUCCESS") {
			t.Fatalf("promtool %s: %s", strings.Join(args, " "), out)
		}
	}
}
