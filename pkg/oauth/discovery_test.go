package oauth

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"golang.org/x/oauth2"

	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// discoveryEnv is a single-provider stack's variables for a generic
// provider named only by its issuer, with local secrets.
func discoveryEnv(issuer, clientID, clientSecret, redirect string, extra ...string) func(string) string {
	env := map[string]string{
		"OAUTH_PROVIDER":      PresetGeneric,
		"OAUTH_ISSUER":        issuer,
		"OAUTH_CLIENT_ID":     clientID,
		"OAUTH_CLIENT_SECRET": clientSecret,
		"OAUTH_TOKEN_KEY":     string(testTokenKey),
		"OAUTH_APP_KEY":       testAppKey,
		"OAUTH_REDIRECT_URL":  redirect,
		"ALLOWED_RETURN_URLS": defaultReturnTo,
		"TABLE_NAME":          "oauthfn-discovery",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	return func(k string) string { return env[k] }
}

// setupDiscovered runs Setup as the Lambda mains do (no AWS call happens
// with local secrets; the store is then swapped for a memory store).
func setupDiscovered(t *testing.T, getenv func(string) string) (*Handler, *testenv.Buffer, error) {
	t.Helper()
	h, err := Setup(testenv.Context(t), getenv, aws.Config{Region: "us-east-1"})
	if err != nil {
		return nil, nil, err
	}
	logs := &testenv.Buffer{}
	h.Store = NewMemoryStore()
	h.Log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.HTTPClient.Timeout = answerTimeout // oidc-provider answers for real, on a loaded machine
	SetRevokeLimit(h, answerTimeout)
	return h, logs, nil
}

// oidcRequests counts the stand-in's logged requests starting with prefix
// ("POST /token " is the token endpoint only).
func oidcRequests(o *testenv.OIDC, prefix string) int {
	n := 0
	for _, line := range strings.Split(o.Log(), "\n") {
		if _, rest, ok := strings.Cut(line, " "); ok && strings.HasPrefix(rest, prefix) {
			n++
		}
	}
	return n
}

// The generic preset against oidc-provider through discovery: configured
// only with OAUTH_ISSUER, the client id and secret, it connects, confirms,
// refreshes and revokes at the endpoints the issuer's OpenID configuration
// names, and enforces iss because the document says the provider sends it.
func TestDiscoveryOIDC(t *testing.T) {
	redirect := "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) + "/callback"
	o := testenv.StartOIDC(t, testenv.OIDCOptions{RedirectURIs: []string{redirect}})
	discoveries := oidcRequests(o, "GET /.well-known/openid-configuration ")

	h, logs, err := setupDiscovered(t, discoveryEnv(o.URL, o.ClientID, o.ClientSecret, redirect))
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if n := oidcRequests(o, "GET /.well-known/openid-configuration ") - discoveries; n != 1 {
		t.Errorf("discovery requests at start-up = %d, want 1", n)
	}
	p := h.Config.Provider
	if p.Endpoint.AuthURL != o.AuthURL || p.Endpoint.TokenURL != o.TokenURL || p.RevokeURL != o.RevokeURL || p.UserinfoURL != o.UserinfoURL {
		t.Fatalf("discovered endpoints = %q %q %q %q, want the document's %q %q %q %q",
			p.Endpoint.AuthURL, p.Endpoint.TokenURL, p.RevokeURL, p.UserinfoURL, o.AuthURL, o.TokenURL, o.RevokeURL, o.UserinfoURL)
	}
	if p.Endpoint.AuthStyle != oauth2.AuthStyleInHeader || !p.IssuerInResponse || p.Issuer != o.URL || h.Config.NeedsDiscovery() {
		t.Fatalf("discovered provider: auth style %v, iss sent %t, issuer %q, still to discover %t; want basic, true, %q, false",
			p.Endpoint.AuthStyle, p.IssuerInResponse, p.Issuer, h.Config.NeedsDiscovery(), o.URL)
	}

	ctx := testenv.Context(t)
	const user = "app-user-1"
	keys := connect.Keys{Current: testAppKey, Now: time.Now}
	tok, err := keys.Token(user, connect.Options{ReturnTo: defaultReturnTo})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := h.Authorize(ctx, apiRequest("/authorize", "connect="+tok))
	if err != nil || auth.StatusCode != 302 || !strings.HasPrefix(auth.Headers["Location"], o.AuthURL+"?") {
		t.Fatalf("authorize = %d %q, %v; want a redirect to the discovered %s", auth.StatusCode, auth.Headers["Location"], err, o.AuthURL)
	}
	cookie := strings.SplitN(auth.Cookies[0], ";", 2)[0]
	back := o.Login(t, auth.Headers["Location"], "alice")
	q := back.Query()
	if q.Get("iss") != o.URL || q.Get("code") == "" {
		t.Fatalf("oidc-provider's callback carries iss %q and a code %t; want iss %q and a code", q.Get("iss"), q.Get("code") != "", o.URL)
	}

	// iss, enforced from the document's flag: missing or wrong, the
	// callback is refused before anything is consumed or sent.
	tokenCalls := oidcRequests(o, "POST /token ")
	for name, iss := range map[string]string{"missing": "", "wrong": o.URL + "/other"} {
		bad := url.Values{}
		for k, v := range q {
			bad[k] = v
		}
		bad.Del("iss")
		if iss != "" {
			bad.Set("iss", iss)
		}
		cb, err := h.Callback(ctx, apiRequest("/callback", bad.Encode(), cookie))
		if err != nil || cb.StatusCode != 400 || !strings.Contains(logs.String(), `"outcome":"issuer_mismatch"`) {
			t.Fatalf("callback with iss %s = %d, %v; want 400 issuer_mismatch\n%s", name, cb.StatusCode, err, logs.String())
		}
	}
	if n := oidcRequests(o, "POST /token ") - tokenCalls; n != 0 {
		t.Fatalf("token requests after the refused callbacks = %d, want 0", n)
	}
	if cs, _ := h.Store.ListConnections(ctx); len(cs) != 0 {
		t.Fatalf("connections after the refused callbacks = %d, want 0", len(cs))
	}

	// The real callback, then the app's confirmation.
	cb, err := h.Callback(ctx, apiRequest("/callback", back.RawQuery, cookie))
	if err != nil || cb.StatusCode != 302 {
		t.Fatalf("callback = %d %s, %v\n%s", cb.StatusCode, cb.Body, err, logs.String())
	}
	loc, _ := url.Parse(cb.Headers["Location"])
	res, err := keys.VerifyResult(loc.Query().Get("result"))
	if err != nil || res.Status != connect.StatusPending || res.AccountID != "alice" {
		t.Fatalf("result = %+v, %v; want pending alice", res, err)
	}
	if n := oidcRequests(o, "POST /token ") - tokenCalls; n != 1 {
		t.Errorf("token requests for the code = %d, want 1", n)
	}
	if oidcRequests(o, "GET /me ") != 1 {
		t.Errorf("userinfo requests = %d, want 1 (the account from the discovered userinfo endpoint)", oidcRequests(o, "GET /me "))
	}
	confirmTok, err := keys.ConfirmToken(res.ID, user, connect.DecisionAccept)
	if err != nil {
		t.Fatal(err)
	}
	req := apiRequest("/confirm", "")
	req.RouteKey, req.RequestContext.HTTP.Method, req.Body = "POST /confirm", "POST", `{"confirm":"`+confirmTok+`"}`
	if ans, err := h.CallbackRoutes(ctx, req); err != nil || ans.StatusCode != 200 || !strings.Contains(ans.Body, `"connected"`) {
		t.Fatalf("confirm = %d %s, %v", ans.StatusCode, ans.Body, err)
	}

	// A refresh at the discovered token endpoint.
	c, access, refresh := getOpen(t, h, "alice")
	if c.EndUser != user || access == "" || refresh == "" {
		t.Fatalf("connection = %+v; want %s's, with both tokens", c, user)
	}
	c.AccessExpiresAt = time.Now().Add(-time.Minute)
	if _, err := h.Store.PutConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	before := oidcRequests(o, "POST /token ")
	got, err := h.TokenSource(ctx, "alice").Token()
	if err != nil || got.AccessToken == access {
		t.Fatalf("refresh: new access token %t, %v\n%s", err == nil && got.AccessToken != access, err, logs.String())
	}
	if n := oidcRequests(o, "POST /token ") - before; n != 1 {
		t.Errorf("token requests for the refresh = %d, want 1", n)
	}
	if _, _, rotated := getOpen(t, h, "alice"); rotated == refresh {
		t.Errorf("the stored refresh token did not rotate")
	}

	// Revocation at the discovered revocation endpoint: the grant is gone.
	_, access, _ = getOpen(t, h, "alice")
	if err := h.Disconnect(ctx, "alice"); err != nil {
		t.Fatalf("Disconnect: %v\n%s", err, logs.String())
	}
	if n := oidcRequests(o, "POST /token/revocation "); n != 1 {
		t.Errorf("revocation requests = %d, want 1", n)
	}
	ureq, _ := http.NewRequestWithContext(ctx, http.MethodGet, o.UserinfoURL, nil)
	ureq.Header.Set("Authorization", "Bearer "+access)
	resp, err := http.DefaultClient.Do(ureq)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("userinfo with the revoked grant's access token = %d, want 401", resp.StatusCode)
	}
	// Warm invocations read nothing: the one discovery was at start-up.
	if n := oidcRequests(o, "GET /.well-known/openid-configuration ") - discoveries; n != 1 {
		t.Errorf("discovery requests over the whole life = %d, want the 1 at start-up", n)
	}
}

