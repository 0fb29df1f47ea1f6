package oauth

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/internal/testenv"
)

// logLine returns the first JSON log line whose msg contains msg, decoded.
func logLine(t *testing.T, logs, msg string) map[string]any {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			if s, _ := m["msg"].(string); strings.Contains(s, msg) {
				return m
			}
		}
	}
	t.Fatalf("no log line with msg %q in:\n%s", msg, logs)
	return nil
}

// wantAttrs checks a log line's attributes; a want of "*" only needs the
// attribute present, "!" needs it absent.
func wantAttrs(t *testing.T, line map[string]any, want map[string]string) {
	t.Helper()
	for k, w := range want {
		v, ok := line[k]
		switch {
		case w == "!":
			if ok {
				t.Errorf("log line %q: %s = %v, want none", line["msg"], k, v)
			}
		case !ok:
			t.Errorf("log line %q: no %s; line %v", line["msg"], k, line)
		case w == "*":
		default:
			var got string
			switch x := v.(type) {
			case string:
				got = x
			default:
				b, _ := json.Marshal(x)
				got = string(b)
			}
			if !strings.Contains(got, w) {
				t.Errorf("log line %q: %s = %q, want it to contain %q", line["msg"], k, got, w)
			}
		}
	}
}

// TestSweepRefusalReportedAsItself: invalid_client and unauthorized_client
// at refresh each stop the sweep, and each is logged as itself with the
// provider's error, error_description and HTTP status, and its own fix.
func TestSweepRefusalReportedAsItself(t *testing.T) {
	tests := []struct {
		name  string
		fault mockrc.Fault
		want  map[string]string
	}{
		{"invalid_client", mockrc.Fault{Status: 401, Body: `{"error":"invalid_client","error_description":"Invalid client credentials"}`},
			map[string]string{"outcome": "invalid_client", "error_code": "invalid_client", "error_description": "Invalid client credentials",
				"http_status": "401", "fix": "OAUTH_AUTH_STYLE"}},
		{"unauthorized_client", mockrc.Fault{Status: 400, Body: `{"error":"unauthorized_client","error_description":"Unauthorized for this grant type","errors":[{"errorCode":"OAU-251","message":"Unauthorized for this grant type"}]}`},
			map[string]string{"outcome": "unauthorized_client", "error_code": "unauthorized_client", "error_description": "Unauthorized for this grant type",
				"provider_error_code": "OAU-251", "http_status": "400", "fix": "refresh_token grant"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRCRig(t, NewMemoryStore(), mockrc.Options{})
			r.connect(t, "1001")
			r.clock.Advance(5*24*time.Hour + time.Second)
			r.rc.Script(mockrc.TokenPath, tt.fault)
			if got := sweepOnce(t, r.h); summaryWithoutDuration(got) != (SweepSummary{Due: 1, Failed: 1}) {
				t.Errorf("sweep: got %+v", got)
			}
			line := logLine(t, r.logs.String(), "sweep stopped")
			wantAttrs(t, line, tt.want)
			if tt.name == "unauthorized_client" && strings.Contains(line["fix"].(string), "check OAUTH_CLIENT_ID") {
				t.Errorf("unauthorized_client blamed on the credentials: fix %q", line["fix"])
			}
			if done := logLine(t, r.logs.String(), "sweep done"); !strings.Contains(done["stopped"].(string), tt.name) {
				t.Errorf("sweep done: stopped = %q, want it to name %s", done["stopped"], tt.name)
			}
		})
	}
}

// TestTokenSourceRefusalLogged: an on-demand refresh refused by the
// provider logs what the provider said, and the error names the refusal.
func TestTokenSourceRefusalLogged(t *testing.T) {
	r := newRCRig(t, NewMemoryStore(), mockrc.Options{})
	r.connect(t, "1001")
	r.clock.Advance(time.Hour)
	r.rc.Script(mockrc.TokenPath, mockrc.Fault{Status: 400, Body: `{"error":"unauthorized_client","error_description":"Unauthorized for this grant type"}`})
	_, err := r.h.TokenSource(context.Background(), "1001").Token()
	if err == nil || !strings.Contains(err.Error(), "unauthorized_client") {
		t.Fatalf("Token: got %v, want an error naming unauthorized_client", err)
	}
	wantAttrs(t, logLine(t, r.logs.String(), "refresh refused"), map[string]string{
		"outcome": "unauthorized_client", "error_code": "unauthorized_client", "error_description": "Unauthorized for this grant type",
		"http_status": "400", "fix": "refresh_token grant"})
}

