package mockrc_test

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/oauthfn/oauthfn/internal/mockrc"
)

const redirectURL = "http://127.0.0.1:8080/callback"

// clock is a settable clock for Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type env struct {
	t       *testing.T
	srv     *mockrc.Server
	ts      *httptest.Server
	clk     *clock
	conf    *oauth2.Config
	browser *http.Client // does not follow redirects
}

func newEnv(t *testing.T, opts mockrc.Options) *env {
	t.Helper()
	clk := &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	opts.Now = clk.Now
	if opts.ClientID == "" {
		opts.ClientID = "client-1"
		opts.ClientSecret = "s3cret/with+chars"
	}
	srv := mockrc.New(opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &env{
		t: t, srv: srv, ts: ts, clk: clk,
		conf: &oauth2.Config{
			ClientID:     opts.ClientID,
			ClientSecret: opts.ClientSecret,
			RedirectURL:  redirectURL,
			Endpoint: oauth2.Endpoint{
				AuthURL:   ts.URL + mockrc.AuthorizePath,
				TokenURL:  ts.URL + mockrc.TokenPath,
				AuthStyle: oauth2.AuthStyleInHeader,
			},
		},
		browser: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// page GETs the authorize URL and returns the status, the body and the
// hidden form fields.
func (e *env) page(authURL string) (*http.Response, string, url.Values) {
	e.t.Helper()
	resp, err := e.browser.Get(authURL)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(b), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	return resp, string(b), form
}

// decide posts the login form as the page's button would and returns the
// redirect's query.
func (e *env) decide(form url.Values, button, value string) url.Values {
	e.t.Helper()
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	f.Set(button, value)
	action, _ := url.Parse(e.ts.URL + mockrc.AuthorizePath)
	action = action.ResolveReference(&url.URL{Path: "authorize/decide"})
	resp, err := e.browser.PostForm(action.String(), f)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("decide: got status %d, want 303", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		e.t.Fatal(err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != redirectURL {
		e.t.Fatalf("decide redirects to %q, want %q", got, redirectURL)
	}
	return loc.Query()
}

// code runs authorize + decide as account and returns the code and verifier.
func (e *env) code(account string) (code, verifier string) {
	e.t.Helper()
	verifier = oauth2.GenerateVerifier()
	state := "st-" + account
	resp, _, form := e.page(e.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("authorize page: got %d, want 200", resp.StatusCode)
	}
	q := e.decide(form, "account", account)
	if q.Get("state") != state || q.Get("code") == "" {
		e.t.Fatalf("callback query: got state %q code %q, want state %q and a code", q.Get("state"), q.Get("code"), state)
	}
	return q.Get("code"), verifier
}

// connect runs the whole authorization for account.
func (e *env) connect(account string) *oauth2.Token {
	e.t.Helper()
	code, verifier := e.code(account)
	tok, err := e.conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	return tok
}

func (e *env) refresh(rt string) (*oauth2.Token, error) {
	return e.conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt}).Token()
}

// extension calls the extension endpoint with the access token.
func (e *env) extension(at string) int {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.ts.URL+mockrc.ExtensionPath, nil)
	req.Header.Set("Authorization", "Bearer "+at)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		var body struct {
			ID int64 `json:"id"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.ID == 0 {
			e.t.Errorf("extension body: id %d, err %v", body.ID, err)
		}
	}
	return resp.StatusCode
}

// rcErr returns the OAuth error, RingCentral error code and status of a
// token-endpoint failure.
func rcErr(t *testing.T, err error) (string, string, int) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("got %v, want *oauth2.RetrieveError", err)
	}
	var body struct {
		Errors []struct {
			ErrorCode string `json:"errorCode"`
		} `json:"errors"`
	}
	code := ""
	if json.Unmarshal(re.Body, &body) == nil && len(body.Errors) > 0 {
		code = body.Errors[0].ErrorCode
	}
	return re.ErrorCode, code, re.Response.StatusCode
}

func wantErr(t *testing.T, err error, wantOAuth, wantRC string, wantStatus int) {
	t.Helper()
	o, rc, st := rcErr(t, err)
	if o != wantOAuth || rc != wantRC || st != wantStatus {
		t.Errorf("error: got %s/%s/%d, want %s/%s/%d", o, rc, st, wantOAuth, wantRC, wantStatus)
	}
}

func TestAuthorizePage(t *testing.T) {
	e := newEnv(t, mockrc.Options{})
	xss := `"><script>alert(1)</script><img src=x onerror=alert(2)>`
	verifier := oauth2.GenerateVerifier()
	resp, body, form := e.page(e.conf.AuthCodeURL(xss, oauth2.S256ChallengeOption(verifier)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status: got %d, want 200", resp.StatusCode)
	}
	for _, want := range []string{`<html lang="en">`, `name="viewport"`, "<h1>", "<h2>", "Alice (account 1001", "Bob (account 1002", "Carol (account 1003", ">Cancel<", `action="authorize/decide"`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "<img", xss} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains unescaped %q", bad)
		}
	}
	if got := form.Get("state"); got != xss {
		t.Errorf("state field: got %q, want the original round-tripped", got)
	}
	for h, want := range map[string]string{
		"Content-Type":  "text/html; charset=utf-8",
		"Cache-Control": "no-store",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: got %q, want %q", h, got, want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP: got %q, want default-src 'none'", csp)
	}

	// The XSS state goes back to the client intact (encoded in the URL).
	q := e.decide(form, "account", "1001")
	if q.Get("state") != xss {
		t.Errorf("callback state: got %q, want %q", q.Get("state"), xss)
	}
}

func TestCancel(t *testing.T) {
	e := newEnv(t, mockrc.Options{})
	_, _, form := e.page(e.conf.AuthCodeURL("st<1>", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	q := e.decide(form, "cancel", "1")
	if q.Get("error") != "access_denied" || q.Get("error_description") == "" || q.Get("state") != "st<1>" || q.Has("code") {
		t.Errorf("cancel redirect: got %v, want error=access_denied, a description, state st<1>, no code", q)
	}
}

func TestAuthorizeRejects(t *testing.T) {
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	good := url.Values{
		"response_type": {"code"}, "client_id": {"client-1"}, "redirect_uri": {redirectURL},
		"state": {"s1"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	tests := []struct {
		name     string
		opts     mockrc.Options
		change   func(url.Values)
		wantPage bool   // 400 page, no redirect
		wantErr  string // else: redirect with this error
	}{
		{name: "missing PKCE challenge", change: func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }, wantErr: "invalid_request"},
		{name: "plain PKCE method", change: func(v url.Values) { v.Set("code_challenge_method", "plain") }, wantErr: "invalid_request"},
		{name: "short challenge", change: func(v url.Values) { v.Set("code_challenge", "abc") }, wantErr: "invalid_request"},
		{name: "missing state", change: func(v url.Values) { v.Del("state") }, wantErr: "invalid_request"},
		{name: "implicit grant", change: func(v url.Values) { v.Set("response_type", "token") }, wantErr: "unsupported_response_type"},
		{name: "unknown client", change: func(v url.Values) { v.Set("client_id", "other") }, wantPage: true},
		{name: "non-loopback redirect", change: func(v url.Values) { v.Set("redirect_uri", "https://evil.example/cb") }, wantPage: true},
		{name: "missing redirect", change: func(v url.Values) { v.Del("redirect_uri") }, wantPage: true},
		{
			name:     "unregistered redirect",
			opts:     mockrc.Options{ClientID: "client-1", ClientSecret: "x", RedirectURIs: []string{"http://localhost:3000/callback"}},
			change:   func(url.Values) {},
			wantPage: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.opts)
			v := url.Values{}
			for k, vs := range good {
				v[k] = append([]string(nil), vs...)
			}
			tt.change(v)
			resp, body, _ := e.page(e.ts.URL + mockrc.AuthorizePath + "?" + v.Encode())
			if tt.wantPage {
				if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || strings.Contains(body, "decide") {
					t.Errorf("got status %d location %q, want a 400 page without redirect or form", resp.StatusCode, resp.Header.Get("Location"))
				}
				return
			}
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("status: got %d, want 303", resp.StatusCode)
			}
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if got := loc.Query().Get("error"); got != tt.wantErr {
				t.Errorf("error: got %q, want %q", got, tt.wantErr)
			}
			if loc.Query().Has("code") {
				t.Error("redirect carries a code")
			}
			if got := e.srv.Sessions("1001"); got != 0 {
				t.Errorf("sessions: got %d, want 0", got)
			}
		})
	}
}

func TestFlow(t *testing.T) {
	e := newEnv(t, mockrc.Options{})
	tok := e.connect("1001")
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.TokenType != "bearer" {
		t.Fatalf("token: got %+v, want access, refresh, bearer", tok)
	}
	for field, want := range map[string]any{
		"owner_id": "1001", "expires_in": float64(3600), "refresh_token_expires_in": float64(604800), "scope": mockrc.DefaultScope,
	} {
		if got := tok.Extra(field); got != want {
			t.Errorf("%s: got %v, want %v", field, got, want)
		}
	}
	endpointID, _ := tok.Extra("endpoint_id").(string)
	if endpointID == "" {
		t.Error("endpoint_id missing")
	}
	if got := e.extension(tok.AccessToken); got != http.StatusOK {
		t.Errorf("extension with fresh token: got %d, want 200", got)
	}

	// Two refreshes: each rotates both tokens and keeps the session.
	prev := tok
	for i := range 2 {
		e.clk.Advance(30 * time.Minute)
		next, err := e.refresh(prev.RefreshToken)
		if err != nil {
			t.Fatalf("refresh %d: %v", i+1, err)
		}
		if next.AccessToken == prev.AccessToken || next.RefreshToken == prev.RefreshToken {
			t.Errorf("refresh %d: tokens not rotated", i+1)
		}
		if got := next.Extra("endpoint_id"); got != endpointID {
			t.Errorf("refresh %d: endpoint_id %v, want %q", i+1, got, endpointID)
		}
		if got := e.extension(prev.AccessToken); got != http.StatusUnauthorized {
			t.Errorf("refresh %d: old access token: got %d, want 401", i+1, got)
		}
		if got := e.extension(next.AccessToken); got != http.StatusOK {
			t.Errorf("refresh %d: new access token: got %d, want 200", i+1, got)
		}
		prev = next
	}
	if got := e.srv.Sessions("1001"); got != 1 {
		t.Errorf("sessions: got %d, want 1", got)
	}

	// Revoke with the refresh token ends the session.
	req, _ := http.NewRequest("POST", e.ts.URL+mockrc.RevokePath, strings.NewReader(url.Values{"token": {prev.RefreshToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(e.conf.ClientID), url.QueryEscape(e.conf.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: got %d, want 200", resp.StatusCode)
	}
	if got := e.extension(prev.AccessToken); got != http.StatusUnauthorized {
		t.Errorf("access after revoke: got %d, want 401", got)
	}
	_, err = e.refresh(prev.RefreshToken)
	wantErr(t, err, "invalid_grant", "OAU-211", http.StatusBadRequest)
	if got := e.srv.Sessions("1001"); got != 0 {
		t.Errorf("sessions after revoke: got %d, want 0", got)
	}
	for path, want := range map[string]int{mockrc.AuthorizePath: 1, mockrc.DecidePath: 1, mockrc.TokenPath: 4, mockrc.RevokePath: 1} {
		if got := e.srv.Calls(path); got != want {
			t.Errorf("Calls(%s): got %d, want %d", path, got, want)
		}
	}
}

func TestExchangeErrors(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(e *env, code, verifier string) (string, []oauth2.AuthCodeOption)
		wantRC  string
	}{
		{
			name: "code reuse",
			prepare: func(e *env, code, verifier string) (string, []oauth2.AuthCodeOption) {
				if _, err := e.conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier)); err != nil {
					e.t.Fatalf("first exchange: %v", err)
				}
				return code, []oauth2.AuthCodeOption{oauth2.VerifierOption(verifier)}
			},
			wantRC: "OAU-106",
		},
		{
			name: "wrong verifier",
			prepare: func(e *env, code, _ string) (string, []oauth2.AuthCodeOption) {
				return code, []oauth2.AuthCodeOption{oauth2.VerifierOption(oauth2.GenerateVerifier())}
			},
			wantRC: "OAU-106",
		},
		{
			name: "missing verifier",
			prepare: func(e *env, code, _ string) (string, []oauth2.AuthCodeOption) {
				return code, nil
			},
			wantRC: "OAU-106",
		},
		{
			name: "expired code",
			prepare: func(e *env, code, verifier string) (string, []oauth2.AuthCodeOption) {
				e.clk.Advance(mockrc.CodeTTL)
				return code, []oauth2.AuthCodeOption{oauth2.VerifierOption(verifier)}
			},
			wantRC: "OAU-108",
		},
		{
			name: "different redirect_uri",
			prepare: func(e *env, code, verifier string) (string, []oauth2.AuthCodeOption) {
				return code, []oauth2.AuthCodeOption{oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("redirect_uri", "http://127.0.0.1:9999/other")}
			},
			wantRC: "OAU-109",
		},
		{
			name: "unknown code",
			prepare: func(e *env, _, verifier string) (string, []oauth2.AuthCodeOption) {
				return "mockrc_code_nope", []oauth2.AuthCodeOption{oauth2.VerifierOption(verifier)}
			},
			wantRC: "OAU-106",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, mockrc.Options{})
			code, verifier := e.code("1002")
			c, opts := tt.prepare(e, code, verifier)
			_, err := e.conf.Exchange(context.Background(), c, opts...)
			wantErr(t, err, "invalid_grant", tt.wantRC, http.StatusBadRequest)
			if tt.name != "code reuse" && tt.name != "unknown code" {
				if got := e.srv.Sessions("1002"); got != 0 {
					t.Errorf("sessions: got %d, want 0", got)
				}
				// The failed attempt consumed the code.
				_, err = e.conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
				wantErr(t, err, "invalid_grant", "OAU-106", http.StatusBadRequest)
			}
		})
	}
}

