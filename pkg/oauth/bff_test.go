package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// The backend for the frontend's core: sign-in, the session, logout, the
// CSRF and site rules, and sessions ending with their connection. The
// API proxy itself is bff_proxy.go's (its tests are its own); here the api
// route is only checked to reach it, or not.

const (
	bffApp    = "https://app.example/done/spa/" // under the rig's ALLOWED_RETURN_URLS
	bffDomain = "abc123.execute-api.us-east-1.amazonaws.com"
)

// bffStore counts the session writes a handler makes, and can fail
// PutSession.
type bffStore struct {
	Store
	putSessions, touches, deletes atomic.Int32
	failPut                       bool
	// afterGetConnection, when set, runs after each GetConnection.
	afterGetConnection func()
	// dupWrites applies each connection write twice, as the SDK's retry
	// does after a lost reply (the second attempt's answer is returned).
	dupWrites bool
	// afterConnWrite, when set, runs after each connection write.
	afterConnWrite func()
}

func (s *bffStore) ReplaceConnection(ctx context.Context, c, prev *Connection, now time.Time) (*Connection, error) {
	if s.dupWrites {
		if _, err := s.Store.ReplaceConnection(ctx, c, prev, now); err != nil {
			return nil, err
		}
	}
	replaced, err := s.Store.ReplaceConnection(ctx, c, prev, now)
	if s.afterConnWrite != nil {
		s.afterConnWrite()
	}
	return replaced, err
}

func (s *bffStore) PutConnection(ctx context.Context, c *Connection) (*Connection, error) {
	if s.dupWrites {
		if _, err := s.Store.PutConnection(ctx, c); err != nil {
			return nil, err
		}
	}
	replaced, err := s.Store.PutConnection(ctx, c)
	if s.afterConnWrite != nil {
		s.afterConnWrite()
	}
	return replaced, err
}

func (s *bffStore) GetConnection(ctx context.Context, provider, account string) (*Connection, error) {
	c, err := s.Store.GetConnection(ctx, provider, account)
	if s.afterGetConnection != nil {
		s.afterGetConnection()
	}
	return c, err
}

func (s *bffStore) PutSession(ctx context.Context, sess *Session) error {
	s.putSessions.Add(1)
	if s.failPut {
		return errors.New("oauth: put session: injected failure")
	}
	return s.Store.PutSession(ctx, sess)
}

func (s *bffStore) TouchSession(ctx context.Context, key string, idle time.Time) error {
	s.touches.Add(1)
	return s.Store.TouchSession(ctx, key, idle)
}

func (s *bffStore) DeleteSession(ctx context.Context, key string) error {
	s.deletes.Add(1)
	return s.Store.DeleteSession(ctx, key)
}

// bffRig is a testRig whose handler's store counts session writes. Its
// defaults keep REQUIRE_CONNECT_TOKEN and REQUIRE_CONFIRM on: neither
// applies to a BFF sign-in.
type bffRig struct {
	*testRig
	bs *bffStore
	// cookies are the session cookie values handed out, for the log check.
	cookies []string
	states  []string
	// beforeCallback, when set, runs in signIn between the login and the
	// callback.
	beforeCallback func()
}

func newBFFRig(t *testing.T, newStore func(*testing.T) Store, extraEnv ...string) *bffRig {
	t.Helper()
	r := &bffRig{testRig: newRig(t, newStore, append([]string{"REQUIRE_CONFIRM", "true"}, extraEnv...)...)}
	r.manualConfirm = true
	r.bs = &bffStore{Store: r.store}
	r.h.Store = r.bs
	t.Cleanup(func() {
		for _, v := range append(r.cookies, r.states...) {
			if strings.Contains(r.logs.String(), v) {
				t.Errorf("logs contain a session cookie or a state")
			}
		}
	})
	return r
}

// bffRequest is a same-origin request from the app as a browser sends it.
func bffRequest(method, path, body string, cookies ...string) events.APIGatewayV2HTTPRequest {
	req := apiRequest(path, "", cookies...)
	req.RouteKey = ""
	req.RequestContext.HTTP.Method = method
	req.Headers = map[string]string{"x-oauthfn-csrf": "1", "sec-fetch-site": "same-origin", "origin": "https://" + bffDomain}
	req.Body = body
	return req
}

func (r *bffRig) serve(t testing.TB, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, err := r.h.BFFRoutes(context.Background(), req)
	if err != nil {
		t.Fatalf("BFFRoutes returned a Go error: %v", err)
	}
	if resp.Headers["Cache-Control"] != "no-store" {
		t.Errorf("%s %s: Cache-Control = %q, want no-store", req.RequestContext.HTTP.Method, req.RawPath, resp.Headers["Cache-Control"])
	}
	r.checkNoSecrets(t, resp)
	return resp
}

// checkNoSecrets fails if a token or code reached a response.
func (r *bffRig) checkNoSecrets(t testing.TB, resp events.APIGatewayV2HTTPResponse) {
	t.Helper()
	r.prov.mu.Lock()
	defer r.prov.mu.Unlock()
	all := resp.Body + resp.Headers["Location"] + strings.Join(resp.Cookies, ";")
	for _, v := range r.prov.issued {
		if strings.Contains(all, v) {
			t.Errorf("a response carries an issued token or code")
		}
	}
}

// login runs GET /bff/generic/login with query.
func (r *bffRig) login(t testing.TB, query string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	req := apiRequest("/bff/generic/login", query)
	req.RouteKey, req.PathParameters = "GET /bff/{provider}/login", map[string]string{"provider": "generic"}
	return r.serve(t, req)
}

