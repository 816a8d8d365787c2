package app

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"artifactapi/app/config"
	"artifactapi/db"
)

// storageEvery bounds how often a scrape recounts the bytes stored per
// remote: one aggregate query per remote, shared by every scrape meanwhile.
const storageEvery = time.Minute

var (
	backendUpDesc = prometheus.NewDesc("artifactapi_backend_up",
		"1 while the component's backend answers its health check (the one /health and /ready run), 0 while it fails.",
		[]string{"component", "backend"}, nil)
	storageBytesDesc = prometheus.NewDesc("artifactapi_storage_bytes",
		"Bytes stored for the remote, as its cache.max_size counts them: artifacts, or a local registry's pushed blobs (recounted at most every minute).", []string{"remote"}, nil)
	storageArtifactsDesc = prometheus.NewDesc("artifactapi_storage_artifacts",
		"Artifacts stored for the remote (recounted at most every minute).", []string{"remote"}, nil)
	quotaDesc = prometheus.NewDesc("artifactapi_storage_quota_bytes",
		"The remote's cache.max_size; absent when it has none.", []string{"remote"}, nil)
	configDesc = prometheus.NewDesc("artifactapi_config_info",
		"Always 1; hash identifies the remotes configuration this replica runs: replicas of one deployment showing different hashes disagree.",
		[]string{"hash"}, nil)
	buildDesc = prometheus.NewDesc("artifactapi_build_info",
		"Always 1; the version and Go version of this replica.", []string{"version", "goversion"}, nil)
)

// opsCollector computes at scrape time what no request path counts: the
// backends' health, the bytes stored against each quota and the identity of
// the running configuration.
type opsCollector struct {
	a *App

	mu      sync.Mutex
	counted time.Time
	totals  map[string]db.Totals
}

// Describe implements prometheus.Collector.
func (c *opsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{backendUpDesc, storageBytesDesc, storageArtifactsDesc, quotaDesc, configDesc, buildDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *opsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), healthTimeout+time.Second)
	defer cancel()
	cfg := c.a.Config()
	kinds := backendKinds(cfg.Env)
	for name, comp := range c.a.Health(ctx) {
		up := 0.0
		if comp.OK {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(backendUpDesc, prometheus.GaugeValue, up, name, kinds[name])
	}
	ch <- prometheus.MustNewConstMetric(configDesc, prometheus.GaugeValue, 1, configHash(cfg))
	ch <- prometheus.MustNewConstMetric(buildDesc, prometheus.GaugeValue, 1, Version, runtime.Version())
	for name, t := range c.storage(ctx, cfg) {
		ch <- prometheus.MustNewConstMetric(storageBytesDesc, prometheus.GaugeValue, float64(t.Bytes), name)
		ch <- prometheus.MustNewConstMetric(storageArtifactsDesc, prometheus.GaugeValue, float64(t.Count), name)
	}
	for _, name := range cfg.Remotes.Names() {
		if q := cfg.Remotes.Remotes[name].MaxSizeBytes(); q > 0 {
			ch <- prometheus.MustNewConstMetric(quotaDesc, prometheus.GaugeValue, float64(q), name)
		}
	}
}

// storage returns the per-remote totals, recounted at most every
// storageEvery. A remote whose count fails keeps its last value.
func (c *opsCollector) storage(ctx context.Context, cfg *config.Config) map[string]db.Totals {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.totals == nil || time.Since(c.counted) >= storageEvery {
		next := make(map[string]db.Totals, len(cfg.Remotes.Remotes))
		for _, name := range cfg.Remotes.Names() {
			t, err := c.a.Meta.Totals(ctx, name, "")
			if r := cfg.Remotes.Remotes[name]; err == nil && c.a.Local != nil && r.IsLocal() && r.Package == config.PackageDocker {
				// A local registry's bytes are its pushed blobs (what its quota counts).
				t.Bytes, err = c.a.Local.Usage(ctx, name)
			}
			if err != nil {
				if old, ok := c.totals[name]; ok {
					next[name] = old
				}
				continue
			}
			next[name] = t
		}
		c.totals, c.counted = next, time.Now()
	}
	return c.totals
}

// backendKinds names the implementation behind each health component.
func backendKinds(e config.Env) map[string]string {
	k := map[string]string{"metadata": "sqlite", "blobs": "filesystem", "coordination": "in-process", "disk": "filesystem"}
	if e.DatabaseURL != "" {
		k["metadata"] = "postgres"
	}
	if e.MinIOEndpoint != "" {
		k["blobs"] = "s3"
	}
	if e.RedisURL != "" {
		k["coordination"] = "redis"
	}
	return k
}

// configHash identifies the effective remotes configuration (secrets
// redacted, so the label never derives from one): two replicas with the
// same remotes file show the same hash.
func configHash(cfg *config.Config) string {
	red := cfg.Redacted(nil)
	b, _ := json.Marshal([]any{red["remotes"], red["default_docker_remote"]})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// requireMetricsToken guards /metrics with METRICS_TOKEN when it is set
// (Bearer, compared in constant time); without it /metrics stays public.
func (a *App) requireMetricsToken(c *fiber.Ctx) error {
	want := a.Config().Env.MetricsToken
	if want == "" {
		return c.Next()
	}
	got, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(want)) != 1 {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="metrics"`)
		return c.Status(fiber.StatusUnauthorized).JSON(fiber.Map{"error": "/metrics needs Authorization: Bearer <METRICS_TOKEN>"})
	}
	return c.Next()
}
