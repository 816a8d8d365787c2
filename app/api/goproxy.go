package api

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/cache"
)

// writeGoError answers an error of a go remote as the GOPROXY protocol
// expects (https://go.dev/ref/mod#goproxy-protocol): a plain-text body,
// which the go command shows in its message, and 404 or 410 for "not
// found" — the only statuses after which it tries the next proxy of a
// comma-separated GOPROXY list. An upstream 410 stays 410.
func writeGoError(c *fiber.Ctx, err error) (int, error) {
	status, msg := errorStatus(c, err)
	var ce *cache.Error
	if status == http.StatusNotFound && errors.As(err, &ce) && ce.Upstream == http.StatusGone {
		status = http.StatusGone
	}
	c.Status(status)
	c.Type("txt", "utf-8")
	return status, c.SendString(msg + "\n")
}
