package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"artifactapi/app/cache"
	"artifactapi/app/oci"
)

// Error codes of the OCI distribution spec (and the CNCF registry's
// UNKNOWN/UNAVAILABLE for failures of the proxy itself).
const (
	CodeBlobUnknown     = "BLOB_UNKNOWN"
	CodeManifestUnknown = "MANIFEST_UNKNOWN"
	CodeNameUnknown     = "NAME_UNKNOWN"
	CodeNameInvalid     = "NAME_INVALID"
	CodeDigestInvalid   = "DIGEST_INVALID"
	CodeManifestInvalid = "MANIFEST_INVALID"
	CodeUnauthorized    = "UNAUTHORIZED"
	CodeDenied          = "DENIED"
	CodeTooManyRequests = "TOOMANYREQUESTS"
	CodeUnsupported     = "UNSUPPORTED"
	CodeRangeInvalid    = "RANGE_INVALID"
	CodeUnavailable     = "UNAVAILABLE"
	CodeUnknown         = "UNKNOWN"
)

// codeStatus is the HTTP status of each code.
var codeStatus = map[string]int{
	CodeBlobUnknown:     http.StatusNotFound,
	CodeManifestUnknown: http.StatusNotFound,
	CodeNameUnknown:     http.StatusNotFound,
	CodeNameInvalid:     http.StatusBadRequest,
	CodeDigestInvalid:   http.StatusBadRequest,
	CodeManifestInvalid: http.StatusBadRequest,
	CodeUnauthorized:    http.StatusUnauthorized,
	CodeDenied:          http.StatusForbidden,
	CodeTooManyRequests: http.StatusTooManyRequests,
	CodeUnsupported:     http.StatusMethodNotAllowed,
	CodeRangeInvalid:    http.StatusRequestedRangeNotSatisfiable,
	CodeUnavailable:     http.StatusServiceUnavailable,
	CodeUnknown:         http.StatusInternalServerError,
}

// Error is a /v2 failure: an OCI error code, its HTTP status, a message and
// a detail object for the client, and a cause for the log only.
type Error struct {
	Status  int
	Code    string
	Message string
	Detail  map[string]string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Fail returns an error with code's status.
func Fail(code, message string, detail map[string]string) *Error {
	return &Error{Status: codeStatus[code], Code: code, Message: message, Detail: detail}
}

// unknownCode is the "does not exist" code of each surface.
func unknownCode(k oci.Kind) string {
	switch k {
	case oci.KindBlob:
		return CodeBlobUnknown
	case oci.KindManifest:
		return CodeManifestUnknown
	}
	return CodeNameUnknown
}

// invalidCode is the "malformed request" code of each surface, for an
// upstream 400.
func invalidCode(k oci.Kind) string {
	if k == oci.KindBlob || k == oci.KindReferrers {
		return CodeDigestInvalid
	}
	return CodeNameInvalid
}

// toOCI maps any error of the handlers or the engine to an OCI error for
// surface k. Causes stay in Err; clients see only public messages. An
// upstream's 4xx keeps its meaning (only an unreachable upstream or its 5xx
// is a 502):
//
//	400 → 400 NAME_INVALID (DIGEST_INVALID for blobs and referrers)
//	401, 403 → 403 DENIED: the remote's credentials were refused, which the
//	  client cannot fix by authenticating to us
//	404, 410 → 404 BLOB_UNKNOWN / MANIFEST_UNKNOWN / NAME_UNKNOWN
//	405 → 405 UNSUPPORTED
//	416 → 416 RANGE_INVALID
//	429 → 429 TOOMANYREQUESTS
//	any other 4xx → the same status, UNKNOWN
func toOCI(err error, k oci.Kind, detail map[string]string) *Error {
	var oe *Error
	if errors.As(err, &oe) {
		return oe
	}
	var ce *cache.Error
	switch {
	case errors.As(err, &ce):
		e := &Error{Status: ce.Status, Code: CodeUnknown, Message: ce.Msg, Detail: detail, Err: err}
		up := ce.Upstream
		switch {
		case ce.Status == http.StatusNotFound:
			e.Code = unknownCode(k)
		case ce.Status == http.StatusTooManyRequests:
			e.Code = CodeTooManyRequests
		case up == http.StatusUnauthorized || up == http.StatusForbidden:
			e.Status, e.Code = http.StatusForbidden, CodeDenied
		case up == http.StatusBadRequest:
			e.Status, e.Code = up, invalidCode(k)
		case up == http.StatusMethodNotAllowed:
			e.Status, e.Code = up, CodeUnsupported
		case up == http.StatusRequestedRangeNotSatisfiable:
			e.Status, e.Code = up, CodeRangeInvalid
		case up >= 400 && up < 500:
			e.Status = up
		case ce.Status == http.StatusServiceUnavailable:
			e.Code = CodeUnavailable
		}
		return e
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusGatewayTimeout, Code: CodeUnknown, Message: "timed out", Detail: detail, Err: err}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeUnknown, Message: "internal error", Detail: detail, Err: err}
}

type wireError struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Detail  map[string]string `json:"detail"`
}

// writeError is the one writer of the OCI error envelope
// {"errors":[{"code","message","detail"}]}.
func writeError(c *fiber.Ctx, e *Error) error {
	setAPIVersion(c)
	detail := e.Detail
	if detail == nil {
		detail = map[string]string{}
	}
	if e.Code == CodeUnauthorized && len(c.Response().Header.Peek(fiber.HeaderWWWAuthenticate)) == 0 {
		c.Set(fiber.HeaderWWWAuthenticate, `Basic realm="artifactapi"`)
	}
	if e.Code == CodeUnsupported && e.Status == http.StatusMethodNotAllowed {
		c.Set(fiber.HeaderAllow, "GET, HEAD")
	}
	if ra := cache.RetryAfterOf(e.Err); ra != "" {
		c.Set(fiber.HeaderRetryAfter, ra)
	}
	return c.Status(e.Status).JSON(fiber.Map{"errors": []wireError{{Code: e.Code, Message: e.Message, Detail: detail}}})
}
