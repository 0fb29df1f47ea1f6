package oauth_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"golang.org/x/oauth2"

	"github.com/oauthfn/oauthfn/internal/awsenv"
	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth"
	"github.com/oauthfn/oauthfn/pkg/oauth/apigw"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// The authorization flow end to end, on the real stand-ins: oidc-provider as
// the OAuth server (generic preset, account from userinfo's sub), DynamoDB
// and Secrets Manager on moto through the real SDK, the Handler built by
// oauth.Setup from environment variables as the Lambda mains build it, and
// /authorize and /callback served through the API Gateway adapter over real
// HTTP. The last subtest checks that no code, verifier, token, state, binding
// cookie or secret the run handled reached a log, a URL or a page.
func TestEndToEnd(t *testing.T) {
	s := newStack(t)

	var first, second exchange
	t.Run("connect", func(t *testing.T) {
		loc, cookie := s.authorize(t, "return_to="+url.QueryEscape(returnTo+"?tab=2")+"&app_state="+url.QueryEscape("opaque state/1"))
		cb := s.oidc.Login(t, loc, "alice")
		if cb.Query().Get("code") == "" {
			t.Fatalf("provider answered %s, want a code", cb.Query().Get("error"))
		}
		resp := s.get(t, s.srv.URL+cb.RequestURI(), cookie)
		if resp.status != http.StatusFound {
			t.Fatalf("callback status = %d, want 302; body:\n%s", resp.status, resp.body)
		}
		back, err := url.Parse(resp.header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		q := back.Query()
		if got := back.Scheme + "://" + back.Host + back.Path; got != returnTo {
			t.Errorf("callback Location = %s, want under %s", back, returnTo)
		}
		if len(q) != 2 || q.Get("tab") != "2" || strings.Contains(back.RawQuery, "alice") {
			t.Errorf("callback Location = %s, want return_to's own tab=2 and a result, no bare account", back)
		}
		res, err := connect.VerifyResult(s.appKey, q.Get("result"))
		if err != nil || res.User != endUser || res.AccountID != "alice" || res.AppState != "opaque state/1" || res.Status != connect.StatusPending {
			t.Fatalf("result = %+v, %v; want %s pending alice with the app_state", res, err, endUser)
		}
		if c := resp.bindingCookie(); c == nil || c.MaxAge >= 0 {
			t.Errorf("callback did not clear the binding cookie: %q", resp.header.Values("Set-Cookie"))
		}
		// Nothing is attached until the app confirms.
		if item := s.getItem(t, "conn#generic#alice", "token"); item != nil {
			t.Fatalf("a connection was stored before the app confirmed")
		}
		bind := s.getItem(t, oauth.BindKey(res.ID), "bind")
		if bind == nil {
			t.Fatal("no pending connection stored")
		}
		if _, listed := bind[oauth.AttrEndUser]; listed {
			t.Errorf("the pending connection carries end_user: user-index would list it")
		}
		s.confirm(t, res)

		first = s.rec.lastExchange(t)
		item := s.connectionItem(t, "alice")
		s.checkSealed(t, item, "alice", first)
		// Consumed: marked with the consuming request's token (a retry of
		// it recognises its own write), never consumable again.
		if got := s.pendingItem(t, s.states[len(s.states)-1]); got != nil && got["consumed_by"] == nil {
			t.Errorf("pending authorization still consumable after the callback: %v", keys(got))
		}
		// The stored access token is the one the provider issued: userinfo
		// accepts it.
		if sub := s.userinfo(t, first.access); sub != "alice" {
			t.Errorf("userinfo sub with the stored access token = %q, want alice", sub)
		}
	})

	t.Run("re-authorization revokes the replaced session", func(t *testing.T) {
		if first.refresh == "" {
			t.Fatal("no first connection")
		}
		loc, cookie := s.authorize(t, "return_to="+url.QueryEscape(returnTo))
		cb := s.oidc.Login(t, loc, "alice") // a new browser: a new grant
		resp := s.get(t, s.srv.URL+cb.RequestURI(), cookie)
		if resp.status != http.StatusFound {
			t.Fatalf("callback = %d, want 302; body:\n%s", resp.status, resp.body)
		}
		back, _ := url.Parse(resp.header.Get("Location"))
		res, err := connect.VerifyResult(s.appKey, back.Query().Get("result"))
		if err != nil {
			t.Fatal(err)
		}
		// Until the app confirms, the first session is untouched.
		s.checkSealed(t, s.connectionItem(t, "alice"), "alice", first)
		if got := s.rec.revoked(); len(got) != 0 {
			t.Errorf("revocations before the confirmation = %d, want 0", len(got))
		}
		s.confirm(t, res)
		second = s.rec.lastExchange(t)
		if second.refresh == first.refresh {
			t.Fatal("the provider issued the same refresh token twice")
		}
		s.checkSealed(t, s.connectionItem(t, "alice"), "alice", second)
		if got := s.rec.revoked(); len(got) != 1 || got[0] != first.refresh {
			t.Errorf("revocations sent = %d (first is the replaced refresh token: %t), want exactly the replaced refresh token",
				len(got), len(got) > 0 && got[0] == first.refresh)
		}
		// The proof at the provider: the replaced session's refresh token is
		// dead, the new session's works. (Separate grants: refreshing the old
		// token cannot take the new grant down with it.)
		if _, err := s.refresh(t, first.refresh); oauthErrorCode(err) != "invalid_grant" {
			t.Errorf("refresh with the replaced refresh token: error %v, want invalid_grant", err)
		}
		if tok, err := s.refresh(t, second.refresh); err != nil || tok.AccessToken == "" {
			t.Errorf("refresh with the new refresh token: %v, want a new access token", err)
		}
		if !strings.Contains(s.logs.String(), "replaced session revoked") {
			t.Errorf("no log line for the revocation")
		}
	})

	t.Run("declined", func(t *testing.T) {
		before := s.connectionItem(t, "alice")
		loc, cookie := s.authorize(t, "return_to="+url.QueryEscape(returnTo)+"&app_state=s2")
		cb := s.oidc.Decline(t, loc)
		if cb.Query().Get("error") != "access_denied" {
			t.Fatalf("provider answered %q, want error=access_denied", cb.RawQuery)
		}
		resp := s.get(t, s.srv.URL+cb.RequestURI(), cookie)
		if resp.status != http.StatusBadRequest || !strings.Contains(resp.body, "You declined") || !strings.Contains(resp.body, "Error code: access_denied") {
			t.Fatalf("callback = %d, want 400 declined; body:\n%s", resp.status, resp.body)
		}
		if !strings.Contains(resp.body, `href="`+returnTo+`">Back to the app`) {
			t.Errorf("declined page has no link back to the app's return_to:\n%s", resp.body)
		}
		if c := resp.bindingCookie(); c == nil || c.MaxAge >= 0 {
			t.Errorf("declined callback did not clear the binding cookie")
		}
		if after := s.connectionItem(t, "alice"); !sameItem(before, after) {
			t.Errorf("a declined authorization changed the stored connection")
		}
	})

	t.Run("unauthorized client", func(t *testing.T) {
		// The main client gets the code; the handler configured with the
		// client that may not use the authorization code grant exchanges it.
		before := s.connectionItem(t, "alice")
		tokenCalls := s.rec.count("/token")
		loc, cookie := s.authorize(t, "return_to="+url.QueryEscape(returnTo))
		cb := s.oidc.Login(t, loc, "alice")
		resp := s.get(t, s.srv.URL+"/unauthorized"+cb.RequestURI(), cookie)
		if resp.status != http.StatusBadGateway || !strings.Contains(resp.body, "Error code: unauthorized_client") ||
			!strings.Contains(resp.body, "Authorization Code grant") {
			t.Fatalf("callback = %d, want 502 naming the fix; body:\n%s", resp.status, resp.body)
		}
		if got := s.rec.count("/token") - tokenCalls; got != 1 {
			t.Errorf("token calls = %d, want exactly 1", got)
		}
		if !strings.Contains(s.logs.String(), "enable the Authorization Code grant") {
			t.Errorf("no log line names the fix")
		}
		if after := s.connectionItem(t, "alice"); !sameItem(before, after) {
			t.Errorf("a refused exchange changed the stored connection")
		}
	})

	t.Run("nothing leaked", func(t *testing.T) {
		s.checkLeaks(t)
	})
}

const (
	returnTo = "https://app.example/done"
	endUser  = "app-user-7"
)

// stack is the deployment under test.
type stack struct {
	srv     *httptest.Server
	oidc    *testenv.OIDC
	ddb     *dynamodb.Client
	table   string
	rec     *recorder
	logs    *testenv.Buffer
	browser *http.Client

	tokenKey      string
	appKey        string
	clientSecrets []string

	states  []string   // from every authorize Location
	cookies []string   // every binding cookie value we set
	answers []response // every response our server gave
}

func newStack(t *testing.T) *stack {
	t.Helper()
	testenv.Moto(t)
	ctx := t.Context()
	s := &stack{rec: &recorder{next: http.DefaultTransport}, logs: &testenv.Buffer{}}
	s.browser = &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	// The server first: its /callback is the redirect URI to register.
	var main, unauthorized atomic.Pointer[oauth.Handler]
	mux := http.NewServeMux()
	mux.Handle("GET /authorize", apigw.Handler(func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return main.Load().Authorize(ctx, ev)
	}))
	mux.Handle("GET /callback", apigw.Handler(func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return main.Load().Callback(ctx, ev)
	}))
	mux.Handle("POST /confirm", apigw.Handler(func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return main.Load().CallbackRoutes(ctx, ev)
	}))
	mux.Handle("GET /unauthorized/callback", apigw.Handler(func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return unauthorized.Load().Callback(ctx, ev)
	}))
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	redirectURL := s.srv.URL + "/callback"

	s.oidc = testenv.StartOIDC(t, testenv.OIDCOptions{
		RedirectURIs:       []string{redirectURL},
		UnauthorizedClient: true,
		// The refresh token's lifetime from the response, as RingCentral
		// sends it: the connection then joins the keepalive sweep.
		RefreshTokenExpiresIn: true,
	})

	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatalf("aws config: %v", err)
	}
	s.ddb = dynamodb.NewFromConfig(awsCfg)
	s.table = testenv.Name(t, "oauthfn-e2e")
	if err := oauth.CreateTable(ctx, s.ddb, s.table); err != nil {
		t.Fatal(err)
	}
	sm := secretsmanager.NewFromConfig(awsCfg)
	s.tokenKey = randomString(t, 48) // 64 characters, as the template generates
	keyARN := createSecret(t, sm, "oauthfn-e2e-token-key", s.tokenKey)
	s.clientSecrets = []string{s.oidc.ClientSecret, s.oidc.UnauthorizedClientSecret}
	s.appKey = randomString(t, 48)
	appKeyARN := createSecret(t, sm, "oauthfn-e2e-app-key", s.appKey)
	clientARN := createSecret(t, sm, "oauthfn-e2e-client", clientSecretJSON(t, s.oidc.ClientSecret))
	unauthorizedARN := createSecret(t, sm, "oauthfn-e2e-client-unauthorized", clientSecretJSON(t, s.oidc.UnauthorizedClientSecret))

	env := map[string]string{
		"OAUTH_PROVIDER":          "generic",
		"OAUTH_AUTH_URL":          s.oidc.AuthURL,
		"OAUTH_TOKEN_URL":         s.oidc.TokenURL,
		"OAUTH_REVOKE_URL":        s.oidc.RevokeURL,
		"OAUTH_USERINFO_URL":      s.oidc.UserinfoURL,
		"OAUTH_SCOPES":            "openid",
		"OAUTH_CLIENT_ID":         s.oidc.ClientID,
		"OAUTH_CLIENT_SECRET_ARN": clientARN,
		"OAUTH_TOKEN_KEY_ARN":     keyARN,
		"OAUTH_APP_KEY_ARN":       appKeyARN,
		"OAUTH_REDIRECT_URL":      redirectURL,
		"ALLOWED_RETURN_URLS":     returnTo,
		"TABLE_NAME":              s.table,
		"LOG_LEVEL":               "debug",
	}
	main.Store(s.setup(t, env))
	env["OAUTH_CLIENT_ID"] = s.oidc.UnauthorizedClientID
	env["OAUTH_CLIENT_SECRET_ARN"] = unauthorizedARN
	unauthorized.Store(s.setup(t, env))
	return s
}

