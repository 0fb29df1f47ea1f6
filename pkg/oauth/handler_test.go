package oauth

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// fakeProvider is a token and revocation endpoint that checks what it
// receives (Basic auth, grant_type, code_verifier against the challenge of
// the authorize URL, redirect_uri) and answers from a script.
type fakeProvider struct {
	t   testing.TB
	srv *httptest.Server

	mu         sync.Mutex
	challenges map[string]string                                 // code -> code_challenge
	redirects  map[string]string                                 // code -> redirect_uri
	respond    func(w http.ResponseWriter, r *http.Request) bool // true: handled
	account    string
	noRefresh  bool
	expiresIn  int           // access-token lifetime in seconds; 0 means 3600
	revokeHang chan struct{} // when set, the revocation endpoint waits on it

	tokenCalls  atomic.Int32
	revokeCalls atomic.Int32
	revoked     []string
	issued      []string // every token value handed out
}

const testClientID, testClientSecret = "client-1", "client-secret-value-123"

func newFakeProvider(t testing.TB) *fakeProvider {
	p := &fakeProvider{t: t, challenges: map[string]string{}, redirects: map[string]string{}, account: "1001"}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("POST /revoke", p.revoke)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// approve plays the provider's login: it issues a code for the authorize URL
// and returns the callback query.
func (p *fakeProvider) approve(t testing.TB, location string) string {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil {
		t.Fatalf("authorize Location %q: %v", location, err)
	}
	q := u.Query()
	if q.Get("response_type") != "code" || q.Get("client_id") != testClientID || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		t.Fatalf("authorize URL lacks OAuth parameters: %v", q)
	}
	code := "code-" + newNonce()
	p.mu.Lock()
	p.challenges[code] = q.Get("code_challenge")
	p.redirects[code] = q.Get("redirect_uri")
	p.issued = append(p.issued, code)
	p.mu.Unlock()
	return url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
}

