// Package logx is the product's logging: a slog logger (text or JSON) whose
// output never contains a configured secret, a fast path for the one access
// line per request, and a Writer that batches lines on their way out.
package logx

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// New builds the structured logger (format text|json, level
// debug|info|warn|error) writing to w. Any of secrets appearing in a message
// or a string attribute is replaced by "REDACTED".
func New(w io.Writer, format, level string, secrets []string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if _, ok := w.(*Writer); !ok {
		w = &syncWriter{w: w}
	}
	h := &Handler{w: w, json: format == "json", level: lv, secrets: nonEmpty(secrets)}
	if h.json {
		h.next = slog.NewJSONHandler(w, opts)
	} else {
		h.next = slog.NewTextHandler(w, opts)
	}
	if len(h.secrets) > 0 {
		pairs := make([]string, 0, 2*len(h.secrets))
		for _, s := range h.secrets {
			pairs = append(pairs, s, "REDACTED")
		}
		h.r = strings.NewReplacer(pairs...)
	}
	return slog.New(h)
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Handler is the root handler built by New. Loggers derived from it with
// With or WithGroup scrub the same way through slog's own handlers.
type Handler struct {
	next    slog.Handler
	w       io.Writer
	json    bool
	level   slog.Level
	secrets []string
	r       *strings.Replacer
	bufs    sync.Pool
	sec     atomic.Pointer[secondStamp]
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, rec slog.Record) error {
	if h.r == nil {
		return h.next.Handle(ctx, rec)
	}
	return h.next.Handle(ctx, h.scrubRecord(rec))
}

// scrubRecord is rec with secrets replaced in its message and attributes.
func (h *Handler) scrubRecord(rec slog.Record) slog.Record {
	out := slog.NewRecord(rec.Time, rec.Level, h.scrub(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.scrubAttr(a))
		return true
	})
	return out
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	if h.r == nil {
		return h.next.WithAttrs(as)
	}
	return &scrubbed{root: h, next: h.next.WithAttrs(h.scrubAttrs(as))}
}

func (h *Handler) scrubAttrs(as []slog.Attr) []slog.Attr {
	cp := make([]slog.Attr, len(as))
	for i, a := range as {
		cp[i] = h.scrubAttr(a)
	}
	return cp
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	if h.r == nil {
		return h.next.WithGroup(name)
	}
	return &scrubbed{root: h, next: h.next.WithGroup(name)}
}

// scrub replaces secrets in s. The common case, no secret at all, costs a
// few substring searches and no allocation.
func (h *Handler) scrub(s string) string {
	for _, sec := range h.secrets {
		if strings.Contains(s, sec) {
			return h.r.Replace(s)
		}
	}
	return s
}

func (h *Handler) scrubAttr(a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.scrub(a.Value.String()))
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			return slog.String(a.Key, h.scrub(err.Error()))
		}
		return slog.String(a.Key, h.scrub(a.Value.String()))
	case slog.KindGroup:
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(h.scrubAttrs(a.Value.Group())...)}
	}
	return a
}

// scrubbed is a derived handler (With, WithGroup) of a Handler with secrets.
type scrubbed struct {
	root *Handler
	next slog.Handler
}

func (s *scrubbed) Enabled(ctx context.Context, l slog.Level) bool { return s.next.Enabled(ctx, l) }

func (s *scrubbed) Handle(ctx context.Context, rec slog.Record) error {
	return s.next.Handle(ctx, s.root.scrubRecord(rec))
}

func (s *scrubbed) WithAttrs(as []slog.Attr) slog.Handler {
	return &scrubbed{root: s.root, next: s.next.WithAttrs(s.root.scrubAttrs(as))}
}

func (s *scrubbed) WithGroup(name string) slog.Handler {
	return &scrubbed{root: s.root, next: s.next.WithGroup(name)}
}

// Access is one request's access line: the fields, in this order, that a
// slog call with the same attributes would print.
type Access struct {
	Time       time.Time
	Msg        string // "Cache HIT" | "Cache MISS"
	Remote     string
	Path       string
	Method     string
	Status     int
	Source     string
	Bytes      int64
	DurationMS int64
	Stale      bool
	Err        string
}

// LogAccess writes a's line through l. When l was built by New, the line is
// formatted directly (no attribute boxing, no reflection, one pooled buffer);
// otherwise it goes through l as a plain Info record. Either way the output
// is the same line.
func LogAccess(l *slog.Logger, a *Access) {
	h, ok := l.Handler().(*Handler)
	if !ok {
		logAccessSlow(l, a)
		return
	}
	if !h.next.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	bp, _ := h.bufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, 512)
		bp = &b
	}
	b := (*bp)[:0]
	if h.json {
		b = h.appendJSON(b, a)
	} else {
		b = h.appendText(b, a)
	}
	_, _ = h.w.Write(b)
	if cap(b) <= 16<<10 {
		*bp = b
		h.bufs.Put(bp)
	}
}

func logAccessSlow(l *slog.Logger, a *Access) {
	ctx := context.Background()
	if !l.Enabled(ctx, slog.LevelInfo) {
		return
	}
	var buf [11]slog.Attr
	attrs := append(buf[:0], slog.String("remote", a.Remote), slog.String("path", a.Path),
		slog.String("method", a.Method), slog.Int("status", a.Status), slog.String("cache", a.Msg),
		slog.String("source", a.Source), slog.Int64("bytes", a.Bytes), slog.Int64("duration_ms", a.DurationMS))
	if a.Stale {
		attrs = append(attrs, slog.Bool("stale", true))
	}
	if a.Err != "" {
		attrs = append(attrs, slog.String("err", a.Err))
	}
	l.LogAttrs(ctx, slog.LevelInfo, a.Msg, attrs...)
}
