package views

import (
	"strconv"
	"strings"
)

// Geometry of the inline SVG charts, in viewBox units (the CSS sizes them).
const (
	barWidth    = 160.0
	barHeight   = 10.0
	sparkWidth  = 120.0
	sparkHeight = 28.0
)

// num formats a coordinate with at most one decimal.
func num(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// barLength is the length of a bar for v on a scale whose longest bar is max.
// A non-zero value gets at least one unit, so it never looks like zero.
func barLength(v, max int64) string {
	if v <= 0 || max <= 0 {
		return "0"
	}
	l := float64(v) / float64(max) * barWidth
	if l < 1 {
		l = 1
	}
	return num(l)
}

// sparkline returns the points of a polyline drawing vals (oldest first)
// across the sparkline's box, the highest value at the top.
func sparkline(vals []int64) string {
	if len(vals) == 0 {
		return ""
	}
	var top int64
	for _, v := range vals {
		top = max(top, v)
	}
	step := sparkWidth / float64(max(len(vals)-1, 1))
	var b strings.Builder
	for i, v := range vals {
		y := sparkHeight - 1 // a flat line at the bottom for no traffic
		if top > 0 {
			y = 1 + (sparkHeight-2)*(1-float64(v)/float64(top))
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(num(float64(i)*step) + "," + num(y))
	}
	return b.String()
}

// sparkArea is sparkline closed down to the baseline, for a filled area.
func sparkArea(vals []int64) string {
	pts := sparkline(vals)
	if pts == "" {
		return ""
	}
	return "0," + num(sparkHeight) + " " + pts + " " + num(sparkWidth) + "," + num(sparkHeight)
}

// sum adds vals.
func sum(vals []int64) int64 {
	var s int64
	for _, v := range vals {
		s += v
	}
	return s
}

// peak is the largest of vals.
func peak(vals []int64) int64 {
	var m int64
	for _, v := range vals {
		m = max(m, v)
	}
	return m
}

// sparkLabel describes a sparkline for screen readers.
func sparkLabel(vals []int64) string {
	return Count(sum(vals)) + " requests in the last hour, at most " + Count(peak(vals)) + " in a minute"
}
