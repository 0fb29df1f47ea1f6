package lambdatest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// TestSeveralProvidersUnderEmulator runs a stack with two providers
// (OAUTH_PROVIDERS: "a" and "b", each a mock with its own client id and
// secret) under the emulator: each connects through /authorize/{provider}
// and /callback/{provider} (API Gateway's pathParameters) and the app's
// confirmation; provider a's state and code brought to b's callback are
// refused with nothing sent; the token function answers per provider; one
// refresh function run refreshes each at its own provider.
func TestSeveralProvidersUnderEmulator(t *testing.T) {
	r := newRig(t)
	rcB := mockrc.New(mockrc.Options{ClientID: "client-b", ClientSecret: "secret-b"})
	srvB := httptest.NewServer(rcB)
	t.Cleanup(srvB.Close)
	mocks := map[string]*mockrc.Server{"a": r.rc, "b": rcB}
	urls := map[string]string{"a": r.rcURL, "b": srvB.URL}
	providers := map[string]map[string]string{
		"a": {"preset": "ringcentral", "client_id": mockrc.DefaultClientID, "server_url": r.rcURL, "redirect_url": "http://127.0.0.1:3000/callback/a"},
		"b": {"preset": "ringcentral", "client_id": "client-b", "server_url": srvB.URL, "redirect_url": "http://127.0.0.1:3000/callback/b"},
	}
	pj, _ := json.Marshal(providers)
	sj, _ := json.Marshal(map[string]string{"a": mockrc.DefaultClientSecret, "b": "secret-b"})
	extra := map[string]string{"OAUTH_PROVIDERS": string(pj), "OAUTH_CLIENT_SECRET": string(sj),
		"OAUTH_PROVIDER": "", "OAUTH_SERVER_URL": "", "OAUTH_CLIENT_ID": "", "OAUTH_REDIRECT_URL": "", "OAUTH_SCOPES": ""}
	r.build(t, "authorize", "callback", "token", "refresh")
	for fn, id := range map[string]string{"authorize": "AuthorizeFunction", "callback": "CallbackFunction", "token": "TokenFunction", "refresh": "RefreshFunction"} {
		r.startAs(t, fn, fn, id, extra)
	}
	r.secrets = append(r.secrets, "secret-b")

	// routed is an events/ fixture for /<route>/<id>, as API Gateway
	// passes it.
	routed := func(name, route, id string, query url.Values, cookie string) []byte {
		var ev map[string]any
		if err := json.Unmarshal(fixture(t, r.root, name, query, cookie), &ev); err != nil {
			t.Fatal(err)
		}
		ev["rawPath"] = "/" + route + "/" + id
		ev["routeKey"] = "GET /" + route + "/{provider}"
		ev["pathParameters"] = map[string]string{"provider": id}
		b, _ := json.Marshal(ev)
		return b
	}
	tokenCalls := func() map[string]int {
		return map[string]int{"a": r.rc.Calls(mockrc.TokenPath), "b": rcB.Calls(mockrc.TokenPath)}
	}
	start := func(id string) (code, state, cookie string) {
		tok, err := connect.Token(r.appKey, endUser, connect.Options{ReturnTo: "https://app.example.com/oauth/done", Provider: id})
		if err != nil {
			t.Fatal(err)
		}
		resp := r.invokeHTTP(t, "authorize", routed("authorize.json", "authorize", id, url.Values{"connect": {tok}}, ""))
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("authorize/%s: %d %.300s", id, resp.StatusCode, resp.Body)
		}
		loc := mustURL(t, resp.Headers["Location"])
		if !strings.HasPrefix(loc.String(), urls[id]) || loc.Query().Get("redirect_uri") != providers[id]["redirect_url"] {
			t.Fatalf("authorize/%s went to %s", id, loc.Redacted())
		}
		c := findCookie(t, resp.Cookies)
		if c == nil {
			t.Fatalf("authorize/%s: no binding cookie", id)
		}
		code, state = r.login(t, loc.String(), false)
		r.secrets = append(r.secrets, state, c.Value)
		return code, state, c.Name + "=" + c.Value
	}

	for _, id := range []string{"a", "b"} {
		code, state, cookie := start(id)
		query := url.Values{"code": {code}, "state": {state}}
		if id == "a" {
			// The mix-up: a's state and code at b's callback.
			before := tokenCalls()
			out := r.invokeHTTP(t, "callback", routed("callback.json", "callback", "b", query, cookie))
			if out.StatusCode != http.StatusBadRequest || !strings.Contains(out.Body, "invalid_state") {
				t.Errorf("a's state at b's callback: %d %.200s, want 400 invalid_state", out.StatusCode, out.Body)
			}
			if after := tokenCalls(); after["a"] != before["a"] || after["b"] != before["b"] {
				t.Errorf("token calls %v -> %v: something was sent", before, after)
			}
		}
		out := r.invokeHTTP(t, "callback", routed("callback.json", "callback", id, query, cookie))
		if out.StatusCode != http.StatusFound {
			t.Fatalf("callback/%s: %d %.300s", id, out.StatusCode, out.Body)
		}
		res, err := connect.VerifyResult(r.appKey, mustURL(t, out.Headers["Location"]).Query().Get("result"))
		if err != nil || res.Provider != id || res.AccountID != account || res.Status != connect.StatusPending {
			t.Fatalf("callback/%s result %+v, %v", id, res, err)
		}
		ans := r.invokeHTTP(t, "callback", r.confirmEvent(t, res.ID, endUser, connect.DecisionAccept))
		if ans.StatusCode != http.StatusOK || !strings.Contains(ans.Body, `"provider":"`+id+`"`) {
			t.Fatalf("confirm %s: %d %s", id, ans.StatusCode, ans.Body)
		}
	}

	tokens := map[string]string{}
	for _, id := range []string{"a", "b"} {
		out, err := r.emulators["token"].Invoke(testenv.Context(t), []byte(`{"provider":"`+id+`","account_id":"`+account+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		var ans struct {
			AccessToken string `json:"access_token"`
		}
		if json.Unmarshal(out, &ans) != nil || ans.AccessToken == "" {
			t.Fatalf("token for %s: %s", id, out)
		}
		tokens[id] = ans.AccessToken
		r.secrets = append(r.secrets, ans.AccessToken)
	}
	if tokens["a"] == tokens["b"] {
		t.Error("both providers answered the same token")
	}
	if out, _ := r.emulators["token"].Invoke(testenv.Context(t), []byte(`{"account_id":"`+account+`"}`)); !strings.Contains(string(out), "invalid_request") {
		t.Errorf("token without provider: %s, want invalid_request", out)
	}

	before := tokenCalls()
	out, err := r.emulators["refresh"].Invoke(testenv.Context(t), readFile(t, filepath.Join(r.root, "events", "refresh.json")))
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Refreshed int `json:"refreshed"`
		Providers map[string]struct {
			Refreshed int `json:"refreshed"`
		} `json:"providers"`
	}
	if json.Unmarshal(out, &sum) != nil || sum.Refreshed != 2 || sum.Providers["a"].Refreshed != 1 || sum.Providers["b"].Refreshed != 1 {
		t.Errorf("refresh summary %s, want one refreshed at each provider", out)
	}
	for id, m := range mocks {
		if got := m.Calls(mockrc.TokenPath); got != before[id]+1 {
			t.Errorf("%s's token calls %d -> %d, want one refresh", id, before[id], got)
		}
	}
	r.checkLogs(t)
}