// TestCallbackExchangeRefusalLogged: the code exchange's refusal is logged
// with the provider's error, error_description and HTTP status.
func TestCallbackExchangeRefusalLogged(t *testing.T) {
	r := newRig(t, memoryStore)
	r.prov.respond = func(w http.ResponseWriter, req *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		w.Write([]byte(`{"error":"invalid_client","error_description":"client authentication failed"}`))
		return true
	}
	resp, cookie := r.start(t, "")
	if cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie); cb.StatusCode != 502 {
		t.Fatalf("callback = %d, want 502", cb.StatusCode)
	}
	wantAttrs(t, logLine(t, r.logs.String(), "code exchange failed"), map[string]string{
		"error_code": "invalid_client", "error_description": "client authentication failed", "http_status": "401",
		"fix": "client_secret_basic"})
}

// TestRevokeRefusalLogged: a refused revocation (RFC 7009 error body, or
// RingCentral's) is logged with the provider's error, description and
// status, at Disconnect and when a re-authorization replaces a session.
func TestRevokeRefusalLogged(t *testing.T) {
	bodies := []struct {
		name, body string
		want       map[string]string
	}{
		{"RFC 7009", `{"error":"invalid_client","error_description":"client authentication failed"}`,
			map[string]string{"error_code": "invalid_client", "error_description": "client authentication failed", "http_status": "401", "fix": "OAUTH_AUTH_STYLE"}},
		{"RingCentral", `{"errorCode":"OAU-123","message":"Client authentication is required","errors":[{"errorCode":"OAU-123","message":"Client authentication is required"}]}`,
			map[string]string{"provider_error_code": "OAU-123", "error_description": "Client authentication is required", "http_status": "401"}},
	}
	for _, b := range bodies {
		t.Run(b.name, func(t *testing.T) {
			r := newRig(t, memoryStore)
			resp, cookie := r.start(t, "")
			if cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie); cb.StatusCode != 200 {
				t.Fatalf("callback = %d", cb.StatusCode)
			}
			r.prov.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if req.URL.Path == "/revoke" {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(401)
					w.Write([]byte(b.body))
					return
				}
				r.prov.token(w, req)
			})
			// A re-authorization replaces the session and revokes the old one.
			resp, cookie = r.start(t, "")
			if cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie); cb.StatusCode != 200 {
				t.Fatalf("re-authorization callback = %d", cb.StatusCode)
			}
			wantAttrs(t, logLine(t, r.logs.String(), "could not revoke the replaced session"), b.want)

			err := r.h.Disconnect(context.Background(), "1001")
			if err == nil || !strings.Contains(err.Error(), "status 401") || !strings.Contains(err.Error(), b.want["error_description"]) {
				t.Errorf("Disconnect: got %v, want the status and the provider's description", err)
			}
			wantAttrs(t, logLine(t, r.logs.String(), "did not revoke"), b.want)
		})
	}
}