// setup builds a Handler the way the Lambda mains do, then points its logs
// at the test's buffer and its provider calls through the recorder.
func (s *stack) setup(t *testing.T, env map[string]string) *oauth.Handler {
	t.Helper()
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return os.Getenv(k) // AWS_ENDPOINT_URL, region and credentials: testenv's moto
	}
	awsCfg, err := awsenv.Load(getenv, dynamodb.ServiceID, secretsmanager.ServiceID)
	if err != nil {
		t.Fatalf("awsenv.Load: %v", err)
	}
	h, err := oauth.Setup(t.Context(), getenv, awsCfg)
	if err != nil {
		t.Fatalf("oauth.Setup: %v", err)
	}
	h.Log = slog.New(slog.NewJSONHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.HTTPClient.Transport = s.rec
	// oidc-provider answers for real: bounds a loaded machine never
	// reaches, for the token calls and for the replaced session's
	// revocation (3 s in production).
	h.HTTPClient.Timeout = 30 * time.Second
	oauth.SetRevokeLimit(h, 30*time.Second)
	return h
}

func createSecret(t *testing.T, sm *secretsmanager.Client, name, value string) string {
	t.Helper()
	out, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name:         aws.String(testenv.Name(t, name)),
		SecretString: aws.String(value),
	})
	if err != nil {
		t.Fatalf("CreateSecret %s: %v", name, err)
	}
	return aws.ToString(out.ARN)
}

