package app

import (
	"errors"
	"io"
	"net"
)

// tlsRefusingListener answers a TLS handshake sent to the plain-HTTP port
// with an HTTP 400 at once. fasthttp would otherwise wait for a request line
// until the client's TLS handshake timeout: registry clients that try HTTPS
// first (skopeo and podman with tls-verify=false, dockerd's
// insecure-registries) then stall 10 s on every pull before falling back.
type tlsRefusingListener struct{ net.Listener }

func (l tlsRefusingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tlsRefusingConn{Conn: c}, nil
}

type tlsRefusingConn struct {
	net.Conn
	checked bool
}

// tlsHandshake is the first byte of a TLS handshake record (RFC 8446 §5.1).
const tlsHandshake = 0x16

func (c *tlsRefusingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.checked && n > 0 {
		c.checked = true
		if p[0] == tlsHandshake {
			_, _ = io.WriteString(c.Conn, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"+
				"Client sent a TLS handshake to a plain HTTP server.\n")
			_ = c.Conn.Close()
			return 0, io.EOF
		}
	}
	return n, err
}

// ReadFrom passes sendfile(2) through (see stallConn.ReadFrom).
func (c *tlsRefusingConn) ReadFrom(r io.Reader) (int64, error) { return readFrom(c.Conn, r) }

// CloseWrite half-closes the connection when it can (see stallConn.Close).
func (c *tlsRefusingConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