// TestCallbackRedirectConfigErrors: provider errors on the redirect that no
// retry can fix are configuration errors: logged at ERROR with the fix and
// the provider's description, and the page offers no "Try again". The
// others still offer one.
func TestCallbackRedirectConfigErrors(t *testing.T) {
	tests := []struct {
		err       string
		status    int
		code      string
		retry     bool
		level     string
		fixSubstr string
	}{
		{"invalid_scope", 502, "invalid_scope", false, "ERROR", "OAUTH_SCOPES"},
		{"unauthorized_client", 502, "unauthorized_client", false, "ERROR", "Authorization Code grant"},
		{"invalid_request", 502, "invalid_request", false, "ERROR", "OAUTH_REDIRECT_URL"},
		{"unsupported_response_type", 502, "unauthorized_client", false, "ERROR", "Authorization Code grant"},
		{"access_denied", 400, "access_denied", true, "INFO", ""},
		{"server_error", 400, "provider_error", true, "INFO", ""},
		{"temporarily_unavailable", 400, "provider_error", true, "INFO", ""},
	}
	for _, tt := range tests {
		t.Run(tt.err, func(t *testing.T) {
			r := newRig(t, memoryStore)
			resp, cookie := r.start(t, "return_to="+url.QueryEscape("https://app.example/done"))
			loc, _ := url.Parse(resp.Headers["Location"])
			q := url.Values{"error": {tt.err}, "error_description": {"the provider's words\nforged line"}, "state": {loc.Query().Get("state")}}
			cb := r.callback(t, q.Encode(), cookie)
			if cb.StatusCode != tt.status || !strings.Contains(cb.Body, "Error code: "+tt.code) {
				t.Errorf("callback = %d, want %d with %s; body %s", cb.StatusCode, tt.status, tt.code, cb.Body)
			}
			// A connect token is single use: starting again is "Back to the app".
			if got := strings.Contains(cb.Body, ">Back to the app</a>") || strings.Contains(cb.Body, ">Try again</a>"); got != tt.retry {
				t.Errorf("page offers to start again: %t, want %t", got, tt.retry)
			}
			if r.prov.tokenCalls.Load() != 0 || r.store.conns.Load() != 0 {
				t.Errorf("token calls %d, connections %d; want none", r.prov.tokenCalls.Load(), r.store.conns.Load())
			}
			msg := "authorization ended by the provider"
			if tt.level == "ERROR" {
				msg = "configuration error"
			}
			line := logLine(t, r.logs.String(), msg)
			want := map[string]string{"level": tt.level, "provider_error": tt.err, "error_description": "the provider's words forged line"}
			if tt.fixSubstr != "" {
				want["fix"] = tt.fixSubstr
			} else {
				want["fix"] = "!"
			}
			wantAttrs(t, line, want)
		})
	}
}

// TestNoRefreshTokenWarning: the warning names the fix for the provider at
// hand: RingCentral's setting for RingCentral, the refresh_token grant and
// offline_access otherwise.
func TestNoRefreshTokenWarning(t *testing.T) {
	tests := []struct {
		preset       string
		want, notIn  string
		extraEnvVars []string
	}{
		{PresetGeneric, "offline_access", "RingCentral", nil},
		{PresetRingCentral, "Issue refresh tokens", "offline_access", []string{"OAUTH_PROVIDER", "ringcentral"}},
	}
	for _, tt := range tests {
		t.Run(tt.preset, func(t *testing.T) {
			r := newRig(t, memoryStore, tt.extraEnvVars...)
			r.prov.noRefresh = true
			resp, cookie := r.start(t, "")
			if cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie); cb.StatusCode != 200 {
				t.Fatalf("callback = %d %s", cb.StatusCode, cb.Body)
			}
			fix, _ := logLine(t, r.logs.String(), "no refresh token")["fix"].(string)
			if !strings.Contains(fix, tt.want) || strings.Contains(fix, tt.notIn) {
				t.Errorf("fix %q: want %q, not %q", fix, tt.want, tt.notIn)
			}
		})
	}
}

