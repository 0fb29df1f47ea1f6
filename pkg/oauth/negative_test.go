package oauth

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Every rejection path: the status, the answer, and that nothing was stored
// (no connection written, no pending authorization consumed unless the case
// spends it) and nothing sent to the provider.
func TestCallbackRejections(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		type started struct {
			query  string // the provider's callback query for a started authorization
			cookie string
		}
		tests := []struct {
			name string
			// build returns the callback query and cookies, given a started authorization.
			build      func(r *testRig, s started) (string, []string)
			status     int
			code       string
			tokenCalls int32
			consumed   int32 // pending authorizations consumed
			keepsState bool  // the started authorization is still usable afterwards
		}{
			{name: "missing state", status: 400, code: "invalid_state", keepsState: true,
				build: func(r *testRig, s started) (string, []string) { return "code=abc", []string{s.cookie} }},
			{name: "empty state", status: 400, code: "invalid_state", keepsState: true,
				build: func(r *testRig, s started) (string, []string) { return "code=abc&state=", []string{s.cookie} }},
			{name: "malformed state", status: 400, code: "invalid_state", keepsState: true,
				build: func(r *testRig, s started) (string, []string) {
					return "code=abc&state=not-a-state", []string{s.cookie}
				}},
			{name: "oversized state", status: 400, code: "invalid_request", keepsState: true,
				build: func(r *testRig, s started) (string, []string) {
					return "code=abc&state=" + strings.Repeat("A", 4000), []string{s.cookie}
				}},
			{name: "oversized code", status: 400, code: "invalid_request", keepsState: true,
				build: func(r *testRig, s started) (string, []string) {
					q, _ := url.ParseQuery(s.query)
					return "state=" + q.Get("state") + "&code=" + strings.Repeat("c", 5000), []string{s.cookie}
				}},
			{name: "unknown state", status: 400, code: "invalid_state", keepsState: true,
				build: func(r *testRig, s started) (string, []string) {
					return "code=abc&state=" + newNonce(), []string{s.cookie}
				}},
			{name: "repeated state", status: 400, code: "invalid_request", keepsState: true,
				build: func(r *testRig, s started) (string, []string) {
					return s.query + "&state=" + newNonce(), []string{s.cookie}
				}},
			{name: "repeated code", status: 400, code: "invalid_request", keepsState: true,
				build: func(r *testRig, s started) (string, []string) { return s.query + "&code=other", []string{s.cookie} }},
			{name: "code and error both", status: 400, code: "invalid_request", keepsState: true,
				build: func(r *testRig, s started) (string, []string) {
					return s.query + "&error=access_denied", []string{s.cookie}
				}},
			{name: "neither code nor error", status: 400, code: "invalid_request", keepsState: true,
				build: func(r *testRig, s started) (string, []string) {
					q, _ := url.ParseQuery(s.query)
					return "state=" + q.Get("state"), []string{s.cookie}
				}},
			{name: "binding cookie missing", status: 403, code: "binding_mismatch", keepsState: true,
				build: func(r *testRig, s started) (string, []string) { return s.query, nil }},
			{name: "unknown state without a cookie", status: 400, code: "invalid_state", keepsState: true,
				build: func(r *testRig, s started) (string, []string) { return "code=abc&state=" + newNonce(), nil }},
			{name: "replayed state without a cookie (reload after success: the cookie was cleared)", status: 400, code: "invalid_state", tokenCalls: 1, consumed: 1,
				build: func(r *testRig, s started) (string, []string) {
					if cb := r.callback(r.prov.t, s.query, s.cookie); cb.StatusCode != 200 {
						r.prov.t.Fatalf("first callback = %d", cb.StatusCode)
					}
					r.store.conns.Store(0)
					return s.query, nil
				}},
			{name: "binding cookie from another browser", status: 403, code: "binding_mismatch", keepsState: true,
				build: func(r *testRig, s started) (string, []string) {
					return s.query, []string{BindingCookie + "=" + newNonce()}
				}},
			{name: "binding cookie malformed", status: 403, code: "binding_mismatch", keepsState: true,
				build: func(r *testRig, s started) (string, []string) { return s.query, []string{BindingCookie + "=<script>"} }},
			{name: "expired state still in the table", status: 400, code: "invalid_state", keepsState: false,
				build: func(r *testRig, s started) (string, []string) {
					r.now = r.now.Add(PendingTTL + time.Second)
					return s.query, []string{s.cookie}
				}},
			{name: "replayed state", status: 400, code: "invalid_state", tokenCalls: 1, consumed: 1,
				build: func(r *testRig, s started) (string, []string) {
					if cb := r.callback(r.prov.t, s.query, s.cookie); cb.StatusCode != 200 {
						r.prov.t.Fatalf("first callback = %d", cb.StatusCode)
					}
					r.store.conns.Store(0)
					return s.query, []string{s.cookie}
				}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := newRig(t, newStore)
				resp, cookie := r.start(t, "")
				s := started{query: r.prov.approve(t, resp.Headers["Location"]), cookie: cookie}
				query, cookies := tt.build(r, s)
				cb := r.callback(t, query, cookies...)
				if cb.StatusCode != tt.status || !strings.Contains(cb.Body, "Error code: "+tt.code) {
					t.Errorf("status = %d, want %d with %q; body:\n%s", cb.StatusCode, tt.status, tt.code, cb.Body)
				}
				if n := r.prov.tokenCalls.Load(); n != tt.tokenCalls {
					t.Errorf("token calls = %d, want %d", n, tt.tokenCalls)
				}
				if n := r.store.consumed.Load(); n != tt.consumed {
					t.Errorf("pending authorizations consumed = %d, want %d", n, tt.consumed)
				}
				if n := r.store.conns.Load(); n != 0 {
					t.Errorf("connections written = %d, want 0", n)
				}
				if tt.keepsState {
					// The legitimate browser can still finish.
					if cb := r.callback(t, s.query, s.cookie); cb.StatusCode != 200 {
						t.Errorf("after the rejection the real callback = %d, want 200 (state kept)", cb.StatusCode)
					}
				}
			})
		}
	})
}

