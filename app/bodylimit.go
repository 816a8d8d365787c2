package app

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// MaxSmallBody is the largest request body accepted by a route that is not
// an upload (forms, JSON): it is read into memory, so it must stay small
// whoever sends it, signed in or not.
const MaxSmallBody = 1 << 20

// refusedHeader marks a request refused by headerReceived before its body
// was invited. A client that sends it only gets its own request refused.
const refusedHeader = "X-Artifactapi-Refused-Length"

// noBodyDeadline replaces the header deadline once the headers are in:
// bodies are bounded by the sliding stall deadline only (see stallConn).
const noBodyDeadline = 100 * 365 * 24 * time.Hour

// bodyRule says how a route takes its request body.
type bodyRule struct {
	stream bool  // the handler reads the body itself, as it arrives
	max    int64 // largest accepted body; 0: unlimited
}

// bodyRuleFor classifies a request by its method and raw path: uploads (PUT
// /api/{remote}/…, the dashboard's PUT /ui/upload and registry pushes
// under /v2/) stream up to MAX_UPLOAD_SIZE, POST /cache-artifact reads its own bounded body after
// checking the credential, and every other route takes at most MaxSmallBody.
func (a *App) bodyRuleFor(method, rawPath []byte) bodyRule {
	put := string(method) == http.MethodPut
	switch {
	case put && (bytes.HasPrefix(rawPath, []byte("/api/")) || string(rawPath) == "/ui/upload"):
		return bodyRule{stream: true, max: a.Config().Env.MaxUploadSize}
	case string(method) == http.MethodPost && string(rawPath) == "/cache-artifact":
		return bodyRule{stream: true}
	case bytes.HasPrefix(rawPath, []byte("/v2/")) && (put || string(method) == http.MethodPatch || string(method) == http.MethodPost):
		// Registry pushes: blob chunks stream to the blob store, manifests
		// are bounded by the handler.
		return bodyRule{stream: true, max: a.Config().Env.MaxUploadSize}
	}
	return bodyRule{max: MaxSmallBody}
}

// headerReceived runs when a request's headers are in, before fasthttp
// reads any of its body. It lifts the header deadline, and refuses a
// request that waits for "100 Continue" with a declared size over its
// route's limit: the client then never sends the body (RFC 9110 §10.1.1).
// fasthttp would otherwise invite the body before any handler runs, so the
// refusal is carried to limitBody by refusedHeader, with no body to read.
func (a *App) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if cl := h.ContentLength(); cl > 0 && bytes.EqualFold(h.Peek(fiber.HeaderExpect), []byte("100-continue")) {
		path := h.RequestURI()
		if i := bytes.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if r := a.bodyRuleFor(h.Method(), path); r.max > 0 && int64(cl) > r.max {
			h.Del(fiber.HeaderExpect)
			h.SetContentLength(0)
			h.Set(refusedHeader, strconv.FormatInt(r.max, 10))
			h.SetConnectionClose()
		}
	}
	return fasthttp.RequestConfig{ReadTimeout: noBodyDeadline}
}

// limitBody enforces bodyRuleFor before any handler parses a body: a small
// body is read whole (at most MaxSmallBody bytes, so FormValue and JSON
// parsing never read more), a larger one is refused with 413 unread, and a
// compressed one with 415 (it could inflate far past the limit). Uploads
// pass through untouched, to stream.
func (a *App) limitBody(c *fiber.Ctx) error {
	h := &c.Request().Header
	if v := h.Peek(refusedHeader); len(v) > 0 {
		c.Context().SetConnectionClose()
		max, _ := strconv.ParseInt(string(v), 10, 64)
		return tooLarge(c, max)
	}
	r := a.bodyRuleFor([]byte(c.Method()), c.Request().URI().PathOriginal())
	cl := h.ContentLength()
	if r.stream || cl == 0 {
		return c.Next()
	}
	if int64(cl) > r.max {
		return tooLarge(c, r.max)
	}
	if ce := h.Peek(fiber.HeaderContentEncoding); len(ce) > 0 && !bytes.EqualFold(ce, []byte("identity")) {
		return c.Status(http.StatusUnsupportedMediaType).JSON(fiber.Map{"error": "compressed request bodies are not accepted here"})
	}
	body := c.Context().RequestBodyStream()
	if body == nil {
		return c.Next()
	}
	b, err := io.ReadAll(io.LimitReader(body, r.max+1))
	if err != nil {
		return c.Status(http.StatusBadRequest).JSON(fiber.Map{"error": "could not read the request body"})
	}
	if int64(len(b)) > r.max {
		return tooLarge(c, r.max)
	}
	c.Request().SetBody(b)
	return c.Next()
}

func tooLarge(c *fiber.Ctx, max int64) error {
	return c.Status(http.StatusRequestEntityTooLarge).JSON(fiber.Map{
		"error": "request body too large: this route accepts at most " + strconv.FormatInt(max, 10) + " bytes"})
}
