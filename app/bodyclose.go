package app

import "github.com/gofiber/fiber/v2"

// closeUnreadBody closes the connection after a request that carried a body.
// Request bodies are streamed (StreamRequestBody) and fasthttp never drains
// what a handler leaves unread: the rest of an upload refused early (401,
// 405, 409, 413…) would be parsed as the next request on the same connection,
// a request-smuggling hole behind any keep-alive reverse proxy. Requests
// without a body (every GET and HEAD) keep their connection. It is decided
// before the handlers run: limitBody replaces a small body it read whole.
// The close lingers (stallConn.Close), so that a client still sending the
// refused body reads the answer instead of a connection reset.
func closeUnreadBody(c *fiber.Ctx) error {
	hadBody := c.Request().Header.ContentLength() != 0 && c.Context().RequestBodyStream() != nil
	err := c.Next()
	if hadBody {
		c.Context().SetConnectionClose()
		if l, ok := c.Context().Conn().(interface{ lingerOnClose() }); ok {
			l.lingerOnClose()
		}
	}
	return err
}