func TestCallbackProviderDeclined(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newRig(t, newStore)
		resp, cookie := r.start(t, "return_to="+url.QueryEscape("https://app.example/done")+"&app_state=s1")
		q, _ := url.Parse(resp.Headers["Location"])
		payload := `<script>alert(document.cookie)</script>"><img src=x onerror=alert(1)>`
		query := url.Values{"error": {"access_denied"}, "error_description": {payload}, "state": {q.Query().Get("state")}}.Encode()
		cb := r.callback(t, query, cookie)
		if cb.StatusCode != 400 || !strings.Contains(cb.Body, "You declined") {
			t.Fatalf("declined: %d %s", cb.StatusCode, cb.Body)
		}
		if strings.Contains(cb.Body, "<script>") || strings.Contains(cb.Body, "<img") || strings.Contains(cb.Body, "onerror") {
			t.Errorf("declined page reflects the error_description")
		}
		// The connect token is spent: the way to try again is back at the app.
		if !strings.Contains(cb.Body, `href="https://app.example/done">Back to the app`) || strings.Contains(cb.Body, `href="authorize`) {
			t.Errorf("declined page has no link back to the app's return_to:\n%s", cb.Body)
		}
		if r.prov.tokenCalls.Load() != 0 || r.store.conns.Load() != 0 {
			t.Errorf("token calls %d, connections %d; want none", r.prov.tokenCalls.Load(), r.store.conns.Load())
		}
		// The description is logged (sanitised: see TestSafeDescription),
		// as a JSON string: never raw HTML on a page.
		if strings.Contains(r.logs.String(), "<script>") {
			t.Errorf("logs carry the error_description unescaped")
		}
		// An unknown provider error with junk in it.
		resp, cookie = r.start(t, "")
		q, _ = url.Parse(resp.Headers["Location"])
		cb = r.callback(t, url.Values{"error": {"<b>weird</b>"}, "state": {q.Query().Get("state")}}.Encode(), cookie)
		if cb.StatusCode != 400 || strings.Contains(cb.Body, "<b>") || strings.Contains(r.logs.String(), "weird") {
			t.Errorf("unknown provider error: %d, reflected or logged", cb.StatusCode)
		}
	})
}

