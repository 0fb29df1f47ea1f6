package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// Tests of a stack with several providers (OAUTH_PROVIDERS, issue 18):
// each provider is a mock playing its preset's dialect, with a client id
// and secret of its own, behind the real Handler on both stores.

// multiProvider is one provider of a multiRig: its mock and the times
// (on the rig's clock) of the refresh grants it answered.
type multiProvider struct {
	id, preset string
	clientID   string
	secret     string
	mock       *mockrc.Server
	srv        *httptest.Server

	mu        sync.Mutex
	refreshed []time.Time
	clock     *fakeClock // own clock after splitClocks, else the rig's
}

func (p *multiProvider) now() time.Time {
	p.mu.Lock()
	c := p.clock
	p.mu.Unlock()
	return c.Now()
}

func (p *multiProvider) refreshes() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.refreshed)
}

type multiRig struct {
	h     *Handler
	prov  map[string]*multiProvider
	clock *fakeClock
	logs  *bytes.Buffer
	store Store
	user  string
	env   map[string]string
}

// multiSpec names a provider of a rig: id, preset, and extra settings.
type multiSpec struct {
	id, preset string
	settings   map[string]any
}

// threeProviders are the rig's usual providers: RingCentral at 2 token
// calls a minute, GitHub and Slack unlimited.
var threeProviders = []multiSpec{
	{id: "crm", preset: PresetRingCentral, settings: map[string]any{"token_rate_per_min": 2}},
	{id: "code", preset: PresetGitHub},
	{id: "chat", preset: PresetSlack, settings: map[string]any{"scopes": "chat:write"}},
}

const multiDomain = "https://abc123.execute-api.us-east-1.amazonaws.com"

func newMultiRig(t *testing.T, store Store, specs []multiSpec, extraEnv ...string) *multiRig {
	t.Helper()
	r := &multiRig{prov: map[string]*multiProvider{}, clock: newFakeClock(), logs: &bytes.Buffer{}, store: store, user: "user-1"}
	providers := map[string]map[string]any{}
	secrets := map[string]string{}
	for _, s := range specs {
		p := &multiProvider{id: s.id, preset: s.preset, clientID: "client-" + s.id, secret: "secret-of-" + s.id, clock: r.clock}
		p.mock = mockrc.New(mockrc.Options{Now: p.now, Dialect: mockrc.Dialects[s.preset], ClientID: p.clientID, ClientSecret: p.secret,
			RedirectURIs: []string{multiDomain + "/callback/" + s.id}})
		p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			body, _ := io.ReadAll(req.Body)
			req.Body = io.NopCloser(bytes.NewReader(body))
			if req.URL.Path == mockrc.TokenPath && strings.Contains(string(body), "grant_type=refresh_token") {
				p.mu.Lock()
				p.refreshed = append(p.refreshed, p.clock.Now())
				p.mu.Unlock()
			}
			p.mock.ServeHTTP(w, req)
		}))
		t.Cleanup(p.srv.Close)
		r.prov[s.id] = p
		set := map[string]any{"preset": s.preset, "client_id": p.clientID,
			"auth_url": p.srv.URL + mockrc.AuthorizePath, "token_url": p.srv.URL + mockrc.TokenPath}
		row, _ := LookupPreset(s.preset)
		if row.RevokeURL != "" {
			set["revoke_url"] = p.srv.URL + mockrc.RevokePath
		}
		if row.UserinfoURL != "" {
			set["userinfo_url"] = p.srv.URL + mockrc.UserinfoPath
		}
		for k, v := range s.settings {
			set[k] = v
		}
		providers[s.id] = set
		secrets[s.id] = p.secret
	}
	pj, _ := json.Marshal(providers)
	sj, _ := json.Marshal(secrets)
	r.env = with(baseEnv(), "OAUTH_PROVIDER", "", "OAUTH_CLIENT_ID", "", "OAUTH_PROVIDERS", string(pj), "OAUTH_CLIENT_SECRET", string(sj),
		"ALLOWED_RETURN_URLS", defaultReturnTo)
	r.h = r.handler(t, with(r.env, extraEnv...))
	t.Cleanup(func() {
		for _, s := range []string{"mockrc_at_", "mockrc_rt_", "mockrc_code_", "secret-of-"} {
			if strings.Contains(r.logs.String(), s) {
				t.Errorf("logs contain %q", s)
			}
		}
	})
	return r
}