// signIn signs a new browser in to account and returns its session
// cookie ("name=value").
func (r *bffRig) signIn(t testing.TB, account string) string {
	t.Helper()
	r.prov.mu.Lock()
	r.prov.account = account
	r.prov.mu.Unlock()
	resp := r.login(t, "return_to="+url.QueryEscape(bffApp))
	if resp.StatusCode != http.StatusFound || len(resp.Cookies) != 1 {
		t.Fatalf("login = %d %v %s, want a redirect with the binding cookie", resp.StatusCode, resp.Cookies, resp.Body)
	}
	binding, err := http.ParseSetCookie(resp.Cookies[0])
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := url.Parse(resp.Headers["Location"])
	r.states = append(r.states, loc.Query().Get("state"))
	if r.beforeCallback != nil {
		r.beforeCallback()
	}
	cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), binding.Name+"="+binding.Value)
	if cb.StatusCode != http.StatusFound || cb.Headers["Location"] != bffApp {
		t.Fatalf("callback = %d to %q %s, want 302 to %s", cb.StatusCode, cb.Headers["Location"], cb.Body, bffApp)
	}
	r.checkNoSecrets(t, cb)
	for _, c := range cb.Cookies {
		sc, err := http.ParseSetCookie(c)
		if err != nil {
			t.Fatal(err)
		}
		if sc.Name == SessionCookie {
			r.cookies = append(r.cookies, sc.Value)
			return sc.Name + "=" + sc.Value
		}
	}
	t.Fatalf("callback cookies %v: no session cookie", cb.Cookies)
	return ""
}

// sessionOf reads GET /bff/session for cookie.
func (r *bffRig) sessionOf(t testing.TB, cookie string) map[string]any {
	t.Helper()
	resp := r.serve(t, bffRequest("GET", "/bff/session", "", cookie))
	var body map[string]any
	if resp.StatusCode != 200 || json.Unmarshal([]byte(resp.Body), &body) != nil {
		t.Fatalf("session = %d %s", resp.StatusCode, resp.Body)
	}
	return body
}

func (r *bffRig) authenticated(t testing.TB, cookie string) bool {
	t.Helper()
	return r.sessionOf(t, cookie)["authenticated"] == true
}

// stored reads the session item of cookie ("name=value"), or nil.
func (r *bffRig) stored(t testing.TB, cookie string) *Session {
	t.Helper()
	_, value, _ := strings.Cut(cookie, "=")
	s, err := r.store.GetSession(context.Background(), SessionKey(value))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sameSession(a, b *Session) bool {
	return a != nil && b != nil && a.Key == b.Key && a.Provider == b.Provider && a.AccountID == b.AccountID &&
		a.CreatedAt.Equal(b.CreatedAt) && a.IdleUntil.Equal(b.IdleUntil) && a.ExpiresAt.Equal(b.ExpiresAt) && a.ConnCreatedAt.Equal(b.ConnCreatedAt)
}

func jsonErrorCode(resp events.APIGatewayV2HTTPResponse) string {
	var body struct{ Error string }
	_ = json.Unmarshal([]byte(resp.Body), &body)
	return body.Error
}

// reachedProxy reports whether the api route got past the session and the
// CSRF checks (the proxy answers: the stub's 501 now, its own answers
// once it is built).
func reachedProxy(resp events.APIGatewayV2HTTPResponse) bool {
	c := jsonErrorCode(resp)
	return c != "csrf" && c != "session_ended" && c != "not_found"
}

func TestBFFSignIn(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newBFFRig(t, newStore)
		start := r.now
		resp := r.login(t, "return_to="+url.QueryEscape(bffApp)+"&login_hint=ann%40example.com")
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("login = %d %s", resp.StatusCode, resp.Body)
		}
		loc, _ := url.Parse(resp.Headers["Location"])
		q := loc.Query()
		if !strings.HasPrefix(loc.String(), "https://idp.example/authorize?") || q.Get("state") == "" || q.Get("code_challenge_method") != "S256" ||
			q.Get("login_hint") != "ann@example.com" || q.Get("redirect_uri") != "https://"+bffDomain+"/callback" {
			t.Errorf("login redirects to %s", loc.Redacted())
		}
		if n := r.store.stored.Load(); n != 1 {
			t.Errorf("pending authorizations stored = %d, want 1 (no connect token needed)", n)
		}
		binding, _ := http.ParseSetCookie(resp.Cookies[0])
		if binding.Name != BindingCookie {
			t.Fatalf("login cookie = %v", resp.Cookies)
		}
		r.states = append(r.states, q.Get("state"))

		r.now = r.now.Add(30 * time.Second)
		cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), binding.Name+"="+binding.Value)
		if cb.StatusCode != http.StatusFound || cb.Headers["Location"] != bffApp {
			t.Fatalf("callback = %d to %q, want 302 to return_to unchanged (no result, no confirm step)", cb.StatusCode, cb.Headers["Location"])
		}
		if len(cb.Cookies) != 2 || !strings.HasPrefix(cb.Cookies[0], BindingCookie+"=;") || !strings.Contains(cb.Cookies[0], "Max-Age=0") {
			t.Fatalf("callback cookies = %v, want the binding cookie cleared and the session cookie", cb.Cookies)
		}
		sc, err := http.ParseSetCookie(cb.Cookies[1])
		if err != nil || sc.Name != SessionCookie || !wellFormedNonce(sc.Value) {
			t.Fatalf("session cookie = %q", cb.Cookies[1])
		}
		r.cookies = append(r.cookies, sc.Value)
		if want := SessionCookie + "=" + sc.Value + "; Path=/; Max-Age=604800; HttpOnly; Secure; SameSite=Strict"; cb.Cookies[1] != want {
			t.Errorf("session cookie = %q, want %q", cb.Cookies[1], want)
		}
		cookie := sc.Name + "=" + sc.Value

		c, err := r.store.GetConnection(context.Background(), "generic", "1001")
		if err != nil || c.EndUser != "" || c.Status != StatusActive {
			t.Fatalf("connection = %+v, %v; want an active one with no end user", c, err)
		}
		now := r.now
		want := &Session{Key: SessionKey(sc.Value), Provider: "generic", AccountID: "1001", CreatedAt: now,
			IdleUntil: now.Add(8 * time.Hour), ExpiresAt: now.Add(7 * 24 * time.Hour), ConnCreatedAt: c.CreatedAt}
		if got := r.stored(t, cookie); !sameSession(got, want) {
			t.Errorf("session item = %+v, want %+v", got, want)
		}
		if !c.CreatedAt.Equal(now) || start.Equal(now) {
			t.Errorf("connection CreatedAt = %v, want %v", c.CreatedAt, now)
		}

		body := r.sessionOf(t, cookie)
		if body["authenticated"] != true || body["provider"] != "generic" || body["account_id"] != "1001" ||
			body["expires_at"] != now.Add(8*time.Hour).UTC().Format(time.RFC3339) || len(body) != 4 {
			t.Errorf("session = %v", body)
		}
		api := r.serve(t, bffRequest("GET", "/bff/api/restapi/v1.0/account/~", "", cookie))
		if !reachedProxy(api) {
			t.Errorf("api with a live session = %d %s, want the proxy's answer", api.StatusCode, api.Body)
		}
		if n := r.prov.revokeCalls.Load(); n != 0 {
			t.Errorf("revocations = %d, want 0", n)
		}
	})
}

