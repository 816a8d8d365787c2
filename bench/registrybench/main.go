// Command registrybench measures the Docker registry mirror (issue 3):
// `skopeo copy` of an image with one large layer directly from a CNCF
// docker-registry, and through artifactapi cold and warm; the upstream
// requests of a cold pull (counted by a proxy in front of the registry); and
// N concurrent cold pulls of the same image, whose upstream blob GETs must
// be one per blob. It prints a Markdown table. bench/registry.sh runs it on
// the embedded backends and, with the services of `make bench`, on
// PostgreSQL + Redis + MinIO (the app's environment is passed through).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"artifactapi/app"
	"artifactapi/app/config"
	"artifactapi/app/metrics"
	"artifactapi/app/registry/registrytest"
)

func main() {
	layer := flag.Int("layer-mib", 200, "size of the image's layer in MiB")
	runs := flag.Int("runs", 3, "runs of each sequential measurement (the median is shown)")
	conc := flag.Int("concurrency", 10, "concurrent cold pulls")
	label := flag.String("backend", "embedded", "label of the backends (the app reads DBHOST, REDIS_URL, MINIO_* from the environment)")
	flag.Parse()
	if err := run(*layer, *runs, *conc, *label); err != nil {
		fmt.Fprintln(os.Stderr, "registrybench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[registrybench %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run(layerMiB, runs, conc int, label string) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "registrybench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	reg, err := registrytest.StartRegistry(ctx, registrytest.RegistryOptions{Dir: filepath.Join(work, "registry")})
	if err != nil {
		return err
	}
	defer reg.Stop()
	proxy, err := registrytest.NewProxy(reg.URL, nil)
	if err != nil {
		return err
	}
	defer proxy.Close()
	logf("building an image with a %d MiB layer", layerMiB)
	img, err := registrytest.NewImage("linux/amd64", []int{layerMiB << 20}, true)
	if err != nil {
		return err
	}
	if err := (&registrytest.Pusher{Base: reg.URL}).PushImage(ctx, "bench/big", "v1", img); err != nil {
		return err
	}
	blobs := 1 + len(img.Layers)
	layerPath := "/blobs/" + img.Layers[0].Digest
	size := len(img.Config.Data) + len(img.Manifest.Data)
	for _, l := range img.Layers {
		size += len(l.Data)
	}
	img = nil // free the layer: skopeo reads it from the registries

	stop, host, a, err := startApp(work, proxy.URL, runs)
	if err != nil {
		return err
	}
	defer stop()

	pullOnce := func(h, ref string) (time.Duration, error) {
		dir, err := os.MkdirTemp(work, "pull-")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(dir)
		start := time.Now()
		_, err = registrytest.Copy(ctx, "docker://"+h+"/"+ref, "dir:"+dir)
		return time.Since(start), err
	}
	var direct, cold, warm []time.Duration
	logf("cold pulls through artifactapi (%s)", label)
	type counts struct{ manifest, blobGet, blobHead, total int }
	var perCold []counts
	for i := range runs {
		proxy.Reset()
		d, err := pullOnce(host, fmt.Sprintf("cold-%d/bench/big:v1", i+1))
		if err != nil {
			return err
		}
		cold = append(cold, d)
		perCold = append(perCold, counts{proxy.Count("", "manifest"), proxy.Count(http.MethodGet, "blob"), proxy.Count(http.MethodHead, "blob"), proxy.Total()})
	}
	// Direct and warm pulls alternate, so that both see about the same
	// machine (other processes come and go on a shared one); the ratio of
	// each pair is reported too.
	logf("direct pulls from docker-registry, alternating with warm pulls through artifactapi")
	proxy.Reset()
	calls := func() [3]uint64 {
		m := a.Metrics
		return [3]uint64{m.MetadataQueries.Count(metrics.PhaseRequest), m.CoordCommands.Count(metrics.PhaseRequest), m.BlobRequests.Count(metrics.PhaseRequest)}
	}
	calls0 := calls()
	var ratios []float64
	for range runs {
		d, err := pullOnce(reg.Addr, "bench/big:v1")
		if err != nil {
			return err
		}
		direct = append(direct, d)
		w, err := pullOnce(host, "cold-1/bench/big:v1")
		if err != nil {
			return err
		}
		warm = append(warm, w)
		ratios = append(ratios, w.Seconds()/d.Seconds())
	}
	warmUpstream := proxy.Total()
	calls1 := calls()
	// The server side alone: the layer fetched with a plain HTTP GET to
	// io.Discard, without skopeo's hashing and disk writes competing for CPU.
	var rawDirect, rawWarm []time.Duration
	for range runs {
		d, err := timedGet(reg.URL + "/v2/bench/big" + layerPath)
		if err != nil {
			return err
		}
		rawDirect = append(rawDirect, d)
		if d, err = timedGet("http://" + host + "/v2/cold-1/bench/big" + layerPath); err != nil {
			return err
		}
		rawWarm = append(rawWarm, d)
	}
	logf("%d concurrent cold pulls", conc)
	proxy.Reset()
	var wg sync.WaitGroup
	errs := make([]error, conc)
	start := time.Now()
	for i := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = pullOnce(host, "conc/bench/big:v1")
		}()
	}
	wg.Wait()
	concWall := time.Since(start)
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	concBlobGets, concManifests := proxy.Count(http.MethodGet, "blob"), proxy.Count("", "manifest")

	mib := float64(size) / (1 << 20)
	rate := func(d time.Duration) string {
		return fmt.Sprintf("%.2f s (%.0f MiB/s)", d.Seconds(), mib/d.Seconds())
	}
	c := perCold[0]
	oneGet := c.blobGet == blobs && c.blobHead == 0
	for _, pc := range perCold {
		oneGet = oneGet && pc == c
	}
	fmt.Printf("\n### Registry mirror, %d MiB image (%d blobs), artifactapi on %s\n\n", int(mib), blobs, label)
	fmt.Println("| measurement | result | target |")
	fmt.Println("|---|---|---|")
	fmt.Printf("| skopeo copy directly from docker-registry (median of %d) | %s | |\n", runs, rate(median(direct)))
	fmt.Printf("| through artifactapi, cold (median of %d) | %s | |\n", runs, rate(median(cold)))
	fmt.Printf("| through artifactapi, warm (median of %d, each run right after a direct one) | %s | |\n", runs, rate(median(warm)))
	pairs := make([]string, len(ratios))
	for i, r := range ratios {
		pairs[i] = fmt.Sprintf("%.2f", r)
	}
	fmt.Printf("| warm / direct, each pair (median) | %s (%.2f) | %s |\n", strings.Join(pairs, " / "), medianf(ratios),
		verdict(medianf(ratios) <= 1.0, "≤ 1.0"))
	fmt.Printf("| layer GET over HTTP, directly from docker-registry (median of %d) | %s | |\n", runs, rate(median(rawDirect)))
	fmt.Printf("| layer GET over HTTP, warm through artifactapi (median of %d) | %s | informational (the registry uses sendfile) |\n",
		runs, rate(median(rawWarm)))
	fmt.Printf("| upstream requests per cold pull | %d (manifest %d, blob GET %d, blob HEAD %d) | %s |\n",
		c.total, c.manifest, c.blobGet, c.blobHead, verdict(oneGet, "one GET per blob, no other blob request"))
	fmt.Printf("| upstream requests per warm pull | %d | %s |\n", warmUpstream/runs, verdict(warmUpstream == 0, "none"))
	fmt.Printf("| PostgreSQL statements / Redis commands / S3 requests per warm pull (%d requests: ping, manifest, 2 blobs) | %.1f / %.1f / %.1f | informational (0 / 0 / 0 on the embedded backends, which count none) |\n",
		4, float64(calls1[0]-calls0[0])/float64(runs), float64(calls1[1]-calls0[1])/float64(runs), float64(calls1[2]-calls0[2])/float64(runs))
	fmt.Printf("| %d concurrent cold pulls | wall %.2f s; upstream blob GETs %d, manifest requests %d | %s |\n",
		conc, concWall.Seconds(), concBlobGets, concManifests, verdict(concBlobGets == blobs, fmt.Sprintf("%d blob GETs", blobs)))
	if !oneGet || concBlobGets != blobs {
		return fmt.Errorf("a blob was requested upstream more than once")
	}
	return nil
}

