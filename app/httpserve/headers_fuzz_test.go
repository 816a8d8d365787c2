package httpserve

import (
	"fmt"
	"mime"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// FuzzParseRange: whatever the client sends, a range stays inside the body,
// a 200 is the whole body, and a 206 written back as a header parses to itself.
func FuzzParseRange(f *testing.F) {
	for _, s := range []struct {
		rh, ifRange string
		size        int64
	}{
		{"bytes=0-99", "", 1000}, {"bytes=-100", "", 1000}, {"bytes=500-", "", 1000},
		{"bytes=0-0", "", 1}, {"bytes=-5", "", 0}, {"bytes=1000-", "", 1000},
		{"bytes=0-99,200-299", "", 1000}, {"bytes=+5-", "", 10}, {"bytes=--5", "", 10},
		{"bytes= 3 - 7 ", `"etag"`, 10}, {"bytes=9223372036854775807-", "", 10}, {"items=0-1", "", 10},
		{"bytes=0-1", "", -1},
	} {
		f.Add(s.rh, s.ifRange, s.size)
	}
	const etag, lm = `"etag"`, "Mon, 02 Jan 2006 15:04:05 GMT"
	f.Fuzz(func(t *testing.T, rh, ifRange string, size int64) {
		off, length, status, ok := parseRange(rh, ifRange, size, etag, lm)
		switch {
		case !ok:
			if size < 0 || rh == "" {
				t.Fatalf("416 for size %d, Range %q", size, rh)
			}
		case status == http.StatusOK:
			if off != 0 || length != size {
				t.Fatalf("200 with off %d length %d of %d", off, length, size)
			}
		case status == http.StatusPartialContent:
			if size < 0 || off < 0 || length < 1 || off > size-length {
				t.Fatalf("Range %q of %d bytes gave off %d length %d", rh, size, off, length)
			}
			again := fmt.Sprintf("bytes=%d-%d", off, off+length-1)
			o2, l2, s2, ok2 := parseRange(again, "", size, etag, lm)
			if !ok2 || s2 != http.StatusPartialContent || o2 != off || l2 != length {
				t.Fatalf("%q → (%d,%d) but %q → (%d,%d,%d,%v)", rh, off, length, again, o2, l2, s2, ok2)
			}
		default:
			t.Fatalf("unexpected status %d", status)
		}
	})
}

// FuzzNotModified: a conditional request is answered 304 only for a
// validator it names, and always for the exact validator of the body.
func FuzzNotModified(f *testing.F) {
	const lm = "Mon, 02 Jan 2006 15:04:05 GMT"
	f.Add(`"abc"`, "", `"abc"`, lm)
	f.Add(`W/"abc", "def"`, "", `"abc"`, "")
	f.Add("*", "", `"x"`, "")
	f.Add("", lm, "", lm)
	f.Add("", "Sun, 06 Nov 1994 08:49:37 GMT", `"x"`, lm)
	f.Add("", "garbage", "", lm)
	f.Add(`"x"`, lm, "", lm)
	f.Fuzz(func(t *testing.T, inm, ims, etag, lastMod string) {
		got := notModified(inm, ims, etag, lastMod)
		if inm == "" && ims == "" && got {
			t.Fatal("304 without a conditional header")
		}
		if inm != "" && etag == "" && got {
			t.Fatalf("304 for If-None-Match %q without an ETag", inm)
		}
		if etag != "" && etag == strings.TrimSpace(etag) && !strings.Contains(etag, ",") && !notModified(etag, ims, etag, lastMod) {
			t.Fatalf("If-None-Match equal to the ETag %q is not a 304", etag)
		}
		if tm, err := http.ParseTime(lastMod); err == nil {
			same := tm.UTC().Format(http.TimeFormat)
			if !notModified("", same, etag, same) {
				t.Fatalf("If-Modified-Since equal to Last-Modified %q is not a 304", same)
			}
			if notModified("", tm.Add(-time.Second).UTC().Format(http.TimeFormat), etag, same) {
				t.Fatalf("If-Modified-Since before Last-Modified %q is a 304", same)
			}
		}
	})
}

// FuzzAttachment: the Content-Disposition of any file name is one header
// line that parses back (mime.ParseMediaType) to an attachment of that name.
func FuzzAttachment(f *testing.F) {
	for _, s := range []string{"tool.tgz", "", "a b.txt", "naïve.zip", "x\r\nSet-Cookie: a=b", "q\"uote\\.bin",
		"tab\there", "\x00nul", "\xff\xfe", "%41.txt", "a;b=c", strings.Repeat("x", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		for _, v := range []string{attachment(name), headerValue(name)} {
			if strings.ContainsAny(v, "\r\n\x00") {
				t.Fatalf("Content-Disposition for %q contains CR, LF or NUL: %q", name, v)
			}
			typ, params, err := mime.ParseMediaType(v)
			if err != nil || typ != "attachment" {
				t.Fatalf("Content-Disposition for %q = %q does not parse: %v", name, v, err)
			}
			if params["filename"] != name {
				t.Fatalf("Content-Disposition %q names %q, want %q", v, params["filename"], name)
			}
		}
	})
}

// headerValue is what setAttachment puts on the wire.
func headerValue(name string) string {
	var h fasthttp.ResponseHeader
	setAttachment(&h, name)
	return string(h.Peek("Content-Disposition"))
}
