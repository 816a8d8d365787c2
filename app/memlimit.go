package app

import (
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
)

// memLimitShare is the part of a container's memory limit given to the Go
// heap as its soft limit: the rest covers goroutine stacks, the binary and
// the kernel's accounting of socket buffers.
const memLimitShare = 0.85

// The files holding the memory limit of the process's cgroup.
const (
	cgroupV2Memory = "/sys/fs/cgroup/memory.max"
	cgroupV1Memory = "/sys/fs/cgroup/memory/memory.limit_in_bytes"
)

// SetMemoryLimit gives the Go runtime a soft memory limit of 85% of the
// container's memory limit unless GOMEMLIMIT is set: the collector then
// works harder as the heap nears the limit instead of the container being
// OOM-killed, while GOGC keeps its default pacing (cheap collections on a
// small heap) below it. It returns a description for the startup log ("" when
// nothing was changed). getenv and read are os.Getenv and os.ReadFile
// outside tests.
func SetMemoryLimit(getenv func(string) string, read func(string) ([]byte, error)) string {
	if getenv("GOMEMLIMIT") != "" {
		return ""
	}
	for _, f := range [...]string{cgroupV2Memory, cgroupV1Memory} {
		b, err := read(f)
		if err != nil {
			continue
		}
		limit, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		// "max" (v2) or a huge number (v1) is no limit.
		if err != nil || limit <= 0 || limit >= 1<<50 {
			return ""
		}
		soft := int64(float64(limit) * memLimitShare)
		debug.SetMemoryLimit(soft)
		return fmt.Sprintf("GOMEMLIMIT %d MiB (%.0f%% of the container's %d MiB; set GOMEMLIMIT to override)",
			soft>>20, memLimitShare*100, limit>>20)
	}
	return ""
}

// HeapFloor returns a reserve that makes the Go collector let the heap grow
// to about floor bytes before a collection, however little of it is live.
// The collector sets its next goal at live × (1 + GOGC/100), and a warm hit
// allocates a few hundred bytes: with the few MiB a replica keeps live, GOGC
// alone collects dozens of times a second under load, and each cycle's
// assists and background marking land on requests as tail latency. The
// reserve is one pointer-free allocation the collector counts as live and
// never scans; its pages are never written, so the kernel never backs them
// and RSS does not grow. It is kept small beside the memory limit (at most
// an eighth of it), and none is made when GOGC is off or floor is below
// 1 MiB. The caller keeps the returned slice alive for the process's life.
// getenv is os.Getenv outside tests.
func HeapFloor(floor int64, getenv func(string) string) ([]byte, string) {
	gogc := int64(100)
	if v := strings.TrimSpace(getenv("GOGC")); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return nil, "" // "off", or a value the runtime ignores
		}
		gogc = n
	}
	size := floor * 100 / (100 + gogc)
	if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 && size > limit/8 {
		size = limit / 8
	}
	if size < 1<<20 {
		return nil, ""
	}
	return make([]byte, size), fmt.Sprintf("GC heap floor %d MiB (a %d MiB reserve, never written; GC_HEAP_FLOOR)", floor>>20, size>>20)
}
