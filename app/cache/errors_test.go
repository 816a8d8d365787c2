package cache

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"

	"artifactapi/app/upstream"
)

func TestTransient(t *testing.T) {
	network := &upstream.NetworkError{Err: errors.New("connection refused")}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"unreachable", upstreamErr(network), true},
		{"bare network error", fmt.Errorf("wrapped: %w", network), true},
		{"503", statusErr(http.StatusServiceUnavailable), true},
		{"500", statusErr(http.StatusInternalServerError), true},
		{"429", statusErr(http.StatusTooManyRequests), true},
		{"body cut short", &Error{Status: http.StatusBadGateway, Msg: "upstream download failed", Err: io.ErrUnexpectedEOF}, true},
		{"404", statusErr(http.StatusNotFound), false},
		{"401", statusErr(http.StatusUnauthorized), false},
		{"403", statusErr(http.StatusForbidden), false},
		{"metadata store down", &Error{Status: http.StatusServiceUnavailable, Msg: "metadata store unavailable"}, false},
		{"other", errors.New("boom"), false},
	} {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("%s: Transient = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestErrorMessagesSayItOnce: no layer repeats what the layer below already
// said ("upstream unreachable: upstream unreachable: …").
func TestErrorMessagesSayItOnce(t *testing.T) {
	network := &upstream.NetworkError{Op: "GET up.example", Err: errors.New("dial tcp 127.0.0.1:1: connection refused")}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"unreachable", upstreamErr(network), "upstream unreachable: GET up.example: dial tcp 127.0.0.1:1: connection refused"},
		{"wrapped twice", upstreamErr(upstreamErr(network)), "upstream unreachable: GET up.example: dial tcp 127.0.0.1:1: connection refused"},
		{"body cut short", &Error{Status: http.StatusBadGateway, Msg: "upstream download failed",
			Err: &upstream.NetworkError{Op: "read body", Err: io.ErrUnexpectedEOF}}, "upstream download failed: read body: unexpected EOF"},
		{"other", upstreamErr(errors.New("boom")), "upstream request failed: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Fatalf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestIsUpstream(t *testing.T) {
	network := &upstream.NetworkError{Op: "GET h", Err: errors.New("connection refused")}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"unreachable", upstreamErr(network), true},
		{"bare network error", network, true},
		{"503", statusErr(http.StatusServiceUnavailable), true},
		{"429", statusErr(http.StatusTooManyRequests), true},
		{"401", statusErr(http.StatusUnauthorized), true},
		{"404 is an answer", statusErr(http.StatusNotFound), false},
		{"metadata store down", &Error{Status: http.StatusServiceUnavailable, Msg: "metadata store unavailable"}, false},
		{"client went away", io.ErrClosedPipe, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsUpstream(tc.err); got != tc.want {
				t.Fatalf("IsUpstream = %v, want %v", got, tc.want)
			}
		})
	}
}