// A provider whose account is an organisation (Slack's workspace) has no
// BFF sign-in: 404 bff_not_available, nothing stored, nothing sent.
func TestBFFLoginSharedAccount(t *testing.T) {
	if p, _ := LookupPreset(PresetSlack); !p.For("").SharedAccount {
		t.Errorf("the slack preset's account is the workspace, but SharedAccount is false")
	}
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newBFFRig(t, newStore)
		r.h.Config.Provider.SharedAccount = true
		req := apiRequest("/bff/generic/login", "return_to="+url.QueryEscape(bffApp))
		req.RouteKey = ""
		req.Headers["accept"] = "application/json"
		resp := r.serve(t, req)
		if resp.StatusCode != 404 || jsonErrorCode(resp) != "bff_not_available" {
			t.Errorf("login at a shared-account provider = %d %s, want 404 bff_not_available", resp.StatusCode, resp.Body)
		}
		r.wantNothingStarted(t, resp)
		if n := r.store.puts.Load(); n != 0 {
			t.Errorf("PutPending calls = %d, want 0", n)
		}
	})
}

// Every refused login stores nothing, sets no cookie and sends nothing.
func TestBFFLoginRefusals(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		tests := []struct {
			name, path, query string
			status            int
			code              string
		}{
			{"no return_to", "/bff/generic/login", "", 400, "return_to_required"},
			{"empty return_to", "/bff/generic/login", "return_to=", 400, "return_to_required"},
			{"only a login hint", "/bff/generic/login", "login_hint=ann", 400, "return_to_required"},
			{"return_to not allowed", "/bff/generic/login", "return_to=" + url.QueryEscape("https://evil.example/done"), 400, "return_to_not_allowed"},
			{"return_to escaping its prefix", "/bff/generic/login", "return_to=" + url.QueryEscape("https://app.example/done/../admin"), 400, "return_to_not_allowed"},
			{"repeated return_to", "/bff/generic/login", "return_to=" + url.QueryEscape(bffApp) + "&return_to=" + url.QueryEscape(bffApp), 400, "invalid_request"},
			{"another provider", "/bff/github/login", "return_to=" + url.QueryEscape(bffApp), 404, "unknown_provider"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := newBFFRig(t, newStore)
				req := apiRequest(tt.path, tt.query)
				req.RouteKey = "" // the dev server's event: the provider from the path
				req.Headers["accept"] = "application/json"
				resp := r.serve(t, req)
				if resp.StatusCode != tt.status || jsonErrorCode(resp) != tt.code {
					t.Errorf("login = %d %s, want %d %s", resp.StatusCode, resp.Body, tt.status, tt.code)
				}
				r.wantNothingStarted(t, resp)
				if n := r.store.puts.Load(); n != 0 {
					t.Errorf("PutPending calls = %d, want 0", n)
				}
			})
		}
	})
}

