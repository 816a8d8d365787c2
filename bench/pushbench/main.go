// Command pushbench measures pushing and pulling an image with one large
// layer into and from a local docker repository of artifactapi, against
// Debian's docker-registry on the same machine, with skopeo as the client;
// then the peak RSS of artifactapi during concurrent pushes. It starts the
// artifactapi binary given by -bin, which reads its backends (DBHOST,
// REDIS_URL, MINIO_*) from the environment. Prints a Markdown table.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"artifactapi/app/registry/registrytest"
)

const token = "pushbench-admin-token-0123456789abcdef"

func main() {
	layer := flag.Int("layer-mib", 200, "size of the image's layer in MiB")
	runs := flag.Int("runs", 3, "runs of each measurement (the median is shown)")
	conc := flag.Int("concurrency", 10, "concurrent pushes for the memory measurement")
	bin := flag.String("bin", "", "the artifactapi binary")
	label := flag.String("backend", "embedded", "label of the backends")
	flag.Parse()
	if err := run(*bin, *layer, *runs, *conc, *label); err != nil {
		fmt.Fprintln(os.Stderr, "pushbench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[pushbench %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func run(bin string, layerMiB, runs, conc int, label string) error {
	ctx := context.Background()
	work, err := os.MkdirTemp("", "pushbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	// Images are seeded in a registry of their own: skopeo's blob-info
	// cache then knows no copy of a layer on the registries measured, and
	// every push uploads its layer instead of mounting it.
	seed, err := registrytest.StartRegistry(ctx, registrytest.RegistryOptions{Dir: filepath.Join(work, "seed")})
	if err != nil {
		return err
	}
	defer seed.Stop()
	reg, err := registrytest.StartRegistry(ctx, registrytest.RegistryOptions{Dir: filepath.Join(work, "registry")})
	if err != nil {
		return err
	}
	defer reg.Stop()
	// image writes a new image (new random layer) to a directory.
	image := func(i int) (string, map[string][]byte, error) {
		logf("building image %d with a %d MiB layer", i, layerMiB)
		img, err := registrytest.NewImage("linux/amd64", []int{layerMiB << 20}, true)
		if err != nil {
			return "", nil, err
		}
		if err := (&registrytest.Pusher{Base: seed.URL}).PushImage(ctx, fmt.Sprintf("seed/big%d", i), "v1", img); err != nil {
			return "", nil, err
		}
		dir := filepath.Join(work, fmt.Sprintf("src%d", i))
		if _, err := registrytest.Copy(ctx, fmt.Sprintf("docker://%s/seed/big%d:v1", seed.Addr, i), "dir:"+dir); err != nil {
			return "", nil, err
		}
		files, err := registrytest.DirFiles(dir)
		return dir, files, err
	}
	app, err := startApp(ctx, bin, work)
	if err != nil {
		return err
	}
	defer app.stop()

	var src string
	var want map[string][]byte
	push := func(host, repo string, creds bool) (time.Duration, error) {
		flags := []string{"--dest-tls-verify=false"}
		if creds {
			flags = append(flags, "--dest-creds", "admin:"+token)
		}
		start := time.Now()
		_, err := registrytest.Copy(ctx, "dir:"+src, "docker://"+host+"/"+repo+":v1", flags...)
		return time.Since(start), err
	}
	pull := func(host, repo string) (time.Duration, error) {
		dir, err := os.MkdirTemp(work, "pull-")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(dir)
		start := time.Now()
		if _, err := registrytest.Copy(ctx, "docker://"+host+"/"+repo+":v1", "dir:"+dir); err != nil {
			return 0, err
		}
		d := time.Since(start)
		got, err := registrytest.DirFiles(dir)
		if err != nil {
			return 0, err
		}
		return d, registrytest.SameFiles(want, got)
	}
	var pushReg, pushApp, pullReg, pullApp []time.Duration
	for i := range runs {
		if src, want, err = image(i); err != nil {
			return err
		}
		repo := fmt.Sprintf("run-%d/big", i)
		logf("run %d: push and pull, docker-registry then artifactapi", i+1)
		for _, step := range []struct {
			into *[]time.Duration
			do   func() (time.Duration, error)
		}{
			{&pushReg, func() (time.Duration, error) { return push(reg.Addr, repo, false) }},
			{&pushApp, func() (time.Duration, error) { return push(app.addr, "local/"+repo, true) }},
			{&pullReg, func() (time.Duration, error) { return pull(reg.Addr, repo) }},
			{&pullApp, func() (time.Duration, error) { return pull(app.addr, "local/"+repo) }},
		} {
			d, err := step.do()
			if err != nil {
				return err
			}
			*step.into = append(*step.into, d)
		}
	}
	logf("%d concurrent pushes of a new image into artifactapi", conc)
	if src, want, err = image(runs); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, conc)
	concStart := time.Now()
	for j := range conc {
		wg.Go(func() { _, errs[j] = push(app.addr, fmt.Sprintf("local/conc-%d/big", j), true) })
	}
	wg.Wait()
	concTime := time.Since(concStart)
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	peak, err := app.peakRSS()
	if err != nil {
		return err
	}

	ratio := func(a, b []time.Duration) string {
		return fmt.Sprintf("%.2f×", median(a).Seconds()/median(b).Seconds())
	}
	fmt.Printf("\n### Local docker repository, %s (%d MiB layer, median of %d, skopeo)\n\n", label, layerMiB, runs)
	fmt.Println("| measure | docker-registry | artifactapi | ratio |")
	fmt.Println("|---|---|---|---|")
	fmt.Printf("| push | %s | %s | %s |\n", median(pushReg).Round(time.Millisecond), median(pushApp).Round(time.Millisecond), ratio(pushApp, pushReg))
	fmt.Printf("| pull | %s | %s | %s |\n", median(pullReg).Round(time.Millisecond), median(pullApp).Round(time.Millisecond), ratio(pullApp, pullReg))
	fmt.Printf("| %d concurrent pushes | — | %s | peak RSS %d MiB |\n", conc, concTime.Round(time.Millisecond), peak>>20)
	fmt.Printf("\npushes %v / %v; pulls %v / %v (every pull byte-identical to the pushed image)\n", pushReg, pushApp, pullReg, pullApp)
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

type appProc struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

func (a *appProc) stop() {
	_ = a.cmd.Process.Signal(os.Interrupt)
	select {
	case <-a.done:
	case <-time.After(30 * time.Second):
		_ = a.cmd.Process.Kill()
		<-a.done
	}
}

// peakRSS reads the process's high-water resident set size.
func (a *appProc) peakRSS() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", a.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", a.cmd.Process.Pid)
}

func startApp(ctx context.Context, bin, work string) (*appProc, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	remotes := filepath.Join(work, "remotes.yaml")
	if err := os.WriteFile(remotes, []byte("remotes:\n  local:\n    type: local\n    package: docker\n"), 0o600); err != nil {
		return nil, err
	}
	a := &appProc{addr: addr, done: make(chan struct{})}
	a.cmd = exec.CommandContext(ctx, bin)
	a.cmd.Env = append(os.Environ(), "LISTEN_ADDR="+addr, "DATA_DIR="+filepath.Join(work, "data"),
		"REMOTES_CONFIG="+remotes, "ADMIN_TOKEN="+token, "LOG_LEVEL=error")
	a.cmd.Stderr = os.Stderr
	if err := a.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = a.cmd.Wait(); close(a.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return a, nil
			}
		}
		select {
		case <-a.done:
			return nil, fmt.Errorf("artifactapi exited during startup")
		case <-time.After(100 * time.Millisecond):
		}
	}
	a.stop()
	return nil, fmt.Errorf("artifactapi not ready after 60s")
}