func clientSecretJSON(t *testing.T, secret string) string {
	t.Helper()
	b, err := json.Marshal(map[string]string{"client_secret": secret})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func randomString(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// response is one answer of our server.
type response struct {
	url    string
	status int
	header http.Header
	body   string
}

func (r response) bindingCookie() *http.Cookie {
	for _, line := range r.header.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == oauth.BindingCookie {
			return c
		}
	}
	return nil
}

// get requests rawURL on our server as a browser would, sending the binding
// cookie by hand (Go's cookie jar does not send a Secure cookie over plain
// http), and records the answer.
func (s *stack) get(t *testing.T, rawURL, bindingCookie string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	if bindingCookie != "" {
		req.AddCookie(&http.Cookie{Name: oauth.BindingCookie, Value: bindingCookie})
	}
	resp, err := s.browser.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{url: rawURL, status: resp.StatusCode, header: resp.Header, body: string(body)}
	s.answers = append(s.answers, r)
	for k, want := range map[string]string{"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("GET %s: %s = %q, want %q", req.URL.Path, k, got, want)
		}
	}
	if c := r.bindingCookie(); c != nil && c.Value != "" {
		s.cookies = append(s.cookies, c.Value)
	}
	return r
}

// authorize starts an authorization for endUser, with query's return_to
// and app_state in a connect token (as the app's backend mints it), and
// returns the provider URL and the binding cookie's value.
func (s *stack) authorize(t *testing.T, query string) (string, string) {
	t.Helper()
	q, _ := url.ParseQuery(query)
	start, err := connect.URL(s.appKey, s.srv.URL+"/authorize", endUser, connect.Options{ReturnTo: q.Get("return_to"), AppState: q.Get("app_state")})
	if err != nil {
		t.Fatal(err)
	}
	resp := s.get(t, start, "")
	if resp.status != http.StatusFound {
		t.Fatalf("authorize status = %d, want 302; body:\n%s", resp.status, resp.body)
	}
	loc := resp.header.Get("Location")
	if !strings.HasPrefix(loc, s.oidc.AuthURL+"?") {
		t.Fatalf("authorize Location = %q, want the provider's authorize URL", loc)
	}
	u, _ := url.Parse(loc)
	state := u.Query().Get("state")
	if state == "" {
		t.Fatal("authorize Location has no state")
	}
	s.states = append(s.states, state)
	c := resp.bindingCookie()
	if c == nil || c.Value == "" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge != 600 {
		t.Fatalf("authorize binding cookie = %q, want HttpOnly Secure SameSite=Lax Path=/ Max-Age=600", resp.header.Values("Set-Cookie"))
	}
	return loc, c.Value
}