// handler builds a Handler on the rig's store, clock and logs from e.
func (r *multiRig) handler(t *testing.T, e map[string]string) *Handler {
	t.Helper()
	cfg, err := LoadConfig(env(e))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	secrets, err := SecretsFromConfig(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(cfg, r.store, secrets)
	h.Now, h.Sleep = r.clock.Now, r.clock.Sleep
	h.HTTPClient = &http.Client{Timeout: answerTimeout}
	h.Log = slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.revokeLimit = answerTimeout
	return h
}

// splitClocks gives each provider (its view of the handler and its mock)
// a clock of its own, starting at the rig's: one provider's rate waits
// (which advance its clock) do not move the others' time, as no real
// clock would. The sweep's own reads stay on the rig's clock.
func (r *multiRig) splitClocks(t *testing.T, h *Handler) {
	for id, p := range r.prov {
		c := &fakeClock{t: r.clock.Now()}
		if v, ok := h.ForProvider(id); ok {
			v.Now, v.Sleep = c.Now, c.Sleep
		}
		p.mu.Lock()
		p.clock = c
		p.mu.Unlock()
	}
}

func (r *multiRig) keys() connect.Keys {
	return connect.Keys{Current: testAppKey, Now: r.clock.Now}
}

// connectToken mints a connect token for r.user naming provider.
func (r *multiRig) connectToken(t *testing.T, provider string) string {
	t.Helper()
	tok, err := r.keys().Token(r.user, connect.Options{ReturnTo: defaultReturnTo, Provider: provider})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// routeRequest is a request to /<route>/<id> as API Gateway passes it
// (the id in pathParameters); id "" is the bare /<route>.
func routeRequest(route, id, query string, cookies ...string) events.APIGatewayV2HTTPRequest {
	path := "/" + route
	if id != "" {
		path += "/" + id
	}
	req := apiRequest(path, query, cookies...)
	if id != "" {
		req.RouteKey = "GET /" + route + "/{provider}"
		req.PathParameters = map[string]string{"provider": id}
	}
	return req
}

// start runs /authorize/<id> with a connect token for provider tokenFor
// and returns the answer and the binding cookie.
func (r *multiRig) start(t *testing.T, id, tokenFor string) (events.APIGatewayV2HTTPResponse, string) {
	t.Helper()
	resp, err := r.h.Authorize(context.Background(), routeRequest("authorize", id, "connect="+r.connectToken(t, tokenFor)))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusFound {
		return resp, ""
	}
	c, err := http.ParseSetCookie(resp.Cookies[0])
	if err != nil {
		t.Fatal(err)
	}
	return resp, c.Name + "=" + c.Value
}

// consent has the provider of the authorize redirect approve account and
// returns the callback query it sends the browser back with.
func (r *multiRig) consent(t *testing.T, id string, authorize events.APIGatewayV2HTTPResponse, account string) string {
	t.Helper()
	loc, err := url.Parse(authorize.Headers["Location"])
	if err != nil {
		t.Fatal(err)
	}
	p := r.prov[id]
	if !strings.HasPrefix(loc.String(), p.srv.URL) || loc.Query().Get("client_id") != p.clientID ||
		loc.Query().Get("redirect_uri") != multiDomain+"/callback/"+id {
		t.Fatalf("authorize at %s went to %s", id, loc.Redacted())
	}
	return mockConsent(t, p.srv.URL, loc, account).RawQuery
}

// mockConsent has the mock provider at base approve account for the
// authorize URL loc (its login form, without the page) and returns where it
// sends the browser back: a redirect with a code.
func mockConsent(t *testing.T, base string, loc *url.URL, account string) *url.URL {
	t.Helper()
	form := loc.Query()
	form.Set("account", account)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	dec, err := client.PostForm(base+mockrc.DecidePath, form)
	if err != nil {
		t.Fatal(err)
	}
	dec.Body.Close()
	back, err := url.Parse(dec.Header.Get("Location"))
	if err != nil || back.Query().Get("code") == "" {
		t.Fatalf("consent at %s: got %d %q, want a redirect with a code", base, dec.StatusCode, dec.Header.Get("Location"))
	}
	return back
}

func (r *multiRig) callback(t *testing.T, id, query, cookie string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, err := r.h.Callback(context.Background(), routeRequest("callback", id, query, cookie))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// connect runs the whole flow for account at provider id, through the
// app's confirmation, and returns the account id the provider named.
func (r *multiRig) connect(t *testing.T, id, account string) string {
	t.Helper()
	resp, cookie := r.start(t, id, id)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize/%s = %d %s", id, resp.StatusCode, resp.Body)
	}
	cb := r.callback(t, id, r.consent(t, id, resp, account), cookie)
	res := r.result(t, cb)
	if res.Provider != id || res.Status != connect.StatusPending || res.User != r.user {
		t.Fatalf("result = %+v, want pending for provider %s", res, id)
	}
	ctok, err := r.keys().ConfirmToken(res.ID, r.user, connect.DecisionAccept)
	if err != nil {
		t.Fatal(err)
	}
	req := apiRequest("/confirm", "")
	req.RouteKey, req.RequestContext.HTTP.Method, req.Body = "POST /confirm", "POST", `{"confirm":"`+ctok+`"}`
	conf, err := r.h.CallbackRoutes(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var got connect.Confirmation
	if json.Unmarshal([]byte(conf.Body), &got) != nil || conf.StatusCode != 200 || got.Provider != id || got.AccountID != res.AccountID {
		t.Fatalf("confirm = %d %s, want connected at %s", conf.StatusCode, conf.Body, id)
	}
	return res.AccountID
}

func (r *multiRig) result(t *testing.T, cb events.APIGatewayV2HTTPResponse) connect.Result {
	t.Helper()
	loc, err := url.Parse(cb.Headers["Location"])
	if cb.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("callback = %d %s\nlogs: %s", cb.StatusCode, cb.Body, r.logs)
	}
	res, err := r.keys().VerifyResult(loc.Query().Get("result"))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// tokenCalls is every provider's count of token-endpoint calls.
func (r *multiRig) tokenCalls() map[string]int {
	out := map[string]int{}
	for id, p := range r.prov {
		out[id] = p.mock.Calls(mockrc.TokenPath)
	}
	return out
}

func answerCode(t *testing.T, resp events.APIGatewayV2HTTPResponse) string {
	t.Helper()
	var m struct {
		Code string `json:"error"`
	}
	if strings.HasPrefix(resp.Headers["Content-Type"], "application/json") {
		_ = json.Unmarshal([]byte(resp.Body), &m)
		return m.Code
	}
	if i := strings.Index(resp.Body, `data-code="`); i >= 0 {
		rest := resp.Body[i+len(`data-code="`):]
		return rest[:strings.IndexByte(rest, '"')]
	}
	return ""
}

// Two and three providers in one stack: each connects through its own
// routes, client and redirect URI, is confirmed, and is stored under its
// own provider id; the token function answers per provider; an end user's
// listing names each connection's provider.
func TestMultiConnect(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d providers", n), func(t *testing.T) {
			eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
				r := newMultiRig(t, newStore(t), threeProviders[:n])
				ctx := context.Background()
				accounts := map[string]string{}
				for _, s := range threeProviders[:n] {
					accounts[s.id] = r.connect(t, s.id, "1001")
				}
				for id, account := range accounts {
					v, _ := r.h.ForProvider(id)
					c, access, _ := getOpenFor(t, v, id, account)
					if c.Provider != id || c.EndUser != r.user || c.Status != StatusActive {
						t.Errorf("%s: connection %+v", id, c.Info())
					}
					for _, req := range []TokenRequest{{Provider: id, AccountID: account}} {
						got, err := r.h.AnswerToken(ctx, req)
						if err != nil || got.Error != "" || got.AccessToken != access {
							t.Errorf("token for %s/%s: %v %s, want the provider's own token", id, account, err, got)
						}
					}
					// Another provider's id never answers with this one's token.
					for other := range accounts {
						if other == id {
							continue
						}
						got, _ := r.h.AnswerToken(ctx, TokenRequest{Provider: other, AccountID: account})
						if got.AccessToken == access {
							t.Errorf("provider %s answered %s's token", other, id)
						}
					}
				}
				got, err := r.h.TokenFunction(ctx, json.RawMessage(`{"account_id":"1001"}`))
				if err != nil || got.Error != TokenInvalidRequest || !strings.Contains(got.ErrorDescription, "provider is required") {
					t.Errorf("token without provider = %v %+v, want invalid_request naming provider", err, got)
				}
				got, _ = r.h.TokenFunction(ctx, json.RawMessage(`{"provider":"nope","account_id":"1001"}`))
				if got.Error != TokenInvalidRequest {
					t.Errorf("unknown provider = %+v, want invalid_request", got)
				}
				got, _ = r.h.TokenFunction(ctx, json.RawMessage(`{"provider":"crm","account_id":"1001","extra":1}`))
				if got.Error != TokenInvalidRequest {
					t.Errorf("unknown key = %+v, want invalid_request", got)
				}
				// The user-index is eventually consistent on DynamoDB only in
				// AWS; the stand-ins answer at once.
				list, err := r.h.TokenFunction(ctx, json.RawMessage(`{"end_user":"user-1"}`))
				if err != nil {
					t.Fatal(err)
				}
				var seen []string
				for _, c := range list.Connections {
					if accounts[c.Provider] != c.AccountID {
						t.Errorf("listing has %+v", c)
					}
					seen = append(seen, c.Provider)
				}
				if len(seen) != n {
					t.Errorf("end_user listing names providers %v, want %d", seen, n)
				}
				b, _ := json.Marshal(list)
				if !strings.Contains(string(b), `"provider":"crm"`) {
					t.Errorf("listing JSON %s lacks the provider", b)
				}
				one, _ := r.h.AnswerToken(ctx, TokenRequest{Provider: "crm", EndUser: "user-1"})
				if len(one.Connections) != 1 || one.Connections[0].Provider != "crm" {
					t.Errorf("end_user with provider = %+v, want crm's only", one.Connections)
				}
				// The root handler cannot tell whose account "1001" is.
				if _, err := r.h.Connection(ctx, "1001"); err == nil || !strings.Contains(err.Error(), "ForProvider") {
					t.Errorf("Connection on the root = %v, want ErrProviderRequired", err)
				}
				v, _ := r.h.ForProvider("crm")
				if info, err := v.Connection(ctx, accounts["crm"]); err != nil || info.Provider != "crm" {
					t.Errorf("ForProvider(crm).Connection = %+v, %v", info, err)
				}
			})
		})
	}
}

