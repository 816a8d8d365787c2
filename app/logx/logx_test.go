package logx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var accessCases = []struct {
	name string
	a    Access
}{
	{"plain hit", Access{Msg: "Cache HIT", Remote: "github", Path: "org/repo/releases/download/v1/app.tar.gz", Method: "GET", Status: 200, Source: "cache", Bytes: 4096, DurationMS: 3}},
	{"miss with error", Access{Msg: "Cache MISS", Remote: "alpine", Path: "v3.20/main/x86_64/APKINDEX.tar.gz", Method: "GET", Status: 502, Source: "none", Err: `upstream: dial tcp 127.0.0.1:1: connect: connection refused`}},
	{"stale", Access{Msg: "Cache HIT", Remote: "r", Path: "a", Method: "HEAD", Status: 200, Source: "cache", Stale: true}},
	{"quoting", Access{Msg: "Cache MISS", Remote: "r", Path: `a b=c"d\e`, Method: "GET", Status: 404, Source: "none", Err: "line\nbreak\ttab\x01"}},
	{"empty path", Access{Msg: "Cache MISS", Remote: "", Path: "", Method: "GET", Status: 404, Source: "none"}},
	{"unicode", Access{Msg: "Cache HIT", Remote: "r", Path: "héllo/世界\u2028x", Method: "GET", Status: 200, Source: "cache", Bytes: 1}},
	{"invalid utf8", Access{Msg: "Cache MISS", Remote: "r", Path: "bad\xffbyte", Method: "GET", Status: 400, Source: "none"}},
}

var timeField = regexp.MustCompile(`^time=\S+ |"time":"[^"]*",`)

// TestAccessLineMatchesSlog: the fast access line is byte for byte what slog
// prints for the same attributes, in both formats (the time aside, which
// each takes from its own clock reading).
func TestAccessLineMatchesSlog(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		for _, tc := range accessCases {
			t.Run(format+"/"+tc.name, func(t *testing.T) {
				var fast, slow bytes.Buffer
				a := tc.a
				a.Time = time.Now()
				LogAccess(New(&fast, format, "info", nil), &a)
				logAccessSlow(slog.New(New(&slow, format, "info", nil).Handler().(*Handler).next), &a)
				got, want := timeField.ReplaceAllString(fast.String(), ""), timeField.ReplaceAllString(slow.String(), "")
				if !strings.Contains(fast.String(), "Cache ") || got != want {
					t.Fatalf("fast line differs from slog's\nfast: %q\nslog: %q", fast.String(), slow.String())
				}
				if format == "json" {
					var m map[string]any
					if err := json.Unmarshal(fast.Bytes(), &m); err != nil {
						t.Fatalf("not JSON: %v: %s", err, fast.String())
					}
					if _, err := time.Parse(time.RFC3339Nano, m["time"].(string)); err != nil {
						t.Fatalf("time: %v", err)
					}
				}
			})
		}
	}
}

func TestAccessTextTimeIsMillis(t *testing.T) {
	var buf bytes.Buffer
	at := time.Date(2026, 11, 26, 12, 0, 5, 120_000_000, time.UTC)
	LogAccess(New(&buf, "text", "info", nil), &Access{Time: at, Msg: "Cache HIT", Remote: "r", Path: "p", Method: "GET", Status: 200, Source: "cache"})
	if !strings.HasPrefix(buf.String(), "time=2026-11-26T12:00:05.120Z level=INFO msg=\"Cache HIT\" remote=r path=p ") {
		t.Fatalf("line: %q", buf.String())
	}
}

