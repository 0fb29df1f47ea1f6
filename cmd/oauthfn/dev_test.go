package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// testNow is the fixed clock of the flow tests: the console's expiry
// columns can then be checked exactly.
var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// startDev starts a dev server on httptest (its URLs use the listener's
// address, as runDev does) and returns it with its log output.
func startDev(t *testing.T, opts devOptions) (*devServer, *testenv.Buffer) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	opts.Addr = srv.Listener.Addr().String()
	logs := &testenv.Buffer{}
	opts.LogOutput = logs
	if opts.Getenv == nil {
		opts.Getenv = envMap(nil)
	}
	ds, err := newDevServer(testenv.Context(t), opts)
	if err != nil {
		srv.Listener.Close()
		t.Fatalf("newDevServer: %v", err)
	}
	srv.Config.Handler = ds
	srv.Start()
	t.Cleanup(srv.Close)
	return ds, logs
}

func fixedClock() time.Time { return testNow }

// browser drives the flow like a browser on localhost: it follows nothing by
// itself, and carries the __Host- binding cookie by hand, because Go's
// cookiejar never sends a Secure cookie over http while Chromium and Firefox
// treat http://127.0.0.1 as a secure context and do.
type browser struct {
	t       *testing.T
	client  *http.Client
	origin  string            // the dev server's origin; cookies go only there
	cookies map[string]string // name -> value, for origin
	pages   map[string]string // dev server page bodies, by request path, to search for leaks
}

func newBrowser(t *testing.T, origin string) *browser {
	return &browser{
		t: t,
		client: &http.Client{
			Timeout:       30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		origin:  origin,
		cookies: map[string]string{},
		pages:   map[string]string{},
	}
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	ours := req.URL.Scheme+"://"+req.URL.Host == b.origin
	if ours {
		for name, value := range b.cookies {
			req.AddCookie(&http.Cookie{Name: name, Value: value})
		}
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("%s %s: read body: %v", req.Method, req.URL.Path, err)
	}
	if ours {
		for _, c := range resp.Cookies() {
			if c.MaxAge < 0 || c.Value == "" {
				delete(b.cookies, c.Name)
			} else {
				b.cookies[c.Name] = c.Value
			}
		}
		b.pages[req.Method+" "+req.URL.Path] = string(body)
	}
	return resp, string(body)
}

func (b *browser) get(rawURL string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		b.t.Fatalf("GET %s: %v", rawURL, err)
	}
	return b.do(req)
}

