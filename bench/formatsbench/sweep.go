package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// sweep is the requests a client makes for one install, made one after
// the other by a Go client over a kept-alive connection: the time the
// server takes, without the client's own work (process start, unpacking).
type sweep struct {
	accept string
	urls   []string
}

// pypiSweep lists the project pages and wheels of u, at index (the index
// or the remote's /simple/ URL) and files (the files host, or the remote's
// path for it).
func pypiSweep(u *pypiUpstream, index, files string) sweep {
	var s sweep
	for _, w := range u.wheels {
		s.urls = append(s.urls, index+w.project+"/", files+"/packages/"+w.project+"/"+w.filename)
	}
	return s
}

// npmSweep lists the documents and tarballs of u at registry.
func npmSweep(u *npmUpstream, registry string) sweep {
	s := sweep{accept: "application/json"}
	for _, n := range u.names {
		s.urls = append(s.urls, registry+n, registry+n+"/-/"+n+"-1.0.0.tgz")
	}
	return s
}

// run makes every request of s and returns the mean time per request.
func (s sweep) run(ctx context.Context, c *http.Client) (time.Duration, error) {
	start := time.Now()
	for _, u := range s.urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return 0, err
		}
		if s.accept != "" {
			req.Header.Set("Accept", s.accept)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("GET %s: %s", u, resp.Status)
		}
	}
	return time.Since(start) / time.Duration(len(s.urls)), nil
}

// compareSweeps runs direct and warm alternately n times each and returns
// the median time per request of each.
func compareSweeps(ctx context.Context, n int, direct, warm sweep) (d, w time.Duration, err error) {
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	var ds, ws []time.Duration
	for range n {
		x, err := direct.run(ctx, c)
		if err != nil {
			return 0, 0, err
		}
		y, err := warm.run(ctx, c)
		if err != nil {
			return 0, 0, err
		}
		ds, ws = append(ds, x), append(ws, y)
	}
	return median(ds), median(ws), nil
}

// hostOf is host:port of a base URL.
func hostOf(base string) string { return strings.TrimPrefix(base, "http://") }