func (p *fakeProvider) token(w http.ResponseWriter, r *http.Request) {
	p.tokenCalls.Add(1)
	if p.respond != nil && p.respond(w, r) {
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok || id != testClientID || secret != testClientSecret || r.PostFormValue("client_secret") != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		w.Write([]byte(`{"error":"invalid_client"}`))
		return
	}
	code := r.PostFormValue("code")
	p.mu.Lock()
	challenge, known := p.challenges[code]
	redirect := p.redirects[code]
	delete(p.challenges, code)
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	if r.PostFormValue("grant_type") != "authorization_code" || !known || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge || r.PostFormValue("redirect_uri") != redirect {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		w.Write([]byte(`{"error":"invalid_grant","errors":[{"errorCode":"OAU-213"}]}`))
		return
	}
	access, refresh := "at-"+newNonce(), "rt-"+newNonce()
	p.mu.Lock()
	p.issued = append(p.issued, access, refresh)
	p.mu.Unlock()
	body := map[string]any{"access_token": access, "token_type": "bearer", "expires_in": cmp.Or(p.expiresIn, 3600),
		"refresh_token": refresh, "refresh_token_expires_in": 604800, "scope": "ReadAccounts", "owner_id": p.account}
	if p.noRefresh {
		delete(body, "refresh_token")
		delete(body, "refresh_token_expires_in")
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

func (p *fakeProvider) revoke(w http.ResponseWriter, r *http.Request) {
	p.revokeCalls.Add(1)
	if p.revokeHang != nil {
		select {
		case <-p.revokeHang:
		case <-r.Context().Done():
			return
		}
	}
	id, secret, ok := r.BasicAuth()
	if !ok || id != testClientID || secret != testClientSecret {
		w.WriteHeader(401)
		return
	}
	p.mu.Lock()
	p.revoked = append(p.revoked, r.PostFormValue("token"))
	p.mu.Unlock()
}

// countingStore records the writes a handler makes.
type countingStore struct {
	Store
	puts, consumed, conns atomic.Int32
	stored                atomic.Int32 // PutPending calls that stored
}

func (s *countingStore) PutPending(ctx context.Context, p *PendingAuth) error {
	s.puts.Add(1)
	err := s.Store.PutPending(ctx, p)
	if err == nil {
		s.stored.Add(1)
	}
	return err
}

func (s *countingStore) ConsumePending(ctx context.Context, key string, h []string, now time.Time) (*PendingAuth, error) {
	p, err := s.Store.ConsumePending(ctx, key, h, now)
	if err == nil {
		s.consumed.Add(1)
	}
	return p, err
}

func (s *countingStore) PutConnection(ctx context.Context, c *Connection) (*Connection, error) {
	s.conns.Add(1)
	return s.Store.PutConnection(ctx, c)
}

type testRig struct {
	// manualConfirm: the test confirms pending results itself; otherwise
	// callback confirms each one as r.user, as the app would.
	manualConfirm bool

	h     *Handler
	store *countingStore
	prov  *fakeProvider
	logs  *bytes.Buffer
	now   time.Time
	// user is the end user r.start mints connect tokens for.
	user string
}

// rigStores are the stores the handler suites run against: the in-memory
// store, and the DynamoDB store through the real SDK on the serialised moto
// server (a table of its own per rig).
var rigStores = []struct {
	name string
	new  func(t *testing.T) Store
}{
	{"memory", memoryStore},
	{"dynamo", dynamoStore},
}

func memoryStore(*testing.T) Store { return NewMemoryStore() }

func dynamoStore(t *testing.T) Store {
	t.Helper()
	testenv.MotoSerial(t)
	cfg, err := config.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatalf("aws config: %v", err)
	}
	client := dynamodb.NewFromConfig(cfg)
	table := testenv.Name(t, "oauthfn-handler")
	if err := CreateTable(t.Context(), client, table); err != nil {
		t.Fatal(err)
	}
	return NewDynamoStore(client, table)
}

// eachStore runs fn as one subtest per store of rigStores.
func eachStore(t *testing.T, fn func(t *testing.T, newStore func(*testing.T) Store)) {
	for _, s := range rigStores {
		t.Run(s.name, func(t *testing.T) { fn(t, s.new) })
	}
}

// newRig builds a Handler on the store newStore returns, a fake provider,
// static secrets, a fixed clock and a log buffer.
func newRig(t *testing.T, newStore func(*testing.T) Store, extraEnv ...string) *testRig {
	t.Helper()
	prov := newFakeProvider(t)
	e := with(baseEnv(), "OAUTH_PROVIDER", "generic", "OAUTH_AUTH_URL", "https://idp.example/authorize",
		"OAUTH_TOKEN_URL", prov.srv.URL+"/token", "OAUTH_REVOKE_URL", prov.srv.URL+"/revoke", "OAUTH_ACCOUNT_FIELD", "owner_id",
		"OAUTH_CLIENT_ID", testClientID, "OAUTH_CLIENT_SECRET", testClientSecret,
		"ALLOWED_RETURN_URLS", "https://app.example/done",
		// The suites written before confirmation test the flow's other
		// parts with the connection attached at the callback; the
		// confirmation suites (confirm_test.go) pass REQUIRE_CONFIRM=true.
		"REQUIRE_CONFIRM", "false")
	cfg, err := LoadConfig(env(with(e, extraEnv...)))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	secrets, err := NewStaticSecrets(cfg.ClientSecret, cfg.TokenKey, cfg.AppKey)
	if err != nil {
		t.Fatal(err)
	}
	r := &testRig{store: &countingStore{Store: newStore(t)}, prov: prov, logs: &bytes.Buffer{}, now: time.Unix(1_800_000_000, 0), user: "user-1"}
	r.h = NewHandler(cfg, r.store, secrets)
	r.h.Now = func() time.Time { return r.now }
	r.h.Log = slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r.h.HTTPClient = &http.Client{Timeout: answerTimeout}
	r.h.revokeLimit = answerTimeout // a real revocation answer is never cut
	t.Cleanup(func() { r.checkLogs(t) })
	return r
}

// checkLogs fails if any issued token, code, or the client secret reached the logs.
func (r *testRig) checkLogs(t *testing.T) {
	r.prov.mu.Lock()
	defer r.prov.mu.Unlock()
	logs := r.logs.String()
	for _, v := range append(r.prov.issued, testClientSecret, strings.Repeat("k", 32), testAppKey) {
		if strings.Contains(logs, v) {
			t.Errorf("logs contain a secret value %q", v[:min(8, len(v))])
		}
	}
}

func apiRequest(path, rawQuery string, cookies ...string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "GET " + path, RawPath: path, RawQueryString: rawQuery, Cookies: cookies,
		Headers: map[string]string{"accept": "text/html"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{DomainName: "abc123.execute-api.us-east-1.amazonaws.com", Stage: "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: path}},
	}
}

// start runs /authorize and returns its response and the cookie to send
// back. Unless the rig has REQUIRE_CONNECT_TOKEN=false, the query's
// return_to, app_state and login_hint go into a fresh connect token for
// r.user, the way an app's backend would put them.
func (r *testRig) start(t *testing.T, query string, cookies ...string) (events.APIGatewayV2HTTPResponse, string) {
	t.Helper()
	if r.h.Config.RequireConnectToken {
		query = r.connectQuery(t, query)
	}
	return r.startRaw(t, query, cookies...)
}

// connectQuery turns a plain /authorize query into connect=<token>.
func (r *testRig) connectQuery(t *testing.T, query string) string {
	t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatalf("connectQuery(%q): %v", query, err)
	}
	returnTo := q.Get("return_to")
	if returnTo == "" && r.h.Config.RequireConfirm {
		returnTo = defaultReturnTo // someone must be there to confirm
	}
	tok, err := r.keys().Token(r.user, connect.Options{ReturnTo: returnTo, AppState: q.Get("app_state"), LoginHint: q.Get("login_hint")})
	if err != nil {
		t.Fatalf("mint connect token: %v", err)
	}
	return "connect=" + tok
}

// keys is the app's view of the app key, on the rig's clock.
func (r *testRig) keys() connect.Keys {
	return connect.Keys{Current: testAppKey, Now: func() time.Time { return r.now }}
}

// startRaw runs /authorize with query as it is.
func (r *testRig) startRaw(t *testing.T, query string, cookies ...string) (events.APIGatewayV2HTTPResponse, string) {
	t.Helper()
	resp, err := r.h.Authorize(context.Background(), apiRequest("/authorize", query, cookies...))
	if err != nil {
		t.Fatalf("Authorize returned a Go error: %v", err)
	}
	if resp.StatusCode != 302 {
		return resp, ""
	}
	if len(resp.Cookies) != 1 {
		t.Fatalf("Authorize cookies = %v, want one", resp.Cookies)
	}
	c, err := http.ParseSetCookie(resp.Cookies[0])
	if err != nil {
		t.Fatal(err)
	}
	return resp, c.Name + "=" + c.Value
}

func (r *testRig) callback(t testing.TB, query string, cookies ...string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, err := r.h.Callback(context.Background(), apiRequest("/callback", query, cookies...))
	if err != nil {
		t.Fatalf("Callback returned a Go error: %v", err)
	}
	for _, k := range []string{"Cache-Control", "Referrer-Policy"} {
		if resp.Headers[k] == "" {
			t.Errorf("callback response lacks %s", k)
		}
	}
	if !r.manualConfirm {
		r.confirmPending(t, resp, r.user)
	}
	return resp
}

// defaultReturnTo is the return_to the rig's connect tokens carry when a
// test names none and confirmation is required.
const defaultReturnTo = "https://app.example/done"

// confirmPending does what the app's return page does with a pending
// result the callback redirected to: verify it and POST /confirm as user,
// the user signed in to the app. It returns the confirm answer, or a zero
// response when resp carries no pending result.
func (r *testRig) confirmPending(t testing.TB, resp events.APIGatewayV2HTTPResponse, user string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	res, ok := r.pendingResult(t, resp)
	if !ok {
		return events.APIGatewayV2HTTPResponse{}
	}
	tok, err := r.keys().ConfirmToken(res.ID, user, connect.DecisionAccept)
	if err != nil {
		t.Fatal(err)
	}
	return r.confirmRaw(t, `{"confirm":"`+tok+`"}`)
}

// pendingResult reads the pending result of a callback's redirect.
func (r *testRig) pendingResult(t testing.TB, resp events.APIGatewayV2HTTPResponse) (connect.Result, bool) {
	t.Helper()
	if resp.StatusCode != 302 {
		return connect.Result{}, false
	}
	loc, err := url.Parse(resp.Headers["Location"])
	if err != nil || loc.Query().Get("result") == "" {
		return connect.Result{}, false
	}
	res, err := r.keys().VerifyResult(loc.Query().Get("result"))
	if err != nil {
		return connect.Result{}, false // the test checks results itself
	}
	return res, res.Status == connect.StatusPending
}

// confirmRaw runs POST /confirm with body.
func (r *testRig) confirmRaw(t testing.TB, body string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	req := apiRequest("/confirm", "")
	req.RouteKey, req.RequestContext.HTTP.Method = "POST /confirm", "POST"
	req.Body = body
	resp, err := r.h.CallbackRoutes(context.Background(), req)
	if err != nil {
		t.Fatalf("Confirm returned a Go error: %v", err)
	}
	if resp.Headers["Cache-Control"] != "no-store" || resp.Headers["Content-Type"] != "application/json" {
		t.Errorf("confirm headers = %v", resp.Headers)
	}
	return resp
}

func TestFlowReturnTo(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newRig(t, newStore)
		resp, cookie := r.start(t, "return_to="+url.QueryEscape("https://app.example/done?tab=1")+"&app_state=xyz%20123&login_hint=a%40b.example")
		if resp.StatusCode != 302 {
			t.Fatalf("authorize status = %d, body %s", resp.StatusCode, resp.Body)
		}
		loc, _ := url.Parse(resp.Headers["Location"])
		q := loc.Query()
		if loc.Host != "idp.example" || q.Get("redirect_uri") != "https://abc123.execute-api.us-east-1.amazonaws.com/callback" || q.Get("login_hint") != "a@b.example" || len(q.Get("state")) != 43 {
			t.Errorf("authorize Location = %s", loc)
		}
		if strings.Contains(loc.RawQuery, "return_to") || strings.Contains(loc.RawQuery, "xyz") {
			t.Errorf("authorize Location leaks return_to or app_state: %s", loc)
		}
		if resp.Headers["Cache-Control"] != "no-store" || resp.Headers["Referrer-Policy"] != "no-referrer" {
			t.Errorf("authorize headers = %v", resp.Headers)
		}
		if strings.Contains(cookie, q.Get("state")) {
			t.Errorf("binding cookie carries the state")
		}

		cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie)
		if cb.StatusCode != 302 {
			t.Fatalf("callback status = %d, body %s", cb.StatusCode, cb.Body)
		}
		back, _ := url.Parse(cb.Headers["Location"])
		bq := back.Query()
		if back.Host != "app.example" || back.Path != "/done" || len(bq) != 2 || bq.Get("tab") != "1" || strings.Contains(back.RawQuery, "1001") {
			t.Errorf("callback Location = %s, want return_to with only result added (no bare account id)", back)
		}
		res, err := r.keys().VerifyResult(bq.Get("result"))
		if err != nil || res.User != "user-1" || res.AccountID != "1001" || res.Provider != "generic" || res.AppState != "xyz 123" || res.Status != "connected" {
			t.Errorf("result = %+v, %v", res, err)
		}
		if len(cb.Cookies) != 1 || !strings.Contains(cb.Cookies[0], "Max-Age=0") {
			t.Errorf("callback cookies = %v, want the binding cookie cleared", cb.Cookies)
		}

		conn, err := r.h.Store.GetConnection(context.Background(), "generic", "1001")
		if err != nil {
			t.Fatalf("GetConnection: %v", err)
		}
		r.prov.mu.Lock()
		access, refresh := r.prov.issued[1], r.prov.issued[2]
		r.prov.mu.Unlock()
		if strings.Contains(conn.AccessToken, access) || strings.Contains(conn.RefreshToken, refresh) || conn.AccessToken == "" || conn.RefreshToken == "" {
			t.Fatalf("tokens stored in plaintext or missing")
		}
		sealer, _ := r.h.Secrets.Sealer(context.Background())
		if got, err := sealer.OpenField(conn.AccessToken, conn.Key(), attrAccessToken); err != nil || got != access {
			t.Errorf("stored access token opens to %q, %v", got, err)
		}
		if got, err := sealer.OpenField(conn.RefreshToken, conn.Key(), attrRefreshToken); err != nil || got != refresh {
			t.Errorf("stored refresh token opens to %q, %v", got, err)
		}
		want := r.now.Add(7*24*time.Hour - 48*time.Hour)
		if conn.EndUser != "user-1" {
			t.Errorf("connection's end user = %q, want user-1", conn.EndUser)
		}
		if conn.Status != StatusActive || !conn.AccessExpiresAt.Equal(r.now.Add(time.Hour)) || !conn.RefreshExpiresAt.Equal(r.now.Add(7*24*time.Hour)) ||
			!conn.RefreshAt.Equal(want) || !conn.TTL.Equal(conn.RefreshExpiresAt.Add(ConnectionGrace)) || conn.TokenType != "Bearer" || conn.Scope != "ReadAccounts" {
			t.Errorf("connection = %+v", conn)
		}
		if n := r.prov.tokenCalls.Load(); n != 1 {
			t.Errorf("token calls = %d, want 1", n)
		}
	})
}