func (b *browser) postForm(rawURL string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatalf("POST %s: %v", rawURL, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func wantStatus(t *testing.T, what string, resp *http.Response, body string, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s: status %d, want %d; body: %.500s", what, resp.StatusCode, want, body)
	}
}

var (
	formAction   = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	hiddenInputs = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// demoUser is the demo app user the flow tests sign in as.
var demoUser = demoUsers[0]

// connectFlow signs in to the demo app as demoUser, presses Connect (the
// app's backend mints the connect token), goes through the mock provider's
// login page (picking account) back to the demo app, which confirms the
// pending result for demoUser (POST /confirm), and returns the result the
// demo app received, verified with the app key.
func connectFlow(t *testing.T, b *browser, ds *devServer, providerAuthURL, account string) connect.Result {
	t.Helper()
	signInAs(t, b, demoUser)
	start := pressConnect(t, b, ds, demoUser)
	back := finishLink(t, b, start, providerAuthURL, account)
	keys, err := ds.OAuth.Secrets.AppKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	keys.Now = ds.opts.Now
	res, err := keys.VerifyResult(back.Query().Get("result"))
	if err != nil {
		t.Fatalf("result: %v", err)
	}
	resp, body := b.get(back.String())
	wantStatus(t, "GET /app/connected", resp, body, http.StatusOK)
	if !strings.Contains(body, "Confirmed for <strong>"+demoUser+"</strong>") {
		t.Fatalf("the demo app did not confirm the result for %s: %.2000s", demoUser, body)
	}
	return res
}

// signInAs signs in to the demo app as user, from signed out.
func signInAs(t *testing.T, b *browser, user string) {
	t.Helper()
	base := b.origin
	resp, body := b.get(base + "/")
	wantStatus(t, "GET /", resp, body, http.StatusOK)
	if !strings.Contains(body, `action="/app/signin"`) || strings.Contains(body, `action="/app/connect"`) {
		t.Fatalf("GET / signed out: want the sign-in form and no Connect; got %.800s", body)
	}
	resp, body = b.postForm(base+"/app/signin", url.Values{"user": {user}})
	wantStatus(t, "POST /app/signin", resp, body, http.StatusSeeOther)
	resp, body = b.get(base + "/")
	wantStatus(t, "GET / signed in", resp, body, http.StatusOK)
	if !strings.Contains(body, `<strong id="signed-in">`+user+`</strong>`) || !strings.Contains(body, `action="/app/connect"`) {
		t.Fatalf("GET / after sign-in: want %s signed in with a Connect form; got %.800s", user, body)
	}
}

// pressConnect presses Connect as the signed-in user and returns the
// /authorize?connect=… link the demo app's backend made (not opened).
func pressConnect(t *testing.T, b *browser, ds *devServer, user string) *url.URL {
	t.Helper()
	base := b.origin
	resp, body := b.postForm(base+"/app/connect", url.Values{"app_state": {demoAppState}})
	wantStatus(t, "POST /app/connect", resp, body, http.StatusSeeOther)
	start, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || start.Path != "/authorize" || len(start.Query()) != 1 {
		t.Fatalf("Connect redirects to %q, want /authorize?connect=…", resp.Header.Get("Location"))
	}
	keys, err := ds.OAuth.Secrets.AppKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	keys.Now = ds.opts.Now
	req, err := keys.VerifyToken(start.Query().Get("connect"))
	if err != nil || req.User != user || req.ReturnTo != base+"/app/connected" || req.AppState != demoAppState {
		t.Errorf("the demo app's connect token = %+v, %v; want %s's, back to /app/connected with %q", req, err, user, demoAppState)
	}
	return start
}

// finishLink opens a connect link in b, signs in at the mock provider as
// account and follows /callback; it returns where /callback sends the
// browser (return_to?result=…), not yet opened.
func finishLink(t *testing.T, b *browser, start *url.URL, providerAuthURL, account string) *url.URL {
	t.Helper()
	return followCallback(t, b, providerLogin(t, b, start, providerAuthURL, account), account)
}

// providerLogin opens a connect link in b and signs in at the mock provider
// as account; it returns where the provider sends the browser back (the
// link's /callback, or /callback/<id> for /authorize/<id>), not yet opened.
func providerLogin(t *testing.T, b *browser, start *url.URL, providerAuthURL, account string) string {
	t.Helper()
	base := b.origin
	resp, body := b.get(start.String())
	wantStatus(t, "GET /authorize", resp, body, http.StatusFound)
	loginURL := resp.Header.Get("Location")
	if !strings.HasPrefix(loginURL, providerAuthURL+"?") {
		t.Fatalf("/authorize redirects to %q, want the provider's %s", loginURL, providerAuthURL)
	}
	if b.cookies[oauth.BindingCookie] == "" {
		t.Fatalf("/authorize set no %s cookie; Set-Cookie: %q", oauth.BindingCookie, resp.Header.Values("Set-Cookie"))
	}

	resp, body = b.get(loginURL)
	wantStatus(t, "GET provider login page", resp, body, http.StatusOK)
	am := formAction.FindStringSubmatch(body)
	if am == nil {
		t.Fatalf("login page has no form: %.800s", body)
	}
	login, _ := url.Parse(loginURL)
	action, err := login.Parse(html.UnescapeString(am[1]))
	if err != nil {
		t.Fatalf("form action %q: %v", am[1], err)
	}
	form := url.Values{}
	for _, in := range hiddenInputs.FindAllStringSubmatch(body, -1) {
		form.Set(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
	}
	form.Set("account", account)

	resp, body = b.postForm(action.String(), form)
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST %s: status %d, want a redirect; body %.500s", action.Path, resp.StatusCode, body)
	}
	callbackURL := resp.Header.Get("Location")
	if want := base + "/callback" + strings.TrimPrefix(start.Path, "/authorize") + "?"; !strings.HasPrefix(callbackURL, want) {
		t.Fatalf("provider redirects to %q, want %s…", callbackURL, want)
	}
	return callbackURL
}

// followCallback opens the provider's redirect to /callback and returns
// where /callback sends the browser (return_to?result=…), not yet opened.
func followCallback(t *testing.T, b *browser, callbackURL, account string) *url.URL {
	t.Helper()
	base := b.origin
	resp, body := b.get(callbackURL)
	wantStatus(t, "GET /callback", resp, body, http.StatusFound)
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || back.Scheme+"://"+back.Host+back.Path != base+"/app/connected" {
		t.Fatalf("/callback redirects to %q, want %s/app/connected?…", resp.Header.Get("Location"), base)
	}
	if _, ok := b.cookies[oauth.BindingCookie]; ok {
		t.Errorf("/callback left the binding cookie set; Set-Cookie: %q", resp.Header.Values("Set-Cookie"))
	}
	if len(back.Query()) != 1 || strings.Contains(back.RawQuery, account) {
		t.Errorf("/callback redirects to %s, want only ?result= (no bare account id)", back)
	}
	return back
}

// checkConnected checks what the demo app got back and what the console
// shows for the account, and that no token (plain or sealed) shows anywhere.
func checkConnected(t *testing.T, ds *devServer, b *browser, logs *testenv.Buffer, got connect.Result, account string) {
	t.Helper()
	if got.User != demoUser || got.AccountID != account || got.AppState != demoAppState || got.Status != connect.StatusPending {
		t.Errorf("demo app received %+v, want %s's pending %s with %q", got, demoUser, account, demoAppState)
	}
	page := b.pages["GET /app/connected"]
	for _, s := range []string{`id="verified"`, "Confirmed for <strong>" + demoUser + "</strong>", `<code id="result-user">` + demoUser + "</code>", `<code id="result-account">` + account + "</code>",
		`<code id="result-app-state">` + demoAppState + "</code>", `<tr data-user="` + demoUser + `"><td>` + demoUser + `</td><td class="app-accounts"><code>` + account + `</code></td><td class="index-accounts"><code>` + account + `</code>`} {
		if !strings.Contains(page, s) {
			t.Errorf("/app/connected does not show %q", s)
		}
	}

	conn, err := ds.OAuth.Store.GetConnection(context.Background(), oauth.PresetRingCentral, account)
	if err != nil {
		t.Fatalf("store has no connection for %s: %v", account, err)
	}
	if conn.Status != oauth.StatusActive || conn.EndUser != demoUser {
		t.Errorf("stored status, end user = %q, %q; want %q, %q", conn.Status, conn.EndUser, oauth.StatusActive, demoUser)
	}
	if want := testNow.Add(mockrc.DefaultAccessTTL); !conn.AccessExpiresAt.Equal(want) {
		t.Errorf("stored access expiry = %v, want %v", conn.AccessExpiresAt, want)
	}

	resp, console := b.get(b.origin + consolePath)
	wantStatus(t, "GET /_dev", resp, console, http.StatusOK)
	for _, s := range []string{
		`<code class="account">` + account + "</code>",
		`<span class="note">ringcentral, version `,
		`<span class="ok">active</span>`,
		`<td class="source">browser</td><td class="end-user">` + demoUser + `</td>`,
		"2030-01-02 04:04:05 UTC (in 1h00m)", // access: testNow + 1h
		"2030-01-09 03:04:05 UTC (in 7d0h)",  // refresh: testNow + 7 days
		"account connected",                  // the handler's log line
	} {
		if !strings.Contains(console, s) {
			t.Errorf("/_dev does not show %q", s)
		}
	}

	// Nothing the dev server wrote, page or log, holds a token.
	secrets := []string{"mockrc_at_", "mockrc_rt_", "mockrc_code_", conn.AccessToken, conn.RefreshToken}
	places := map[string]string{"stderr log": logs.String(), "console ring": strings.Join(ds.Logs.Lines(), "\n")}
	for k, v := range b.pages {
		places[k] = v
	}
	for where, text := range places {
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("%s contains %q", where, s[:min(len(s), 12)]+"…")
			}
		}
	}
}