func TestAuthorizeRejections(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		vectors := []string{
			"//evil.example", "/\\evil.example", "https://evil.example/done", "https://app.example:8443/done",
			"https://app.example.evil.example/done", "https://app-example.com/done", "javascript:alert(1)",
			"https://app.example/done%09", "https:%2F%2Fevil.example", "\thttps://app.example/done", "https://app.example/done\n",
			"http://app.example/done", "https://app.example/donex", "https://app.example@evil.example/done",
			// A query Go's url.ParseQuery refuses (';' separators, bad
			// escapes) would lose those pairs when the callback adds
			// result: refused rather than changed silently.
			"https://app.example/done?a=1;b=2", "https://app.example/done?a=%zz",
		}
		// In the connect token (the default), and as a plain parameter
		// with REQUIRE_CONNECT_TOKEN=false: refused before anything is stored.
		for _, mode := range []string{"true", "false"} {
			for _, v := range vectors {
				t.Run("require_connect_token="+mode+" return_to "+v, func(t *testing.T) {
					r := newRig(t, newStore, "REQUIRE_CONNECT_TOKEN", mode)
					resp, _ := r.start(t, "return_to="+url.QueryEscape(v))
					if resp.StatusCode != 400 || !strings.Contains(resp.Body, "return_to_not_allowed") || resp.Headers["Location"] != "" || len(resp.Cookies) != 0 {
						t.Errorf("status %d, location %q, cookies %v", resp.StatusCode, resp.Headers["Location"], resp.Cookies)
					}
					if r.store.puts.Load() != 0 {
						t.Errorf("pending authorization stored for a refused return_to")
					}
				})
			}
		}
		for name, q := range map[string]string{
			"repeated return_to":  "return_to=https%3A%2F%2Fapp.example%2Fdone&return_to=https%3A%2F%2Fevil.example",
			"oversized app_state": "app_state=" + strings.Repeat("a", 513),
			"bad encoding":        "return_to=%zz",
		} {
			t.Run(name, func(t *testing.T) {
				r := newRig(t, newStore, "REQUIRE_CONNECT_TOKEN", "false")
				resp, _ := r.startRaw(t, q)
				if resp.StatusCode != 400 || r.store.puts.Load() != 0 || len(resp.Cookies) != 0 {
					t.Errorf("status %d, puts %d", resp.StatusCode, r.store.puts.Load())
				}
			})
		}
	})
}

// Token endpoint answers that must not create a connection.
func TestCallbackTokenFailures(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		tests := []struct {
			name   string
			status int
			body   string
			header string
			hang   bool
			want   int
			code   string
		}{
			{name: "200 with error", status: 200, body: `{"error":"invalid_grant"}`, want: 400, code: "invalid_grant"},
			{name: "no access_token", status: 200, body: `{"token_type":"bearer","expires_in":3600,"owner_id":"1"}`, want: 502, code: "provider_bad_response"},
			{name: "invalid_grant", status: 400, body: `{"error":"invalid_grant","errors":[{"errorCode":"OAU-213"}]}`, want: 400, code: "invalid_grant"},
			{name: "unauthorized_client", status: 400, body: `{"error":"unauthorized_client","errors":[{"errorCode":"OAU-251","message":"Unauthorized for this grant type"}]}`, want: 502, code: "unauthorized_client"},
			{name: "unsupported_grant_type", status: 400, body: `{"error":"unsupported_grant_type"}`, want: 502, code: "unauthorized_client"},
			{name: "invalid_client", status: 401, body: `{"error":"invalid_client"}`, want: 502, code: "invalid_client"},
			{name: "5xx", status: 503, body: `upstream down`, want: 502, code: "provider_unavailable"},
			{name: "rate limited", status: 429, body: `{}`, header: "5", want: 502, code: "provider_unavailable"},
			{name: "timeout", hang: true, want: 502, code: "provider_unavailable"},
			{name: "token_type mac", status: 200, body: `{"access_token":"a","token_type":"mac","expires_in":3600,"owner_id":"1"}`, want: 502, code: "provider_bad_response"},
			{name: "no account", status: 200, body: `{"access_token":"a","token_type":"bearer","expires_in":3600}`, want: 502, code: "provider_bad_response"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := newRig(t, newStore)
				if tt.hang { // a hang always ends in the timeout; an answer never should
					r.h.HTTPClient.Timeout = 200 * time.Millisecond
				}
				release := make(chan struct{})
				defer close(release)
				r.prov.respond = func(w http.ResponseWriter, req *http.Request) bool {
					if tt.hang {
						<-release
						return true
					}
					if tt.header != "" {
						w.Header().Set("Retry-After", tt.header)
					}
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tt.status)
					w.Write([]byte(tt.body))
					return true
				}
				resp, cookie := r.start(t, "")
				cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie)
				if cb.StatusCode != tt.want || !strings.Contains(cb.Body, "Error code: "+tt.code) {
					t.Errorf("callback = %d, want %d %s; body %s", cb.StatusCode, tt.want, tt.code, cb.Body)
				}
				if n := r.prov.tokenCalls.Load(); n != 1 {
					t.Errorf("token calls = %d, want exactly 1 (no retry in another auth style)", n)
				}
				if r.store.conns.Load() != 0 {
					t.Errorf("a connection was stored")
				}
				if tt.code == "unauthorized_client" && !strings.Contains(r.logs.String(), "Authorization Code grant") {
					t.Errorf("log does not name the fix:\n%s", r.logs)
				}
			})
		}
	})
}