func TestFlowSuccessPage(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newRig(t, newStore)
		resp, cookie := r.start(t, "")
		cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie)
		if cb.StatusCode != 200 || !strings.Contains(cb.Body, "Your account is connected") || !strings.Contains(cb.Body, "1001") {
			t.Errorf("callback = %d %s", cb.StatusCode, cb.Body)
		}
	})
}

func TestFlowReauthorizationRevokesReplaced(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newRig(t, newStore)
		for i := range 2 {
			resp, cookie := r.start(t, "")
			if cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie); cb.StatusCode != 200 {
				t.Fatalf("round %d: callback = %d", i, cb.StatusCode)
			}
		}
		r.prov.mu.Lock()
		defer r.prov.mu.Unlock()
		if len(r.prov.revoked) != 1 || r.prov.revoked[0] != r.prov.issued[2] {
			t.Errorf("revoked %d tokens, want the first refresh token", len(r.prov.revoked))
		}
		conns, _ := r.h.Store.ListConnections(context.Background())
		if len(conns) != 1 {
			t.Errorf("connections = %d, want 1", len(conns))
		}
	})
}

func TestFlowWithoutRefreshToken(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newRig(t, newStore)
		r.prov.noRefresh = true
		resp, cookie := r.start(t, "")
		if cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie); cb.StatusCode != 200 {
			t.Fatalf("callback = %d", cb.StatusCode)
		}
		conn, err := r.h.Store.GetConnection(context.Background(), "generic", "1001")
		if err != nil {
			t.Fatal(err)
		}
		if conn.RefreshToken != "" || !conn.RefreshAt.IsZero() || conn.AccessToken == "" {
			t.Errorf("connection without refresh token: refresh %q, refresh_at %v", conn.RefreshToken, conn.RefreshAt)
		}
		if !strings.Contains(r.logs.String(), "offline_access") { // generic provider: see TestNoRefreshTokenWarning
			t.Errorf("no warning naming the fix in logs:\n%s", r.logs)
		}
	})
}

func TestTwoTabs(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newRig(t, newStore)
		first, cookie1 := r.start(t, "")
		second, cookie2 := r.start(t, "", cookie1) // the browser sends tab 1's cookie along
		// The browser now holds only the second Set-Cookie, which carries both bindings.
		for i, resp := range []events.APIGatewayV2HTTPResponse{first, second} {
			cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie2)
			if cb.StatusCode != 200 {
				t.Fatalf("tab %d: callback = %d %s", i+1, cb.StatusCode, cb.Body)
			}
			if i == 0 && strings.Contains(cb.Cookies[0], "Max-Age=0") {
				t.Errorf("tab 1's callback cleared the binding tab 2 still needs")
			}
		}
	})
}

func TestEmptyStateQuery(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newRig(t, newStore)
		resp := r.callback(t, "code=abc&state=")
		if resp.StatusCode != 400 || r.prov.tokenCalls.Load() != 0 {
			t.Errorf("status %d, token calls %d", resp.StatusCode, r.prov.tokenCalls.Load())
		}
	})
}

var _ = errors.Is