func TestDevFlowMemory(t *testing.T) {
	ds, logs := startDev(t, devOptions{Provider: providerMock, Store: storeMemory, Now: fixedClock})
	b := newBrowser(t, ds.BaseURL)
	got := connectFlow(t, b, ds, ds.BaseURL+mockPrefix+mockrc.AuthorizePath, "1001")
	checkConnected(t, ds, b, logs, got, "1001")
	if n := ds.Mock.Calls(mockrc.TokenPath); n != 1 {
		t.Errorf("mock token endpoint called %d times, want 1", n)
	}
	if !regexp.MustCompile(`"msg":"account connected[^"]*".*"requestId":"[A-Za-z0-9+/=]+"`).MatchString(logs.String()) {
		t.Errorf("the handler's log lines carry no requestId: %s", logs.String())
	}
	if n := ds.Mock.Sessions("1001"); n != 1 {
		t.Errorf("mock holds %d sessions for 1001, want 1", n)
	}
}

func TestDevFlowDynamoDB(t *testing.T) {
	testenv.Moto(t)
	table := testenv.Name(t, "oauthfn-dev")
	ds, logs := startDev(t, devOptions{
		Provider: providerMock, Store: storeDynamo, CreateTable: true, Now: fixedClock,
		Getenv: envMap(map[string]string{"TABLE_NAME": table}),
	})
	store := ds.OAuth.Store
	if w, ok := store.(interface{ Unwrap() oauth.Store }); ok { // watched for the console's events
		store = w.Unwrap()
	}
	if _, ok := store.(*oauth.DynamoStore); !ok {
		t.Fatalf("store is %T, want *oauth.DynamoStore", store)
	}
	b := newBrowser(t, ds.BaseURL)
	got := connectFlow(t, b, ds, ds.BaseURL+mockPrefix+mockrc.AuthorizePath, "1001")
	checkConnected(t, ds, b, logs, got, "1001")
	if !strings.Contains(b.pages["GET "+consolePath], "DynamoDB table "+table) {
		t.Errorf("/_dev does not name the table %s", table)
	}

	// The connection is in the table, read by a store of its own.
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	other := oauth.NewDynamoStore(dynamodb.NewFromConfig(awsCfg), table)
	conns, err := other.ListConnections(context.Background())
	if err != nil {
		t.Fatalf("ListConnections: %v", err)
	}
	if len(conns) != 1 || conns[0].AccountID != "1001" {
		t.Errorf("table holds %d connections (%v), want account 1001 only", len(conns), conns)
	}
}

