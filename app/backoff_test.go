package app_test

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"artifactapi/app/apptest"
	"artifactapi/app/testenv"
)

// clientFrom is an HTTP client whose connections leave from the loopback
// address ip (any 127.x.y.z works on Linux): another client address, as far
// as the per-address throttle can tell.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{
		Transport:     &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// whoamiAs asks in's /whoami with Basic user:password from client: the
// status and Retry-After (seconds, 0 when absent).
func whoamiAs(t *testing.T, client *http.Client, in *apptest.Instance, user, password string) (int, int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, in.URL+"/whoami", nil)
	req.SetBasicAuth(user, password)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return resp.StatusCode, ra
}

// TestSignInBackoffPerUserAcrossReplicasAndAddresses: failed passwords for
// one user name, from one address on one replica, make every replica refuse
// that name with 429 and Retry-After — from another address too, the right
// password included, on the API and the dashboard — while another user
// signs in; once the wait is over the right password is accepted again.
func TestSignInBackoffPerUserAcrossReplicasAndAddresses(t *testing.T) {
	b := apptest.NewBackends(t, apptest.Production)
	// The per-address throttle is set out of the way: only the per-user
	// back-off (5 free failures, then 1 s doubling) can refuse here.
	opts := apptest.Options{Remotes: accessRemotes("http://127.0.0.1:9"), Env: map[string]string{"AUTH_FAILURES_PER_MINUTE": "0"}}
	in1 := apptest.Start(t, b, opts)
	in2 := apptest.Start(t, b, opts)
	for _, u := range []string{"victim", "bystander"} {
		if st := call(t, in1, http.MethodPost, "/admin/users", apptest.Admin(),
			map[string]any{"name": u, "password": u + "-password-1", "scopes": []string{"read"}}, nil); st != http.StatusCreated {
			t.Fatalf("create %s: %d", u, st)
		}
	}
	a, other := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	if st, _ := whoamiAs(t, other, in2, "bystander", "bystander-password-1"); st != http.StatusOK {
		t.Fatalf("a client from 127.0.0.2 cannot reach the instance (%d): the loopback range is needed", st)
	}

	// Eight wrong passwords from address A on replica 1: five free, then a
	// wait of 1 s, 2 s, 4 s in front of the next. A 429 meanwhile is waited out.
	failures := 0
	for failures < 8 {
		var st int
		testenv.Eventually(t, 30*time.Second, "a sign-in attempt not held back", func() bool {
			var ra int
			st, ra = whoamiAs(t, a, in1, "victim", "wrong-password-"+strconv.Itoa(failures))
			if st == http.StatusTooManyRequests && (failures < 5 || ra < 1) {
				t.Fatalf("429 after %d failures, Retry-After %d", failures, ra)
			}
			return st != http.StatusTooManyRequests
		})
		if st != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", st)
		}
		failures++
	}

	// Now the name is refused everywhere, right password or not.
	for _, tc := range []struct {
		name   string
		client *http.Client
		in     *apptest.Instance
	}{
		{"same address, same replica", a, in1},
		{"other address, same replica", other, in1},
		{"other address, other replica", other, in2},
	} {
		st, ra := whoamiAs(t, tc.client, tc.in, "victim", "victim-password-1")
		if st != http.StatusTooManyRequests || ra < 1 || ra > 300 {
			t.Errorf("%s: right password during the back-off: %d, Retry-After %d; want 429 with 1..300 s", tc.name, st, ra)
		}
	}
	st, ra := dashboardSignIn(t, other, in2, "victim", "victim-password-1")
	if st != http.StatusTooManyRequests || ra < 1 {
		t.Errorf("dashboard sign-in from another address on the other replica: %d, Retry-After %d; want 429", st, ra)
	}
	if st, _ := whoamiAs(t, other, in2, "bystander", "bystander-password-1"); st != http.StatusOK {
		t.Errorf("another user is refused during the back-off of victim: %d", st)
	}

	// Once the wait is over, the right password goes through and resets the count.
	testenv.Eventually(t, 20*time.Second, "the right password to go through after the back-off", func() bool {
		st, _ := whoamiAs(t, other, in2, "victim", "victim-password-1")
		return st == http.StatusOK
	})
	if st, _ := whoamiAs(t, a, in1, "victim", "wrong-password-again"); st != http.StatusUnauthorized {
		t.Fatalf("after a success the count starts again: a wrong password gets %d, want 401", st)
	}

	var audit struct{ Entries []map[string]any }
	call(t, in1, http.MethodGet, "/audit?action=login&outcome=denied", apptest.Admin(), nil, &audit)
	found := false
	for _, e := range audit.Entries {
		found = found || (e["target"] == "victim" && strings.Contains(e["detail"].(string), "throttled (user)"))
	}
	if !found {
		t.Errorf("the throttled dashboard sign-in is not in the audit log: %v", audit.Entries)
	}
}

// dashboardSignIn posts the sign-in form from client: the status and Retry-After.
func dashboardSignIn(t *testing.T, client *http.Client, in *apptest.Instance, user, password string) (int, int) {
	t.Helper()
	resp, err := client.Get(in.URL + "/ui/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	seed := cookieOf(resp, "artifactapi_csrf")
	form := url.Values{"username": {user}, "token": {password}, "_csrf": {csrfFor(t, in, seed)}}
	req, _ := http.NewRequest(http.MethodPost, in.URL+"/ui/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(seed)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return resp.StatusCode, ra
}

// TestParallelRightTokensAreNeverThrottled: many concurrent requests from
// one address with a right API token (none cached: every check is in
// flight at once, as at a cache expiry) all succeed, although they
// outnumber the address's budget for wrong credentials; wrong tokens from
// that address still exhaust it, and a right token is still let through.
func TestParallelRightTokensAreNeverThrottled(t *testing.T) {
	const perMinute, parallel = 4, 48
	o := textOrigin(t)
	in := apptest.Start(t, apptest.NewBackends(t, apptest.Embedded), apptest.Options{Remotes: accessRemotes(o.URL),
		Env: map[string]string{"AUTH_FAILURES_PER_MINUTE": strconv.Itoa(perMinute), "AUTH_CACHE_TTL": "0s"}})
	secret, _ := newToken(t, in, map[string]any{"name": "ci", "owner": "ci", "owner_kind": "service", "scopes": []string{"read:private"}})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: parallel}}
	get := func(tok string) int {
		req, _ := http.NewRequest(http.MethodGet, in.URL+"/api/private/p.bin", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for round := range 3 {
		codes := make(chan int, parallel)
		start := make(chan struct{})
		for range parallel {
			go func() { <-start; codes <- get(secret) }()
		}
		close(start)
		for range parallel {
			if st := <-codes; st != http.StatusOK {
				t.Fatalf("round %d: a right token among %d parallel requests got %d", round, parallel, st)
			}
		}
	}
	for i := range perMinute {
		if st := get("aat_wrong" + strconv.Itoa(i)); st != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d", i, st)
		}
	}
	if st := get("aat_wrong-again"); st != http.StatusTooManyRequests {
		t.Fatalf("a wrong token once the budget is spent: %d, want 429", st)
	}
	if st := get(secret); st != http.StatusOK {
		t.Fatalf("a right token from the throttled address: %d, want 200", st)
	}
}
