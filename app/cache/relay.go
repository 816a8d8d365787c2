package cache

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"artifactapi/app/upstream"
)

// relayOutcome is how a relay from another replica ended.
type relayOutcome int

const (
	relayNone     relayOutcome = iota // nobody advertises the download
	relayDone                         // the fill is resolved (relayed, taken over, or failed cleanly)
	relayPeerDead                     // the advertised replica cannot be reached: it died
)

// relayFromPeer streams f from the replica advertising it. When that replica
// dies midway, this replica takes the download over (takeOver) so its
// clients see no gap; when it cannot be reached at all, relayPeerDead tells
// the caller to download itself rather than wait for the dead replica's lock
// to expire.
func (e *Engine) relayFromPeer(ctx context.Context, f *fill) relayOutcome {
	if e.o.PeerURL == "" || e.o.Peers == nil {
		return relayNone
	}
	src, ok, err := e.o.Coord.Get(ctx, "src:"+f.key)
	if err != nil || !ok {
		return relayNone
	}
	u, err := url.Parse(src)
	if err != nil || strings.TrimRight(src, "/") == "" || src == e.peerSource(f) {
		return relayNone
	}
	resp, err := e.o.Peers.Do(ctx, upstream.Request{Method: http.MethodGet, URL: u,
		Header: http.Header{PeerHeader: {PeerToken(e.o.PeerSecret)}}})
	if err != nil {
		if upstream.IsNetwork(err) {
			e.o.Log.Warn("replica advertising a download cannot be reached; downloading here",
				"remote", f.req.Remote.Name, "path", f.req.Path, "peer", u.Host, "err", err)
			return relayPeerDead
		}
		return relayNone
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return relayNone
	}
	defer resp.Body.Close()
	e.o.Log.Debug("relaying a download from another replica", "remote", f.req.Remote.Name, "path", f.req.Path, "peer", u.Host)
	sp, _ := e.startSpool(ctx, f, resp)
	if sp == nil {
		return relayDone
	}
	cerr := e.copyBody(f, sp, resp)
	if cerr == nil {
		e.finish(ctx, f, sp, false)
		return relayDone
	}
	e.takeOver(ctx, f, sp, u.Host, cerr)
	return relayDone
}

// peerSource is the internal URL under which this replica advertises f.
func (e *Engine) peerSource(f *fill) string {
	return strings.TrimRight(e.o.PeerURL, "/") + PeerPath + PeerKeyID(f.key)
}

// takeOver continues a relayed download whose replica stopped sending: from
// the upstream, with a Range request for the missing bytes when the upstream
// honours it (If-Range on the ETag guards against a changed artifact), else
// with the whole body, whose first bytes must equal those already streamed.
// This replica then advertises the download and commits it. The clients keep
// reading the same spool; if the continuation fails they get an error, never
// a body stitched from two versions (the digest covers every byte).
func (e *Engine) takeOver(ctx context.Context, f *fill, sp *spooling, peer string, cause error) {
	req := f.req
	e.o.Log.Warn("replica streaming a download stopped; continuing it from the upstream",
		"remote", req.Remote.Name, "path", req.Path, "peer", peer, "have", sp.total, "err", cause)
	e.o.Metrics.Errors.WithLabelValues("relay_takeover").Inc()
	lock, err := e.o.Coord.TryLock(ctx, "fill:"+f.key, e.o.LockTTL)
	if err == nil {
		stopRefresh := e.keepLock(lock)
		defer func() {
			stopRefresh()
			_ = lock.Release(context.Background())
			_ = e.o.Coord.Publish(context.Background(), "filled:"+f.key, "done")
		}()
	}
	// The dead replica's lock may outlive it: advertising here lets other
	// replicas relay from this one instead of waiting for that lock.
	stopAdvert := e.advertise(ctx, f)
	defer stopAdvert()
	resp, err := e.resume(ctx, f, sp)
	if err != nil {
		e.abort(f, fmt.Errorf("continue download after relay broke: %w", err))
		return
	}
	defer resp.Body.Close()
	if err := e.copyBody(f, sp, resp); err != nil {
		e.abort(f, err)
		return
	}
	e.finish(ctx, f, sp, true)
}

// resume asks the upstream for the bytes after sp.total and returns a
// response whose body continues exactly there.
func (e *Engine) resume(ctx context.Context, f *fill, sp *spooling) (*upstream.Response, error) {
	h := http.Header{}
	h.Set("Range", "bytes="+strconv.FormatInt(sp.total, 10)+"-")
	if et := sp.art.ETag; et != "" && !strings.HasPrefix(et, "W/") {
		h.Set("If-Range", et)
	}
	resp, err := f.req.Origin.Fetch(ctx, http.MethodGet, h)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, size, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != sp.total || (sp.want >= 0 && size >= 0 && size != sp.want) {
			resp.Body.Close()
			return nil, fmt.Errorf("upstream answered the range with %q", resp.Header.Get("Content-Range"))
		}
		return resp, nil
	case http.StatusOK:
		if sp.want >= 0 && resp.ContentLength >= 0 && resp.ContentLength != sp.want {
			resp.Body.Close()
			return nil, fmt.Errorf("artifact changed upstream (%d bytes, was %d)", resp.ContentLength, sp.want)
		}
		if err := samePrefix(resp.Body, sp); err != nil {
			resp.Body.Close()
			return nil, err
		}
		return resp, nil
	}
	resp.Body.Close()
	return nil, fmt.Errorf("upstream answered %d", resp.StatusCode)
}

// samePrefix reads the first sp.total bytes of body and checks they are the
// ones already spooled (and streamed to clients).
func samePrefix(body io.Reader, sp *spooling) error {
	a, b := make([]byte, 64<<10), make([]byte, 64<<10)
	for off := int64(0); off < sp.total; {
		n := int64(len(a))
		if n > sp.total-off {
			n = sp.total - off
		}
		if _, err := io.ReadFull(body, a[:n]); err != nil {
			return fmt.Errorf("restart download: %w", err)
		}
		if _, err := sp.file.ReadAt(b[:n], off); err != nil {
			return fmt.Errorf("read spool: %w", err)
		}
		if !bytes.Equal(a[:n], b[:n]) {
			return fmt.Errorf("artifact changed upstream while it was being downloaded")
		}
		off += n
	}
	return nil
}

// parseContentRange parses "bytes start-end/size" (size may be "*": -1).
func parseContentRange(v string) (start, size int64, ok bool) {
	rest, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, sz, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	from, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(from, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	size = -1
	if sz != "*" {
		if size, err = strconv.ParseInt(sz, 10, 64); err != nil || size < 0 {
			return 0, 0, false
		}
	}
	return start, size, true
}