func TestDevDynamoTable(t *testing.T) {
	testenv.Moto(t)
	existing := testenv.Name(t, "oauthfn-dev-existing")
	awsCfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := oauth.CreateTable(context.Background(), dynamodb.NewFromConfig(awsCfg), existing); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		table   string
		create  bool
		wantErr string
	}{
		{"missing table without -create-table", testenv.Name(t, "oauthfn-dev-missing"), false, "-create-table"},
		{"existing table", existing, false, ""},
		{"existing table with -create-table", existing, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newDevServer(testenv.Context(t), devOptions{
				Addr: "127.0.0.1:8080", Provider: providerMock, Store: storeDynamo, CreateTable: tt.create,
				Getenv: envMap(map[string]string{"TABLE_NAME": tt.table}),
			})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("newDevServer: %v, want no error", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("newDevServer error = %v, want one naming %q", err, tt.wantErr)
			}
		})
	}
}

// TestDevFlowEnvProvider runs the flow against a provider outside the dev
// server, configured only through the environment, as a real RingCentral app
// would be. /mock is then not served.
func TestDevFlowEnvProvider(t *testing.T) {
	provider := mockrc.New(mockrc.Options{ClientID: "my-app", ClientSecret: "my-secret", Now: fixedClock})
	ps := httptest.NewServer(provider)
	t.Cleanup(ps.Close)
	ds, logs := startDev(t, devOptions{
		Provider: providerEnv, Store: storeMemory, Now: fixedClock,
		Getenv: envMap(map[string]string{
			"OAUTH_PROVIDER":      "ringcentral",
			"OAUTH_SERVER_URL":    ps.URL,
			"OAUTH_CLIENT_ID":     "my-app",
			"OAUTH_CLIENT_SECRET": "my-secret",
			"ALLOWED_RETURN_URLS": "https://app.example/done",
		}),
	})
	if ds.Mock != nil {
		t.Fatal("env mode built the mock provider")
	}
	if !strings.Contains(ds.KeyNote, "random") {
		t.Errorf("KeyNote = %q, want it to say the key is random", ds.KeyNote)
	}
	b := newBrowser(t, ds.BaseURL)
	got := connectFlow(t, b, ds, ps.URL+mockrc.AuthorizePath, "1002")
	checkConnected(t, ds, b, logs, got, "1002")
	if n := provider.Calls(mockrc.TokenPath); n != 1 {
		t.Errorf("provider token endpoint called %d times, want 1", n)
	}
	resp, body := b.get(ds.BaseURL + mockPrefix + mockrc.AuthorizePath)
	wantStatus(t, "GET /mock/… in env mode", resp, body, http.StatusNotFound)
	// The user's own return URL stays allowed besides the demo app's.
	var allowed []string
	for _, p := range ds.OAuth.Config.AllowedReturn {
		allowed = append(allowed, p.Scheme+"://"+p.Host+p.Path)
	}
	if want := []string{"https://app.example/done", ds.BaseURL + "/app/"}; strings.Join(allowed, " ") != strings.Join(want, " ") {
		t.Errorf("allowed return URLs = %q, want %q", allowed, want)
	}
}

