package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// sweep is the requests a client makes for one install, made one after
// the other by a Go client over a kept-alive connection: the time the
// server takes, without the client's own work (process start, unpacking).
type sweep struct {
	Accept string
	URLs   []string
}

// pypiSweep lists the project pages and wheels of u, at index (the index
// or the remote's /simple/ URL) and files (the files host, or the remote's
// path for it).
func pypiSweep(u *pypiUpstream, index, files string) sweep {
	var s sweep
	for _, w := range u.wheels {
		s.URLs = append(s.URLs, index+w.project+"/", files+"/packages/"+w.project+"/"+w.filename)
	}
	return s
}

// npmSweep lists the documents and tarballs of u at registry.
func npmSweep(u *npmUpstream, registry string) sweep {
	s := sweep{Accept: "application/json"}
	for _, n := range u.names {
		s.URLs = append(s.URLs, registry+n, registry+n+"/-/"+n+"-1.0.0.tgz")
	}
	return s
}

// run makes every request of s and returns the mean time per request, and
// the mean CPU time per request of the server process pid.
func (s sweep) run(ctx context.Context, c *http.Client, pid int) (per, cpu time.Duration, err error) {
	c0 := procCPU(pid)
	start := time.Now()
	for _, u := range s.URLs {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return 0, 0, err
		}
		if s.Accept != "" {
			req.Header.Set("Accept", s.Accept)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, 0, fmt.Errorf("GET %s: %s", u, resp.Status)
		}
	}
	n := time.Duration(len(s.URLs))
	return time.Since(start) / n, (procCPU(pid) - c0) / n, nil
}

// compareSweeps runs direct and warm alternately n times each, from a
// process of its own (this command again, with -sweep) on the clients'
// CPUs as pip and npm run, and returns the median time per request of
// each, and the median CPU time per request of the server that answered
// (this process for the direct requests, artifactapi for the warm ones). From this process the upstream's goroutines would answer a client
// in the same process and on the same CPU, without the process switches
// that a request to artifactapi costs: a bias for the direct side.
func compareSweeps(ctx context.Context, work string, n int, direct, warm sweep) (res sweepResult, err error) {
	spec, err := json.Marshal(sweepSpec{Runs: n, Direct: direct, Warm: warm, DirectPID: serverPIDs[0], WarmPID: serverPIDs[1]})
	if err != nil {
		return res, err
	}
	file := filepath.Join(work, "sweep.json")
	if err := os.WriteFile(file, spec, 0o600); err != nil {
		return res, err
	}
	self, err := os.Executable()
	if err != nil {
		return res, err
	}
	name, args := self, []string{"-sweep", file}
	if clientCPUs != "" {
		name, args = "taskset", append([]string{"-c", clientCPUs, self}, args...)
	}
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		return res, fmt.Errorf("%s -sweep: %w", self, err)
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return res, fmt.Errorf("%s -sweep: %w", self, err)
	}
	return res, nil
}

// sweepSpec is what -sweep reads; sweepResult what it prints.
type sweepSpec struct {
	Runs               int
	Direct, Warm       sweep
	DirectPID, WarmPID int
}

type sweepResult struct{ Direct, Warm, DirectCPU, WarmCPU time.Duration }

// runSweeps is -sweep: the alternating runs of the spec in file, printed
// as JSON on standard output.
func runSweeps(file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var spec sweepSpec
	if err := json.Unmarshal(b, &spec); err != nil {
		return err
	}
	ctx := context.Background()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	var ds, ws, dc, wc []time.Duration
	for range spec.Runs {
		x, xc, err := spec.Direct.run(ctx, c, spec.DirectPID)
		if err != nil {
			return err
		}
		y, yc, err := spec.Warm.run(ctx, c, spec.WarmPID)
		if err != nil {
			return err
		}
		ds, ws, dc, wc = append(ds, x), append(ws, y), append(dc, xc), append(wc, yc)
	}
	return json.NewEncoder(os.Stdout).Encode(sweepResult{Direct: median(ds), Warm: median(ws), DirectCPU: median(dc), WarmCPU: median(wc)})
}

// hostOf is host:port of a base URL.
func hostOf(base string) string { return strings.TrimPrefix(base, "http://") }
