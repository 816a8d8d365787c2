package httpserve

import (
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// notModified answers a conditional GET (RFC 9110 §13.1): If-None-Match
// (weak comparison) wins over If-Modified-Since, which is only consulted
// when the request has no If-None-Match.
func notModified(inm, ims, etag, lm string) bool {
	if inm != "" {
		if etag == "" {
			return false
		}
		for _, t := range strings.Split(inm, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == strings.TrimPrefix(etag, "W/") {
				return true
			}
		}
		return false
	}
	if ims != "" && lm != "" {
		t1, err1 := http.ParseTime(ims)
		t2, err2 := http.ParseTime(lm)
		return err1 == nil && err2 == nil && !t2.After(t1)
	}
	return false
}

// parseRange handles a single byte range (RFC 9110 §14) of a body of size
// bytes (-1 when unknown). Multi-range and unparseable ranges are ignored
// (200 with the whole body), as allowed; so is a Range whose If-Range names
// another representation. ok is false for an unsatisfiable range (416).
func parseRange(rh, ifRange string, size int64, etag, lm string) (off, length int64, status int, ok bool) {
	if rh == "" || size < 0 || !strings.HasPrefix(rh, "bytes=") || strings.Contains(rh, ",") {
		return 0, size, http.StatusOK, true
	}
	if ifRange != "" && ifRange != etag && ifRange != lm {
		return 0, size, http.StatusOK, true
	}
	spec := strings.TrimSpace(rh[len("bytes="):])
	dash := strings.IndexByte(spec, '-')
	if dash < 0 {
		return 0, size, http.StatusOK, true
	}
	startS, endS := strings.TrimSpace(spec[:dash]), strings.TrimSpace(spec[dash+1:])
	var start, end int64
	switch {
	case startS == "":
		n, err := parsePos(endS)
		if err != nil || n <= 0 {
			return 0, size, http.StatusOK, true
		}
		if n > size {
			n = size
		}
		start, end = size-n, size-1
	default:
		s, err := parsePos(startS)
		if err != nil {
			return 0, size, http.StatusOK, true
		}
		start, end = s, size-1
		if endS != "" {
			e, err := parsePos(endS)
			if err != nil || e < s {
				return 0, size, http.StatusOK, true
			}
			if e < size-1 {
				end = e
			}
		}
	}
	if start >= size {
		return 0, 0, 0, false
	}
	return start, end - start + 1, http.StatusPartialContent, true
}

// parsePos parses a range position: 1*DIGIT, no sign (strconv alone
// accepts "+5" and "-0").
func parsePos(s string) (int64, error) {
	if s == "" {
		return 0, strconv.ErrSyntax
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

// setAttachment sets the Content-Disposition of a download named name,
// built on the stack for a plain name (fasthttp copies it).
func setAttachment(h *fasthttp.ResponseHeader, name string) {
	if !plainFilename(name) {
		set(h, hdrDisposition, attachment(name))
		return
	}
	var buf [160]byte
	h.SetCanonical(hdrDisposition, append(append(buf[:0], "attachment; filename="...), name...))
}

// plainFilename: name is a non-empty MIME token, sent without quoting.
func plainFilename(name string) bool {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return name != ""
}

// attachment is the Content-Disposition of a download named name. Plain
// names (the usual case) skip mime.FormatMediaType's map and builder.
func attachment(name string) string {
	if plainFilename(name) {
		return "attachment; filename=" + name
	}
	return mime.FormatMediaType("attachment", map[string]string{"filename": name})
}

// HTTPDate is t as an HTTP date (http.TimeFormat, in UTC), written out:
// every hit on a cached file without an upstream Last-Modified sends one,
// and time.Format was several per cent of such a hit.
func HTTPDate(t time.Time) string {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Format(http.TimeFormat)
	}
	hour, min, sec := t.Clock()
	var b [29]byte
	copy(b[0:3], t.Weekday().String())
	b[3], b[4] = ',', ' '
	b[5], b[6] = byte('0'+day/10), byte('0'+day%10)
	b[7] = ' '
	copy(b[8:11], month.String())
	b[11] = ' '
	b[12], b[13], b[14], b[15] = byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10)
	b[16] = ' '
	b[17], b[18], b[19] = byte('0'+hour/10), byte('0'+hour%10), ':'
	b[20], b[21], b[22] = byte('0'+min/10), byte('0'+min%10), ':'
	b[23], b[24] = byte('0'+sec/10), byte('0'+sec%10)
	copy(b[25:], " GMT")
	return string(b[:])
}