// TestDevEnv: in mock mode the provider variables come from the dev server
// whatever the environment says; the others come from the environment.
func TestDevEnv(t *testing.T) {
	hostile := map[string]string{
		"OAUTH_PROVIDER":      "generic",
		"OAUTH_SERVER_URL":    "https://platform.ringcentral.com",
		"OAUTH_AUTH_URL":      "https://evil.example/authorize",
		"OAUTH_CLIENT_ID":     "someone-else",
		"OAUTH_CLIENT_SECRET": "their-secret",
		"OAUTH_TOKEN_KEY":     strings.Repeat("k", 40),
		"OAUTH_REDIRECT_URL":  "https://evil.example/callback",
		"ALLOWED_RETURN_URLS": "https://evil.example/",
	}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range hostile {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	const base = "http://127.0.0.1:8080"
	tests := []struct {
		name      string
		env       map[string]string
		wantErr   string
		wantLevel string
		wantTable string
	}{
		{"provider variables ignored", with(nil), "", "INFO", defaultTable},
		{"LOG_LEVEL and TABLE_NAME honoured", with(map[string]string{"LOG_LEVEL": "debug", "TABLE_NAME": "mine"}), "", "DEBUG", "mine"},
		{"bad LOG_LEVEL named", with(map[string]string{"LOG_LEVEL": "loud"}), "LOG_LEVEL", "", ""},
		{"bad REFRESH_MODE named", with(map[string]string{"REFRESH_MODE": "often"}), "REFRESH_MODE", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := newDevServer(context.Background(), devOptions{
				Addr: "127.0.0.1:8080", Provider: providerMock, Store: storeMemory, Getenv: envMap(tt.env),
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("newDevServer error = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("newDevServer: %v", err)
			}
			cfg := ds.OAuth.Config
			checks := []struct{ what, got, want string }{
				{"provider", cfg.Provider.Name, oauth.PresetRingCentral},
				{"auth URL", cfg.Provider.Endpoint.AuthURL, base + mockPrefix + mockrc.AuthorizePath},
				{"token URL", cfg.Provider.Endpoint.TokenURL, base + mockPrefix + mockrc.TokenPath},
				{"client id", cfg.ClientID, mockrc.DefaultClientID},
				{"client secret", cfg.ClientSecret.Reveal(), mockrc.DefaultClientSecret},
				{"redirect URL", cfg.RedirectURL, base + "/callback"},
				{"allowed return", func() string {
					var s []string
					for _, p := range cfg.AllowedReturn {
						s = append(s, p.Scheme+"://"+p.Host+p.Path)
					}
					return strings.Join(s, ",")
				}(), base + "/"},
				{"log level", cfg.LogLevel.String(), tt.wantLevel},
				{"table", cfg.TableName, tt.wantTable},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
				}
			}
			// OAUTH_TOKEN_KEY is honoured (a DynamoDB table stays readable
			// across restarts and by the operator commands).
			if cfg.TokenKey.Reveal() != hostile["OAUTH_TOKEN_KEY"] || ds.KeyNote != "OAUTH_TOKEN_KEY from the environment" {
				t.Errorf("token key is not the environment's (note %q)", ds.KeyNote)
			}
		})
	}

	// Without OAUTH_TOKEN_KEY, two runs get two random keys.
	a, _, _ := devEnv(providerMock, nil, base, envMap(nil))
	b, _, _ := devEnv(providerMock, nil, base, envMap(nil))
	if a("OAUTH_TOKEN_KEY") == b("OAUTH_TOKEN_KEY") {
		t.Error("two runs got the same token key")
	}
}

func TestDevOptionsRefused(t *testing.T) {
	tests := []struct {
		name    string
		opts    devOptions
		wantErr string
	}{
		{"unknown provider", devOptions{Addr: "127.0.0.1:8080", Provider: "magic", Store: storeMemory}, "-provider"},
		{"unknown store", devOptions{Addr: "127.0.0.1:8080", Provider: providerMock, Store: "postgres"}, "-store"},
		{"non-loopback address", devOptions{Addr: "192.0.2.1:8080", Provider: providerMock, Store: storeMemory}, "loopback"},
		{"env mode without a provider", devOptions{Addr: "127.0.0.1:8080", Provider: providerEnv, Store: storeMemory}, "OAUTH_PROVIDER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Getenv = envMap(nil)
			_, err := newDevServer(context.Background(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("newDevServer error = %v, want one naming %q", err, tt.wantErr)
			}
		})
	}
}

func TestDevFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    devOptions
		wantErr error
	}{
		{"defaults", nil, nil, devOptions{Addr: defaultAddr, Provider: providerMock, Store: storeMemory}, nil},
		{"from the environment", nil,
			map[string]string{"OAUTHFN_DEV_ADDR": "127.0.0.1:9000", "OAUTHFN_DEV_PROVIDER": "env", "OAUTHFN_DEV_STORE": "dynamodb", "OAUTHFN_DEV_CREATE_TABLE": "true"},
			devOptions{Addr: "127.0.0.1:9000", Provider: providerEnv, Store: storeDynamo, CreateTable: true}, nil},
		{"flags win over the environment", []string{"-addr", "localhost:7000", "-provider", "mock", "-store", "memory", "-create-table=false"},
			map[string]string{"OAUTHFN_DEV_ADDR": "127.0.0.1:9000", "OAUTHFN_DEV_PROVIDER": "env", "OAUTHFN_DEV_STORE": "dynamodb", "OAUTHFN_DEV_CREATE_TABLE": "1"},
			devOptions{Addr: "localhost:7000", Provider: providerMock, Store: storeMemory}, nil},
		{"help", []string{"-h"}, nil, devOptions{}, flag.ErrHelp},
		{"unknown flag", []string{"-port", "80"}, nil, devOptions{}, errUsage},
		{"stray argument", []string{"now"}, nil, devOptions{}, errUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			got, err := devFlags(tt.args, envMap(tt.env), &out)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("devFlags error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if out.Len() == 0 {
					t.Error("nothing printed for the user")
				}
				return
			}
			type flags struct {
				Addr, Provider, Store string
				CreateTable           bool
			}
			g := flags{got.Addr, got.Provider, got.Store, got.CreateTable}
			w := flags{tt.want.Addr, tt.want.Provider, tt.want.Store, tt.want.CreateTable}
			if g != w {
				t.Errorf("devFlags = %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := devFlags(nil, envMap(map[string]string{"OAUTHFN_DEV_CREATE_TABLE": "sure"}), io.Discard); err == nil || !strings.Contains(err.Error(), "OAUTHFN_DEV_CREATE_TABLE") {
		t.Errorf("bad OAUTHFN_DEV_CREATE_TABLE: error %v, want one naming it", err)
	}
}

func TestListenLoopback(t *testing.T) {
	tests := []struct {
		addr     string
		wantErr  bool
		wantHost string
	}{
		{"127.0.0.1:0", false, "127.0.0.1"},
		{"localhost:0", false, "localhost"},
		{"0.0.0.0:0", true, ""},
		{":0", true, ""},
		{"192.0.2.1:8080", true, ""},
		{"127.0.0.1", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			l, err := listenLoopback(tt.addr)
			if tt.wantErr {
				if err == nil {
					l.Close()
					t.Fatalf("listenLoopback(%q) succeeded, want an error", tt.addr)
				}
				return
			}
			if err != nil {
				t.Fatalf("listenLoopback(%q): %v", tt.addr, err)
			}
			defer l.Close()
			got := publicAddr(tt.addr, l.Addr())
			host, port, _ := strings.Cut(got, ":")
			if host != tt.wantHost || port == "0" || port == "" {
				t.Errorf("publicAddr = %q, want host %s with the bound port", got, tt.wantHost)
			}
		})
	}
}