func TestAccessLineRespectsLevel(t *testing.T) {
	var buf bytes.Buffer
	LogAccess(New(&buf, "text", "warn", nil), &Access{Time: time.Now(), Msg: "Cache HIT", Remote: "r", Path: "p", Method: "GET", Status: 200})
	if buf.Len() != 0 {
		t.Fatalf("access line logged at level warn: %q", buf.String())
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	secrets := []string{"s3cr3t-token", "hunter2"}
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		l := New(&buf, format, "debug", append(secrets, ""))
		l.Info("token s3cr3t-token in message", "url", "https://u:hunter2@host/x", "err", errors.New("auth hunter2 refused"),
			slog.Group("g", slog.String("inner", "xs3cr3t-tokenx")))
		l.With("password", "hunter2").WithGroup("grp").Warn("derived", "k", "s3cr3t-token")
		LogAccess(l, &Access{Time: time.Now(), Msg: "Cache MISS", Remote: "r", Path: "p/hunter2", Method: "GET", Status: 502, Err: "s3cr3t-token leaked?"})
		out := buf.String()
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Fatalf("%s output contains secret %q:\n%s", format, s, out)
			}
		}
		if n := strings.Count(out, "REDACTED"); n < 7 {
			t.Fatalf("%s: %d redactions, want at least 7:\n%s", format, n, out)
		}
		if lines := strings.Count(out, "\n"); lines != 3 {
			t.Fatalf("%s: %d lines, want 3:\n%s", format, lines, out)
		}
	}
}

// TestAccessThroughForeignLogger: a logger not built by New still gets the line.
func TestAccessThroughForeignLogger(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, nil))
	LogAccess(l, &Access{Time: time.Now(), Msg: "Cache HIT", Remote: "r", Path: "p", Method: "GET", Status: 200, Source: "cache", Bytes: 7})
	if !strings.Contains(buf.String(), `msg="Cache HIT" remote=r path=p method=GET status=200 cache="Cache HIT" source=cache bytes=7`) {
		t.Fatalf("line: %q", buf.String())
	}
	if !New(&buf, "text", "info", nil).Enabled(context.Background(), slog.LevelInfo) {
		t.Fatal("info disabled at level info")
	}
}

func BenchmarkAccessLine(b *testing.B) {
	for _, tc := range []struct {
		name string
		fast bool
	}{{"fast", true}, {"slog", false}} {
		b.Run(tc.name, func(b *testing.B) {
			l := New(discard{}, "text", "info", []string{"s3cr3t-token", "hunter2"})
			a := accessCases[0].a
			a.Time = time.Now()
			b.ReportAllocs()
			for b.Loop() {
				if tc.fast {
					LogAccess(l, &a)
				} else {
					logAccessSlowScrubbed(l, &a)
				}
			}
		})
	}
}

// logAccessSlowScrubbed is the slog path with scrubbing, as before the fast path.
func logAccessSlowScrubbed(l *slog.Logger, a *Access) {
	h := l.Handler().(*Handler)
	logAccessSlow(slog.New(&scrubbed{root: h, next: h.next}), a)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestTimeFormats: the cached-second time formatting equals the time
// package's, across seconds, zones and trailing zeros.
func TestTimeFormats(t *testing.T) {
	h := New(discard{}, "text", "info", nil).Handler().(*Handler)
	zones := []*time.Location{time.UTC, time.FixedZone("east", 5*3600+30*60), time.FixedZone("west", -7*3600)}
	base := time.Date(2026, 11, 26, 23, 59, 58, 0, time.UTC)
	for i, ns := range []int{0, 1, 999_999_999, 120_000_000, 5_000, 100_000_000, 999_000_000, 1_000_000, 450_500_000} {
		for _, z := range zones {
			tm := base.Add(time.Duration(i) * 700 * time.Millisecond).Truncate(time.Second).Add(time.Duration(ns)).In(z)
			millis := tm.Truncate(time.Millisecond).Add(time.Millisecond / 10).Format(time.RFC3339Nano)
			millis = millis[:len("2006-01-02T15:04:05.000")] + millis[len("2006-01-02T15:04:05.0000"):]
			if got := string(h.appendRFC3339Millis(nil, tm)); got != millis {
				t.Errorf("text time of %v: %q, want %q", tm, got, millis)
			}
			if got, want := string(h.appendRFC3339Nano(nil, tm)), tm.Format(time.RFC3339Nano); got != want {
				t.Errorf("json time of %v: %q, want %q", tm, got, want)
			}
		}
	}
}

func TestTextQuotingMatchesStrconv(t *testing.T) {
	for _, s := range []string{"Cache HIT", `a "b" \c`, "", "plain", "x=y", "tab\tx", "é", "\x7f", "a\\b"} {
		got := string(appendTextString(nil, s))
		want := s
		if textNeedsQuoting(s) {
			want = strconv.Quote(s)
		}
		if got != want {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	}
}
