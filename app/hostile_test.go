package app_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// counter counts the bytes a client managed to send.
type counter struct {
	r io.Reader
	n atomic.Int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// rawRequest is one request written by hand on its own connection.
type rawRequest struct {
	head   string    // request line and headers, without the blank line
	body   io.Reader // sent after the head (after "100 Continue" when expect)
	size   int64     // Content-Length; -1: chunked
	expect bool      // send "Expect: 100-continue" and wait for it
}

// send writes r and returns the final answer. The body goes out from
// another goroutine, as a client that keeps sending while the server
// answers; send returns when the answer is read and the sender stopped.
func (r rawRequest) send(t *testing.T, in *apptest.Instance) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(in.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	var head strings.Builder
	fmt.Fprintf(&head, "%s\r\nHost: x\r\n", r.head)
	if r.size >= 0 {
		fmt.Fprintf(&head, "Content-Length: %d\r\n", r.size)
	} else {
		head.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if r.expect {
		head.WriteString("Expect: 100-continue\r\n")
	}
	head.WriteString("\r\n")
	if _, err := io.WriteString(conn, head.String()); err != nil {
		t.Fatal(err)
	}
	sent := make(chan struct{})
	started := false
	sendBody := func() {
		started = true
		go func() {
			defer close(sent)
			if r.size >= 0 {
				_, _ = io.Copy(conn, r.body)
				return
			}
			cw := httputil.NewChunkedWriter(conn)
			if _, err := io.Copy(cw, r.body); err == nil && cw.Close() == nil {
				_, _ = io.WriteString(conn, "\r\n") // no trailer
			}
		}()
	}
	br := bufio.NewReader(conn)
	if !r.expect {
		sendBody()
	}
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: no answer: %v", r.head, err)
		}
		if resp.StatusCode == http.StatusContinue && !started {
			sendBody()
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		conn.Close() // stops a sender the server no longer reads
		if started {
			<-sent
		}
		return resp, string(b)
	}
}

// repeat is an endless stream of one byte.
type repeat byte

func (b repeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// signInForm returns the CSRF cookie and token of the sign-in form.
func signInForm(t *testing.T, in *apptest.Instance) (cookie, token string) {
	t.Helper()
	resp := in.Do(t, http.MethodGet, "/ui/login", nil, nil)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, c := range resp.Cookies() {
		if c.Name == "artifactapi_csrf" {
			cookie = c.Name + "=" + c.Value
		}
	}
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindSubmatch(b)
	if cookie == "" || m == nil {
		t.Fatalf("sign-in form without CSRF cookie or token: %d", resp.StatusCode)
	}
	return cookie, string(m[1])
}

// TestOversizedBodiesAreRefusedUnread: a body larger than its route takes
// is answered 413 before it is read, parsed or spooled, whoever sends it.
func TestOversizedBodiesAreRefusedUnread(t *testing.T) {
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: localRemotes,
		Env: map[string]string{"MAX_UPLOAD_SIZE": "4MiB"}})
	const big = 64 << 20
	// What a client may push before it reads the refusal: socket buffers
	// and the server's lingering close, far less than the body.
	const bound = 20 << 20
	admin := "Authorization: Bearer " + apptest.AdminToken
	multipart := func(n int64) io.Reader {
		return io.MultiReader(strings.NewReader("--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.bin\"\r\n\r\n"),
			io.LimitReader(repeat('a'), n), strings.NewReader("\r\n--B--\r\n"))
	}
	tests := []struct {
		name, head string
		body       io.Reader
		size       int64
		expect     bool
		maxSent    int64
	}{
		{name: "form to the sign-in page", head: "POST /ui/login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded",
			body: io.LimitReader(repeat('a'), big), size: big, maxSent: bound},
		{name: "chunked form to the sign-in page", head: "POST /ui/login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded",
			body: io.LimitReader(repeat('a'), big), size: -1, maxSent: bound},
		{name: "multipart to a route without a body", head: "POST /health HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=B",
			body: multipart(big), size: big + 100, maxSent: bound},
		{name: "chunked multipart to the sign-in page", head: "POST /ui/login HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=B",
			body: multipart(big), size: -1, maxSent: bound},
		{name: "JSON to bulk eviction", head: "POST /evict HTTP/1.1\r\nContent-Type: application/json\r\n" + admin,
			body: io.LimitReader(repeat(' '), big), size: big, maxSent: bound},
		{name: "form waiting for 100 Continue", head: "POST /ui/login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded",
			body: io.LimitReader(repeat('a'), big), size: big, expect: true, maxSent: 0},
		{name: "upload over MAX_UPLOAD_SIZE waiting for 100 Continue", head: "PUT /api/local/big.bin HTTP/1.1\r\n" + admin,
			body: io.LimitReader(repeat('a'), big), size: big, expect: true, maxSent: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := &counter{r: tc.body}
			resp, b := rawRequest{head: tc.head, body: body, size: tc.size, expect: tc.expect}.send(t, in)
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d %.200q; want 413", resp.StatusCode, b)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(b), &m); err != nil || m["error"] == nil {
				t.Errorf("413 body is not a JSON error: %.200q", b)
			}
			if n := body.n.Load(); n > tc.maxSent {
				t.Fatalf("the client sent %d of %d bytes before the refusal; want at most %d", n, int64(big), tc.maxSent)
			}
		})
	}
	// Small bodies are still read and parsed: a wrong token is refused by
	// the sign-in handler itself.
	for _, size := range []int64{0, -1} {
		t.Run("small form, size "+strconv.FormatInt(size, 10), func(t *testing.T) {
			cookie, token := signInForm(t, in)
			form := url.Values{"_csrf": {token}, "token": {"wrong"}}.Encode()
			if size == 0 {
				size = int64(len(form))
			}
			resp, b := rawRequest{head: "POST /ui/login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nCookie: " + cookie,
				body: strings.NewReader(form), size: size}.send(t, in)
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(b, "not the admin token") {
				t.Fatalf("small form: %d %.200q; want 401 from the sign-in handler", resp.StatusCode, b)
			}
		})
	}
}