// The console's "Run sweep now" runs the real sweep: in eager mode with a
// window longer than the access lifetime the new connection is due at once,
// and one press refreshes it exactly once at the mock provider.
func TestDevSweepButton(t *testing.T) {
	ds, logs := startDev(t, devOptions{Provider: providerMock, Store: storeMemory,
		Getenv: envMap(map[string]string{"REFRESH_MODE": "eager", "REFRESH_WINDOW": "2h", "TOKEN_RATE_PER_MIN": "0"})})
	b := newBrowser(t, ds.BaseURL)
	got := connectFlow(t, b, ds, ds.BaseURL+mockPrefix+mockrc.AuthorizePath, "1002")
	if got.Status != connect.StatusPending {
		t.Fatalf("connect: %+v", got)
	}
	req, _ := http.NewRequest(http.MethodPost, ds.BaseURL+"/_dev/actions/sweep", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", ds.BaseURL)
	resp, _ := b.do(req)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST sweep = %d, want 303", resp.StatusCode)
	}
	_, page := b.get(ds.BaseURL + resp.Header.Get("Location"))
	if !strings.Contains(page, "Sweep summary") || !strings.Contains(page, "&#34;refreshed&#34;:1") {
		t.Errorf("console does not show the sweep summary with refreshed=1:\n%s", page)
	}
	if n := ds.Mock.Calls(mockrc.TokenPath); n != 2 {
		t.Errorf("mock token endpoint called %d times, want 2 (exchange + one refresh)", n)
	}
	if strings.Contains(logs.String(), "mockrc_rt_") || strings.Contains(page, "mockrc_at_") {
		t.Errorf("a token reached the logs or the console")
	}
}
