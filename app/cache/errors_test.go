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