// The CSRF header and the site rules guard every route but the login: a
// refused request changes nothing (no touch, no delete, no disconnect)
// and reaches nothing upstream.
func TestBFFSiteRules(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newBFFRig(t, newStore)
		cookie := r.signIn(t, "1001")
		r.now = r.now.Add(time.Hour) // a use now would touch the session
		before := r.stored(t, cookie)
		tokenCalls, revokeCalls := r.prov.tokenCalls.Load(), r.prov.revokeCalls.Load()
		routes := []struct{ method, path, body string }{
			{"GET", "/bff/session", ""},
			{"POST", "/bff/logout", `{"everywhere":true}`},
			{"GET", "/bff/api/restapi/v1.0/account/~", ""},
			{"POST", "/bff/api/restapi/v1.0/account/~/extension/~/sms", `{"text":"hi"}`},
		}
		refusals := []struct {
			name string
			mut  func(h map[string]string)
		}{
			{"no CSRF header", func(h map[string]string) { delete(h, "x-oauthfn-csrf") }},
			{"CSRF header not 1", func(h map[string]string) { h["x-oauthfn-csrf"] = "true" }},
			{"cross-site Sec-Fetch-Site", func(h map[string]string) { h["sec-fetch-site"] = "cross-site" }},
			{"foreign Origin", func(h map[string]string) { h["origin"] = "https://evil.example" }},
			{"Origin null", func(h map[string]string) { h["origin"] = "null" }},
			{"own host over http", func(h map[string]string) { h["origin"] = "http://" + bffDomain }},
			{"allowed return URL's host on another port", func(h map[string]string) { h["origin"] = "https://app.example:8443" }},
		}
		for _, rt := range routes {
			for _, rf := range refusals {
				req := bffRequest(rt.method, rt.path, rt.body, cookie)
				rf.mut(req.Headers)
				resp := r.serve(t, req)
				if resp.StatusCode != http.StatusForbidden || jsonErrorCode(resp) != "csrf" || len(resp.Cookies) != 0 {
					t.Errorf("%s %s, %s: %d %s %v; want 403 csrf, no cookie", rt.method, rt.path, rf.name, resp.StatusCode, resp.Body, resp.Cookies)
				}
			}
		}
		if n := r.bs.touches.Load() + r.bs.deletes.Load(); n != 0 {
			t.Errorf("session writes after refusals = %d, want 0", n)
		}
		if got := r.stored(t, cookie); !sameSession(got, before) {
			t.Errorf("session after refusals = %+v, want %+v", got, before)
		}
		if _, err := r.store.GetConnection(context.Background(), "generic", "1001"); err != nil {
			t.Errorf("connection after a refused logout everywhere: %v", err)
		}
		if r.prov.tokenCalls.Load() != tokenCalls || r.prov.revokeCalls.Load() != revokeCalls {
			t.Errorf("provider calls after refusals: %d token, %d revoke; want %d, %d", r.prov.tokenCalls.Load(), r.prov.revokeCalls.Load(), tokenCalls, revokeCalls)
		}

		// What passes: the API's own origin, an allowed return URL's
		// origin, same-site and none, and no Sec-Fetch-Site or Origin at
		// all (a browser without Fetch Metadata; the CSRF header still
		// holds).
		for name, mut := range map[string]func(h map[string]string){
			"own origin":          func(h map[string]string) {},
			"app origin":          func(h map[string]string) { h["origin"] = "https://app.example" },
			"app origin, cased":   func(h map[string]string) { h["origin"] = "https://APP.example" },
			"same-site":           func(h map[string]string) { h["sec-fetch-site"] = "same-site" },
			"none":                func(h map[string]string) { h["sec-fetch-site"] = "none" },
			"no fetch metadata":   func(h map[string]string) { delete(h, "sec-fetch-site"); delete(h, "origin") },
			"header name's cases": func(h map[string]string) { delete(h, "x-oauthfn-csrf"); h["X-OAuthFn-CSRF"] = "1" },
		} {
			req := bffRequest("GET", "/bff/session", "", cookie)
			mut(req.Headers)
			resp := r.serve(t, req)
			if resp.StatusCode != 200 || !strings.Contains(resp.Body, `"authenticated":true`) {
				t.Errorf("%s: session = %d %s, want it served", name, resp.StatusCode, resp.Body)
			}
		}
	})
}

// The dev server serves http on loopback: its own http origin passes.
func TestBFFLoopbackOrigin(t *testing.T) {
	r := newBFFRig(t, memoryStore)
	req := bffRequest("GET", "/bff/session", "")
	req.RequestContext.DomainName = "localhost:8080"
	req.Headers["origin"] = "http://localhost:8080"
	if resp := r.serve(t, req); resp.StatusCode != 200 {
		t.Errorf("loopback own origin: %d %s, want 200", resp.StatusCode, resp.Body)
	}
	req.Headers["origin"] = "http://localhost:9999"
	if resp := r.serve(t, req); resp.StatusCode != 403 {
		t.Errorf("another loopback port: %d %s, want 403", resp.StatusCode, resp.Body)
	}
}

// Without a live session: the session route says so, the others answer
// 401 session_ended; nothing reaches the provider; a stale cookie is
// cleared and its item deleted.
func TestBFFNoSession(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newBFFRig(t, newStore)
		live := r.signIn(t, "1001")
		tokenCalls := r.prov.tokenCalls.Load()
		check := func(t *testing.T, cookie string, wantClear bool) {
			t.Helper()
			var cookies []string
			if cookie != "" {
				cookies = []string{cookie}
			}
			resp := r.serve(t, bffRequest("GET", "/bff/session", "", cookies...))
			if resp.StatusCode != 200 || resp.Body != `{"authenticated":false}` {
				t.Errorf("session = %d %s, want {\"authenticated\":false}", resp.StatusCode, resp.Body)
			}
			if cleared := len(resp.Cookies) == 1 && strings.Contains(resp.Cookies[0], "Max-Age=0"); cleared != wantClear {
				t.Errorf("session cookies = %v, want cleared: %v", resp.Cookies, wantClear)
			}
			for _, rt := range []struct{ method, path string }{{"POST", "/bff/logout"}, {"GET", "/bff/api/restapi/v1.0/account/~"}} {
				resp := r.serve(t, bffRequest(rt.method, rt.path, "", cookies...))
				if resp.StatusCode != http.StatusUnauthorized || jsonErrorCode(resp) != "session_ended" {
					t.Errorf("%s %s = %d %s, want 401 session_ended", rt.method, rt.path, resp.StatusCode, resp.Body)
				}
			}
		}
		t.Run("no cookie", func(t *testing.T) { check(t, "", false) })
		t.Run("malformed cookie", func(t *testing.T) { check(t, SessionCookie+"=abc", true) })
		t.Run("unknown cookie", func(t *testing.T) { check(t, SessionCookie+"="+newNonce(), true) })
		t.Run("another cookie's name", func(t *testing.T) {
			_, v, _ := strings.Cut(live, "=")
			check(t, "oauthfn-session="+v, false)
		})
		if n := r.bs.touches.Load() + r.bs.deletes.Load(); n != 0 {
			t.Errorf("session writes = %d, want 0", n)
		}
		if r.stored(t, live) == nil {
			t.Error("the live session was deleted")
		}
		if r.prov.tokenCalls.Load() != tokenCalls || r.prov.revokeCalls.Load() != 0 {
			t.Errorf("provider calls: %d token, %d revoke", r.prov.tokenCalls.Load()-tokenCalls, r.prov.revokeCalls.Load())
		}
	})
}