// The mix-up defence (RFC 9700 §4.4): the state and code of provider A's
// flow delivered to provider B's callback are refused there (400, nothing
// sent to either provider, A's pending authorization untouched), and still
// finish at A's own callback. The bare routes of a stack with several
// providers, and an unknown id, are refused before anything is read.
func TestMultiMixUp(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newMultiRig(t, newStore(t), threeProviders[:2])
		resp, cookie := r.start(t, "crm", "crm")
		query := r.consent(t, "crm", resp, "1001")
		before := r.tokenCalls()
		cb := r.callback(t, "code", query, cookie)
		if cb.StatusCode != 400 || answerCode(t, cb) != "invalid_state" {
			t.Fatalf("crm's state at code's callback = %d %q, want 400 invalid_state", cb.StatusCode, answerCode(t, cb))
		}
		if len(cb.Cookies) != 0 {
			t.Errorf("the refusal changed the binding cookie: %v", cb.Cookies)
		}
		if after := r.tokenCalls(); !mapsEqual(after, before) {
			t.Errorf("token calls %v -> %v: something was sent", before, after)
		}
		// Still usable at its own provider.
		ok := r.callback(t, "crm", query, cookie)
		if res := r.result(t, ok); res.Provider != "crm" || res.AccountID != "1001" {
			t.Errorf("result at crm = %+v", res)
		}
		if got := r.prov["crm"].mock.Calls(mockrc.TokenPath) - before["crm"]; got != 1 {
			t.Errorf("crm token calls = %d, want the one exchange", got)
		}

		for _, tc := range []struct {
			route, id, code string
			status          int
		}{
			{"authorize", "", "provider_required", 404},
			{"callback", "", "provider_required", 404},
			{"authorize", "nope", "unknown_provider", 404},
			{"callback", "nope", "unknown_provider", 404},
		} {
			req := routeRequest(tc.route, tc.id, "connect="+r.connectToken(t, "crm"))
			var got events.APIGatewayV2HTTPResponse
			if tc.route == "authorize" {
				got, _ = r.h.Authorize(context.Background(), req)
			} else {
				got, _ = r.h.Callback(context.Background(), req)
			}
			if got.StatusCode != tc.status || answerCode(t, got) != tc.code || len(got.Cookies) != 0 {
				t.Errorf("%s/%s = %d %q, want %d %s", tc.route, tc.id, got.StatusCode, answerCode(t, got), tc.status, tc.code)
			}
		}
		// The dev server's events carry no pathParameters: the path names
		// the provider.
		req := apiRequest("/authorize/code", "connect="+r.connectToken(t, "code"))
		if got, _ := r.h.Authorize(context.Background(), req); got.StatusCode != http.StatusFound {
			t.Errorf("/authorize/code without pathParameters = %d", got.StatusCode)
		}
	})
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A connect token is for one provider: used at another provider's route,
// or naming none in a stack with several, it is refused (401
// invalid_connect_token) with nothing stored: the same token still works
// at its own route.
func TestMultiConnectTokenProvider(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newMultiRig(t, newStore(t), threeProviders[:2])
		ctx := context.Background()
		tok := r.connectToken(t, "crm")
		for _, at := range []string{"code"} {
			got, _ := r.h.Authorize(ctx, routeRequest("authorize", at, "connect="+tok))
			if got.StatusCode != 401 || answerCode(t, got) != "invalid_connect_token" || len(got.Cookies) != 0 {
				t.Errorf("crm's token at %s = %d %q, want 401 invalid_connect_token", at, got.StatusCode, answerCode(t, got))
			}
		}
		none, err := r.keys().Token(r.user, connect.Options{ReturnTo: defaultReturnTo})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := r.h.Authorize(ctx, routeRequest("authorize", "crm", "connect="+none)); got.StatusCode != 401 {
			t.Errorf("a token naming no provider = %d, want 401", got.StatusCode)
		}
		if n := r.prov["crm"].mock.Calls(mockrc.TokenPath) + r.prov["code"].mock.Calls(mockrc.TokenPath); n != 0 {
			t.Errorf("%d token calls, want none", n)
		}
		// Nothing was stored: the jti is not spent.
		if got, _ := r.h.Authorize(ctx, routeRequest("authorize", "crm", "connect="+tok)); got.StatusCode != http.StatusFound {
			t.Errorf("crm's token at crm after the refusals = %d, want 302", got.StatusCode)
		}
	})
}

