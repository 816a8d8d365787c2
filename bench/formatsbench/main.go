// Command formatsbench measures the pypi and npm remotes (issue 13) with
// their real clients: `pip download` of generated wheels from a PEP 503
// index whose links point at a separate files host, and `npm install` of
// generated packages from an npm registry, each directly from the local
// upstream, cold through artifactapi (a remote never used before) and warm
// (the same remote again). The local upstreams are in-memory Go servers,
// the fastest there can be; with -verdaccio, npm install is measured a
// second time with Verdaccio, a real registry, as the upstream. Every
// client run starts with no client cache (pip --no-cache-dir, a fresh npm
// cache with --prefer-online), so the proxy is what is measured. Each
// median comes with a 95% bootstrap interval, and each run with the CPU
// time the servers spent on it. It starts the artifactapi binary given by
// -bin, which reads its backends (DBHOST, REDIS_URL, MINIO_*) from the
// environment, and prints a Markdown table; bench/formats.sh runs it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("bin", "", "the artifactapi binary")
	runs := flag.Int("runs", 3, "runs of each measurement (the median is shown)")
	wheels := flag.Int("wheels", 20, "wheels (distinct projects) for pip download")
	pkgs := flag.Int("packages", 50, "packages for npm install")
	label := flag.String("backend", "embedded", "label of the backends")
	flag.StringVar(&clientCPUs, "client-cpus", "", "taskset CPU list for pip and npm (empty: no pinning); run this command itself on the others so the servers and the clients do not take each other's CPUs")
	verdaccioBin := flag.String("verdaccio", "", "Verdaccio's executable: also measure npm install directly from that real registry and through artifactapi in front of it")
	flag.BoolVar(&hold, "hold", false, "after the runs, print the URLs and keep the upstreams and artifactapi up until interrupted (to inspect by hand)")
	sweepFile := flag.String("sweep", "", "internal: run the request sweeps described in this file and print their times (see compareSweeps)")
	flag.Parse()
	if *sweepFile != "" {
		if err := runSweeps(*sweepFile); err != nil {
			fmt.Fprintln(os.Stderr, "formatsbench -sweep:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*bin, *verdaccioBin, *runs, *wheels, *pkgs, *label); err != nil {
		fmt.Fprintln(os.Stderr, "formatsbench:", err)
		os.Exit(1)
	}
}

// hold keeps everything running after the runs (-hold).
var hold bool

// clientCPUs pins the clients (-client-cpus).
var clientCPUs string

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[formatsbench %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// clientRun is one client command's wall time and the CPU time the client
// itself used (user + system, from its rusage). The difference is the time
// it spent waiting, on the network and the server among the rest: the only
// part of an install a proxy can change.
//
// server is the CPU time the servers (the local upstream and artifactapi)
// used during the run: what the requests cost on the other side.
type clientRun struct{ wall, cpu, server time.Duration }

func (c clientRun) wait() time.Duration { return c.wall - c.cpu }

// measure is one client's figures: the runs, and the requests artifactapi
// made upstream per run.
type measure struct {
	direct, cold, warm         []clientRun
	coldUpstream, warmUpstream []int
	// pairs is each run's warm time over the direct time measured beside
	// it; waitDiffs each run's warm waiting time minus the direct one's.
	pairs     []float64
	waitDiffs []time.Duration
}

func run(bin, verdaccioBin string, runs, nWheels, nPkgs int, label string) error {
	if bin == "" || runs < 1 {
		return fmt.Errorf("-bin is required and -runs must be at least 1")
	}
	ctx := context.Background()
	work, err := os.MkdirTemp("", "formatsbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	pip, err := venvPip(ctx, work)
	if err != nil {
		return err
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("npm is required (apt npm): %w", err)
	}
	py, err := newPyPI(nWheels)
	if err != nil {
		return err
	}
	defer py.close()
	js, err := newNPM(nPkgs)
	if err != nil {
		return err
	}
	defer js.reg.close()
	var vd *verdaccio
	if verdaccioBin != "" {
		logf("starting Verdaccio and publishing %d packages to it", nPkgs)
		if vd, err = startVerdaccio(ctx, verdaccioBin, work, js); err != nil {
			return err
		}
		defer vd.stop()
	}

	// One pypi and one npm remote per run: each cold run meets an empty cache.
	var remotes strings.Builder
	remotes.WriteString("remotes:\n")
	for i := range runs {
		fmt.Fprintf(&remotes, "  pypi%d:\n    base_url: %q\n    package: pypi\n    files_url: %q\n", i, py.index.url(), py.files.url())
		fmt.Fprintf(&remotes, "  npm%d:\n    base_url: %q\n    package: npm\n", i, js.reg.url())
		if vd != nil {
			fmt.Fprintf(&remotes, "  npmv%d:\n    base_url: %q\n    package: npm\n", i, vd.url)
		}
	}
	app, err := startApp(ctx, bin, work, remotes.String())
	if err != nil {
		return err
	}
	defer app.stop()
	serverPIDs = []int{os.Getpid(), app.cmd.Process.Pid}
	if vd != nil {
		serverPIDs = append(serverPIDs, vd.cmd.Process.Pid)
	}
	base := "http://" + app.addr + "/api/"

	pipRun := func(index string) (clientRun, error) { return pipDownload(ctx, work, pip, index, py.wheels) }
	npmRun := func(registry string) (clientRun, error) { return npmInstall(ctx, work, npm, registry, js) }
	var pm, nm, vm measure
	for i := range runs {
		logf("run %d/%d: pip download of %d wheels", i+1, runs, nWheels)
		if err := once(&pm, i, func() (int, int) { return sum(py.index, py.files) }, func(via string) (clientRun, error) {
			if via == "" {
				return pipRun(py.index.url() + "/simple/")
			}
			return pipRun(base + fmt.Sprintf("pypi%d/simple/", i))
		}); err != nil {
			return fmt.Errorf("pip: %w", err)
		}
		logf("run %d/%d: npm install of %d packages", i+1, runs, nPkgs)
		if err := once(&nm, i, js.reg.counts, func(via string) (clientRun, error) {
			if via == "" {
				return npmRun(js.reg.url() + "/")
			}
			return npmRun(base + fmt.Sprintf("npm%d/", i))
		}); err != nil {
			return fmt.Errorf("npm: %w", err)
		}
		if vd == nil {
			continue
		}
		logf("run %d/%d: npm install of %d packages, Verdaccio as the upstream", i+1, runs, nPkgs)
		// artifactapi's own count of its fetches from Verdaccio; that the
		// client fetched nothing from Verdaccio itself through artifactapi
		// is checked on the lockfile (npmInstall).
		fetches := func() (int, int) {
			n, err := upstreamFetches(app.addr, "npmv")
			if err != nil {
				logf("reading artifactapi's metrics: %v", err)
			}
			return n, 0
		}
		if err := once(&vm, i, fetches, func(via string) (clientRun, error) {
			if via == "" {
				return npmRun(vd.url + "/")
			}
			return npmRun(base + fmt.Sprintf("npmv%d/", i))
		}); err != nil {
			return fmt.Errorf("npm, Verdaccio as the upstream: %w", err)
		}
	}

	// The server's share: the same requests from a Go client in a process
	// of its own on the clients' CPUs, direct and warm (the remotes of the
	// first run), without the clients' own work.
	logf("sequential requests from a Go client, direct and warm")
	ps, err := compareSweeps(ctx, work, 9, pypiSweep(py, py.index.url()+"/simple/", py.files.url()),
		pypiSweep(py, base+"pypi0/simple/", base+"pypi0/_ext/"+hostOf(py.files.url())))
	if err != nil {
		return fmt.Errorf("pypi requests: %w", err)
	}
	ns, err := compareSweeps(ctx, work, 9, npmSweep(js, js.reg.url()+"/"), npmSweep(js, base+"npm0/"))
	if err != nil {
		return fmt.Errorf("npm requests: %w", err)
	}

	fmt.Printf("\n### Package formats, %s (median of %d, no client cache)\n\n", label, runs)
	fmt.Println("| client | direct | cold | warm | cold ratio | warm ratio (median of the runs' warm/direct pairs, its 95% bootstrap interval; each run) | client waiting direct / warm; warm − direct (median of pairs) | proxy's share: 1 + (warm − direct waiting) / direct | server CPU per install direct / warm | upstream requests cold / warm | warm ≤ 1.0× |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	row(fmt.Sprintf("pip download, %d wheels", nWheels), pm)
	row(fmt.Sprintf("npm install, %d packages", nPkgs), nm)
	if vd != nil {
		row(fmt.Sprintf("npm install, %d packages, Verdaccio 5 as the upstream", nPkgs), vm)
	}
	fmt.Printf("\nClient waiting = wall time − the client's own CPU time (user + system): the part of an install a proxy can change. " +
		"The proxy's share is the warm/direct ratio that difference alone makes; the wall-time ratio adds the clients' own run-to-run spread.\n")
	fmt.Printf("\nServer time per request (the same requests one after the other from a Go client in its own process on the clients' CPUs, median of 9): "+
		"pypi direct %s, warm %s (%.2f×); npm direct %s, warm %s (%.2f×).\n",
		us(ps.Direct), us(ps.Warm), ps.Warm.Seconds()/ps.Direct.Seconds(), us(ns.Direct), us(ns.Warm), ns.Warm.Seconds()/ns.Direct.Seconds())
	fmt.Printf("\nServer CPU per request in those sweeps (the answering process's own CPU time: the local upstream direct, artifactapi warm): "+
		"pypi direct %s, warm %s (%.2f×); npm direct %s, warm %s (%.2f×).\n",
		us(ps.DirectCPU), us(ps.WarmCPU), ps.WarmCPU.Seconds()/ps.DirectCPU.Seconds(), us(ns.DirectCPU), us(ns.WarmCPU), ns.WarmCPU.Seconds()/ns.DirectCPU.Seconds())
	if hold {
		n := js.names[0]
		logf("holding until interrupted: pypi index %s/simple/ (files %s), through %spypi0/simple/; npm %s/%s, through %snpm0/%s (tarball %s)",
			py.index.url(), py.files.url(), base, js.reg.url(), n, base, n, "/"+n+"/-/"+n+"-1.0.0.tgz")
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
	}
	fmt.Printf("\npip direct %v / cold %v / warm %v\n", walls(pm.direct), walls(pm.cold), walls(pm.warm))
	fmt.Printf("npm direct %v / cold %v / warm %v\n", walls(nm.direct), walls(nm.cold), walls(nm.warm))
	return nil
}

// once runs a client cold through artifactapi (a remote never used before),
// then directly and warm through the same remote in an order that
// alternates from run to run (odd runs go warm first), so that a drift in the
// machine's load does not favour either; do("") is direct, do("app")
// through the remote of this run. The runs through artifactapi must never
// reach the upstream themselves.
func once(m *measure, run int, counts func() (proxy, other int), do func(via string) (clientRun, error)) error {
	through := func(times *[]clientRun, reqs *[]int) (clientRun, error) {
		p0, o0 := counts()
		d, err := do("app")
		if err != nil {
			return clientRun{}, err
		}
		p1, o1 := counts()
		if o1 != o0 {
			return clientRun{}, fmt.Errorf("%d requests went around artifactapi to the upstream", o1-o0)
		}
		*times = append(*times, d)
		*reqs = append(*reqs, p1-p0)
		return d, nil
	}
	if _, err := through(&m.cold, &m.coldUpstream); err != nil {
		return err
	}
	var d, w clientRun
	var err error
	for _, step := range [2]int{run % 2, 1 - run%2} {
		if step == 0 {
			d, err = do("")
			m.direct = append(m.direct, d)
		} else {
			w, err = through(&m.warm, &m.warmUpstream)
		}
		if err != nil {
			return err
		}
	}
	m.pairs = append(m.pairs, w.wall.Seconds()/d.wall.Seconds())
	m.waitDiffs = append(m.waitDiffs, w.wait()-d.wait())
	return nil
}

func sum(hs ...*host) (proxy, other int) {
	for _, h := range hs {
		p, o := h.counts()
		proxy, other = proxy+p, other+o
	}
	return proxy, other
}

func row(name string, m measure) {
	d, c, w := median(walls(m.direct)), median(walls(m.cold)), median(walls(m.warm))
	warm := median(m.pairs)
	lo, hi := medianCI(m.pairs)
	verdict := verdictOf(warm, lo, hi)
	each := make([]string, len(m.pairs))
	for i, r := range m.pairs {
		each[i] = fmt.Sprintf("%.2f", r)
	}
	dw, ww, diff := median(pick(m.direct, clientRun.wait)), median(pick(m.warm, clientRun.wait)), median(m.waitDiffs)
	dlo, dhi := medianCI(m.waitDiffs)
	server := func(r clientRun) time.Duration { return r.server }
	sd, sw := median(pick(m.direct, server)), median(pick(m.warm, server))
	fmt.Printf("| %s | %s | %s | %s | %.2f× | %.2f× (95%% CI %.2f–%.2f; %s) | %s / %s; %+.1f ms | %.3f× (95%% CI %.3f–%.3f) | %.1f / %.1f ms (%.2f×) | %d / %d | %s |\n", name, d.Round(time.Millisecond), c.Round(time.Millisecond),
		w.Round(time.Millisecond), c.Seconds()/d.Seconds(), warm, lo, hi, strings.Join(each, " / "),
		dw.Round(time.Millisecond), ww.Round(time.Millisecond), ms(diff),
		1+diff.Seconds()/d.Seconds(), 1+dlo.Seconds()/d.Seconds(), 1+dhi.Seconds()/d.Seconds(), ms(sd), ms(sw), sw.Seconds()/sd.Seconds(), median(m.coldUpstream), median(m.warmUpstream), verdict)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func us(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d)/float64(time.Microsecond)) }

// pick is f of each run.
func pick(rs []clientRun, f func(clientRun) time.Duration) []time.Duration {
	out := make([]time.Duration, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

func walls(rs []clientRun) []time.Duration {
	return pick(rs, func(r clientRun) time.Duration { return r.wall })
}

// venvPip makes a virtual environment in work and returns its pip.
func venvPip(ctx context.Context, work string) (string, error) {
	python, err := exec.LookPath("python3")
	if err != nil {
		return "", fmt.Errorf("python3 is required (apt python3-venv python3-pip): %w", err)
	}
	venv := filepath.Join(work, "venv")
	if out, err := exec.CommandContext(ctx, python, "-m", "venv", venv).CombinedOutput(); err != nil {
		return "", fmt.Errorf("python3 -m venv: %v\n%s", err, out)
	}
	return filepath.Join(venv, "bin", "pip"), nil
}

// pipDownload times `pip download` of every wheel from index and checks
// the bytes against the upstream's.
func pipDownload(ctx context.Context, work, pip, index string, wheels []wheel) (clientRun, error) {
	out, err := os.MkdirTemp(work, "pip-")
	if err != nil {
		return clientRun{}, err
	}
	defer os.RemoveAll(out)
	args := []string{"download", "--no-deps", "--no-cache-dir", "-d", out, "--index-url", index}
	for _, w := range wheels {
		args = append(args, w.project)
	}
	env := []string{"PIP_CONFIG_FILE=/dev/null", "PIP_DISABLE_PIP_VERSION_CHECK=1"}
	d, err := timed(ctx, out, env, pip, args...)
	if err != nil {
		return clientRun{}, err
	}
	for _, w := range wheels {
		got, err := os.ReadFile(filepath.Join(out, w.filename))
		if err != nil || !bytes.Equal(got, w.body) {
			return clientRun{}, fmt.Errorf("pip download from %s: %s differs from the upstream's (%v)", index, w.filename, err)
		}
	}
	return d, nil
}

// npmInstall times `npm install` of a project depending on every package,
// with a fresh npm cache, and checks that each was installed.
func npmInstall(ctx context.Context, work, npm, registry string, u *npmUpstream) (clientRun, error) {
	dir, err := os.MkdirTemp(work, "npm-")
	if err != nil {
		return clientRun{}, err
	}
	defer os.RemoveAll(dir)
	deps := make([]string, 0, len(u.names))
	for _, n := range u.names {
		deps = append(deps, fmt.Sprintf("%q:%q", n, "1.0.0"))
	}
	pkg := `{"name":"consumer","version":"0.0.0","private":true,"dependencies":{` + strings.Join(deps, ",") + "}}"
	if err := os.WriteFile(filepath.Join(dir, "package.json"), []byte(pkg), 0o644); err != nil {
		return clientRun{}, err
	}
	env := []string{"HOME=" + dir, "npm_config_userconfig=" + filepath.Join(dir, "npmrc"),
		"npm_config_cache=" + filepath.Join(dir, ".npm-cache"), "npm_config_update_notifier=false"}
	d, err := timed(ctx, dir, env, npm, "install", "--registry", registry, "--no-audit", "--no-fund", "--prefer-online")
	if err != nil {
		return clientRun{}, err
	}
	for _, n := range u.names {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", n, "index.js")); err != nil {
			return clientRun{}, fmt.Errorf("npm install from %s: %s not installed: %w", registry, n, err)
		}
	}
	// Every tarball came from the registry given: through artifactapi,
	// none went around it to the upstream.
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return clientRun{}, fmt.Errorf("npm install from %s: %w", registry, err)
	}
	var lf struct {
		Packages map[string]struct {
			Resolved string `json:"resolved"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(lock, &lf); err != nil {
		return clientRun{}, fmt.Errorf("npm install from %s: package-lock.json: %w", registry, err)
	}
	resolved := 0
	for name, p := range lf.Packages {
		if name == "" {
			continue
		}
		if !strings.HasPrefix(p.Resolved, registry) {
			return clientRun{}, fmt.Errorf("npm install from %s: %s was resolved to %q", registry, name, p.Resolved)
		}
		resolved++
	}
	if resolved != len(u.names) {
		return clientRun{}, fmt.Errorf("npm install from %s: the lockfile lists %d packages, not %d", registry, resolved, len(u.names))
	}
	return d, nil
}

// timed runs a client command in dir with env added, and returns how long
// it took and the CPU time it used (its own and its waited-for children's).
func timed(ctx context.Context, dir string, env []string, name string, args ...string) (clientRun, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if clientCPUs != "" {
		name, args = "taskset", append([]string{"-c", clientCPUs, name}, args...)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	s0 := serversCPU()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(start)
	s1 := serversCPU()
	if err != nil {
		return clientRun{}, fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return clientRun{wall: d, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), server: s1 - s0}, nil
}