// Several providers: an OAUTH_PROVIDERS entry with preset generic and an
// issuer discovers too, and its settings' endpoints and choices win.
func TestDiscoveryProvidersOIDC(t *testing.T) {
	redirect := "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) + "/callback/idp"
	o := testenv.StartOIDC(t, testenv.OIDCOptions{RedirectURIs: []string{redirect}, ClientAuthMethod: "client_secret_post"})
	providers, _ := json.Marshal(map[string]map[string]any{
		"idp": {"preset": "generic", "client_id": o.ClientID, "issuer": o.URL},
		"own": {"preset": "generic", "client_id": "x", "issuer": o.URL, "token_url": "https://token.example/t",
			"auth_style": "post", "account_field": "owner_id", "authorization_response_iss_parameter_supported": false},
	})
	secrets, _ := json.Marshal(map[string]string{"idp": o.ClientSecret, "own": "s"})
	env := map[string]string{
		"OAUTH_PROVIDERS": string(providers), "OAUTH_CLIENT_SECRET": string(secrets),
		"OAUTH_TOKEN_KEY": string(testTokenKey), "OAUTH_APP_KEY": testAppKey, "TABLE_NAME": "t",
	}
	h, _, err := setupDiscovered(t, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	idp, _ := h.Config.providerConfig("idp")
	if p := idp.Provider; p.Endpoint.AuthURL != o.AuthURL || p.Endpoint.TokenURL != o.TokenURL || p.RevokeURL != o.RevokeURL ||
		p.UserinfoURL != o.UserinfoURL || !p.IssuerInResponse || p.Endpoint.AuthStyle != oauth2.AuthStyleInHeader {
		t.Errorf("idp = %+v; want the discovered endpoints, iss required, basic", p)
	}
	own, _ := h.Config.providerConfig("own")
	if p := own.Provider; p.Endpoint.AuthURL != o.AuthURL || p.Endpoint.TokenURL != "https://token.example/t" ||
		p.UserinfoURL != "" || p.IssuerInResponse || p.Endpoint.AuthStyle != oauth2.AuthStyleInParams {
		t.Errorf("own = %+v; want the discovered authorize endpoint, its own token endpoint, account field, post and no iss required", p)
	}
	if n := oidcRequests(o, "GET /.well-known/openid-configuration "); n != 3 {
		t.Errorf("discovery requests = %d, want 3 (testenv's, then one per provider)", n)
	}
}

// A document whose issuer is not the configured issuer exactly is refused
// at start-up, with one line naming the setting; nothing else is sent.
// Against oidc-provider: the configured issuer with a terminating "/"
// reads the same document (Discovery §4), whose issuer has none.
func TestDiscoveryIssuerMismatch(t *testing.T) {
	redirect := "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) + "/callback"
	o := testenv.StartOIDC(t, testenv.OIDCOptions{RedirectURIs: []string{redirect}})
	before := strings.Count(o.Log(), "\n")
	_, _, err := setupDiscovered(t, discoveryEnv(o.URL+"/", o.ClientID, o.ClientSecret, redirect))
	if err == nil {
		t.Fatal("Setup accepted a document with another issuer")
	}
	msg := err.Error()
	for _, want := range []string{"OAUTH_ISSUER", o.URL + "/.well-known/openid-configuration", `issuer "` + o.URL + `" is not the configured issuer "` + o.URL + `/"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") || strings.Contains(msg, o.ClientSecret) {
		t.Errorf("error %q: want one line, no secret", msg)
	}
	lines := strings.Split(strings.TrimSpace(o.Log()), "\n")[before:]
	if len(lines) != 1 || !strings.Contains(lines[0], "GET /.well-known/openid-configuration 200") {
		t.Errorf("requests at the provider = %q, want the one discovery GET", lines)
	}

	// Any other issuer in the document, the same.
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"issuer":"https://evil.example","authorization_endpoint":"https://evil.example/a","token_endpoint":"https://evil.example/t","userinfo_endpoint":"https://evil.example/u"}`))
	}))
	t.Cleanup(srv.Close)
	if _, _, err := setupDiscovered(t, discoveryEnv(srv.URL, "c", "s", redirect)); err == nil || !strings.Contains(err.Error(), `"https://evil.example" is not the configured issuer`) {
		t.Errorf("Setup = %v, want the issuer refused", err)
	}
	if hits.Load() != 1 {
		t.Errorf("requests = %d, want the one discovery GET", hits.Load())
	}
}