// iss (RFC 9207): a callback whose iss is not the provider's issuer is
// refused before anything is consumed or sent; a provider known to always
// send iss is refused a callback without one. The state stays usable.
func TestMultiIssuer(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		specs := []multiSpec{
			{id: "crm", preset: PresetRingCentral, settings: map[string]any{"issuer": "https://crm.example"}},
			{id: "code", preset: PresetGitHub, settings: map[string]any{"issuer": "https://code.example", "authorization_response_iss_parameter_supported": true}},
		}
		r := newMultiRig(t, newStore(t), specs)
		for _, tc := range []struct{ id, bad, good string }{
			{"crm", "&iss=" + url.QueryEscape("https://code.example"), ""},
			{"code", "", "&iss=" + url.QueryEscape("https://code.example")},
			{"code", "&iss=" + url.QueryEscape("https://crm.example"), "&iss=" + url.QueryEscape("https://code.example")},
		} {
			resp, cookie := r.start(t, tc.id, tc.id)
			query := r.consent(t, tc.id, resp, "1001")
			before := r.tokenCalls()
			cb := r.callback(t, tc.id, query+tc.bad, cookie)
			if cb.StatusCode != 400 || answerCode(t, cb) != "issuer_mismatch" {
				t.Errorf("%s with iss %q = %d %q, want 400 issuer_mismatch", tc.id, tc.bad, cb.StatusCode, answerCode(t, cb))
			}
			if after := r.tokenCalls(); !mapsEqual(after, before) {
				t.Errorf("token calls %v -> %v after a refused iss", before, after)
			}
			if ok := r.callback(t, tc.id, query+tc.good, cookie); ok.StatusCode != http.StatusFound {
				t.Errorf("%s with the right iss = %d %s", tc.id, ok.StatusCode, ok.Body)
			}
		}
	})
}

// One sweep over all providers: each provider's connections are refreshed
// by its own client, within its own rate (crm: 2 a minute, on the rig's
// clock), and the summary counts each provider and the totals.
func TestMultiSweepRates(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		specs := slices.Clone(threeProviders)
		specs[1].settings = map[string]any{"token_rate_per_min": 1}
		r := newMultiRig(t, newStore(t), specs, "REFRESH_MODE", "eager")
		want := map[string]int{"crm": 3, "code": 2, "chat": 2}
		for id, n := range want {
			for i := range n {
				r.connect(t, id, mockrc.DemoAccounts()[i].ID)
			}
		}
		r.clock.Advance(50 * time.Minute) // access tokens (1 h) inside REFRESH_WINDOW
		r.splitClocks(t, r.h)
		start := r.clock.Now()
		sum := sweepOnce(t, r.h)
		if sum.Providers == nil {
			t.Fatalf("summary %+v has no provider counts", sum)
		}
		total := 0
		for id, n := range want {
			p := (*sum.Providers)[id]
			if p.Refreshed != n || p.Due != n || p.Failed != 0 {
				t.Errorf("%s: %+v, want %d refreshed", id, p, n)
			}
			if got := len(r.prov[id].refreshes()); got != n {
				t.Errorf("%s: %d refresh grants at its provider, want %d", id, got, n)
			}
			total += n
		}
		if sum.Refreshed != total || sum.Due != total {
			t.Errorf("totals %+v, want %d", sum, total)
		}
		// Each keeps to its own rate, on its own clock: crm 2 a minute
		// (consecutive calls at least 30 s apart), code 1 a minute (60 s);
		// chat is unlimited and never waited (its clock did not move).
		for id, gap := range map[string]time.Duration{"crm": 30 * time.Second, "code": time.Minute} {
			times := r.prov[id].refreshes()
			slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
			for i := 1; i < len(times); i++ {
				if d := times[i].Sub(times[i-1]); d < gap {
					t.Errorf("%s refreshes %v apart, over its rate", id, d)
				}
			}
		}
		for _, at := range r.prov["chat"].refreshes() {
			if !at.Equal(start) {
				t.Errorf("chat refreshed at +%v: waited on another provider's bucket", at.Sub(start))
			}
		}
		noLeases(t, r.store)
	})
}