// Token answers that are odd but valid: stored.
func TestCallbackTokenVariants(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		for name, body := range map[string]string{
			"Bearer capitalised":                        `{"access_token":"a1","token_type":"Bearer","expires_in":3600,"refresh_token":"r1","refresh_token_expires_in":604800,"owner_id":"7"}`,
			"expires_in as string":                      `{"access_token":"a1","token_type":"BEARER","expires_in":"3600","refresh_token":"r1","refresh_token_expires_in":"604800","owner_id":7}`,
			"form-encoded (numbers parsed by x/oauth2)": `access_token=a1&token_type=bearer&expires_in=3600&refresh_token=r1&refresh_token_expires_in=604800&owner_id=7`,
		} {
			t.Run(name, func(t *testing.T) {
				r := newRig(t, newStore)
				r.prov.respond = func(w http.ResponseWriter, req *http.Request) bool {
					ct := "application/json"
					if !strings.HasPrefix(body, "{") {
						ct = "application/x-www-form-urlencoded"
					}
					w.Header().Set("Content-Type", ct)
					w.Write([]byte(body))
					return true
				}
				resp, cookie := r.start(t, "")
				if cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie); cb.StatusCode != 200 {
					t.Fatalf("callback = %d %s", cb.StatusCode, cb.Body)
				}
				c, err := r.h.Store.GetConnection(context.Background(), "generic", "7")
				if err != nil || !c.AccessExpiresAt.Equal(r.now.Add(time.Hour)) || !c.RefreshExpiresAt.Equal(r.now.Add(7*24*time.Hour)) {
					t.Errorf("connection %+v, %v", c, err)
				}
			})
		}
	})
}

// Several callbacks racing with the same code and state: one token request.
func TestConcurrentCallbacks(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newRig(t, newStore)
		resp, cookie := r.start(t, "")
		query := r.prov.approve(t, resp.Headers["Location"])
		var wg sync.WaitGroup
		statuses := make(chan int, 8)
		for range 8 {
			wg.Go(func() {
				resp, _ := r.h.Callback(context.Background(), apiRequest("/callback", query, cookie))
				statuses <- resp.StatusCode
			})
		}
		wg.Wait()
		close(statuses)
		ok := 0
		for s := range statuses {
			if s == 200 {
				ok++
			} else if s != 400 {
				t.Errorf("status %d", s)
			}
		}
		if ok != 1 || r.prov.tokenCalls.Load() != 1 {
			t.Errorf("successes %d, token calls %d; want 1 and 1", ok, r.prov.tokenCalls.Load())
		}
	})
}

