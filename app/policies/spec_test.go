package policies

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		name, in string
		want     time.Duration
		bad      bool
	}{
		{name: "empty", in: "", want: 0},
		{name: "zero", in: "0", want: 0},
		{name: "hours", in: "24h", want: 24 * time.Hour},
		{name: "mixed", in: "1h30m", want: 90 * time.Minute},
		{name: "days", in: "30d", want: 30 * 24 * time.Hour},
		{name: "weeks", in: "2w", want: 14 * 24 * time.Hour},
		{name: "seconds", in: "2s", want: 2 * time.Second},
		{name: "negative", in: "-1h", bad: true},
		{name: "fraction of days", in: "1.5d", bad: true},
		{name: "words", in: "daily", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDuration(tc.in)
			if (err != nil) != tc.bad || got != tc.want {
				t.Fatalf("ParseDuration(%q) = %v, %v", tc.in, got, err)
			}
			if !tc.bad && tc.want != 0 {
				if back, _ := ParseDuration(FormatDuration(got)); back != got {
					t.Errorf("FormatDuration(%v) = %q reads back as %v", got, FormatDuration(got), back)
				}
			}
		})
	}
}
