package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"

	"artifactapi/app/logx"
)

// NewLogger builds the structured logger (LOG_FORMAT text|json) whose output
// never contains any of secrets: they are replaced by "REDACTED".
func NewLogger(w io.Writer, format, level string, secrets []string) *slog.Logger {
	return logx.New(w, format, level, secrets)
}

// redisLog sends the go-redis client's own messages (reconnects, failed
// dials of its connection pool) to the structured log as warnings, where
// the app's secret scrubbing applies, instead of the standard logger's
// unstructured stderr lines.
type redisLog struct{ log *slog.Logger }

// Printf implements go-redis's internal.Logging.
func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	msg := strings.TrimPrefix(strings.TrimSpace(fmt.Sprintf(format, v...)), "redis: ")
	r.log.WarnContext(ctx, "redis client: "+msg, "component", "coordination")
}

// routeRedisLogs installs log as the go-redis client's logger. go-redis
// keeps one logger per process: the latest instance built wins, which is
// the only one in production.
func routeRedisLogs(log *slog.Logger) {
	redis.SetLogger(redisLog{log: log})
}