// Idle and absolute expiry, on the rig's clock: an ended session is
// deleted at its next use.
func TestBFFSessionExpiry(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		t.Run("idle", func(t *testing.T) {
			r := newBFFRig(t, newStore)
			cookie := r.signIn(t, "1001")
			r.now = r.now.Add(8*time.Hour - time.Second)
			if !r.authenticated(t, cookie) {
				t.Fatal("session ended a second before its idle expiry")
			}
			r.now = r.now.Add(8*time.Hour - time.Second) // the use above moved it
			if !r.authenticated(t, cookie) {
				t.Fatal("session ended though used within BFF_IDLE_TIMEOUT")
			}
			r.now = r.now.Add(8 * time.Hour)
			if r.authenticated(t, cookie) {
				t.Fatal("session live after BFF_IDLE_TIMEOUT unused")
			}
			if r.stored(t, cookie) != nil {
				t.Error("ended session not deleted")
			}
			resp := r.serve(t, bffRequest("GET", "/bff/api/restapi/v1.0/account/~", "", cookie))
			if resp.StatusCode != 401 {
				t.Errorf("api after idle expiry = %d, want 401", resp.StatusCode)
			}
		})
		t.Run("absolute", func(t *testing.T) {
			r := newBFFRig(t, newStore, "BFF_MAX_SESSION", "2d")
			cookie := r.signIn(t, "1001")
			signedIn := r.now
			for r.now.Before(signedIn.Add(48*time.Hour - 7*time.Hour)) {
				r.now = r.now.Add(7 * time.Hour)
				if !r.authenticated(t, cookie) {
					t.Fatalf("session ended %v after sign-in, used every 7h", r.now.Sub(signedIn))
				}
			}
			r.now = signedIn.Add(48*time.Hour - time.Second)
			body := r.sessionOf(t, cookie)
			if body["authenticated"] != true || body["expires_at"] != signedIn.Add(48*time.Hour).UTC().Format(time.RFC3339) {
				t.Fatalf("session a second before its absolute expiry = %v, want it ending then", body)
			}
			r.now = signedIn.Add(48 * time.Hour)
			if r.authenticated(t, cookie) {
				t.Fatal("session live at BFF_MAX_SESSION")
			}
			if r.stored(t, cookie) != nil {
				t.Error("ended session not deleted")
			}
		})
	})
}

// A use moves the idle expiry with one write at most once a minute.
func TestBFFSessionTouch(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newBFFRig(t, newStore)
		cookie := r.signIn(t, "1001")
		signedIn := r.now
		for range 3 {
			r.now = r.now.Add(15 * time.Second)
			r.authenticated(t, cookie)
		}
		if n := r.bs.touches.Load(); n != 0 {
			t.Errorf("touches within the first minute = %d, want 0", n)
		}
		r.now = signedIn.Add(time.Minute)
		body := r.sessionOf(t, cookie)
		if n := r.bs.touches.Load(); n != 1 {
			t.Errorf("touches after a minute = %d, want 1", n)
		}
		want := r.now.Add(8 * time.Hour)
		if body["expires_at"] != want.UTC().Format(time.RFC3339) || !r.stored(t, cookie).IdleUntil.Equal(want) {
			t.Errorf("after the touch: %v, stored idle %v; want %v", body, r.stored(t, cookie).IdleUntil, want)
		}
		// The api route counts as a use; logout does not touch.
		r.now = r.now.Add(2 * time.Minute)
		r.serve(t, bffRequest("GET", "/bff/api/restapi/v1.0/account/~", "", cookie))
		if n := r.bs.touches.Load(); n != 2 {
			t.Errorf("touches after an api call = %d, want 2", n)
		}
	})
}