// TestAuthStyle: OAUTH_AUTH_STYLE decides how the client authenticates at
// the token and revocation endpoints, exactly once per call (never
// auto-detected: a refused call is not re-sent the other way), and the
// invalid_client fix names the method used.
func TestAuthStyle(t *testing.T) {
	tests := []struct {
		style      string // OAUTH_AUTH_STYLE
		serverWant string // what the provider accepts
		wantOK     bool
		fix        string
	}{
		{"", "basic", true, ""},
		{"basic", "basic", true, ""},
		{"post", "post", true, ""},
		{"basic", "post", false, "client_secret_basic"},
		{"post", "basic", false, "client_secret_post"},
	}
	for _, tt := range tests {
		t.Run("style "+tt.style+" at a "+tt.serverWant+" provider", func(t *testing.T) {
			var env []string
			if tt.style != "" {
				env = []string{"OAUTH_AUTH_STYLE", tt.style}
			}
			r := newRig(t, memoryStore, env...)
			var revokeCalls, revokeOK int
			accepts := func(req *http.Request) bool {
				_ = req.ParseForm()
				id, secret, basic := req.BasicAuth()
				if tt.serverWant == "basic" {
					return basic && id == testClientID && secret == testClientSecret && req.PostForm.Get("client_secret") == ""
				}
				return !basic && req.Header.Get("Authorization") == "" && req.PostForm.Get("client_id") == testClientID && req.PostForm.Get("client_secret") == testClientSecret
			}
			r.prov.respond = func(w http.ResponseWriter, req *http.Request) bool {
				if accepts(req) {
					// Hand on to the fake's checks with Basic credentials.
					req.Header.Del("Authorization")
					req.SetBasicAuth(testClientID, testClientSecret)
					req.PostForm.Del("client_secret")
					req.PostForm.Del("client_id")
					return false
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(401)
				w.Write([]byte(`{"error":"invalid_client","error_description":"client authentication failed"}`))
				return true
			}
			tokenHandler := r.prov.token
			r.prov.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if req.URL.Path == "/revoke" {
					revokeCalls++
					if accepts(req) {
						revokeOK++
						return
					}
					w.WriteHeader(401)
					return
				}
				tokenHandler(w, req)
			})
			resp, cookie := r.start(t, "")
			cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie)
			if n := r.prov.tokenCalls.Load(); n != 1 {
				t.Errorf("token calls = %d, want exactly 1 (never re-sent the other way)", n)
			}
			if !tt.wantOK {
				if cb.StatusCode != 502 || !strings.Contains(cb.Body, "invalid_client") {
					t.Errorf("callback = %d, want 502 invalid_client", cb.StatusCode)
				}
				wantAttrs(t, logLine(t, r.logs.String(), "code exchange failed"), map[string]string{"fix": tt.fix})
				return
			}
			if cb.StatusCode != 200 {
				t.Fatalf("callback = %d %s", cb.StatusCode, cb.Body)
			}
			if err := r.h.Disconnect(context.Background(), "1001"); err != nil {
				t.Errorf("Disconnect: %v", err)
			}
			if revokeCalls != 1 || revokeOK != 1 {
				t.Errorf("revocations: %d calls, %d accepted; want 1, 1", revokeCalls, revokeOK)
			}
		})
	}
}

func TestLoadConfigAuthStyle(t *testing.T) {
	tests := []struct {
		value   string
		want    oauth2.AuthStyle
		wantErr bool
	}{
		{"", oauth2.AuthStyleInHeader, false},
		{"basic", oauth2.AuthStyleInHeader, false},
		{"post", oauth2.AuthStyleInParams, false},
		{"auto", 0, true},
		{"header", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			c, err := LoadConfig(env(with(baseEnv(), "OAUTH_AUTH_STYLE", tt.value)))
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "OAUTH_AUTH_STYLE") {
					t.Errorf("LoadConfig: got %v, want an error naming OAUTH_AUTH_STYLE", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Provider.Endpoint.AuthStyle != tt.want {
				t.Errorf("AuthStyle = %v, want %v", c.Provider.Endpoint.AuthStyle, tt.want)
			}
		})
	}
}