// waitClosed reads conn until the server closes it and returns how long
// that took; a connection still open after limit fails the test.
func waitClosed(t *testing.T, conn net.Conn, start time.Time, limit time.Duration) time.Duration {
	t.Helper()
	_ = conn.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %s", limit)
	}
	return time.Since(start)
}

// TestSlowHeadersAreCut: a client must send its headers within
// CLIENT_HEADER_TIMEOUT; bodies and idle keep-alive connections are not
// bound by it.
func TestSlowHeadersAreCut(t *testing.T) {
	const headerTimeout = time.Second
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: localRemotes,
		Env: map[string]string{"CLIENT_HEADER_TIMEOUT": headerTimeout.String()}})
	addr := strings.TrimPrefix(in.URL, "http://")
	cut := []struct {
		name    string
		trickle string // sent one byte every 100 ms; "" sends nothing
	}{
		{name: "headers trickled", trickle: "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 1000)},
		{name: "nothing sent", trickle: ""},
	}
	for _, tc := range cut {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				tick := time.NewTicker(100 * time.Millisecond)
				defer tick.Stop()
				for i := 0; i < len(tc.trickle); i++ {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					if _, err := conn.Write([]byte{tc.trickle[i]}); err != nil {
						return
					}
				}
			}()
			took := waitClosed(t, conn, start, headerTimeout+5*time.Second)
			if took < headerTimeout/2 {
				t.Fatalf("closed after %s, before the header deadline", took)
			}
		})
	}
	t.Run("slow upload body", func(t *testing.T) {
		// 8 pieces 400 ms apart: the body takes three header deadlines.
		pr, pw := io.Pipe()
		go func() {
			tick := time.NewTicker(400 * time.Millisecond)
			defer tick.Stop()
			for range 8 {
				<-tick.C
				if _, err := pw.Write([]byte(strings.Repeat("s", 1024))); err != nil {
					return
				}
			}
			pw.Close()
		}()
		if st, b := put(t, in, "/api/local/slow.bin", pr, 8*1024, apptest.Admin()); st != http.StatusCreated {
			t.Fatalf("slow upload: %d %s", st, b)
		}
	})
	t.Run("idle keep-alive longer than the header deadline", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
		br := bufio.NewReader(conn)
		for i := range 2 {
			if i == 1 {
				// Idle between requests is CLIENT_IDLE_TIMEOUT's business.
				<-time.After(headerTimeout + headerTimeout/2)
			}
			if _, err := io.WriteString(conn, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("request %d on the kept-alive connection: %v", i+1, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("request %d: %d", i+1, resp.StatusCode)
			}
		}
	})
}