// medianf is the median of xs.
func medianf(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// timedGet downloads u to io.Discard and returns how long it took.
func timedGet(u string) (time.Duration, error) {
	start := time.Now()
	resp, err := http.Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func verdict(ok bool, target string) string {
	if ok {
		return "met: " + target
	}
	return "**missed**: " + target
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// startApp runs artifactapi in this process with one docker remote per cold
// run ("cold-N", a fresh cache each) and one for the concurrent pulls.
func startApp(work, upstreamURL string, runs int) (stop func(), host string, a *app.App, err error) {
	var remotes strings.Builder
	remotes.WriteString("remotes:\n")
	names := []string{"conc"}
	for i := range runs {
		names = append(names, fmt.Sprintf("cold-%d", i+1))
	}
	for _, n := range names {
		fmt.Fprintf(&remotes, "  %s:\n    base_url: %q\n    package: docker\n", n, upstreamURL)
	}
	dataDir := filepath.Join(work, "data")
	remotesPath := filepath.Join(work, "remotes.yaml")
	if err := os.WriteFile(remotesPath, []byte(remotes.String()), 0o600); err != nil {
		return nil, "", nil, err
	}
	env := map[string]string{"DATA_DIR": dataDir, "REMOTES_CONFIG": remotesPath, "ADMIN_TOKEN": "registrybench-admin-token-0123456789abcdef"}
	e, err := config.LoadEnv(func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k)
	})
	if err != nil {
		return nil, "", nil, err
	}
	f, err := config.LoadRemotesFile(remotesPath)
	if err != nil {
		return nil, "", nil, err
	}
	cfg := &config.Config{Env: e, Remotes: f}
	ctx, cancel := context.WithCancel(context.Background())
	a, err = app.New(ctx, cfg, app.NewLogger(io.Discard, "text", "error", cfg.Secrets()))
	if err != nil {
		cancel()
		return nil, "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		return nil, "", nil, err
	}
	done := make(chan struct{})
	go func() { _ = a.Serve(ctx, ln); close(done) }()
	return func() { cancel(); <-done }, ln.Addr().String(), a, nil
}
