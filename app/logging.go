package app

import (
	"context"
	"io"
	"log/slog"
	"strings"
)

// NewLogger builds the structured logger (LOG_FORMAT text|json) whose output
// never contains any of secrets: they are replaced by "REDACTED".
func NewLogger(w io.Writer, format, level string, secrets []string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	if len(secrets) > 0 {
		pairs := make([]string, 0, 2*len(secrets))
		for _, s := range secrets {
			pairs = append(pairs, s, "REDACTED")
		}
		h = &scrubHandler{next: h, r: strings.NewReplacer(pairs...)}
	}
	return slog.New(h)
}

// scrubHandler replaces secret values in messages and string attributes.
type scrubHandler struct {
	next slog.Handler
	r    *strings.Replacer
}

func (s *scrubHandler) Enabled(ctx context.Context, l slog.Level) bool { return s.next.Enabled(ctx, l) }

func (s *scrubHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, s.r.Replace(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(s.scrub(a))
		return true
	})
	return s.next.Handle(ctx, out)
}

func (s *scrubHandler) scrub(a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		return slog.String(a.Key, s.r.Replace(a.Value.String()))
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			return slog.String(a.Key, s.r.Replace(err.Error()))
		}
		return slog.String(a.Key, s.r.Replace(a.Value.String()))
	}
	return a
}

func (s *scrubHandler) WithAttrs(as []slog.Attr) slog.Handler {
	cp := make([]slog.Attr, len(as))
	for i, a := range as {
		cp[i] = s.scrub(a)
	}
	return &scrubHandler{next: s.next.WithAttrs(cp), r: s.r}
}

func (s *scrubHandler) WithGroup(name string) slog.Handler {
	return &scrubHandler{next: s.next.WithGroup(name), r: s.r}
}
