package lambdatest_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth"
)

const (
	sessionCookieName = "__Host-oauthfn-session"
	// bffReturnTo is events/bff-login.json's return_to (allowed by env.json).
	bffReturnTo = "https://app.example.com/oauth/spa/"
	// pendingSK is the sort key of a pending authorization (pk PendingKey(state)).
	pendingSK = "state"
)

// TestBFFUnderEmulator runs functions/bff, and the callback that finishes
// its sign-in, as Lambda runs them (the Makefile's bootstraps under
// aws-lambda-rie, events/env.json's environment, pointed at moto_server
// and mockrc), and invokes every BFF route with events/bff-*.json as API
// Gateway delivers them: the sign-in through mockrc's login page and the
// callback, the session, the API through the proxy (the account's name from
// mockrc's extension endpoint), the refusals (no session, no CSRF header, a
// cross-site request, a foreign Origin, a URL outside the allow-list) with
// nothing reaching mockrc, and the sign-out.
func TestBFFUnderEmulator(t *testing.T) {
	r := newRig(t)
	r.build(t, "bff", "callback")
	r.start(t, "bff", "BffFunction")
	r.start(t, "callback", "CallbackFunction")

	// Every route as events/bff-*.json has it, with no live session (the
	// samples' cookie names none): nothing reaches mockrc, nothing is stored.
	t.Run("without a session", func(t *testing.T) {
		seen, pending := len(r.rc.Requests()), r.pendingCount(t)
		session := r.invokeHTTP(t, "bff", readFile(t, filepath.Join(r.root, "events", "bff-session.json")))
		if session.StatusCode != http.StatusOK || strings.ReplaceAll(session.Body, " ", "") != `{"authenticated":false}` {
			t.Errorf("bff-session.json: got %d %s, want 200 {\"authenticated\":false}", session.StatusCode, session.Body)
		}
		wantError(t, "bff-api.json", r.invokeHTTP(t, "bff", readFile(t, filepath.Join(r.root, "events", "bff-api.json"))), http.StatusUnauthorized, "session_ended")
		wantError(t, "bff-logout.json", r.invokeHTTP(t, "bff", readFile(t, filepath.Join(r.root, "events", "bff-logout.json"))), http.StatusUnauthorized, "session_ended")
		wantError(t, "bff-session.json without X-OAuthFn-CSRF", r.invokeHTTP(t, "bff", r.bffEvent(t, "bff-session.json", "", map[string]string{"x-oauthfn-csrf": ""})), http.StatusForbidden, "csrf")
		var login map[string]any
		if err := json.Unmarshal(readFile(t, filepath.Join(r.root, "events", "bff-login.json")), &login); err != nil {
			t.Fatal(err)
		}
		// A navigation gets an HTML page; asked for JSON, the error code.
		login["rawQueryString"], login["queryStringParameters"] = "", nil
		login["headers"].(map[string]any)["accept"] = "application/json"
		noReturn, _ := json.Marshal(login)
		wantError(t, "bff-login.json without return_to", r.invokeHTTP(t, "bff", noReturn), http.StatusBadRequest, "return_to_required")
		if got := len(r.rc.Requests()); got != seen {
			t.Errorf("%d requests reached mockrc, want none", got-seen)
		}
		if got := r.pendingCount(t); got != pending {
			t.Errorf("pending authorizations %d -> %d, want nothing stored", pending, got)
		}
	})

	var cookie string // the session cookie, name=value, once signed in
	t.Run("login and callback", func(t *testing.T) { cookie = r.bffSignIn(t) })
	if cookie == "" {
		t.Fatal("no session: the sign-in failed (see above); the other routes need it")
	}

	t.Run("session", func(t *testing.T) {
		out := r.invokeHTTP(t, "bff", r.bffEvent(t, "bff-session.json", cookie, nil))
		var got struct {
			Authenticated bool   `json:"authenticated"`
			Provider      string `json:"provider"`
			AccountID     string `json:"account_id"`
			ExpiresAt     string `json:"expires_at"`
		}
		if out.StatusCode != http.StatusOK || json.Unmarshal([]byte(out.Body), &got) != nil || !got.Authenticated || got.Provider != "ringcentral" || got.AccountID != account {
			t.Fatalf("session: got %d %s, want 200 authenticated as ringcentral %s", out.StatusCode, out.Body, account)
		}
		if exp, err := time.Parse(time.RFC3339, got.ExpiresAt); err != nil || !exp.After(time.Now()) {
			t.Errorf("session expires_at %q: want a future RFC 3339 time (%v)", got.ExpiresAt, err)
		}
		if out.Headers["Cache-Control"] != "no-store" {
			t.Errorf("session Cache-Control: got %q, want no-store", out.Headers["Cache-Control"])
		}
		// events/bff-session.json as it is: its sample cookie names no session.
		anon := r.invokeHTTP(t, "bff", readFile(t, filepath.Join(r.root, "events", "bff-session.json")))
		if anon.StatusCode != http.StatusOK || strings.ReplaceAll(anon.Body, " ", "") != `{"authenticated":false}` {
			t.Errorf("session with an unknown cookie: got %d %s, want 200 {\"authenticated\":false}", anon.StatusCode, anon.Body)
		}
		noCSRF := r.invokeHTTP(t, "bff", r.bffEvent(t, "bff-session.json", cookie, map[string]string{"x-oauthfn-csrf": ""}))
		wantError(t, "session without X-OAuthFn-CSRF", noCSRF, http.StatusForbidden, "csrf")
	})

	t.Run("api", func(t *testing.T) {
		calls := r.rc.Calls(mockrc.ExtensionPath)
		seen := len(r.rc.Requests())
		out := r.invokeHTTP(t, "bff", r.bffEvent(t, "bff-api.json", cookie, nil))
		if out.StatusCode != http.StatusOK || !strings.Contains(out.Body, `"Alice"`) {
			t.Fatalf("api: got %d %.300s, want 200 with account %s's name from mockrc", out.StatusCode, out.Body, account)
		}
		if out.Headers["Cache-Control"] != "no-store" {
			t.Errorf("api Cache-Control: got %q, want no-store", out.Headers["Cache-Control"])
		}
		if got := r.rc.Calls(mockrc.ExtensionPath); got != calls+1 {
			t.Errorf("mockrc extension calls: got %d, want %d", got, calls+1)
		}
		reqs := r.rc.Requests()[seen:]
		if len(reqs) != 1 || reqs[0].Path != mockrc.ExtensionPath {
			t.Fatalf("mockrc saw %d requests, want the one API call", len(reqs))
		}
		up := reqs[0].Header
		if !strings.HasPrefix(up.Get("Authorization"), "Bearer mockrc_at_") {
			t.Error("the API call carries no Bearer access token")
		}
		for _, h := range []string{"Cookie", "Origin", "Referer", "X-Oauthfn-Csrf"} {
			if up.Get(h) != "" {
				t.Errorf("the API call forwarded %s", h)
			}
		}

		// Refusals: each reaches nothing upstream.
		for _, tc := range []struct {
			name    string
			event   []byte
			status  int
			errCode string
		}{
			{"no X-OAuthFn-CSRF", r.bffEvent(t, "bff-api.json", cookie, map[string]string{"x-oauthfn-csrf": ""}), http.StatusForbidden, "csrf"},
			{"Sec-Fetch-Site: cross-site", r.bffEvent(t, "bff-api.json", cookie, map[string]string{"sec-fetch-site": "cross-site"}), http.StatusForbidden, "csrf"},
			{"a foreign Origin", r.bffEvent(t, "bff-api.json", cookie, map[string]string{"origin": "https://evil.example"}), http.StatusForbidden, "csrf"},
			{"the provider's token endpoint", r.bffAPIPath(t, cookie, "restapi/oauth/token"), http.StatusForbidden, "api_not_allowed"},
		} {
			before := len(r.rc.Requests())
			got := r.invokeHTTP(t, "bff", tc.event)
			wantError(t, tc.name, got, tc.status, tc.errCode)
			if after := len(r.rc.Requests()); after != before {
				t.Errorf("%s: %d requests reached mockrc, want none", tc.name, after-before)
			}
		}
	})

	t.Run("logout", func(t *testing.T) {
		revokes := r.rc.Calls(mockrc.RevokePath)
		sessionKey := oauth.SessionKey(strings.TrimPrefix(cookie, sessionCookieName+"="))
		out := r.invokeHTTP(t, "bff", r.bffEvent(t, "bff-logout.json", cookie, nil))
		if out.StatusCode < 200 || out.StatusCode > 299 {
			t.Fatalf("logout: got %d %.300s, want 2xx", out.StatusCode, out.Body)
		}
		if c := findNamedCookie(t, out.Cookies, sessionCookieName); c == nil || c.MaxAge >= 0 {
			t.Errorf("logout cookies %q: want %s cleared (Max-Age=0)", out.Cookies, sessionCookieName)
		}
		if r.itemAt(t, sessionKey, "session") != nil {
			t.Error("the session item outlived the logout")
		}
		again := r.invokeHTTP(t, "bff", r.bffEvent(t, "bff-session.json", cookie, nil))
		if again.StatusCode != http.StatusOK || strings.ReplaceAll(again.Body, " ", "") != `{"authenticated":false}` {
			t.Errorf("session after logout: got %d %s, want {\"authenticated\":false}", again.StatusCode, again.Body)
		}
		// This browser only: the connection stays, nothing is revoked.
		r.connection(t)
		if got := r.rc.Calls(mockrc.RevokePath); got != revokes {
			t.Errorf("mockrc revocations: got %d, want %d (logout of one browser revokes nothing)", got, revokes)
		}
		ended := r.invokeHTTP(t, "bff", r.bffEvent(t, "bff-logout.json", cookie, nil))
		wantError(t, "logout again", ended, http.StatusUnauthorized, "session_ended")
	})
	t.Run("two browsers, logout everywhere", func(t *testing.T) {
		// Two browsers of the same account share its one connection.
		a, b := r.bffSignIn(t), r.bffSignIn(t)
		for _, c := range []string{a, b} {
			if out := r.invokeHTTP(t, "bff", r.bffEvent(t, "bff-session.json", c, nil)); !strings.Contains(out.Body, `"authenticated":true`) {
				t.Fatalf("session of a browser: got %d %s, want authenticated", out.StatusCode, out.Body)
			}
		}
		revokes := r.rc.Calls(mockrc.RevokePath)
		var ev map[string]any
		if err := json.Unmarshal(r.bffEvent(t, "bff-logout.json", a, map[string]string{"content-type": "application/json"}), &ev); err != nil {
			t.Fatal(err)
		}
		ev["body"] = `{"everywhere":true}`
		ev["headers"].(map[string]any)["content-length"] = "19"
		everywhere, _ := json.Marshal(ev)
		out := r.invokeHTTP(t, "bff", everywhere)
		if out.StatusCode < 200 || out.StatusCode > 299 {
			t.Fatalf("logout everywhere: got %d %.300s, want 2xx", out.StatusCode, out.Body)
		}
		if got := r.rc.Calls(mockrc.RevokePath); got != revokes+1 {
			t.Errorf("mockrc revocations: got %d, want %d (the account disconnected at the provider)", got, revokes+1)
		}
		if item := r.itemAt(t, oauth.ConnectionKey("ringcentral", account), "token"); item != nil {
			t.Errorf("the connection outlived a logout everywhere: status %s", attrString(item["status"]))
		}
		// The other browser's session ended with the connection.
		other := r.invokeHTTP(t, "bff", r.bffEvent(t, "bff-session.json", b, nil))
		if other.StatusCode != http.StatusOK || strings.ReplaceAll(other.Body, " ", "") != `{"authenticated":false}` {
			t.Errorf("the other browser after a logout everywhere: got %d %s, want {\"authenticated\":false}", other.StatusCode, other.Body)
		}
		before := len(r.rc.Requests())
		wantError(t, "the other browser's API call", r.invokeHTTP(t, "bff", r.bffEvent(t, "bff-api.json", b, nil)), http.StatusUnauthorized, "session_ended")
		if got := len(r.rc.Requests()); got != before {
			t.Errorf("%d requests reached mockrc after the logout everywhere, want none", got-before)
		}
	})
	t.Run("logs", r.checkLogs)
}