// TestEvictAndCacheArtifactTakeOnlyJSON: a form, or JSON with a misspelt
// field, never reaches bulk eviction or the job queue.
func TestEvictAndCacheArtifactTakeOnlyJSON(t *testing.T) {
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: localRemotes})
	if st, b := put(t, in, "/api/local/keep/a.txt", strings.NewReader("kept"), 4, apptest.Admin()); st != http.StatusCreated {
		t.Fatalf("setup upload: %d %s", st, b)
	}
	tests := []struct {
		name, path, ctype, body string
		want                    int
	}{
		{"evict: form asking for a dry run", "/evict", "application/x-www-form-urlencoded", "remote=local&q=keep&dry_run=true", http.StatusUnsupportedMediaType},
		{"evict: multipart form", "/evict", "multipart/form-data; boundary=B", "--B\r\nContent-Disposition: form-data; name=\"remote\"\r\n\r\nlocal\r\n--B--\r\n", http.StatusUnsupportedMediaType},
		{"evict: JSON sent as text", "/evict", "text/plain", `{"remote":"local","q":"keep","dry_run":true}`, http.StatusUnsupportedMediaType},
		{"evict: no content type", "/evict", "", `{"remote":"local","q":"keep","dry_run":true}`, http.StatusUnsupportedMediaType},
		{"evict: misspelt dry_run", "/evict", "application/json", `{"remote":"local","q":"keep","dryrun":true}`, http.StatusBadRequest},
		{"evict: dry run", "/evict", "application/json; charset=utf-8", `{"remote":"local","q":"keep","dry_run":true}`, http.StatusOK},
		{"cache-artifact: form", "/cache-artifact", "application/x-www-form-urlencoded", "remote=local&paths=keep/a.txt", http.StatusUnsupportedMediaType},
		{"cache-artifact: no content type", "/cache-artifact", "", `{"remote":"local","paths":["keep/a.txt"]}`, http.StatusUnsupportedMediaType},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := apptest.Admin()
			if tc.ctype != "" {
				hdr["Content-Type"] = tc.ctype
			}
			resp := in.Do(t, http.MethodPost, tc.path, strings.NewReader(tc.body), hdr)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%d %s; want %d", resp.StatusCode, b, tc.want)
			}
			if st, _, got := in.Get(t, "/api/local/keep/a.txt", nil); st != http.StatusOK || string(got) != "kept" {
				t.Fatalf("the artifact is gone after %s: %d", tc.name, st)
			}
		})
	}
}