// Logout ends this browser's session only; logout everywhere disconnects
// the account (revoked at the provider), which ends every session.
func TestBFFLogout(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newBFFRig(t, newStore)
		a := r.signIn(t, "1001")
		r.now = r.now.Add(time.Minute)
		b := r.signIn(t, "1001") // a second browser's login keeps the first's session
		r.now = r.now.Add(time.Minute)
		c := r.signIn(t, "1001")
		if !r.authenticated(t, a) || !r.authenticated(t, b) || !r.authenticated(t, c) {
			t.Fatal("a browser's sign-in ended another's session")
		}
		conn, err := r.store.GetConnection(context.Background(), "generic", "1001")
		if err != nil || !r.stored(t, a).ConnCreatedAt.Equal(conn.CreatedAt) {
			t.Fatalf("connection = %+v, %v; want the first sign-in's CreatedAt kept", conn, err)
		}
		replacedRevocations := r.prov.revokeCalls.Load() // each re-login revokes the replaced session at the provider
		if replacedRevocations != 2 {
			t.Errorf("revocations after two re-logins = %d, want 2", replacedRevocations)
		}

		resp := r.serve(t, bffRequest("POST", "/bff/logout", "", a))
		if resp.StatusCode != 200 || resp.Body != `{"authenticated":false}` || len(resp.Cookies) != 1 ||
			resp.Cookies[0] != SessionCookie+"=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict" {
			t.Fatalf("logout = %d %s %v", resp.StatusCode, resp.Body, resp.Cookies)
		}
		if r.stored(t, a) != nil || r.authenticated(t, a) {
			t.Error("logged-out session still there")
		}
		if !r.authenticated(t, b) || !r.authenticated(t, c) {
			t.Error("logout of one browser ended another's session")
		}
		if r.prov.revokeCalls.Load() != replacedRevocations {
			t.Error("logout of one browser revoked at the provider")
		}
		if _, err := r.store.GetConnection(context.Background(), "generic", "1001"); err != nil {
			t.Errorf("connection after a single logout: %v", err)
		}

		resp = r.serve(t, bffRequest("POST", "/bff/logout", `{"everywhere":true}`, b))
		if resp.StatusCode != 200 || len(resp.Cookies) != 1 || !strings.Contains(resp.Cookies[0], "Max-Age=0") {
			t.Fatalf("logout everywhere = %d %s %v", resp.StatusCode, resp.Body, resp.Cookies)
		}
		if n := r.prov.revokeCalls.Load(); n != replacedRevocations+1 {
			t.Errorf("revocations after logout everywhere = %d, want %d", n, replacedRevocations+1)
		}
		r.prov.mu.Lock()
		lastRevoked := r.prov.revoked[len(r.prov.revoked)-1]
		lastIssued := r.prov.issued[len(r.prov.issued)-1] // the latest refresh token
		r.prov.mu.Unlock()
		if lastRevoked != lastIssued {
			t.Error("logout everywhere did not revoke the connection's refresh token")
		}
		if _, err := r.store.GetConnection(context.Background(), "generic", "1001"); !errors.Is(err, ErrNotFound) {
			t.Errorf("connection after logout everywhere: %v, want it gone", err)
		}
		if r.authenticated(t, b) || r.authenticated(t, c) {
			t.Error("a session outlived logout everywhere")
		}
		if r.stored(t, c) != nil {
			t.Error("the other browser's session item was not deleted at its next use")
		}

		resp = r.serve(t, bffRequest("POST", "/bff/logout", `{"everywhere":1}`, c))
		if resp.StatusCode != 400 {
			t.Errorf("logout with a bad body = %d, want 400", resp.StatusCode)
		}
	})
}

// A connection that becomes reauth_required (or revoked) ends its
// sessions; so does a disconnect, and a new sign-in after it makes a new
// connection whose sessions are the only live ones.
func TestBFFSessionsEndWithTheConnection(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		for _, status := range []string{StatusReauthRequired, StatusRevoked} {
			t.Run(status, func(t *testing.T) {
				r := newBFFRig(t, newStore)
				a, b := r.signIn(t, "1001"), r.signIn(t, "1001")
				conn, err := r.store.GetConnection(context.Background(), "generic", "1001")
				if err != nil {
					t.Fatal(err)
				}
				conn.Status, conn.RefreshAt = status, time.Time{}
				if _, err := r.store.Store.PutConnection(context.Background(), conn); err != nil {
					t.Fatal(err)
				}
				if r.authenticated(t, a) {
					t.Errorf("session live on a %s connection", status)
				}
				resp := r.serve(t, bffRequest("GET", "/bff/api/restapi/v1.0/account/~", "", b))
				if resp.StatusCode != 401 || jsonErrorCode(resp) != "session_ended" {
					t.Errorf("api on a %s connection = %d %s, want 401 session_ended", status, resp.StatusCode, resp.Body)
				}
				if r.stored(t, a) != nil || r.stored(t, b) != nil {
					t.Error("ended sessions not deleted")
				}
				// A sign-in after it is a new connection: a new session works.
				r.now = r.now.Add(time.Second)
				if c := r.signIn(t, "1001"); !r.authenticated(t, c) {
					t.Error("a new sign-in after the connection ended does not work")
				}
			})
		}
		t.Run("disconnect and sign in again", func(t *testing.T) {
			r := newBFFRig(t, newStore)
			a := r.signIn(t, "1001")
			if err := r.h.Disconnect(context.Background(), "1001"); err != nil {
				t.Fatal(err)
			}
			r.now = r.now.Add(time.Second)
			b := r.signIn(t, "1001")
			if r.authenticated(t, a) {
				t.Error("a session made before a disconnect lives on after a new sign-in")
			}
			if !r.authenticated(t, b) {
				t.Error("the new sign-in's session does not work")
			}
		})
		t.Run("disconnected between the sign-in's read and write", func(t *testing.T) {
			r := newBFFRig(t, newStore)
			a := r.signIn(t, "1001")
			r.now = r.now.Add(time.Second)
			// The sign-in reads the active connection (to keep its
			// CreatedAt); a disconnect lands before its write.
			r.bs.afterGetConnection = func() {
				r.bs.afterGetConnection = nil
				if err := r.h.Disconnect(context.Background(), "1001"); err != nil {
					t.Error(err)
				}
			}
			b := r.signIn(t, "1001")
			if r.authenticated(t, a) {
				t.Error("a session ended by a disconnect came back with the next sign-in")
			}
			if !r.authenticated(t, b) {
				t.Error("the new sign-in's session does not work")
			}
		})
		t.Run("another account's session is untouched", func(t *testing.T) {
			r := newBFFRig(t, newStore)
			a, other := r.signIn(t, "1001"), r.signIn(t, "2002")
			if err := r.h.Disconnect(context.Background(), "1001"); err != nil {
				t.Fatal(err)
			}
			if r.authenticated(t, a) || !r.authenticated(t, other) {
				t.Error("a disconnect ended the wrong sessions")
			}
		})
	})
}