// confirm does the app's part after a pending result: POST /confirm with
// connect.Confirm over HTTP, as the user the result was made for.
func (s *stack) confirm(t *testing.T, res connect.Result) {
	t.Helper()
	got, err := connect.Confirm(t.Context(), s.appKey, s.srv.URL+"/confirm", res, res.User)
	if err != nil || got.Status != connect.StatusConnected || got.AccountID != res.AccountID || got.EndUser != res.User || got.Provider != res.Provider {
		t.Fatalf("confirm = %+v, %v; want connected %s for %s", got, err, res.AccountID, res.User)
	}
	if item := s.getItem(t, oauth.BindKey(res.ID), "bind"); item != nil {
		t.Errorf("the pending connection is still stored after the accept")
	}
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		oauth.AttrPK: &types.AttributeValueMemberS{Value: pk},
		oauth.AttrSK: &types.AttributeValueMemberS{Value: sk},
	}
}

func (s *stack) getItem(t *testing.T, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := s.ddb.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetItem %s: %v", pk, err)
	}
	return out.Item
}

func (s *stack) pendingItem(t *testing.T, state string) map[string]types.AttributeValue {
	t.Helper()
	return s.getItem(t, oauth.PendingKey(state), "state")
}

func (s *stack) connectionItem(t *testing.T, account string) map[string]types.AttributeValue {
	t.Helper()
	item := s.getItem(t, "conn#generic#"+account, "token")
	if item == nil {
		t.Fatalf("no connection stored for %s", account)
	}
	return item
}

