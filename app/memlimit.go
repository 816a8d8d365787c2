package app

import (
	"fmt"
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