// The absolute expiry is never past the refresh token's (the fake
// provider's refresh tokens live 7 days).
func TestBFFSessionCappedByRefreshToken(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newBFFRig(t, newStore, "BFF_MAX_SESSION", "30d")
		resp := r.login(t, "return_to="+url.QueryEscape(bffApp))
		binding, _ := http.ParseSetCookie(resp.Cookies[0])
		cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), binding.Name+"="+binding.Value)
		if len(cb.Cookies) != 2 || !strings.Contains(cb.Cookies[1], "; Max-Age=604800;") {
			t.Fatalf("callback cookies = %v, want the session cookie's Max-Age at the refresh token's 604800 s", cb.Cookies)
		}
		sc, _ := http.ParseSetCookie(cb.Cookies[1])
		r.cookies = append(r.cookies, sc.Value)
		sess := r.stored(t, sc.Name+"="+sc.Value)
		conn, err := r.store.GetConnection(context.Background(), "generic", "1001")
		if err != nil || sess == nil || !sess.ExpiresAt.Equal(conn.RefreshExpiresAt) {
			t.Fatalf("session %+v, connection %+v (%v); want the session to end with the refresh token", sess, conn, err)
		}
	})
}

// A session that cannot be stored: an error page, and no session cookie
// for the browser.
func TestBFFSessionWriteFails(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newBFFRig(t, newStore)
		r.bs.failPut = true
		resp := r.login(t, "return_to="+url.QueryEscape(bffApp))
		binding, _ := http.ParseSetCookie(resp.Cookies[0])
		cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), binding.Name+"="+binding.Value)
		if cb.StatusCode != 500 || cb.Headers["Location"] != "" {
			t.Errorf("callback = %d to %q, want a 500 page", cb.StatusCode, cb.Headers["Location"])
		}
		for _, c := range cb.Cookies {
			if strings.HasPrefix(c, SessionCookie) {
				t.Errorf("callback set %q", c)
			}
		}
		if !strings.Contains(cb.Body, `href="`+bffApp+`"`) {
			t.Errorf("error page has no way back to the app:\n%s", cb.Body)
		}
		if n := r.bs.putSessions.Load(); n != 1 {
			t.Errorf("PutSession calls = %d, want 1", n)
		}
	})
}

// A BFF sign-in the provider ends with an error goes back to the app, not
// to /authorize (which would want a connect token).
func TestBFFProviderErrorGoesBackToTheApp(t *testing.T) {
	r := newBFFRig(t, memoryStore)
	resp := r.login(t, "return_to="+url.QueryEscape(bffApp))
	binding, _ := http.ParseSetCookie(resp.Cookies[0])
	loc, _ := url.Parse(resp.Headers["Location"])
	cb := r.callback(t, "error=access_denied&state="+loc.Query().Get("state"), binding.Name+"="+binding.Value)
	if cb.StatusCode != 400 || !strings.Contains(cb.Body, `href="`+bffApp+`"`) || strings.Contains(cb.Body, `href="authorize`) {
		t.Errorf("declined BFF sign-in = %d\n%s", cb.StatusCode, cb.Body)
	}
	if n := r.bs.putSessions.Load(); n != 0 || r.store.conns.Load() != 0 {
		t.Errorf("declined sign-in stored %d sessions, %d connections", n, r.store.conns.Load())
	}
}

func TestBFFRouteOf(t *testing.T) {
	tests := []struct {
		path, stage, routeKey string
		params                map[string]string
		route, apiPath, id    string
	}{
		{path: "/bff/session", route: "session"},
		{path: "/bff/logout", route: "logout"},
		{path: "/bff/api/restapi/v1.0/account/~", route: "api", apiPath: "restapi/v1.0/account/~"},
		{path: "/bff/api/a%2Fb/%2e%2e/c", route: "api", apiPath: "a%2Fb/%2e%2e/c"},
		{path: "/bff/api/", route: "api", apiPath: ""},
		{path: "/prod/bff/api/x/y", stage: "prod", route: "api", apiPath: "x/y"},
		{path: "/prod/bff/session", stage: "prod", route: "session"},
		{path: "/bff/ringcentral/login", route: "login", id: "ringcentral"},
		{path: "/bff/ringcentral/login/", route: "login", id: "ringcentral"},
		{path: "/prod/bff/ringcentral/login", stage: "prod", route: "login", id: "ringcentral"},
		{path: "/bff/x/login", routeKey: "GET /bff/{provider}/login", params: map[string]string{"provider": "ringcentral"}, route: "login", id: "ringcentral"},
		{path: "/bff/login"},
		{path: "/bff/sessions"},
		{path: "/bff"},
		{path: "/other/ringcentral/login"},
		{path: "/bff/a/b/login"},
	}
	for _, tt := range tests {
		req := events.APIGatewayV2HTTPRequest{RawPath: tt.path, RouteKey: tt.routeKey, PathParameters: tt.params}
		req.RequestContext.Stage = cmpOr(tt.stage, "$default")
		route, apiPath := bffRouteOf(req)
		if route != tt.route || apiPath != tt.apiPath {
			t.Errorf("bffRouteOf(%s) = %q, %q; want %q, %q", tt.path, route, apiPath, tt.route, tt.apiPath)
		}
		if route == "login" {
			if id := bffProviderID(req); id != tt.id {
				t.Errorf("bffProviderID(%s) = %q, want %q", tt.path, id, tt.id)
			}
		}
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Unknown routes and wrong methods: 404 and 405, nothing read.
func TestBFFRoutesRefuse(t *testing.T) {
	r := newBFFRig(t, memoryStore)
	cookie := r.signIn(t, "1001")
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/bff/nothing", 404},
		{"GET", "/bff", 404},
		{"POST", "/bff/session", 405},
		{"GET", "/bff/logout", 405},
		{"POST", "/bff/generic/login", 405},
	} {
		resp := r.serve(t, bffRequest(tt.method, tt.path, "", cookie))
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s = %d %s, want %d", tt.method, tt.path, resp.StatusCode, resp.Body, tt.status)
		}
	}
	if n := r.bs.touches.Load() + r.bs.deletes.Load(); n != 0 {
		t.Errorf("session writes = %d, want 0", n)
	}
}

