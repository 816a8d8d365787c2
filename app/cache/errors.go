package cache

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"

	"artifactapi/app/upstream"
)

// Error is an engine failure with the HTTP status a client should see.
type Error struct {
	Status int
	Msg    string
	Err    error // cause, for logs only: never shown to clients
	// Upstream is the upstream's HTTP status when the error is its answer
	// (a surface may map it, e.g. 401/403 to the registry's DENIED).
	Upstream int
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
}

// RetryAfterOf returns the Retry-After value an engine error asks for, or "".
func RetryAfterOf(err error) string {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.RetryAfter
	}
	return ""
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Msg, e.Err)
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// ErrBusy refuses a download beyond the concurrent download cap.
var ErrBusy = &Error{Status: http.StatusServiceUnavailable, Msg: "too many downloads in progress; retry later", RetryAfter: "5"}

// Sentinel errors of local repositories.
var (
	ErrExists   = errors.New("artifact already exists")
	ErrChecksum = errors.New("checksum mismatch")
	ErrTooLarge = errors.New("upload exceeds the size limit")
)

// StatusOf returns the HTTP status for any engine error.
func StatusOf(err error) int {
	var ce *Error
	switch {
	case errors.As(err, &ce):
		return ce.Status
	case errors.Is(err, ErrExists):
		return http.StatusConflict
	case errors.Is(err, ErrChecksum):
		return http.StatusBadRequest
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

// PublicMessage is the client-facing text of an error (no causes, no secrets).
func PublicMessage(err error) string {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Msg
	}
	for _, s := range []error{ErrExists, ErrChecksum, ErrTooLarge} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "internal error"
}

// storageFull is the client-facing error of a download that could not be
// spooled or stored because the disk is full (ENOSPC): the proxy's problem,
// not the upstream's, so 507 rather than 502.
func storageFull(err error) error {
	return &Error{Status: http.StatusInsufficientStorage, Msg: "storage full", Err: err}
}

// NoSpace reports whether err is (or wraps) ENOSPC or EDQUOT.
func NoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// blobErr maps a failure to read a cached entry's stored object: a vanished
// or replaced object is returned as is (Engine.Serve recovers from it), any
// other failure means the blob store cannot be read now: 503, whose message
// names no artifact detail.
func blobErr(err error) error {
	if err == nil || Recoverable(err) {
		return err
	}
	var ce *Error
	if errors.As(err, &ce) {
		return err
	}
	return &Error{Status: http.StatusServiceUnavailable, Msg: "blob store unavailable", Err: err}
}

func upstreamErr(err error) error {
	var ce *Error
	if errors.As(err, &ce) {
		return err // already says what failed: wrapping it again doubles the message
	}
	if upstream.IsNetwork(err) {
		if headerTimeout(err) {
			return &Error{Status: http.StatusGatewayTimeout, Msg: "upstream timed out", Err: err}
		}
		return &Error{Status: http.StatusBadGateway, Msg: "upstream unreachable", Err: err}
	}
	var he *upstream.HTTPError
	if errors.As(err, &he) {
		return statusErr(he.Status)
	}
	var re *upstream.RefusedError
	if errors.As(err, &re) {
		return &Error{Status: http.StatusBadGateway, Msg: re.Public(), Err: err}
	}
	return &Error{Status: http.StatusBadGateway, Msg: "upstream request failed", Err: err}
}

// headerTimeout reports a network error that is a timeout after the
// connection was made (the upstream accepted the request and sent no
// headers in time); a connect timeout stays "unreachable".
func headerTimeout(err error) bool {
	var te interface{ Timeout() bool }
	if !errors.As(err, &te) || !te.Timeout() {
		return false
	}
	var oe *net.OpError
	return !errors.As(err, &oe) || oe.Op != "dial"
}

// answerErr is statusErr for an upstream answer, with its Retry-After.
func answerErr(status int, h http.Header) error {
	err := statusErr(status)
	if ra := h.Get("Retry-After"); ra != "" && status == http.StatusTooManyRequests {
		err.(*Error).RetryAfter = ra
	}
	return err
}

// statusErr maps an upstream HTTP error status to the client's (404 → 404, 5xx → 502).
func statusErr(status int) error {
	e := &Error{Status: http.StatusBadGateway, Upstream: status,
		Msg: fmt.Sprintf("unexpected upstream answer (HTTP %d)", status)}
	switch {
	case status == http.StatusNotFound || status == http.StatusGone:
		e.Status, e.Msg = http.StatusNotFound, "not found upstream"
	case status == http.StatusTooManyRequests:
		e.Status, e.Msg = http.StatusTooManyRequests, "upstream rate limit"
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Msg = fmt.Sprintf("upstream refused access (HTTP %d)", status)
	case status >= 500:
		e.Msg = fmt.Sprintf("upstream error (HTTP %d)", status)
	}
	return e
}

// IsUpstream reports whether err is a failure of the upstream (unreachable,
// a 5xx or 429 answer, refused credentials, a body cut short) rather than
// this server's or the client's. An upstream 404 is an answer, not a failure.
func IsUpstream(err error) bool {
	if upstream.IsNetwork(err) {
		return true
	}
	var e *Error
	return errors.As(err, &e) && (e.Status == http.StatusBadGateway || e.Status == http.StatusGatewayTimeout ||
		e.Upstream == http.StatusTooManyRequests || e.Upstream >= 500)
}

// Transient reports whether err is an upstream failure that may pass on its
// own, so that trying again later makes sense: the upstream unreachable,
// timed out or its body cut short, a 5xx answer, or a rate limit (429).
func Transient(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return upstream.IsNetwork(err)
	}
	if e == ErrBusy {
		return true
	}
	if e.Upstream != 0 {
		return e.Upstream >= 500 || e.Upstream == http.StatusTooManyRequests
	}
	return e.Status == http.StatusBadGateway || e.Status == http.StatusGatewayTimeout
}
