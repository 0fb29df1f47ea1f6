package lambdatest_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// TestSeveralProvidersUnderEmulator runs a stack with three providers
// (OAUTH_PROVIDERS: "a", "b" and "c", each a mock with its own client id
// and secret) under the emulator: each connects two accounts through
// /authorize/{provider} and /callback/{provider} (API Gateway's
// pathParameters) and the app's confirmation; provider a's state and code
// brought to b's callback are refused with nothing sent; the token
// function answers per provider. Then one refresh function run, whose
// secret for c is wrong (c refuses the client), refreshes a within its
// rate of 1 a minute (one token call, then its next slot is past the
// run's deadline: stopped), b without limit (both), and c not at all
// (refused calls, its tokens untouched): c's refusal stops only c.
func TestSeveralProvidersUnderEmulator(t *testing.T) {
	r := newRig(t)
	ids := []string{"a", "b", "c"}
	mocks := map[string]*mockrc.Server{"a": r.rc}
	urls := map[string]string{"a": r.rcURL}
	secrets := map[string]string{"a": mockrc.DefaultClientSecret}
	for _, id := range ids[1:] {
		secrets[id] = "secret-" + id
		mocks[id] = mockrc.New(mockrc.Options{ClientID: "client-" + id, ClientSecret: secrets[id]})
		srv := httptest.NewServer(mocks[id])
		t.Cleanup(srv.Close)
		urls[id] = srv.URL
	}
	// a: 1 token call a minute; b and c: unlimited.
	rates := map[string]int{"a": 1, "b": 0, "c": 0}
	providers := map[string]map[string]any{}
	for _, id := range ids {
		clientID := "client-" + id
		if id == "a" {
			clientID = mockrc.DefaultClientID
		}
		providers[id] = map[string]any{"preset": "ringcentral", "client_id": clientID, "server_url": urls[id],
			"redirect_url": "http://127.0.0.1:3000/callback/" + id}
		providers[id]["token_rate_per_min"] = rates[id]
	}
	pj, _ := json.Marshal(providers)
	sj, _ := json.Marshal(secrets)
	extra := map[string]string{"OAUTH_PROVIDERS": string(pj), "OAUTH_CLIENT_SECRET": string(sj),
		"OAUTH_PROVIDER": "", "OAUTH_SERVER_URL": "", "OAUTH_CLIENT_ID": "", "OAUTH_REDIRECT_URL": "", "OAUTH_SCOPES": ""}
	// The refresh function's secret for c is not c's: c answers
	// invalid_client. Its timeout of 45 s puts a's second slot (60 s after
	// its first) past the sweep's deadline, so the run never waits for it.
	wrong := map[string]string{"a": secrets["a"], "b": secrets["b"], "c": "not-the-secret-of-c"}
	wj, _ := json.Marshal(wrong)
	refreshExtra := map[string]string{"OAUTH_CLIENT_SECRET": string(wj), "AWS_LAMBDA_FUNCTION_TIMEOUT": "45"}
	for k, v := range extra {
		if _, ok := refreshExtra[k]; !ok {
			refreshExtra[k] = v
		}
	}
	r.build(t, "authorize", "callback", "token", "refresh")
	for fn, id := range map[string]string{"authorize": "AuthorizeFunction", "callback": "CallbackFunction", "token": "TokenFunction"} {
		r.startAs(t, fn, fn, id, extra)
	}
	r.startAs(t, "refresh", "refresh", "RefreshFunction", refreshExtra)
	r.secrets = append(r.secrets, secrets["b"], secrets["c"], wrong["c"])

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
		n := map[string]int{}
		for id, m := range mocks {
			n[id] = m.Calls(mockrc.TokenPath)
		}
		return n
	}
	start := func(id, acct string) (code, state, cookie string) {
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
		q := r.loginRedirectAs(t, loc.String(), acct, false).Query()
		code, state = q.Get("code"), q.Get("state")
		if code == "" {
			t.Fatalf("%s's redirect: no code in %v", id, q)
		}
		r.secrets = append(r.secrets, code, state, c.Value)
		return code, state, c.Name + "=" + c.Value
	}

	accounts := []string{account, mockrc.DemoAccounts()[1].ID}
	for _, id := range ids {
		for i, acct := range accounts {
			code, state, cookie := start(id, acct)
			query := url.Values{"code": {code}, "state": {state}}
			if id == "a" && i == 0 {
				// The mix-up: a's state and code at b's callback.
				before := tokenCalls()
				out := r.invokeHTTP(t, "callback", routed("callback.json", "callback", "b", query, cookie))
				if out.StatusCode != http.StatusBadRequest || !strings.Contains(out.Body, "invalid_state") {
					t.Errorf("a's state at b's callback: %d %.200s, want 400 invalid_state", out.StatusCode, out.Body)
				}
				if after := tokenCalls(); !maps.Equal(before, after) {
					t.Errorf("token calls %v -> %v: something was sent", before, after)
				}
			}
			out := r.invokeHTTP(t, "callback", routed("callback.json", "callback", id, query, cookie))
			if out.StatusCode != http.StatusFound {
				t.Fatalf("callback/%s: %d %.300s", id, out.StatusCode, out.Body)
			}
			res, err := connect.VerifyResult(r.appKey, mustURL(t, out.Headers["Location"]).Query().Get("result"))
			if err != nil || res.Provider != id || res.AccountID != acct || res.Status != connect.StatusPending {
				t.Fatalf("callback/%s result %+v, %v", id, res, err)
			}
			ans := r.invokeHTTP(t, "callback", r.confirmEvent(t, res.ID, endUser, connect.DecisionAccept))
			if ans.StatusCode != http.StatusOK || !strings.Contains(ans.Body, `"provider":"`+id+`"`) {
				t.Fatalf("confirm %s: %d %s", id, ans.StatusCode, ans.Body)
			}
		}
	}

	seen := map[string]string{}
	for _, id := range ids {
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
		if other, ok := seen[ans.AccessToken]; ok {
			t.Errorf("%s and %s answered the same token", other, id)
		}
		seen[ans.AccessToken] = id
		r.secrets = append(r.secrets, ans.AccessToken)
	}
	if out, _ := r.emulators["token"].Invoke(testenv.Context(t), []byte(`{"account_id":"`+account+`"}`)); !strings.Contains(string(out), "invalid_request") {
		t.Errorf("token without provider: %s, want invalid_request", out)
	}

	// stored is each connection's sealed refresh token (a refresh writes a
	// new one; leasing and releasing leave it), checking that each is
	// still active.
	stored := func() map[string]string {
		v := map[string]string{}
		for _, id := range ids {
			for _, acct := range accounts {
				item := r.providerItem(t, id, acct)
				v[id+"/"+acct] = attrString(item["refresh_token"])
				if got := attrString(item["status"]); got != "active" {
					t.Errorf("%s/%s: status %q, want active", id, acct, got)
				}
				if _, leased := item["lease_owner"]; leased {
					t.Errorf("%s/%s: still leased", id, acct)
				}
			}
		}
		return v
	}
	before, rtBefore := tokenCalls(), stored()
	out, err := r.emulators["refresh"].Invoke(testenv.Context(t), readFile(t, filepath.Join(r.root, "events", "refresh.json")))
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Refreshed int `json:"refreshed"`
		Providers map[string]struct {
			Due       int    `json:"due"`
			Refreshed int    `json:"refreshed"`
			Stopped   string `json:"stopped"`
		} `json:"providers"`
	}
	if err := json.Unmarshal(out, &sum); err != nil {
		t.Fatalf("refresh summary %s: %v", out, err)
	}
	after, rtAfter := tokenCalls(), stored()
	for _, tt := range []struct {
		id                 string
		refreshed          int
		minCalls, maxCalls int
		stopped            string
	}{
		// 1 a minute: its next slot is 60 s on, past the run's deadline.
		{"a", 1, 1, 1, "rate budget"},
		{"b", 2, 2, 2, ""},
		// Both refreshes may have been in flight; none after the stop.
		{"c", 0, 1, 2, "provider refused the client"},
	} {
		p := sum.Providers[tt.id]
		if p.Due != 2 || p.Refreshed != tt.refreshed || (tt.stopped == "") != (p.Stopped == "") || !strings.Contains(p.Stopped, tt.stopped) {
			t.Errorf("%s's summary %+v, want 2 due, %d refreshed, stopped %q", tt.id, p, tt.refreshed, tt.stopped)
		}
		if got := after[tt.id] - before[tt.id]; got < tt.minCalls || got > tt.maxCalls {
			t.Errorf("%s's token calls in the run: %d, want %d to %d", tt.id, got, tt.minCalls, tt.maxCalls)
		}
		written := 0
		for _, acct := range accounts {
			if k := tt.id + "/" + acct; rtAfter[k] != rtBefore[k] {
				written++
			}
		}
		if written != tt.refreshed {
			t.Errorf("%s: %d connections with new tokens, want %d", tt.id, written, tt.refreshed)
		}
	}
	if sum.Refreshed != 3 {
		t.Errorf("refresh summary %s, want 3 refreshed in all", out)
	}
	// c's connections are still served (their access tokens are fresh).
	if out, _ := r.emulators["token"].Invoke(testenv.Context(t), []byte(`{"provider":"c","account_id":"`+account+`"}`)); !strings.Contains(string(out), `"access_token"`) {
		t.Errorf("c's token after its refusal: %s", out)
	}
	r.checkLogs(t)
}

// providerItem reads the stored connection of provider id's account acct.
func (r *rig) providerItem(t *testing.T, id, acct string) map[string]types.AttributeValue {
	t.Helper()
	out, err := r.db.GetItem(testenv.Context(t), &dynamodb.GetItemInput{
		TableName: aws.String(r.table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			oauth.AttrPK: &types.AttributeValueMemberS{Value: oauth.ConnectionKey(id, acct)},
			oauth.AttrSK: &types.AttributeValueMemberS{Value: "token"},
		},
	})
	if err != nil || out.Item == nil {
		t.Fatalf("connection %s/%s: %v (found: %t)", id, acct, err, out != nil && out.Item != nil)
	}
	return out.Item
}
