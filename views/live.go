package views

import (
	"strconv"

	"github.com/a-h/templ"
)

// Live makes a region of a page update itself: static/app.js fetches URL
// again every Every seconds (doubling up to Max while nothing changes) and
// swaps the answer in place. Sig identifies the content shown; the server
// answers 204 when it is still current. The zero Live renders nothing: the
// region does not poll (a finished job, for example).
type Live struct {
	URL   string
	Sig   string
	Every int // seconds before the first poll
	Max   int // longest wait, in seconds
}

// Attrs are the region's data-live attributes.
func (l Live) Attrs() templ.Attributes {
	if l.URL == "" {
		return templ.Attributes{}
	}
	return templ.Attributes{
		"data-live":       l.URL,
		"data-live-sig":   l.Sig,
		"data-live-every": strconv.Itoa(l.Every),
		"data-live-max":   strconv.Itoa(l.Max),
	}
}