// A provider that refuses its client (invalid_client) stops only its own
// refreshes; the others go on. A provider the configuration no longer
// names leaves its connections alone, and says so once.
func TestMultiSweepIsolation(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newMultiRig(t, newStore(t), threeProviders, "REFRESH_MODE", "eager")
		for _, id := range []string{"crm", "code", "chat"} {
			r.connect(t, id, "1001")
			r.connect(t, id, "1002")
		}
		r.clock.Advance(50 * time.Minute)
		refused := mockrc.Fault{Status: 401, Body: `{"error":"incorrect_client_credentials","error_description":"The client_id and/or client_secret passed are incorrect."}`}
		r.prov["code"].mock.Script(mockrc.TokenPath, refused, refused)
		r.splitClocks(t, r.h)
		sum := sweepOnce(t, r.h)
		got := *sum.Providers
		if got["code"].Refreshed != 0 || !strings.Contains(got["code"].Stopped, "refused the client") {
			t.Errorf("code: %+v, want stopped at the refused client", got["code"])
		}
		// Its workers may have had both refreshes in flight; none after the stop.
		if n := r.prov["code"].mock.Calls(mockrc.TokenPath); n < 2+1 || n > 2+2 {
			t.Errorf("code's token calls = %d, want the 2 exchanges and 1 or 2 refused refreshes", n)
		}
		for _, id := range []string{"crm", "chat"} {
			if got[id].Refreshed != 2 || got[id].Stopped != "" {
				t.Errorf("%s: %+v, want both refreshed", id, got[id])
			}
		}
		if sum.Refreshed != 4 {
			t.Errorf("total refreshed = %d, want 4", sum.Refreshed)
		}

		// chat removed from the configuration: its connections are left alone.
		var providers map[string]any
		_ = json.Unmarshal([]byte(r.env["OAUTH_PROVIDERS"]), &providers)
		delete(providers, "chat")
		pj, _ := json.Marshal(providers)
		var secrets map[string]string
		_ = json.Unmarshal([]byte(r.env["OAUTH_CLIENT_SECRET"]), &secrets)
		delete(secrets, "chat")
		sj, _ := json.Marshal(secrets)
		h2 := r.handler(t, with(r.env, "OAUTH_PROVIDERS", string(pj), "OAUTH_CLIENT_SECRET", string(sj), "REFRESH_MODE", "eager"))
		r.clock.Advance(55 * time.Minute)
		chatBefore := r.prov["chat"].mock.Calls(mockrc.TokenPath)
		versions := map[string]int64{}
		for _, a := range []string{"T1001", "T1002"} {
			c, err := r.store.GetConnection(context.Background(), "chat", a)
			if err != nil {
				t.Fatal(err)
			}
			versions[a] = c.Version
		}
		r.logs.Reset()
		r.splitClocks(t, h2)
		sum = sweepOnce(t, h2)
		if p := (*sum.Providers)["chat"]; p.Due != 2 || p.Stopped != "provider not configured" || p.Refreshed != 0 {
			t.Errorf("chat after its removal: %+v", p)
		}
		if n := r.prov["chat"].mock.Calls(mockrc.TokenPath); n != chatBefore {
			t.Errorf("chat's provider got %d calls after its removal", n-chatBefore)
		}
		for a, v := range versions {
			if c, err := r.store.GetConnection(context.Background(), "chat", a); err != nil || c.Version != v || c.LeaseOwner != "" {
				t.Errorf("chat %s changed: %+v, %v", a, c, err)
			}
		}
		if n := strings.Count(r.logs.String(), "configuration does not name"); n != 1 {
			t.Errorf("the removed provider was logged %d times, want once", n)
		}
		if (*sum.Providers)["crm"].Refreshed != 2 {
			t.Errorf("crm after chat's removal: %+v", (*sum.Providers)["crm"])
		}
	})
}

