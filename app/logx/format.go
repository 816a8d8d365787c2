package logx

import (
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// appendText formats a as slog's TextHandler would.
func (h *Handler) appendText(b []byte, a *Access) []byte {
	b = append(b, "time="...)
	b = h.appendRFC3339Millis(b, a.Time)
	b = append(b, " level=INFO msg="...)
	b = appendTextString(b, a.Msg)
	b = append(b, " remote="...)
	b = appendTextString(b, h.scrub(a.Remote))
	b = append(b, " path="...)
	b = appendTextString(b, h.scrub(a.Path))
	b = append(b, " method="...)
	b = appendTextString(b, h.scrub(a.Method))
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(a.Status), 10)
	b = append(b, " cache="...)
	b = appendTextString(b, a.Msg)
	b = append(b, " source="...)
	b = appendTextString(b, a.Source)
	b = append(b, " bytes="...)
	b = strconv.AppendInt(b, a.Bytes, 10)
	b = append(b, " duration_ms="...)
	b = strconv.AppendInt(b, a.DurationMS, 10)
	if a.Stale {
		b = append(b, " stale=true"...)
	}
	if a.Err != "" {
		b = append(b, " err="...)
		b = appendTextString(b, h.scrub(a.Err))
	}
	return append(b, '\n')
}

// appendJSON formats a as slog's JSONHandler would.
func (h *Handler) appendJSON(b []byte, a *Access) []byte {
	b = append(b, `{"time":"`...)
	b = h.appendRFC3339Nano(b, a.Time)
	b = append(b, `","level":"INFO","msg":`...)
	b = appendJSONString(b, a.Msg)
	b = append(b, `,"remote":`...)
	b = appendJSONString(b, h.scrub(a.Remote))
	b = append(b, `,"path":`...)
	b = appendJSONString(b, h.scrub(a.Path))
	b = append(b, `,"method":`...)
	b = appendJSONString(b, h.scrub(a.Method))
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(a.Status), 10)
	b = append(b, `,"cache":`...)
	b = appendJSONString(b, a.Msg)
	b = append(b, `,"source":`...)
	b = appendJSONString(b, a.Source)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, a.Bytes, 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendInt(b, a.DurationMS, 10)
	if a.Stale {
		b = append(b, `,"stale":true`...)
	}
	if a.Err != "" {
		b = append(b, `,"err":`...)
		b = appendJSONString(b, h.scrub(a.Err))
	}
	return append(b, "}\n"...)
}

// secondStamp is the formatted part of a time that changes once a second:
// "2006-01-02T15:04:05" and the zone ("Z" or "-07:00").
type secondStamp struct {
	unix int64
	loc  *time.Location
	date []byte
	zone []byte
}

// stamp returns the second's formatting, reusing the last one (loggers
// format many lines a second).
func (h *Handler) stamp(t time.Time) *secondStamp {
	if s := h.sec.Load(); s != nil && s.unix == t.Unix() && s.loc == t.Location() {
		return s
	}
	s := &secondStamp{unix: t.Unix(), loc: t.Location(),
		date: t.AppendFormat(nil, "2006-01-02T15:04:05"), zone: t.AppendFormat(nil, "Z07:00")}
	h.sec.Store(s)
	return s
}

// appendRFC3339Millis is slog's text time: RFC 3339 with exactly three
// fractional digits.
func (h *Handler) appendRFC3339Millis(b []byte, t time.Time) []byte {
	s := h.stamp(t)
	ms := t.Nanosecond() / 1e6
	b = append(b, s.date...)
	b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	return append(b, s.zone...)
}

// appendRFC3339Nano is slog's JSON time (time.RFC3339Nano).
func (h *Handler) appendRFC3339Nano(b []byte, t time.Time) []byte {
	s := h.stamp(t)
	b = append(b, s.date...)
	if ns := t.Nanosecond(); ns != 0 {
		var d [10]byte
		d[0] = '.'
		for i := 9; i >= 1; i-- {
			d[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for d[n-1] == '0' {
			n--
		}
		b = append(b, d[:n]...)
	}
	return append(b, s.zone...)
}

// appendTextString writes s bare when slog's text format would, quoted
// (strconv.Quote) otherwise: when empty, or holding a space, '=', '"', a
// control character, or anything not plainly printable.
func appendTextString(b []byte, s string) []byte {
	if !textNeedsQuoting(s) {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return strconv.AppendQuote(b, s)
		}
	}
	// Printable ASCII: strconv.Quote escapes only the quote and backslash.
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b = append(b, '\\', c)
		} else {
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func textNeedsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == '=' || c == '"' || c >= 0x7f {
			return true
		}
	}
	return false
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string, escaped as slog does: quote,
// backslash and control characters, invalid UTF-8 as U+FFFD, and the line
// and paragraph separators.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// syncWriter serialises writes to a destination that is not safe for
// concurrent use: slog's handlers and the access fast path share it.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
