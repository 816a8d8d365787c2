package app

import (
	"io"
	"net"
	"sync/atomic"
	"time"
)

// stallListener applies a sliding per-read/per-write deadline to every
// connection instead of whole-response timeouts, which would cut long
// downloads and uploads (see STACK-NOTES "Fiber / fasthttp").
//
// The deadlines fasthttp sets itself stay in force as an upper bound: its
// ReadTimeout is the absolute deadline for a request's headers
// (CLIENT_HEADER_TIMEOUT), lifted by headerReceived once they are in, and
// its IdleTimeout bounds the wait for the next request on a kept-alive
// connection.
type stallListener struct {
	net.Listener
	idle time.Duration
}

// newStallListener wraps ln; idle <= 0 applies no stall deadline.
func newStallListener(ln net.Listener, idle time.Duration) net.Listener {
	return &stallListener{Listener: ln, idle: idle}
}

func (l *stallListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &stallConn{Conn: c, idle: l.idle}, nil
}

// stallConn is used by one goroutine at a time (fasthttp's connection
// goroutine), like the deadlines it manages.
type stallConn struct {
	net.Conn
	idle time.Duration
	// Deadlines are moved forward only when they would otherwise fall less
	// than idle away, by idle plus a slack: a connection is cut between idle
	// and idle+slack after its last progress, and a busy connection costs a
	// clock read per call instead of a timer update per call.
	readBy, writeBy time.Time
	// readLimit is the read deadline fasthttp asked for (zero: none); the
	// sliding deadline never extends past it.
	readLimit time.Time
	// linger is set when a request body may be left unread (atomic: fasthttp
	// closes idle connections from another goroutine).
	linger atomic.Bool
}

// Lingering close, as net/http does it: after a response refusing a body
// the client is still sending, closing at once would make the kernel
// answer that unread data with a reset, which can destroy the response
// before the client reads it. Close first ends our side, then discards
// what still arrives, for a bounded time and size.
const (
	lingerTime  = time.Second
	lingerBytes = 1 << 20
)

// lingerOnClose asks Close to linger (see lingerTime).
func (c *stallConn) lingerOnClose() { c.linger.Store(true) }

// Close closes the connection, lingering when asked to.
func (c *stallConn) Close() error {
	if c.linger.Load() {
		if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
			_ = c.Conn.SetReadDeadline(time.Now().Add(lingerTime))
			_, _ = io.CopyN(io.Discard, c.Conn, lingerBytes)
		}
	}
	return c.Conn.Close()
}

// slack is how much later than idle a stalled connection may be cut.
func (c *stallConn) slack() time.Duration { return min(c.idle/10, time.Second) }

// readDeadline is the earlier of the sliding deadline and fasthttp's.
func (c *stallConn) readDeadline() time.Time {
	if !c.readLimit.IsZero() && (c.readBy.IsZero() || c.readLimit.Before(c.readBy)) {
		return c.readLimit
	}
	return c.readBy
}

// SetReadDeadline records fasthttp's deadline as the bound of the sliding one.
func (c *stallConn) SetReadDeadline(t time.Time) error {
	c.readLimit = t
	return c.Conn.SetReadDeadline(c.readDeadline())
}

// SetDeadline sets fasthttp's read bound and the write deadline.
func (c *stallConn) SetDeadline(t time.Time) error {
	c.readLimit = t
	c.writeBy = t
	return c.Conn.SetDeadline(c.readDeadline())
}

func (c *stallConn) Read(p []byte) (int, error) {
	if now := time.Now(); c.idle > 0 && c.readBy.Sub(now) < c.idle {
		c.readBy = now.Add(c.idle + c.slack())
		_ = c.Conn.SetReadDeadline(c.readDeadline())
	}
	return c.Conn.Read(p)
}

func (c *stallConn) Write(p []byte) (int, error) {
	c.touchWrite()
	return c.Conn.Write(p)
}

func (c *stallConn) touchWrite() {
	if now := time.Now(); c.idle > 0 && c.writeBy.Sub(now) < c.idle {
		c.writeBy = now.Add(c.idle + c.slack())
		_ = c.Conn.SetWriteDeadline(c.writeBy)
	}
}

// ReadFrom lets a file body reach the socket with sendfile(2) through this
// wrapper; callers send large files in bounded pieces, each with a fresh
// deadline.
func (c *stallConn) ReadFrom(r io.Reader) (int64, error) {
	c.touchWrite()
	return readFrom(c.Conn, r)
}

// readFrom is dst.ReadFrom(r) when dst has it, a plain copy otherwise.
func readFrom(dst net.Conn, r io.Reader) (int64, error) {
	if rf, ok := dst.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{dst}, r)
}