// TestFailedUploadsLeaveNothing: an upload cut by its client is neither
// stored nor left in the spool, and an over-long path segment is the
// client's error on both backends.
func TestFailedUploadsLeaveNothing(t *testing.T) {
	forModes(t, func(t *testing.T, mode apptest.Mode) {
		in := apptest.Start(t, apptest.NewBackends(t, mode), apptest.Options{Remotes: localRemotes})
		t.Run("client goes away mid-upload", func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(in.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "PUT /api/local/cut/half.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", apptest.AdminToken, 1<<20)
			if _, err := io.CopyN(conn, newGen(256<<10, 5), 256<<10); err != nil {
				t.Fatal(err)
			}
			testenv.Eventually(t, 10*time.Second, "the upload to reach the spool", func() bool { return len(spoolUploads(t, in)) > 0 })
			conn.Close()
			// The server ends the upload when it sees the close: its spool
			// file goes at once, not at the next restart...
			testenv.Eventually(t, 5*time.Second, "the cut upload's spool file to be removed", func() bool { return len(spoolUploads(t, in)) == 0 })
			// ...and the bytes that did arrive are not stored as the file.
			assertNothingStored(t, in, "local", "cut/half.bin")
		})
		segs := []struct {
			name string
			seg  int
			want int
		}{
			{"segment of 255 bytes", 255, http.StatusCreated},
			{"segment of 256 bytes", 256, http.StatusBadRequest},
			{"segment of 1000 bytes", 1000, http.StatusBadRequest},
		}
		for _, tc := range segs {
			t.Run(tc.name, func(t *testing.T) {
				p := "long/" + strings.Repeat("x", tc.seg-4) + ".bin"
				st, b := put(t, in, "/api/local/"+p, strings.NewReader("data"), 4, apptest.Admin())
				if st != tc.want {
					t.Fatalf("PUT with a %d-byte segment: %d %s; want %d", tc.seg, st, b, tc.want)
				}
				if tc.want != http.StatusCreated {
					assertNothingStored(t, in, "local", p)
				}
			})
		}
	})
}

// TestWrongCredentialsAreThrottled: an address that presents too many wrong
// admin tokens, to the API or to the sign-in page, is answered 429 with
// Retry-After, right token or not; right tokens never count.
func TestWrongCredentialsAreThrottled(t *testing.T) {
	const perMinute = 3
	upload := func(t *testing.T, in *apptest.Instance, token string) (int, http.Header) {
		resp := in.Do(t, http.MethodPut, "/api/local/t/"+testenv.RandomID(4)+".txt", strings.NewReader("x"),
			map[string]string{"Authorization": "Bearer " + token})
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	signIn := func(t *testing.T, in *apptest.Instance, token string) (int, http.Header) {
		cookie, csrf := signInForm(t, in)
		resp := in.Do(t, http.MethodPost, "/ui/login", strings.NewReader(url.Values{"_csrf": {csrf}, "token": {token}}.Encode()),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	tests := []struct {
		name         string
		try, other   func(t *testing.T, in *apptest.Instance, token string) (int, http.Header)
		right, wrong int
	}{
		{name: "admin token on the API", try: upload, other: signIn, right: http.StatusCreated, wrong: http.StatusUnauthorized},
		{name: "dashboard sign-in", try: signIn, other: upload, right: http.StatusSeeOther, wrong: http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: localRemotes,
				Env: map[string]string{"AUTH_FAILURES_PER_MINUTE": strconv.Itoa(perMinute)}})
			for i := range 2 * perMinute {
				if st, _ := tc.try(t, in, apptest.AdminToken); st != tc.right {
					t.Fatalf("right token, attempt %d: %d, want %d", i+1, st, tc.right)
				}
			}
			for i := range perMinute {
				if st, _ := tc.try(t, in, "guess"+strconv.Itoa(i)); st != tc.wrong {
					t.Fatalf("wrong token %d: %d, want %d", i+1, st, tc.wrong)
				}
			}
			for _, attempt := range []struct {
				name string
				try  func(t *testing.T, in *apptest.Instance, token string) (int, http.Header)
				tok  string
			}{{"one more guess", tc.try, "guess"}, {"the right token", tc.try, apptest.AdminToken}, {"a guess elsewhere", tc.other, "guess"}} {
				st, h := attempt.try(t, in, attempt.tok)
				ra, err := strconv.Atoi(h.Get("Retry-After"))
				if st != http.StatusTooManyRequests || err != nil || ra < 1 || ra > 60 {
					t.Fatalf("%s after %d failures: %d, Retry-After %q; want 429 with 1..60 s", attempt.name, perMinute, st, h.Get("Retry-After"))
				}
			}
		})
	}
}