// An existing single-provider table keeps working: connections made by a
// stack with OAUTH_PROVIDER=ringcentral (conn#ringcentral#<account>) are
// served, refreshed and listed by the same stack moved to OAUTH_PROVIDERS
// with the id ringcentral, with no migration.
func TestMultiUpgradeFromSingle(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newMultiRig(t, newStore(t), []multiSpec{{id: "ringcentral", preset: PresetRingCentral}, {id: "code", preset: PresetGitHub}})
		p := r.prov["ringcentral"]
		single := r.handler(t, with(r.env, "OAUTH_PROVIDERS", "", "OAUTH_PROVIDER", "ringcentral", "OAUTH_CLIENT_ID", p.clientID,
			"OAUTH_CLIENT_SECRET", p.secret, "OAUTH_AUTH_URL", p.srv.URL+mockrc.AuthorizePath, "OAUTH_TOKEN_URL", p.srv.URL+mockrc.TokenPath,
			"OAUTH_REVOKE_URL", p.srv.URL+mockrc.RevokePath, "OAUTH_REDIRECT_URL", multiDomain+"/callback/ringcentral"))
		multi := r.h
		r.h = single
		ctx := context.Background()
		// The single-provider stack: /authorize and /callback, a token
		// without a provider claim.
		tok, _ := r.keys().Token(r.user, connect.Options{ReturnTo: defaultReturnTo})
		resp, err := single.Authorize(ctx, routeRequest("authorize", "", "connect="+tok))
		if err != nil || resp.StatusCode != http.StatusFound {
			t.Fatalf("single authorize = %d %v", resp.StatusCode, err)
		}
		c, _ := http.ParseSetCookie(resp.Cookies[0])
		cb, _ := single.Callback(ctx, routeRequest("callback", "", r.consent(t, "ringcentral", resp, "1001"), c.Name+"="+c.Value))
		res := r.result(t, cb)
		if res.Provider != "ringcentral" {
			t.Fatalf("single result %+v", res)
		}
		ctok, _ := r.keys().ConfirmToken(res.ID, r.user, connect.DecisionAccept)
		req := apiRequest("/confirm", "")
		req.RouteKey, req.RequestContext.HTTP.Method, req.Body = "POST /confirm", "POST", `{"confirm":"`+ctok+`"}`
		if conf, _ := single.CallbackRoutes(ctx, req); conf.StatusCode != 200 {
			t.Fatalf("single confirm = %d %s", conf.StatusCode, conf.Body)
		}
		_, access, _ := getOpenFor(t, single, "ringcentral", "1001")
		// The same table under OAUTH_PROVIDERS.
		r.h = multi
		got, err := multi.AnswerToken(ctx, TokenRequest{Provider: "ringcentral", AccountID: "1001"})
		if err != nil || got.AccessToken != access {
			t.Errorf("token after the upgrade = %v %v", err, got)
		}
		r.clock.Advance(6 * 24 * time.Hour) // the refresh token (7 days) inside KEEPALIVE_MARGIN
		sum := sweepOnce(t, multi)
		if (*sum.Providers)["ringcentral"].Refreshed != 1 {
			t.Errorf("sweep after the upgrade: %+v", *sum.Providers)
		}
		// And a single-provider stack refuses a token for another provider.
		other, _ := r.keys().Token(r.user, connect.Options{ReturnTo: defaultReturnTo, Provider: "code"})
		if resp, _ := single.Authorize(ctx, routeRequest("authorize", "", "connect="+other)); resp.StatusCode != 401 {
			t.Errorf("single stack, token for code = %d, want 401", resp.StatusCode)
		}
	})
}

