package api

import (
	"errors"
	"net/http"
	"time"
)

// StatusOf returns the HTTP status and Retry-After wait of an error made by
// this package (such as Admin.Require's), so another surface can answer it
// in its own format; 500 and 0 for any other error.
func StatusOf(err error) (status int, retryAfter time.Duration) {
	var he *httpError
	if errors.As(err, &he) {
		return he.status, he.retryAfter
	}
	return http.StatusInternalServerError, 0
}