// checkSealed checks the stored connection: active, with sealed tokens
// (no plaintext anywhere in the item) that open to the tokens the provider
// issued.
func (s *stack) checkSealed(t *testing.T, item map[string]types.AttributeValue, account string, want exchange) {
	t.Helper()
	for name, av := range item {
		if v, ok := av.(*types.AttributeValueMemberS); ok {
			for _, tok := range []string{want.access, want.refresh, want.code, want.verifier} {
				if tok != "" && strings.Contains(v.Value, tok) {
					t.Errorf("stored attribute %s holds a token in plaintext", name)
				}
			}
		}
	}
	str := func(name string) string {
		v, _ := item[name].(*types.AttributeValueMemberS)
		if v == nil {
			return ""
		}
		return v.Value
	}
	if got := str("status"); got != oauth.StatusActive {
		t.Errorf("stored status = %q, want active", got)
	}
	if got := str("account_id"); got != account {
		t.Errorf("stored account_id = %q, want %q", got, account)
	}
	sealer, err := oauth.NewSealer(oauth.Secret(s.tokenKey))
	if err != nil {
		t.Fatal(err)
	}
	pk := "conn#generic#" + account
	for name, want := range map[string]string{"access_token": want.access, "refresh_token": want.refresh} {
		got, err := sealer.OpenField(str(name), pk, name)
		if err != nil || got != want {
			t.Errorf("stored %s opens to the issued token: %t (%v)", name, got == want, err)
		}
	}
	if str("due_shard") == "" {
		t.Errorf("the connection is not in the due-index")
	}
}

func sameItem(a, b map[string]types.AttributeValue) bool {
	str := func(m map[string]types.AttributeValue, k string) string {
		v, _ := m[k].(*types.AttributeValueMemberS)
		if v == nil {
			return ""
		}
		return v.Value
	}
	for _, k := range []string{"access_token", "refresh_token", "updated_at"} {
		if str(a, k) != str(b, k) {
			return false
		}
	}
	return len(a) == len(b)
}

func keys(m map[string]types.AttributeValue) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// oauth2Config is the main client at the provider, for checks the test
// makes itself.
func (s *stack) oauth2Config() *oauth2.Config {
	return &oauth2.Config{
		ClientID:     s.oidc.ClientID,
		ClientSecret: s.oidc.ClientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: s.oidc.AuthURL, TokenURL: s.oidc.TokenURL, AuthStyle: oauth2.AuthStyleInHeader},
	}
}

func (s *stack) refresh(t *testing.T, refreshToken string) (*oauth2.Token, error) {
	t.Helper()
	return s.oauth2Config().TokenSource(t.Context(), &oauth2.Token{RefreshToken: refreshToken}).Token()
}

func oauthErrorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

func (s *stack) userinfo(t *testing.T, accessToken string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.oidc.UserinfoURL, nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		Sub string `json:"sub"`
	}
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	return body.Sub
}