// An issuer that cannot be read fails start-up with one clear line: no
// listener, an HTTP error, a redirect (not followed), no answer in time,
// not JSON.
func TestDiscoveryFailures(t *testing.T) {
	closed := "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	_, _, err := setupDiscovered(t, discoveryEnv(closed, "c", "s", "http://127.0.0.1/callback"))
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "OAUTH_ISSUER: "+closed+"/.well-known/openid-configuration: unreachable") {
		t.Errorf("Setup with no listener = %v; want one line naming OAUTH_ISSUER, the URL and unreachable", err)
	}

	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	var (
		mu    sync.Mutex
		paths []string
	)
	seen := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(paths) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		switch r.URL.Path {
		case "/404/.well-known/openid-configuration":
			http.NotFound(w, r)
		case "/moved/.well-known/openid-configuration":
			http.Redirect(w, r, "/404/.well-known/openid-configuration", http.StatusFound)
		case "/html/.well-known/openid-configuration":
			_, _ = w.Write([]byte("<html>"))
		case "/silent/.well-known/openid-configuration":
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct{ path, want string }{
		{"/404", "answered HTTP 404"},
		{"/moved", "answered HTTP 302"},
		{"/html", "not a JSON OpenID configuration"},
		{"/silent", "no answer within"},
	} {
		mu.Lock()
		paths = nil
		mu.Unlock()
		getenv := discoveryEnv(srv.URL+tc.path, "c", "s", "http://127.0.0.1/callback")
		cfg, err := LoadConfig(getenv)
		if err != nil {
			t.Fatal(err)
		}
		// A short client timeout stands for the start-up bound: the
		// silent server never answers, so the outcome is certain.
		err = cfg.Discover(testenv.Context(t), &http.Client{Timeout: 100 * time.Millisecond})
		if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "OAUTH_ISSUER: "+srv.URL+tc.path+"/.well-known/openid-configuration: "+tc.want) {
			t.Errorf("%s: Discover = %v; want one line saying %q", tc.path, err, tc.want)
		}
		if got := seen(); len(got) != 1 {
			t.Errorf("%s: requests %q, want the one discovery GET (no redirect followed)", tc.path, got)
		}
		if !cfg.NeedsDiscovery() || cfg.Provider.Endpoint.TokenURL != "" {
			t.Errorf("%s: a failed discovery changed the configuration", tc.path)
		}
	}
}

