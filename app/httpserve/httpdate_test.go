package httpserve_test

import (
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"artifactapi/app/httpserve"
)

// TestHTTPDate: the written-out HTTP date equals time.Format's for any
// instant, in any zone, including the edges of the four-digit years.
func TestHTTPDate(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("east", 14*3600), time.FixedZone("west", -12*3600-30*60)}
	times := []time.Time{
		time.Unix(0, 0), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 29, 9, 5, 7, 0, time.UTC),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		times = append(times, time.Unix(r.Int64N(400*365*86400)-100*365*86400, r.Int64N(1e9)))
	}
	for i, tm := range times {
		tm = tm.In(zones[i%len(zones)])
		if got, want := httpserve.HTTPDate(tm), tm.UTC().Format(http.TimeFormat); got != want {
			t.Fatalf("HTTPDate(%v) = %q, want %q", tm, got, want)
		}
	}
}
