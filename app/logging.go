package app

import (
	"io"
	"log/slog"

	"artifactapi/app/logx"
)

// NewLogger builds the structured logger (LOG_FORMAT text|json) whose output
// never contains any of secrets: they are replaced by "REDACTED".
func NewLogger(w io.Writer, format, level string, secrets []string) *slog.Logger {
	return logx.New(w, format, level, secrets)
}