// bffSignIn signs a browser in as a person does (events/bff-login.json,
// mockrc's login page as account 1001, the callback) and checks every
// step: the redirect to the provider, the binding cookie, the pending
// authorization marked bff, the callback's redirect to return_to with no
// code, state or token, the session cookie's attributes and its item (the
// cookie's hash as key, never its value). It returns the session cookie
// as name=value.
func (r *rig) bffSignIn(t *testing.T) string {
	t.Helper()
	before := r.pendingCount(t)
	out := r.invokeHTTP(t, "bff", r.bffEvent(t, "bff-login.json", "", nil))
	state, binding := r.checkToProvider(t, "login", out)
	if after := r.pendingCount(t); after != before+1 {
		t.Errorf("pending authorizations %d -> %d, want one stored", before, after)
	}
	if !r.pendingBFF(t, state) {
		t.Error("the login's pending authorization does not say bff=true")
	}

	code, back := r.login(t, out.Headers["Location"], false)
	if back != state {
		t.Fatalf("mockrc redirect state: got %q, want the login's", back)
	}
	cb := r.invokeHTTP(t, "callback", fixture(t, r.root, "callback.json", url.Values{"code": {code}, "state": {state}}, binding))
	if cb.StatusCode != http.StatusFound {
		t.Fatalf("callback: got %d, want 302 to return_to; body %.300s", cb.StatusCode, cb.Body)
	}
	to := mustURL(t, cb.Headers["Location"])
	if got := to.Scheme + "://" + to.Host + to.Path; got != bffReturnTo {
		t.Errorf("callback Location: got %s, want return_to %s", got, bffReturnTo)
	}
	for _, k := range []string{"code", "state", "access_token", "refresh_token", "token"} {
		if to.Query().Has(k) {
			t.Errorf("callback Location carries %s: %s", k, to)
		}
	}
	sc := findNamedCookie(t, cb.Cookies, sessionCookieName)
	if sc == nil {
		t.Fatalf("callback cookies %q: want %s", cb.Cookies, sessionCookieName)
	}
	if !sc.HttpOnly || !sc.Secure || sc.SameSite != http.SameSiteStrictMode || sc.Path != "/" || sc.Domain != "" ||
		sc.MaxAge <= 0 || time.Duration(sc.MaxAge)*time.Second > oauth.DefaultBFFMaxSession {
		t.Errorf("session cookie %q: want HttpOnly, Secure, SameSite=Strict, Path=/, no Domain, 0 < Max-Age <= 7d", sc.String())
	}
	if b, err := base64.RawURLEncoding.DecodeString(sc.Value); err != nil || len(b) != 32 {
		t.Errorf("session cookie value: want 32 random bytes, unpadded base64url (%d bytes, %v)", len(b), err)
	}
	r.secrets = append(r.secrets, sc.Value)
	item := r.itemAt(t, oauth.SessionKey(sc.Value), "session")
	if item == nil {
		t.Fatalf("no session item %s", oauth.SessionKey(sc.Value))
	}
	for k, want := range map[string]string{"provider": "ringcentral", "account_id": account} {
		if got := attrString(item[k]); got != want {
			t.Errorf("session item %s: got %q, want %q", k, got, want)
		}
	}
	for k, v := range item {
		if strings.Contains(attrString(v), sc.Value) {
			t.Errorf("session item %s holds the cookie's value (want only its hash in the key)", k)
		}
	}
	checkSealed(t, r.connection(t))
	return sc.Name + "=" + sc.Value
}