// In a stack with several providers, /bff/{provider}/login starts that
// provider's sign-in (the mock RingCentral), which comes back to its own
// /callback/{provider}; the session names the provider.
func TestBFFSeveralProviders(t *testing.T) {
	r := newMultiRig(t, NewMemoryStore(), []multiSpec{{id: "rc", preset: "ringcentral"}, {id: "gh", preset: "github"}}, "ALLOWED_RETURN_URLS", defaultReturnTo)
	req := routeRequest("bff/rc/login", "", "return_to="+url.QueryEscape(defaultReturnTo))
	req.RouteKey, req.PathParameters = "GET /bff/{provider}/login", map[string]string{"provider": "rc"}
	req.RequestContext.DomainName = strings.TrimPrefix(multiDomain, "https://")
	resp, err := r.h.BFFRoutes(context.Background(), req)
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("login = %d %s, %v", resp.StatusCode, resp.Body, err)
	}
	binding, _ := http.ParseSetCookie(resp.Cookies[0])
	query := r.consent(t, "rc", resp, "1002")
	cbReq := routeRequest("callback", "rc", query, binding.Name+"="+binding.Value)
	cbReq.RequestContext.DomainName = req.RequestContext.DomainName
	cb, err := r.h.Callback(context.Background(), cbReq)
	if err != nil || cb.StatusCode != http.StatusFound || cb.Headers["Location"] != defaultReturnTo || len(cb.Cookies) != 2 {
		t.Fatalf("callback = %d %q %v %s, %v", cb.StatusCode, cb.Headers["Location"], cb.Cookies, cb.Body, err)
	}
	sc, _ := http.ParseSetCookie(cb.Cookies[1])
	sreq := bffRequest("GET", "/bff/session", "", sc.Name+"="+sc.Value)
	sreq.RequestContext.DomainName = req.RequestContext.DomainName
	sreq.Headers["origin"] = multiDomain
	s, _ := r.h.BFFRoutes(context.Background(), sreq)
	var body map[string]any
	if json.Unmarshal([]byte(s.Body), &body) != nil || body["authenticated"] != true || body["provider"] != "rc" || body["account_id"] != "1002" {
		t.Errorf("session = %d %s", s.StatusCode, s.Body)
	}
	// The other provider's login route stays its own.
	other := routeRequest("bff/nope/login", "", "return_to="+url.QueryEscape(defaultReturnTo))
	other.RouteKey, other.PathParameters = "GET /bff/{provider}/login", map[string]string{"provider": "nope"}
	if resp, _ := r.h.BFFRoutes(context.Background(), other); resp.StatusCode != 404 {
		t.Errorf("login at an unknown provider = %d, want 404", resp.StatusCode)
	}
}

// TestBFFDynamoCalls pins what each BFF step costs in DynamoDB calls,
// through the real SDK on moto: the login one PutItem; the callback of a
// BFF sign-in the usual consume and connection write (one PutItem,
// conditional on the connection read: Store.ReplaceConnection), plus that
// read, which keeps an active connection's CreatedAt, and the session's
// PutItem; a
// session check two strongly consistent GetItems (session, connection),
// and an UpdateItem only when the idle expiry moves by a minute or more;
// a logout those two reads and a DeleteItem. No Query, no Scan.
func TestBFFDynamoCalls(t *testing.T) {
	var api *countingAPI
	r := newBFFRig(t, func(t *testing.T) Store {
		s := dynamoStore(t).(*DynamoStore)
		api = &countingAPI{DynamoAPI: s.client, calls: map[string]int{}}
		return NewDynamoStore(api, s.table)
	})
	want := func(step string, calls map[string]int) {
		t.Helper()
		got := api.snapshot()
		if len(got) != len(calls) {
			t.Errorf("%s: DynamoDB calls %v, want %v", step, got, calls)
			return
		}
		for op, n := range calls {
			if got[op] != n {
				t.Errorf("%s: DynamoDB calls %v, want %v", step, got, calls)
				return
			}
		}
	}
	resp := r.login(t, "return_to="+url.QueryEscape(bffApp))
	want("login", map[string]int{"PutItem": 1})
	binding, _ := http.ParseSetCookie(resp.Cookies[0])
	cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), binding.Name+"="+binding.Value)
	want("callback", map[string]int{"UpdateItem": 1, "GetItem": 1, "PutItem": 2})
	sc, _ := http.ParseSetCookie(cb.Cookies[1])
	r.cookies = append(r.cookies, sc.Value)
	cookie := sc.Name + "=" + sc.Value
	r.now = r.now.Add(30 * time.Second)
	r.authenticated(t, cookie)
	want("session check", map[string]int{"GetItem": 2})
	r.now = r.now.Add(time.Minute)
	r.authenticated(t, cookie)
	want("session check that moves the idle expiry", map[string]int{"GetItem": 2, "UpdateItem": 1})
	r.serve(t, bffRequest("POST", "/bff/logout", "", cookie))
	want("logout", map[string]int{"GetItem": 2, "DeleteItem": 1})
	r.serve(t, bffRequest("GET", "/bff/session", "", cookie))
	want("session check after logout", map[string]int{"GetItem": 1})
	r.serve(t, bffRequest("GET", "/bff/session", "", "x=1"))
	want("session check without a cookie", map[string]int{})
}