// Start-up errors of OAUTH_PROVIDERS: every problem in one error, each
// naming the provider and the setting.
func TestMultiConfigErrors(t *testing.T) {
	base := with(baseEnv(), "OAUTH_PROVIDER", "", "OAUTH_CLIENT_ID", "")
	good := `{"crm":{"preset":"ringcentral","client_id":"a"},"code":{"preset":"github","client_id":"b"}}`
	secrets := `{"crm":"s1","code":"s2"}`
	for _, tc := range []struct {
		name      string
		env       map[string]string
		want      []string
		wantNotIn []string
	}{
		{name: "unknown preset", env: with(base, "OAUTH_PROVIDERS", `{"crm":{"preset":"okta","client_id":"a"}}`, "OAUTH_CLIENT_SECRET", `{"crm":"s"}`),
			want: []string{`provider "crm": preset: want one of`}},
		{name: "missing client_id", env: with(base, "OAUTH_PROVIDERS", `{"crm":{"preset":"ringcentral"}}`, "OAUTH_CLIENT_SECRET", `{"crm":"s"}`),
			want: []string{`provider "crm": client_id: required`}},
		{name: "missing preset", env: with(base, "OAUTH_PROVIDERS", `{"crm":{"client_id":"a"}}`, "OAUTH_CLIENT_SECRET", `{"crm":"s"}`),
			want: []string{`provider "crm": preset: required`}},
		{name: "bad ids", env: with(base, "OAUTH_PROVIDERS", `{"CRM":{"preset":"ringcentral","client_id":"a"},"9x":{"preset":"github","client_id":"b"},"`+strings.Repeat("a", 33)+`":{"preset":"github","client_id":"b"}}`, "OAUTH_CLIENT_SECRET", `{}`),
			want: []string{`provider "CRM"`, `provider "9x"`, `provider "aaaa`, "lower-case letters"}},
		{name: "ids the BFF's routes take", env: with(base, "OAUTH_PROVIDERS", `{"api":{"preset":"github","client_id":"a"},"session":{"preset":"github","client_id":"b"},"logout":{"preset":"github","client_id":"c"}}`, "OAUTH_CLIENT_SECRET", `{"api":"s","session":"s","logout":"s"}`),
			want: []string{`provider "api": "api" names a route of the browser-only apps' backend (/bff/api)`, `provider "session"`, `provider "logout"`}},
		{name: "unknown key", env: with(base, "OAUTH_PROVIDERS", `{"crm":{"preset":"ringcentral","client_id":"a","clientid":"x"}}`, "OAUTH_CLIENT_SECRET", `{"crm":"s"}`),
			want: []string{`provider "crm": clientid: unknown setting`}},
		{name: "generic without endpoints", env: with(base, "OAUTH_PROVIDERS", `{"idp":{"preset":"generic","client_id":"a"}}`, "OAUTH_CLIENT_SECRET", `{"idp":"s"}`),
			want: []string{`provider "idp": auth_url: required when OAUTH_PROVIDERS: provider "idp": preset=generic`, `provider "idp": token_url`, `provider "idp": account_field`}},
		{name: "bad values", env: with(base, "OAUTH_PROVIDERS", `{"crm":{"preset":"ringcentral","client_id":"a","token_rate_per_min":"5","redirect_url":"http://evil.example/cb","authorize_params":{"state":"x"},"auth_style":"magic"}}`, "OAUTH_CLIENT_SECRET", `{"crm":"s"}`),
			want: []string{`provider "crm": token_rate_per_min`, `provider "crm": redirect_url`, `provider "crm": authorize_params`, `provider "crm": auth_style`}},
		{name: "both old and new variables", env: with(base, "OAUTH_PROVIDERS", good, "OAUTH_CLIENT_SECRET", secrets, "OAUTH_PROVIDER", "ringcentral", "OAUTH_SCOPES", "x"),
			want: []string{"OAUTH_PROVIDER: set OAUTH_PROVIDERS or OAUTH_PROVIDER", "OAUTH_SCOPES: set OAUTH_PROVIDERS or OAUTH_SCOPES"}},
		{name: "a provider without a secret", env: with(base, "OAUTH_PROVIDERS", good, "OAUTH_CLIENT_SECRET", `{"crm":"s1"}`),
			want: []string{`OAUTH_CLIENT_SECRET: no client secret for provider "code"`}, wantNotIn: []string{"s1"}},
		{name: "one secret for several providers", env: with(base, "OAUTH_PROVIDERS", good, "OAUTH_CLIENT_SECRET", "plain-secret"),
			want: []string{"OAUTH_CLIENT_SECRET: with OAUTH_PROVIDERS, want a JSON object"}, wantNotIn: []string{"plain-secret"}},
		{name: "not JSON", env: with(base, "OAUTH_PROVIDERS", `{"crm":`, "OAUTH_CLIENT_SECRET", `{}`),
			want: []string{"OAUTH_PROVIDERS: want a JSON object"}},
		{name: "repeated id", env: with(base, "OAUTH_PROVIDERS", `{"crm":{"preset":"ringcentral","client_id":"a"},"crm":{"preset":"github","client_id":"b"}}`, "OAUTH_CLIENT_SECRET", `{"crm":"s"}`),
			want: []string{`key "crm" repeated`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(env(tc.env))
			if err == nil {
				t.Fatalf("LoadConfig: no error, want %v", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant it to contain %q", err, w)
				}
			}
			for _, w := range tc.wantNotIn {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error %q contains %q", err, w)
				}
			}
		})
	}
	cfg, err := LoadConfig(env(with(base, "OAUTH_PROVIDERS", good, "OAUTH_CLIENT_SECRET", secrets, "TOKEN_RATE_PER_MIN", "7")))
	if err != nil {
		t.Fatal(err)
	}
	if ids := cfg.ProviderIDs(); !slices.Equal(ids, []string{"code", "crm"}) {
		t.Errorf("ids = %v, want ordered", ids)
	}
	for _, p := range cfg.Providers {
		if p.TokenRatePerMin != 7 || p.Provider.Name != p.ID || p.Provider.Preset == "" {
			t.Errorf("%s: %+v", p.ID, p)
		}
	}
	cfg, _ = LoadConfig(env(with(base, "OAUTH_PROVIDERS", good, "OAUTH_CLIENT_SECRET", secrets)))
	if pc, _ := cfg.providerConfig("crm"); pc.TokenRatePerMin != 5 {
		t.Errorf("crm's rate = %d, want RingCentral's 5", pc.TokenRatePerMin)
	}
	if pc, _ := cfg.providerConfig("code"); pc.TokenRatePerMin != 0 {
		t.Errorf("code's rate = %d, want unlimited", pc.TokenRatePerMin)
	}
}

// A client secret from Secrets Manager next to OAUTH_PROVIDERS is a JSON
// object, provider id -> secret; a provider without one fails alone, named
// in the error, and the others keep theirs.
func TestMultiSecretsManager(t *testing.T) {
	sm := &staticSM{values: map[string]string{"arn:client": `{"crm":"s1","code":"s2"}`}}
	m := NewSecretsManager(sm, "arn:client", "arn:token", time.Minute)
	m.ByProvider = true
	ctx := context.Background()
	if s, err := m.ProviderClientSecret(ctx, "code"); err != nil || s != "s2" {
		t.Errorf("code = %v", err)
	}
	_, err := m.ProviderClientSecret(ctx, "chat")
	if err == nil || !strings.Contains(err.Error(), `provider "chat"`) || strings.Contains(err.Error(), "s1") {
		t.Errorf("chat: %v, want an error naming the provider", err)
	}
	if s, err := m.ProviderClientSecret(ctx, "crm"); err != nil || s != "s1" {
		t.Errorf("crm after chat's failure = %v", err)
	}
	h := &Handler{Config: Config{Providers: []ProviderConfig{{ID: "crm"}, {ID: "chat"}}}, Secrets: m}
	v, _ := h.ForProvider("chat")
	if _, err := v.clientSecret(ctx); err == nil || !strings.Contains(err.Error(), `"chat"`) {
		t.Errorf("chat's view: %v", err)
	}
	v, _ = h.ForProvider("crm")
	if s, err := v.clientSecret(ctx); err != nil || s != "s1" {
		t.Errorf("crm's view: %v", err)
	}
}

type staticSM struct{ values map[string]string }

func (s *staticSM) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	v := s.values[*in.SecretId]
	return &secretsmanager.GetSecretValueOutput{SecretString: &v}, nil
}

