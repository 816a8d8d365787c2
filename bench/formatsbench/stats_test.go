package main

import (
	"math/rand/v2"
	"testing"
)

func TestMedianCI(t *testing.T) {
	// A sample from a distribution whose median is 1.0: the interval holds
	// it, is narrower with more runs, and is the same on every call.
	sample := func(n int) []float64 {
		rng := rand.New(rand.NewPCG(1, 2))
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = 1 + rng.NormFloat64()*0.1
		}
		return xs
	}
	lo9, hi9 := medianCI(sample(9))
	lo99, hi99 := medianCI(sample(99))
	if lo9 > 1 || hi9 < 1 || lo99 > 1 || hi99 < 1 {
		t.Fatalf("intervals [%.3f, %.3f] and [%.3f, %.3f] miss the median 1.0", lo9, hi9, lo99, hi99)
	}
	if hi99-lo99 >= hi9-lo9 {
		t.Fatalf("99 runs gave [%.3f, %.3f], no narrower than 9 runs' [%.3f, %.3f]", lo99, hi99, lo9, hi9)
	}
	if lo, hi := medianCI(sample(9)); lo != lo9 || hi != hi9 {
		t.Fatalf("the interval changed between calls: [%.3f, %.3f] then [%.3f, %.3f]", lo9, hi9, lo, hi)
	}
	// Every run far above 1.0: the interval lies above it too.
	far := []float64{1.30, 1.32, 1.28, 1.35, 1.31}
	if lo, _ := medianCI(far); lo <= 1.2 {
		t.Fatalf("runs at 1.28–1.35 gave a lower bound of %.3f", lo)
	}
}

func TestVerdictOf(t *testing.T) {
	for _, c := range []struct {
		med, lo, hi float64
		want        string
	}{
		{0.97, 0.90, 1.05, "met"},
		{1.00, 0.95, 1.04, "met"},
		{1.04, 0.96, 1.10, "not told apart from 1.0 by these runs"},
		{1.20, 1.10, 1.30, "**not met**"},
	} {
		if got := verdictOf(c.med, c.lo, c.hi); got != c.want {
			t.Errorf("verdictOf(%.2f, %.2f, %.2f) = %q, want %q", c.med, c.lo, c.hi, got, c.want)
		}
	}
}
