package metrics

import (
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestServedCountsEachSeries(t *testing.T) {
	m := New()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				m.Served("github", "cache", 200, 4096)
				m.Served("github", "remote", 200, 10)
				m.Served("github", "none", 404, 0)
			}
		}()
	}
	wg.Wait()
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"hits", []string{"github", "cache", "200"}, 800},
		{"misses", []string{"github", "remote", "200"}, 800},
		{"not found", []string{"github", "none", "404"}, 800},
	} {
		if got := testutil.ToFloat64(m.Requests.WithLabelValues(tc.labels...)); got != tc.want {
			t.Errorf("%s: requests_total = %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := testutil.ToFloat64(m.BytesServed.WithLabelValues("github", "cache")); got != 800*4096 {
		t.Errorf("served bytes from cache = %v", got)
	}
	if got := testutil.ToFloat64(m.BytesServed.WithLabelValues("github", "none")); got != 0 {
		t.Errorf("served bytes for 404s = %v", got)
	}
}
