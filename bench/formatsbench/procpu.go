package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// procCPU is the CPU time the process pid has used so far, in nanoseconds:
// the sum over its threads of the first field of
// /proc/<pid>/task/<tid>/schedstat (time on a CPU, kept by the scheduler to
// the nanosecond, where /proc/<pid>/stat counts clock ticks). Threads that
// have exited are no longer counted; a Go server's threads live as long as
// the process. 0 when the process cannot be read.
func procCPU(pid int) time.Duration {
	tasks, err := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/schedstat")
	if err != nil {
		return 0
	}
	var sum time.Duration
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		first, _, _ := strings.Cut(string(b), " ")
		if ns, err := strconv.ParseInt(first, 10, 64); err == nil {
			sum += time.Duration(ns)
		}
	}
	return sum
}

// serverPIDs are the server processes of a measurement: this command,
// whose goroutines are the local upstream, and artifactapi. Both are
// counted in every client run, direct or through artifactapi, so the
// figure is all the server-side CPU an install cost.
var serverPIDs []int

func serversCPU() time.Duration {
	var sum time.Duration
	for _, pid := range serverPIDs {
		sum += procCPU(pid)
	}
	return sum
}
