package app

import (
	"io/fs"
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