// bffEvent is events/<name> with the session cookie replaced (none when
// cookie is empty) and headers set (an empty value removes one).
func (r *rig) bffEvent(t *testing.T, name, cookie string, headers map[string]string) []byte {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(readFile(t, filepath.Join(r.root, "events", name)), &ev); err != nil {
		t.Fatal(err)
	}
	ev.Cookies = nil
	if cookie != "" {
		ev.Cookies = []string{cookie}
	}
	for k, v := range headers {
		if v == "" {
			delete(ev.Headers, k)
		} else {
			ev.Headers[k] = v
		}
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bffAPIPath is events/bff-api.json for /bff/api/<path> (raw path, route
// path and the proxy path parameter as API Gateway fills them).
func (r *rig) bffAPIPath(t *testing.T, cookie, path string) []byte {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(r.bffEvent(t, "bff-api.json", cookie, nil), &ev); err != nil {
		t.Fatal(err)
	}
	ev.RawPath = "/bff/api/" + path
	ev.RequestContext.HTTP.Path = ev.RawPath
	ev.PathParameters = map[string]string{"proxy": path}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantError checks a JSON error answer: its status and error code, no-store.
func wantError(t *testing.T, what string, out events.APIGatewayV2HTTPResponse, status int, code string) {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	if out.StatusCode != status || json.Unmarshal([]byte(out.Body), &body) != nil || body.Error != code {
		t.Errorf("%s: got %d %.200s, want %d {\"error\":%q}", what, out.StatusCode, out.Body, status, code)
	}
	if out.Headers["Cache-Control"] != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", what, out.Headers["Cache-Control"])
	}
	if strings.Contains(out.Body, "mockrc_") {
		t.Errorf("%s: the answer holds a token", what)
	}
}

// itemAt reads the table item pk, sk, or nil.
func (r *rig) itemAt(t *testing.T, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := r.db.GetItem(testenv.Context(t), &dynamodb.GetItemInput{
		TableName: aws.String(r.table),
		Key: map[string]types.AttributeValue{
			oauth.AttrPK: &types.AttributeValueMemberS{Value: pk},
			oauth.AttrSK: &types.AttributeValueMemberS{Value: sk},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetItem %s: %v", pk, err)
	}
	return out.Item
}

// pendingBFF reports whether the pending authorization of state says it
// is a BFF login (attribute bff = 1).
func (r *rig) pendingBFF(t *testing.T, state string) bool {
	t.Helper()
	item := r.itemAt(t, oauth.PendingKey(state), pendingSK)
	if item == nil {
		t.Fatalf("no pending authorization for the login's state")
	}
	return attrString(item["bff"]) == "1"
}
