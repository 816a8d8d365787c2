package main

import (
	"cmp"
	"math/rand/v2"
	"slices"
)

// median is the median of xs (the upper one of an even count).
func median[T cmp.Ordered](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// medianCI is a 95% percentile-bootstrap confidence interval of the median
// of xs: the median of 4,000 resamples of xs with replacement, their 2.5th
// and 97.5th percentiles. The seed is fixed so the same runs always print
// the same interval.
func medianCI[T cmp.Ordered](xs []T) (lo, hi T) {
	const resamples = 4000
	rng := rand.New(rand.NewPCG(13, 13))
	meds := make([]T, resamples)
	s := make([]T, len(xs))
	for i := range meds {
		for j := range s {
			s[j] = xs[rng.IntN(len(xs))]
		}
		meds[i] = median(s)
	}
	slices.Sort(meds)
	return meds[resamples*25/1000], meds[resamples*975/1000-1]
}

// verdictOf is the table's verdict on the warm target for the median warm
// / direct ratio and its confidence interval: met, not met, or not told
// apart from 1.0 by these runs.
func verdictOf(median, lo, hi float64) string {
	switch {
	case median <= 1.0:
		return "met"
	case lo <= 1.0:
		return "not told apart from 1.0 by these runs"
	default:
		return "**not met**"
	}
}