// What the document says, read as the settings would be; explicit settings
// win; what cannot be used is refused.
func TestDiscoveryDocument(t *testing.T) {
	var doc atomic.Pointer[string]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(*doc.Load()))
	}))
	t.Cleanup(srv.Close)
	iss := srv.URL
	for _, tc := range []struct {
		name  string
		doc   string
		extra []string
		check func(p Provider) bool
		err   string
	}{
		{"methods absent: basic (the OpenID default)", `"userinfo_endpoint":"` + iss + `/me"`, nil,
			func(p Provider) bool {
				return p.Endpoint.AuthStyle == oauth2.AuthStyleInHeader && p.RevokeURL == "" && !p.IssuerInResponse
			}, ""},
		{"post only: post", `"userinfo_endpoint":"` + iss + `/me","token_endpoint_auth_methods_supported":["private_key_jwt","client_secret_post"]`, nil,
			func(p Provider) bool { return p.Endpoint.AuthStyle == oauth2.AuthStyleInParams }, ""},
		{"OAUTH_AUTH_STYLE wins", `"userinfo_endpoint":"` + iss + `/me","token_endpoint_auth_methods_supported":["client_secret_basic"]`, []string{"OAUTH_AUTH_STYLE", "post"},
			func(p Provider) bool { return p.Endpoint.AuthStyle == oauth2.AuthStyleInParams }, ""},
		{"endpoint settings win", `"userinfo_endpoint":"` + iss + `/me","revocation_endpoint":"` + iss + `/revoke","authorization_response_iss_parameter_supported":true`,
			[]string{"OAUTH_AUTH_URL", "https://own.example/auth", "OAUTH_REVOKE_URL", "https://own.example/revoke", "OAUTH_USERINFO_URL", "https://own.example/me"},
			func(p Provider) bool {
				return p.Endpoint.AuthURL == "https://own.example/auth" && p.Endpoint.TokenURL == iss+"/token" &&
					p.RevokeURL == "https://own.example/revoke" && p.UserinfoURL == "https://own.example/me" && p.IssuerInResponse
			}, ""},
		{"account field: no userinfo needed", ``, []string{"OAUTH_ACCOUNT_FIELD", "owner_id"},
			func(p Provider) bool { return p.UserinfoURL == "" && p.AccountField == "owner_id" }, ""},
		{"no userinfo, no account field", ``, nil, nil, "no userinfo_endpoint"},
		{"neither secret method", `"userinfo_endpoint":"` + iss + `/me","token_endpoint_auth_methods_supported":["private_key_jwt"]`, nil, nil,
			"offers neither client_secret_basic nor client_secret_post"},
		{"plain http endpoint elsewhere", `"userinfo_endpoint":"http://evil.example/me"`, nil, nil, "userinfo_endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"issuer":"` + iss + `","authorization_endpoint":"` + iss + `/auth","token_endpoint":"` + iss + `/token"`
			if tc.doc != "" {
				body += "," + tc.doc
			}
			body += "}"
			doc.Store(&body)
			cfg, err := LoadConfig(discoveryEnv(iss, "c", "s", "http://127.0.0.1/callback", tc.extra...))
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Discover(context.Background(), nil)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Discover = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !tc.check(cfg.Provider) {
				t.Fatalf("Discover = %v; provider %+v", err, cfg.Provider)
			}
		})
	}
}

