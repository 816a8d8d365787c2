package registry

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"artifactapi/app/upstream"
)

// TestRecentHeads: concurrent HEADs of one blob share one upstream HEAD, the
// answer is remembered for headTTL, and failures are not remembered.
func TestRecentHeads(t *testing.T) {
	now := time.Unix(1000, 0)
	var clock sync.Mutex
	r := newRecentHeads(16, func() time.Time { clock.Lock(); defer clock.Unlock(); return now })
	advance := func(d time.Duration) { clock.Lock(); now = now.Add(d); clock.Unlock() }
	var calls atomic.Int32
	release := make(chan struct{})
	ok := func() (*upstream.Response, error) {
		calls.Add(1)
		<-release
		h := http.Header{}
		h.Set("Docker-Content-Digest", "sha256:abc")
		return &upstream.Response{StatusCode: http.StatusOK, Header: h, ContentLength: 42, Body: io.NopCloser(http.NoBody)}, nil
	}
	tests := []struct {
		name      string
		key       string
		advance   time.Duration
		fetch     func() (*upstream.Response, error)
		callers   int
		wantCalls int32
		wantCode  int
	}{
		{name: "concurrent HEADs share one", key: "a", fetch: ok, callers: 8, wantCalls: 1, wantCode: 200},
		{name: "remembered", key: "a", fetch: ok, callers: 3, wantCalls: 0, wantCode: 200},
		{name: "asked again after headTTL", key: "a", advance: headTTL, fetch: ok, callers: 1, wantCalls: 1, wantCode: 200},
		{name: "a 404 is not remembered", key: "b", fetch: func() (*upstream.Response, error) {
			calls.Add(1)
			return &upstream.Response{StatusCode: http.StatusNotFound, Header: http.Header{}, Body: io.NopCloser(http.NoBody)}, nil
		}, callers: 2, wantCalls: 2, wantCode: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			advance(tc.advance)
			calls.Store(0)
			release = make(chan struct{})
			var wg sync.WaitGroup
			codes := make([]int, tc.callers)
			for i := range tc.callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := r.head(context.Background(), tc.key, tc.fetch)
					if err != nil {
						t.Error(err)
						return
					}
					codes[i] = resp.StatusCode
					if resp.StatusCode == http.StatusOK && (resp.ContentLength != 42 || resp.Header.Get("Docker-Content-Digest") != "sha256:abc") {
						t.Errorf("answer %d %v", resp.ContentLength, resp.Header)
					}
				}()
			}
			close(release)
			wg.Wait()
			if got := calls.Load(); got != tc.wantCalls {
				t.Errorf("%d upstream HEADs, want %d", got, tc.wantCalls)
			}
			for _, c := range codes {
				if c != tc.wantCode {
					t.Errorf("status %d, want %d", c, tc.wantCode)
				}
			}
		})
	}
}