// A 429 at the code exchange closes the token endpoint for the sweep and
// TokenSource too, until Retry-After.
func TestCallbackRateLimitedPauses(t *testing.T) {
	r := newRig(t, memoryStore)
	r.prov.respond = func(w http.ResponseWriter, req *http.Request) bool {
		w.Header().Set("Retry-After", "40")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	}
	resp, cookie := r.start(t, "")
	if cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie); cb.StatusCode != 502 {
		t.Fatalf("callback = %d, want 502", cb.StatusCode)
	}
	if got, want := r.h.localPause(), r.now.Add(40*time.Second); !got.Equal(want.Truncate(time.Millisecond)) {
		t.Errorf("token endpoint paused until %v, want %v", got, want)
	}
}

// Revoking the replaced session never holds up the callback: a hanging
// revocation endpoint is given up on and the browser still gets its
// success.
func TestRevokeReplacedIsBounded(t *testing.T) {
	r := newRig(t, memoryStore)
	r.h.revokeLimit = 0 // the production bound, revokeTimeout, cuts the scripted hang
	resp, cookie := r.start(t, "")
	if cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie); cb.StatusCode != 200 {
		t.Fatalf("first connect = %d", cb.StatusCode)
	}
	r.prov.revokeHang = make(chan struct{})
	defer close(r.prov.revokeHang)
	resp, cookie = r.start(t, "")
	query := r.prov.approve(t, resp.Headers["Location"])
	// A deadline far enough that load cannot eat it: the hanging revocation
	// is cut at revokeTimeout. How the budget shrinks as the deadline nears
	// is TestRevokeBudget's, on fixed times.
	ctx, cancel := context.WithTimeout(context.Background(), revokeTimeout+revokeReserve+20*time.Second)
	defer cancel()
	cb, err := r.h.Callback(ctx, apiRequest("/callback", query, cookie))
	if err != nil || cb.StatusCode != 200 {
		t.Fatalf("re-authorization = %d, %v; want 200", cb.StatusCode, err)
	}
	if ctx.Err() != nil {
		t.Errorf("the callback ran past its deadline")
	}
	if r.prov.revokeCalls.Load() != 1 || !strings.Contains(r.logs.String(), "could not revoke the replaced session") {
		t.Errorf("revoke calls %d; want 1, given up and logged", r.prov.revokeCalls.Load())
	}
}

// TestRevokeBudget: the revocation's budget is revokeTimeout, shrinking
// as the function's deadline nears so that revokeReserve is left for the
// answer, and none at all when less than that is left.
func TestRevokeBudget(t *testing.T) {
	now := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		deadline time.Time
		want     time.Duration
	}{
		{"no deadline", time.Time{}, revokeTimeout},
		{"far", now.Add(time.Minute), revokeTimeout},
		{"just enough", now.Add(revokeTimeout + revokeReserve), revokeTimeout},
		{"near", now.Add(revokeReserve + 500*time.Millisecond), 500 * time.Millisecond},
		{"only the reserve left", now.Add(revokeReserve), 0},
		{"less than the reserve", now.Add(revokeReserve / 2), -revokeReserve / 2},
		{"past", now.Add(-time.Second), -time.Second - revokeReserve},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := revokeBudget(tt.deadline, now, revokeTimeout); got != tt.want {
				t.Errorf("revokeBudget = %v, want %v", got, tt.want)
			}
		})
	}
}

// A margin longer than the provider's lifetimes makes a connection due the
// moment it is stored: said in the log, with the fix.
func TestWarnWhenAlwaysDue(t *testing.T) {
	r := newRig(t, memoryStore, "REFRESH_MODE", "eager", "REFRESH_WINDOW", "2h")
	resp, cookie := r.start(t, "")
	if cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie); cb.StatusCode != 200 {
		t.Fatalf("callback = %d", cb.StatusCode)
	}
	if !strings.Contains(r.logs.String(), "due as soon as it is refreshed") {
		t.Errorf("no warning for REFRESH_WINDOW longer than the access lifetime:\n%s", r.logs)
	}
	r2 := newRig(t, memoryStore)
	resp, cookie = r2.start(t, "")
	r2.callback(t, r2.prov.approve(t, resp.Headers["Location"]), cookie)
	if strings.Contains(r2.logs.String(), "due as soon as it is refreshed") {
		t.Errorf("warning with the default margins")
	}
}
