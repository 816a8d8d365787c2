package cache

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// Cross-replica streaming: the replica that holds a fill lock advertises an
// internal URL for the download under "src:<key>"; a replica whose client
// asks for the same artifact meanwhile streams from that URL (relaying the
// bytes to its own clients as they arrive) instead of waiting for the commit.
// Only the leader commits.

// PeerPath is the route prefix of the internal fill endpoint.
const PeerPath = "/_internal/fills/"

// PeerHeader carries the replica credential.
const PeerHeader = "X-Artifactapi-Peer"

// PeerToken derives the replica credential from the shared secret.
func PeerToken(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("artifactapi-peer-v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// PeerKeyID encodes a fill key for the URL.
func PeerKeyID(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

// advertise publishes this replica as the source of f's download until stopped.
func (e *Engine) advertise(ctx context.Context, f *fill) func() {
	if e.o.PeerURL == "" {
		return func() {}
	}
	k := "src:" + f.key
	v := e.peerSource(f)
	if err := e.o.Coord.Set(ctx, k, v, e.o.LockTTL); err != nil {
		e.coordFailed("advertise fill", err)
		return func() {}
	}
	stop := every(e.o.LockTTL/3, func() { _ = e.o.Coord.Set(context.Background(), k, v, e.o.LockTTL) })
	return func() {
		stop()
		_ = e.o.Coord.Del(context.WithoutCancel(ctx), k)
	}
}

// PeerResult returns a streaming result for a download running in this
// process (the internal endpoint), or false.
func (e *Engine) PeerResult(id string) (*Result, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		return nil, false
	}
	e.mu.Lock()
	f := e.inflight[string(raw)]
	if f != nil {
		f.ref()
	}
	e.mu.Unlock()
	if f == nil {
		return nil, false
	}
	f.mu.Lock()
	streaming := f.ready && f.file != nil && f.failed == nil
	art, sized := f.art, f.sized
	f.mu.Unlock()
	if !streaming {
		f.unref()
		return nil, false
	}
	return streamResult(f, art, sized), true
}