// TestAuthStyleOIDC: against oidc-provider with a client registered for
// client_secret_post, OAUTH_AUTH_STYLE=post connects, refreshes and revokes;
// basic is refused with invalid_client once (no retry the other way), and
// the fix names the method that was used.
func TestAuthStyleOIDC(t *testing.T) {
	redirect := "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) + "/callback"
	o := testenv.StartOIDC(t, testenv.OIDCOptions{
		RedirectURIs:     []string{redirect},
		AccountField:     "owner_id",
		ClientAuthMethod: "client_secret_post",
	})
	for _, style := range []string{AuthStylePost, AuthStyleBasic} {
		t.Run(style, func(t *testing.T) {
			h, _, logs, _ := newTestHandler(t, NewMemoryStore(), PresetGeneric, o.TokenURL, o.RevokeURL, o.ClientID, o.ClientSecret)
			h.Now, h.Sleep = time.Now, nil // oidc-provider keeps real time
			h.Config.Provider.Endpoint.AuthURL = o.AuthURL
			h.Config.Provider.AccountField = "owner_id"
			h.Config.RedirectURL = redirect
			h.Config.Provider.Endpoint.AuthStyle = map[string]oauth2.AuthStyle{AuthStylePost: oauth2.AuthStyleInParams, AuthStyleBasic: oauth2.AuthStyleInHeader}[style]

			ctx := testenv.Context(t)
			auth, _ := h.Authorize(ctx, apiRequest("/authorize", ""))
			cookie := strings.SplitN(auth.Cookies[0], ";", 2)[0]
			back := o.Login(t, auth.Headers["Location"], "erin")
			tokenCalls := strings.Count(o.Log(), "POST /token")
			cb, _ := h.Callback(ctx, apiRequest("/callback", back.RawQuery, cookie))
			if style == AuthStyleBasic {
				if cb.StatusCode != 502 || !strings.Contains(cb.Body, "invalid_client") {
					t.Fatalf("callback = %d, want 502 invalid_client; body %s", cb.StatusCode, cb.Body)
				}
				wantAttrs(t, logLine(t, logs.String(), "code exchange failed"), map[string]string{
					"error_code": "invalid_client", "http_status": "401", "fix": "client_secret_basic"})
				if n := strings.Count(o.Log(), "POST /token") - tokenCalls; n != 1 {
					t.Errorf("token requests at the provider: %d, want 1 (never re-sent the other way)", n)
				}
				return
			}
			if cb.StatusCode != 200 {
				t.Fatalf("callback = %d; body %s\nlogs %s", cb.StatusCode, cb.Body, logs.String())
			}
			// A refresh authenticates the same way.
			c, _, _ := getOpen(t, h, "erin")
			c.AccessExpiresAt = h.Now()
			if _, err := h.Store.PutConnection(ctx, c); err != nil {
				t.Fatal(err)
			}
			if _, err := h.TokenSource(ctx, "erin").Token(); err != nil {
				t.Fatalf("refresh with client_secret_post: %v\n%s", err, logs.String())
			}
			// And so does the revocation.
			if err := h.Disconnect(ctx, "erin"); err != nil {
				t.Fatalf("Disconnect with client_secret_post: %v", err)
			}
		})
	}
}

// TestUserinfoRefusalLogged: a refused userinfo call (the account cannot be
// named) is logged with the provider's error and description, from the
// body or RFC 6750's WWW-Authenticate, and its HTTP status; no client fix.
func TestUserinfoRefusalLogged(t *testing.T) {
	tests := []struct {
		name, challenge, body string
	}{
		{"WWW-Authenticate", `Bearer realm="x", error="invalid_token", error_description="The access token expired"`, ""},
		{"JSON body", "", `{"error":"invalid_token","error_description":"The access token expired"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prov := newFakeProvider(t)
			r := newRig(t, memoryStore, "OAUTH_TOKEN_URL", prov.srv.URL+"/token", "OAUTH_ACCOUNT_FIELD", "", "OAUTH_USERINFO_URL", prov.srv.URL+"/userinfo")
			r.prov = prov
			prov.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if req.URL.Path == "/userinfo" {
					if tt.challenge != "" {
						w.Header().Set("WWW-Authenticate", tt.challenge)
					}
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(401)
					w.Write([]byte(tt.body))
					return
				}
				prov.token(w, req)
			})
			resp, cookie := r.start(t, "")
			if cb := r.callback(t, prov.approve(t, resp.Headers["Location"]), cookie); cb.StatusCode != 502 {
				t.Fatalf("callback = %d, want 502", cb.StatusCode)
			}
			wantAttrs(t, logLine(t, r.logs.String(), "account not resolved"), map[string]string{
				"error_code": "invalid_token", "error_description": "The access token expired", "http_status": "401", "fix": "!"})
		})
	}
}
