package app

import (
	"io/fs"
	"math"
	"runtime/debug"
	"testing"
)

func TestSetMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	none := int64(debug.SetMemoryLimit(-1))
	cases := []struct {
		name     string
		env      string
		files    map[string]string
		want     int64 // the runtime's limit afterwards
		describe bool
	}{
		{name: "cgroup v2 limit", files: map[string]string{cgroupV2Memory: "536870912\n"}, want: 456340275, describe: true},
		{name: "cgroup v1 limit", files: map[string]string{cgroupV1Memory: "1073741824\n"}, want: 912680550, describe: true},
		{name: "no limit (v2 max)", files: map[string]string{cgroupV2Memory: "max\n"}, want: none},
		{name: "no limit (v1 huge)", files: map[string]string{cgroupV1Memory: "9223372036854771712\n"}, want: none},
		{name: "no cgroup files", want: none},
		{name: "GOMEMLIMIT set by the operator", env: "100MiB", files: map[string]string{cgroupV2Memory: "536870912"}, want: none},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(none)
			got := SetMemoryLimit(func(string) string { return tc.env }, func(name string) ([]byte, error) {
				if v, ok := tc.files[name]; ok {
					return []byte(v), nil
				}
				return nil, fs.ErrNotExist
			})
			if limit := debug.SetMemoryLimit(-1); limit != tc.want {
				t.Errorf("runtime memory limit %d, want %d", limit, tc.want)
			}
			if (got != "") != tc.describe {
				t.Errorf("description %q, want one: %v", got, tc.describe)
			}
		})
	}
}

func TestHeapFloor(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	const floor = 64 << 20
	env := func(gogc string) func(string) string {
		return func(k string) string {
			if k == "GOGC" {
				return gogc
			}
			return ""
		}
	}
	for _, tc := range []struct {
		name, gogc string
		limit      int64 // the runtime's memory limit during the call (0: none)
		want       int64 // the reserve's size
	}{
		{name: "default GOGC", want: floor / 2},
		{name: "GOGC=300", gogc: "300", want: floor / 4},
		{name: "GOGC=off", gogc: "off", want: 0},
		{name: "bounded by an eighth of the memory limit", limit: 128 << 20, want: 16 << 20},
		{name: "under 1 MiB is not worth it", gogc: "10000", want: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(math.MaxInt64)
			if tc.limit > 0 {
				debug.SetMemoryLimit(tc.limit)
			}
			b, desc := HeapFloor(floor, env(tc.gogc))
			if int64(len(b)) != tc.want || (desc != "") != (tc.want > 0) {
				t.Errorf("reserve %d bytes (%q), want %d", len(b), desc, tc.want)
			}
		})
	}
}