// Without an issuer the generic preset still needs its endpoints; with
// both endpoints set, nothing is discovered (no network call at start-up).
func TestDiscoveryOnlyWhenNeeded(t *testing.T) {
	if _, err := LoadConfig(discoveryEnv("", "c", "s", "")); err == nil || !strings.Contains(err.Error(), "OAUTH_AUTH_URL: required") {
		t.Errorf("generic without issuer or endpoints: %v", err)
	}
	cfg, err := LoadConfig(discoveryEnv("https://idp.example", "c", "s", "", "OAUTH_AUTH_URL", "https://idp.example/a", "OAUTH_TOKEN_URL", "https://idp.example/t", "OAUTH_USERINFO_URL", "https://idp.example/u"))
	if err != nil || cfg.NeedsDiscovery() || cfg.Provider.Issuer != "https://idp.example" {
		t.Errorf("generic with issuer and endpoints: needs discovery %t, issuer %q, %v; want false, the issuer", cfg.NeedsDiscovery(), cfg.Provider.Issuer, err)
	}
	if _, err := LoadConfig(discoveryEnv("not a url", "c", "s", "")); err == nil || !strings.Contains(err.Error(), "OAUTH_ISSUER: want an absolute URL") {
		t.Errorf("a bad OAUTH_ISSUER: %v", err)
	}
}