func TestClientAuth(t *testing.T) {
	tests := []struct {
		name       string
		mutate     func(c *oauth2.Config)
		grant      string // "" = authorization_code with a real code
		wantOAuth  string
		wantRC     string
		wantStatus int
	}{
		{name: "wrong secret", mutate: func(c *oauth2.Config) { c.ClientSecret = "wrong" }, wantOAuth: "invalid_client", wantRC: "OAU-153", wantStatus: 401},
		{name: "wrong client id", mutate: func(c *oauth2.Config) { c.ClientID = "other" }, wantOAuth: "invalid_client", wantRC: "OAU-153", wantStatus: 401},
		{name: "credentials in body", mutate: func(c *oauth2.Config) { c.Endpoint.AuthStyle = oauth2.AuthStyleInParams }, wantOAuth: "invalid_client", wantRC: "OAU-123", wantStatus: 401},
		{name: "password grant", mutate: func(*oauth2.Config) {}, grant: "password", wantOAuth: "unauthorized_client", wantRC: "OAU-251", wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, mockrc.Options{})
			code, verifier := e.code("1001")
			conf := *e.conf
			tt.mutate(&conf)
			var err error
			if tt.grant == "password" {
				_, err = conf.PasswordCredentialsToken(context.Background(), "alice", "pw")
			} else {
				_, err = conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
			}
			wantErr(t, err, tt.wantOAuth, tt.wantRC, tt.wantStatus)
			if got := e.srv.Sessions("1001"); got != 0 {
				t.Errorf("sessions: got %d, want 0", got)
			}
			// Client authentication is checked before the code is touched.
			if tt.grant == "" {
				if _, err := e.conf.Exchange(context.Background(), code, oauth2.VerifierOption(verifier)); err != nil {
					t.Errorf("exchange with the right client after a refused one: %v", err)
				}
			}
		})
	}
}