// Everything after the callback uses the connection's own provider: a
// rejected pending connection, one the sweep expires, and a disconnect are
// each revoked at their own provider with its own client, never at another.
func TestMultiRevokeOwnProvider(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		specs := []multiSpec{{id: "us", preset: PresetRingCentral}, {id: "eu", preset: PresetRingCentral}}
		r := newMultiRig(t, newStore(t), specs)
		ctx := context.Background()
		revokes := func() map[string]int {
			return map[string]int{"us": r.prov["us"].mock.Calls(mockrc.RevokePath), "eu": r.prov["eu"].mock.Calls(mockrc.RevokePath)}
		}
		r.connect(t, "us", "1001")
		r.connect(t, "eu", "1001")

		// The app rejects eu's pending connection: revoked at eu.
		resp, cookie := r.start(t, "eu", "eu")
		res := r.result(t, r.callback(t, "eu", r.consent(t, "eu", resp, "1002"), cookie))
		before := revokes()
		tok, _ := r.keys().ConfirmToken(res.ID, r.user, connect.DecisionReject)
		req := apiRequest("/confirm", "")
		req.RouteKey, req.RequestContext.HTTP.Method, req.Body = "POST /confirm", "POST", `{"confirm":"`+tok+`"}`
		if got, _ := r.h.CallbackRoutes(ctx, req); got.StatusCode != 200 {
			t.Fatalf("reject = %d %s", got.StatusCode, got.Body)
		}
		if got := revokes(); got["eu"] != before["eu"]+1 || got["us"] != before["us"] {
			t.Errorf("revocations %v -> %v, want one at eu", before, got)
		}
		if n := r.prov["eu"].mock.Sessions("1002"); n != 0 { // eu took the revocation: its client
			t.Errorf("eu's session of 1002 live after the reject (%d)", n)
		}

		// A pending connection at us no one confirms: the sweep revokes it at us.
		resp, cookie = r.start(t, "us", "us")
		r.result(t, r.callback(t, "us", r.consent(t, "us", resp, "1003"), cookie))
		before = revokes()
		r.clock.Advance(DefaultConfirmTTL + time.Minute)
		if sum := sweepOnce(t, r.h); sum.PendingExpired != 1 {
			t.Errorf("sweep %+v, want one pending connection expired", sum)
		}
		if got := revokes(); got["us"] != before["us"]+1 || got["eu"] != before["eu"] {
			t.Errorf("revocations %v -> %v, want one at us", before, got)
		}
		if n := r.prov["us"].mock.Sessions("1003"); n != 0 {
			t.Errorf("us's session of 1003 live after its expiry (%d)", n)
		}

		// Disconnect eu's 1001: revoked at eu; us's 1001 untouched.
		before = revokes()
		eu, _ := r.h.ForProvider("eu")
		if err := eu.Disconnect(ctx, "1001"); err != nil {
			t.Fatal(err)
		}
		if got := revokes(); got["eu"] != before["eu"]+1 || got["us"] != before["us"] {
			t.Errorf("revocations %v -> %v, want one at eu", before, got)
		}
		if _, err := r.store.GetConnection(ctx, "eu", "1001"); err == nil {
			t.Error("eu's 1001 still stored after its disconnect")
		}
		if eu, us := r.prov["eu"].mock.Sessions("1001"), r.prov["us"].mock.Sessions("1001"); eu != 0 || us != 1 {
			t.Errorf("sessions of 1001 after eu's disconnect: eu %d, us %d; want 0 and 1", eu, us)
		}
		us, _ := r.h.ForProvider("us")
		if _, err := us.TokenSource(ctx, "1001").Token(); err != nil {
			t.Errorf("us's 1001 after eu's disconnect: %v", err)
		}
		if err := r.h.Disconnect(ctx, "1001"); err == nil {
			t.Error("Disconnect on the root handler: no error")
		}
	})
}

// A page's "Try again" link at /callback/{provider} or /authorize/{provider}
// goes back to that provider's /authorize/{provider} (a relative link, so
// a stage prefix is kept).
func TestMultiRetryLink(t *testing.T) {
	r := newMultiRig(t, NewMemoryStore(), threeProviders[:2], "REQUIRE_CONNECT_TOKEN", "false", "REQUIRE_CONFIRM", "false")
	ctx := context.Background()
	state := strings.Repeat("A", 43)
	cb, _ := r.h.Callback(ctx, routeRequest("callback", "code", "code=x&state="+state, "__Host-oauthfn="+strings.Repeat("B", 43)))
	if cb.StatusCode != 400 || !strings.Contains(cb.Body, `href="../authorize/code"`) {
		t.Errorf("unknown state at /callback/code = %d, want a retry link to ../authorize/code:\n%s", cb.StatusCode, cb.Body)
	}
	resp, _ := r.h.Authorize(ctx, routeRequest("authorize", "crm", "return_to="+url.QueryEscape("https://evil.example/")))
	if resp.StatusCode != 400 || strings.Contains(resp.Body, `href="authorize`) {
		t.Errorf("refused return_to at /authorize/crm = %d:\n%s", resp.StatusCode, resp.Body)
	}
}

func TestValidProviderID(t *testing.T) {
	for id, want := range map[string]bool{"a": true, "crm": true, "gh-2": true, strings.Repeat("a", 32): true,
		"": false, "A": false, "9x": false, "-a": false, "a_b": false, "a.b": false, "a b": false, strings.Repeat("a", 33): false, "é": false} {
		if got := ValidProviderID(id); got != want {
			t.Errorf("ValidProviderID(%q) = %v, want %v", id, got, want)
		}
	}
}