// checkLeaks: no value the flow handled appears in a log line, in an answer
// of ours (body, Location or any other header), or in a URL the handler
// requested; the only places allowed are the state in the redirect to the
// provider and the binding cookie in Set-Cookie.
func (s *stack) checkLeaks(t *testing.T) {
	t.Helper()
	secrets := s.rec.secrets() // value -> what it is
	add := func(kind string, vs ...string) {
		for _, v := range vs {
			if _, known := secrets[v]; !known && v != "" {
				secrets[v] = kind
			}
		}
	}
	add("state", s.states...)
	for _, c := range s.cookies {
		add("binding cookie", c)
		add("binding nonce", strings.Split(c, ".")...)
	}
	add("client secret", s.clientSecrets...)
	add("token key", s.tokenKey)
	add("app key", s.appKey)

	// The check must have something to find: every kind of value was handled.
	counts := map[string]int{}
	for _, kind := range secrets {
		counts[kind]++
	}
	for kind, least := range map[string]int{"code": 3, "code_verifier": 3, "access_token": 2, "refresh_token": 2,
		"state": 4, "binding cookie": 4, "client secret": 2, "token key": 1, "app key": 1} {
		if counts[kind] < least {
			t.Errorf("the run handled %d values of kind %s, want at least %d: the leak check would be vacuous", counts[kind], kind, least)
		}
	}

	find := func(where, text string, allowed ...string) {
		for v, kind := range secrets {
			if len(v) < 8 {
				t.Fatalf("a %s of %d characters cannot be searched for reliably", kind, len(v))
			}
			skip := false
			for _, a := range allowed {
				skip = skip || a == kind
			}
			if !skip && strings.Contains(text, v) {
				t.Errorf("a %s appears in %s", kind, where)
			}
		}
	}
	logs := s.logs.String()
	if n := strings.Count(logs, "\n"); n < len(s.answers) {
		t.Errorf("%d log lines captured for %d requests, want at least one each", n, len(s.answers))
	}
	find("the logs", logs)
	for _, a := range s.answers {
		where := "the answer to " + strings.SplitN(strings.TrimPrefix(a.url, s.srv.URL), "?", 2)[0]
		find(where+": body", a.body)
		for name, values := range a.header {
			for _, v := range values {
				switch {
				case name == "Set-Cookie":
					find(where+": Set-Cookie", v, "binding cookie", "binding nonce")
				case name == "Location" && strings.HasPrefix(v, s.oidc.AuthURL+"?"):
					find(where+": provider Location", v, "state")
				default:
					find(where+": "+name, v)
				}
			}
		}
	}
	for _, u := range s.rec.urls() {
		find("a URL the handler requested", u)
	}
}

// recorder is the handlers' HTTP transport: it learns every code, verifier,
// token and client secret the handlers sent to or received from the
// provider, and every URL they requested.
type recorder struct {
	next http.RoundTripper

	mu        sync.Mutex
	values    map[string]string // value -> kind
	requested []string
	exchanges []exchange
	revokes   []string
	paths     map[string]int
}

// exchange is one successful code exchange as the handler made it.
type exchange struct {
	code, verifier, access, refresh string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var form url.Values
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		clone := req.Clone(req.Context())
		clone.Body = io.NopCloser(bytes.NewReader(b))
		req = clone
		form, _ = url.ParseQuery(string(b))
	}
	r.mu.Lock()
	if r.values == nil {
		r.values, r.paths = map[string]string{}, map[string]int{}
	}
	r.requested = append(r.requested, req.URL.String())
	r.paths[req.URL.Path]++
	for _, k := range []string{"code", "code_verifier", "refresh_token", "client_secret"} {
		r.learn(k, form.Get(k))
	}
	if v := form.Get("token"); v != "" {
		r.learn("revoked token", v)
		r.revokes = append(r.revokes, v)
	}
	if _, pass, ok := req.BasicAuth(); ok {
		if p, err := url.QueryUnescape(pass); err == nil {
			r.learn("client secret", p)
		}
	}
	if bearer, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
		r.learn("access_token", bearer)
	}
	r.mu.Unlock()

	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
	}
	if json.Unmarshal(b, &tok) == nil {
		r.mu.Lock()
		r.learn("access_token", tok.AccessToken)
		r.learn("refresh_token", tok.RefreshToken)
		r.learn("id_token", tok.IDToken)
		if form.Get("grant_type") == "authorization_code" && tok.AccessToken != "" {
			r.exchanges = append(r.exchanges, exchange{code: form.Get("code"), verifier: form.Get("code_verifier"), access: tok.AccessToken, refresh: tok.RefreshToken})
		}
		r.mu.Unlock()
	}
	return resp, nil
}

// learn notes v as a value of kind; the first kind seen stays (a revoked
// token was first issued as a refresh token). Call with r.mu held.
func (r *recorder) learn(kind, v string) {
	if _, known := r.values[v]; !known && v != "" {
		r.values[v] = kind
	}
}

func (r *recorder) lastExchange(t *testing.T) exchange {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.exchanges) == 0 {
		t.Fatal("the handler made no successful code exchange")
	}
	e := r.exchanges[len(r.exchanges)-1]
	if e.access == "" || e.refresh == "" || e.code == "" || e.verifier == "" {
		t.Fatalf("code exchange without code, verifier, access or refresh token")
	}
	return e
}

func (r *recorder) revoked() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.revokes...)
}

func (r *recorder) count(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.paths[path]
}

func (r *recorder) urls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.requested...)
}

func (r *recorder) secrets() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]string, len(r.values))
	for v, k := range r.values {
		out[v] = k
	}
	return out
}