func TestDuplicateParameter(t *testing.T) {
	e := newEnv(t, mockrc.Options{})
	tok := e.connect("1001")
	body := "grant_type=refresh_token&refresh_token=" + url.QueryEscape(tok.RefreshToken) + "&refresh_token=x"
	req, _ := http.NewRequest("POST", e.ts.URL+mockrc.TokenPath, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(e.conf.ClientID), url.QueryEscape(e.conf.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Error  string `json:"error"`
		Errors []struct {
			ErrorCode string `json:"errorCode"`
		} `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 400 || got.Error != "invalid_request" || len(got.Errors) != 1 || got.Errors[0].ErrorCode != "OAU-111" {
		t.Errorf("got %d %+v, want 400 invalid_request OAU-111", resp.StatusCode, got)
	}
}

func TestRotationGrace(t *testing.T) {
	tests := []struct {
		name      string
		grace     time.Duration
		useAccess bool          // use the new access token before retrying the old refresh token
		wait      time.Duration // between the rotation and the retry
		wantOK    bool
	}{
		{name: "within grace, new access unused", wantOK: true},
		{name: "within grace, just before it ends", wait: mockrc.DefaultGraceWindow - time.Second, wantOK: true},
		{name: "grace over", wait: mockrc.DefaultGraceWindow},
		{name: "new access token used", useAccess: true},
		{name: "grace disabled", grace: mockrc.NoGrace},
		{name: "short grace", grace: 5 * time.Minute, wait: 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, mockrc.Options{GraceWindow: tt.grace})
			old := e.connect("1003")
			rotated, err := e.refresh(old.RefreshToken)
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if tt.useAccess {
				if got := e.extension(rotated.AccessToken); got != http.StatusOK {
					t.Fatalf("extension: got %d, want 200", got)
				}
			}
			e.clk.Advance(tt.wait)
			again, err := e.refresh(old.RefreshToken)
			if !tt.wantOK {
				wantErr(t, err, "invalid_grant", "OAU-211", http.StatusBadRequest)
				if n := e.srv.StaleRefreshes(); n != 1 {
					t.Errorf("StaleRefreshes: got %d, want 1", n)
				}
				// The rotated token is unaffected.
				if _, err := e.refresh(rotated.RefreshToken); err != nil {
					t.Errorf("rotated token after a refused retry: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("retry of the old refresh token: %v", err)
			}
			if again.RefreshToken == rotated.RefreshToken || again.AccessToken == rotated.AccessToken {
				t.Error("grace refresh did not issue new tokens")
			}
			// Grace is spent: the old token is refused now, and the token
			// issued in between is dead.
			_, err = e.refresh(old.RefreshToken)
			wantErr(t, err, "invalid_grant", "OAU-211", http.StatusBadRequest)
			_, err = e.refresh(rotated.RefreshToken)
			wantErr(t, err, "invalid_grant", "OAU-211", http.StatusBadRequest)
			if n := e.srv.StaleRefreshes(); n != 2 {
				t.Errorf("StaleRefreshes: got %d, want 2 (the grace retry itself is not stale)", n)
			}
			if _, err := e.refresh(again.RefreshToken); err != nil {
				t.Errorf("newest refresh token: %v", err)
			}
			if got := e.srv.Sessions("1003"); got != 1 {
				t.Errorf("sessions: got %d, want 1", got)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	e := newEnv(t, mockrc.Options{AccessTTL: 10 * time.Minute, RefreshTTL: time.Hour})
	tok := e.connect("1001")
	if got := tok.Extra("expires_in"); got != float64(600) {
		t.Errorf("expires_in: got %v, want 600", got)
	}
	e.clk.Advance(10 * time.Minute)
	if got := e.extension(tok.AccessToken); got != http.StatusUnauthorized {
		t.Errorf("expired access token: got %d, want 401", got)
	}
	e.clk.Advance(50 * time.Minute)
	_, err := e.refresh(tok.RefreshToken)
	wantErr(t, err, "invalid_grant", "OAU-210", http.StatusBadRequest)
	_, err = e.refresh("mockrc_rt_unknown")
	wantErr(t, err, "invalid_grant", "OAU-213", http.StatusBadRequest)
}

func TestSessionCap(t *testing.T) {
	e := newEnv(t, mockrc.Options{})
	var toks []*oauth2.Token
	for range mockrc.MaxSessions + 1 {
		toks = append(toks, e.connect("1001"))
	}
	other := e.connect("1002")
	if got := e.srv.Sessions("1001"); got != mockrc.MaxSessions {
		t.Errorf("sessions: got %d, want %d", got, mockrc.MaxSessions)
	}
	_, err := e.refresh(toks[0].RefreshToken)
	wantErr(t, err, "invalid_grant", "OAU-211", http.StatusBadRequest)
	if got := e.extension(toks[0].AccessToken); got != http.StatusUnauthorized {
		t.Errorf("oldest session's access token: got %d, want 401", got)
	}
	for i, tok := range toks[1:] {
		if _, err := e.refresh(tok.RefreshToken); err != nil {
			t.Errorf("session %d: %v", i+2, err)
		}
	}
	if _, err := e.refresh(other.RefreshToken); err != nil {
		t.Errorf("other account: %v", err)
	}
}

func TestExtensionAuth(t *testing.T) {
	e := newEnv(t, mockrc.Options{})
	tests := []struct {
		name   string
		header string
	}{
		{name: "no header"},
		{name: "basic", header: "Basic Y2xpZW50OnNlY3JldA=="},
		{name: "unknown bearer", header: "Bearer mockrc_at_nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.ts.URL+mockrc.ExtensionPath, nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("got %d, want 401", resp.StatusCode)
			}
		})
	}
}

func TestScript(t *testing.T) {
	t.Run("status, body and Retry-After in order, then normal", func(t *testing.T) {
		e := newEnv(t, mockrc.Options{})
		tok := e.connect("1001")
		e.srv.Script(mockrc.TokenPath,
			mockrc.Fault{Status: http.StatusServiceUnavailable, Body: "upstream down"},
			mockrc.RateLimited("17"),
		)
		_, err := e.refresh(tok.RefreshToken)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.Response.StatusCode != http.StatusServiceUnavailable || string(re.Body) != "upstream down" {
			t.Errorf("first: got %v, want 503 upstream down", err)
		}
		_, err = e.refresh(tok.RefreshToken)
		if !errors.As(err, &re) || re.Response.StatusCode != http.StatusTooManyRequests || re.Response.Header.Get("Retry-After") != "17" {
			t.Errorf("second: got %v, want 429 with Retry-After 17", err)
		}
		if _, err := e.refresh(tok.RefreshToken); err != nil {
			t.Errorf("third (unscripted): %v", err)
		}
		if got := e.srv.Calls(mockrc.TokenPath); got != 4 {
			t.Errorf("token calls: got %d, want 4", got)
		}
	})
	t.Run("rotate then fail: old token recovers within grace", func(t *testing.T) {
		e := newEnv(t, mockrc.Options{})
		tok := e.connect("1001")
		e.srv.Script(mockrc.TokenPath, mockrc.Fault{AfterSuccess: true, Status: http.StatusInternalServerError, Body: `{"error":"server_error"}`})
		if _, err := e.refresh(tok.RefreshToken); err == nil {
			t.Fatal("scripted failure: got success")
		}
		if _, err := e.refresh(tok.RefreshToken); err != nil {
			t.Errorf("retry within grace: %v", err)
		}
		_, err := e.refresh(tok.RefreshToken)
		wantErr(t, err, "invalid_grant", "OAU-211", http.StatusBadRequest)
	})
	t.Run("rotate then hang until the client gives up", func(t *testing.T) {
		e := newEnv(t, mockrc.Options{GraceWindow: mockrc.NoGrace})
		tok := e.connect("1001")
		// The client gives up once the server hangs, that is once it has
		// rotated: no timeout to race against the request's arrival.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		e.srv.Script(mockrc.TokenPath, mockrc.Fault{AfterSuccess: true, Delay: -1, Hung: func(*http.Request) { cancel() }})
		_, err := e.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want the client's give-up (context canceled)", err)
		}
		// The rotation happened although the client never saw it.
		_, err = e.refresh(tok.RefreshToken)
		wantErr(t, err, "invalid_grant", "OAU-211", http.StatusBadRequest)
	})
	t.Run("delay then normal answer", func(t *testing.T) {
		e := newEnv(t, mockrc.Options{})
		e.srv.Script(mockrc.ExtensionPath, mockrc.Fault{Delay: time.Millisecond})
		tok := e.connect("1002")
		if got := e.extension(tok.AccessToken); got != http.StatusOK {
			t.Errorf("delayed extension: got %d, want 200", got)
		}
	})
}
