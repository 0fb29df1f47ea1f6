package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// The two mock providers of the dev server tests (-providers).
const (
	rcID = "ringcentral"
	euID = "ringcentral-eu"
)

// sameOriginPost posts form to path as the console's and the demo app's
// buttons do, and returns the redirect's response.
func sameOriginPost(t *testing.T, b *browser, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.origin+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", b.origin)
	return b.do(req)
}

// connectAt presses Connect in the demo app with provider picked (the
// user is signed in) and checks the link: /authorize/<provider> with a
// connect token whose provider claim is provider.
func connectAt(t *testing.T, b *browser, ds *devServer, provider string) *url.URL {
	t.Helper()
	resp, body := sameOriginPost(t, b, "/app/connect", url.Values{"app_state": {demoAppState}, "provider": {provider}})
	wantStatus(t, "POST /app/connect provider="+provider, resp, body, http.StatusSeeOther)
	start, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || start.Path != "/authorize/"+provider || len(start.Query()) != 1 {
		t.Fatalf("Connect (%s) redirects to %q, want /authorize/%s?connect=…", provider, resp.Header.Get("Location"), provider)
	}
	keys, _ := ds.OAuth.Secrets.AppKeys(context.Background())
	keys.Now = ds.opts.Now
	req, err := keys.VerifyToken(start.Query().Get("connect"))
	if err != nil || req.Provider != provider || req.User != demoUser {
		t.Errorf("connect token %+v, %v; want %s's for provider %s", req, err, demoUser, provider)
	}
	return start
}

// TestDevSeveralMockProviders: -providers ringcentral,ringcentral-eu runs
// one mock per provider id. The demo app connects the same account id at
// each (its picker; /authorize/<id> and /callback/<id>, pathParameters as
// API Gateway passes them) and confirms each; provider a's state and code
// brought to b's callback are refused with nothing sent or stored; the
// console lists both connections and their events with their provider,
// the token function answers per provider, and "Make due now" is per
// provider: the sweep then refreshes only that provider's account.
func TestDevSeveralMockProviders(t *testing.T) {
	clock := nearNow(t)
	ds, logs := startDev(t, devOptions{Provider: providerMock, Providers: []string{rcID, euID}, Store: storeMemory, Now: clock})
	if ds.Mock != nil || len(ds.Mocks) != 2 || !ds.OAuth.Config.Named() {
		t.Fatalf("mocks %v / %v, named %t: want two mocks, a stack with several providers", ds.Mock, ds.Mocks, ds.OAuth.Config.Named())
	}
	if line := ds.StartupLine(); !strings.Contains(line, "providers "+rcID+", "+euID+": built-in RingCentral mocks at "+ds.BaseURL+"/mock/<id>/") {
		t.Errorf("startup line %q does not name both mock providers", line)
	}
	tokenCalls := func() [2]int {
		return [2]int{ds.Mocks[rcID].Calls(mockrc.TokenPath), ds.Mocks[euID].Calls(mockrc.TokenPath)}
	}
	b := newBrowser(t, ds.BaseURL)
	signInAs(t, b, demoUser)
	home := b.pages["GET /"]
	for _, s := range []string{`<select id="provider" name="provider"><option value="` + rcID + `">` + rcID + `</option><option value="` + euID + `">`, `id="providers"`, "<code>" + ds.BaseURL + "/callback/" + euID + "</code>"} {
		if !strings.Contains(home, s) {
			t.Errorf("the demo app's home page does not show %q:\n%.3000s", s, home)
		}
	}

	// No provider, or one the stack does not serve: refused, no link.
	for _, p := range []string{"", "nope"} {
		resp, body := sameOriginPost(t, b, "/app/connect", url.Values{"provider": {p}})
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(body, "pick one of the providers") {
			t.Errorf("Connect with provider %q = %d (Location %q), want 400 and no link", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// The routes without a provider, or with one the stack does not serve:
	// the handler's own 404 answers.
	for path, code := range map[string]string{"/authorize": "provider_required", "/authorize/nope": "unknown_provider", "/callback/nope?code=x&state=y": "unknown_provider"} {
		resp, body := b.get(ds.BaseURL + path)
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, code) {
			t.Errorf("GET %s = %d %.300s, want 404 %s", path, resp.StatusCode, body, code)
		}
	}

	for _, id := range []string{rcID, euID} {
		start := connectAt(t, b, ds, id)
		cb := providerLogin(t, b, start, ds.BaseURL+mockPrefix+"/"+id+mockrc.AuthorizePath, "1001")
		if id == rcID {
			// The mix-up: ringcentral's state and code at ringcentral-eu's
			// callback. Refused before anything is sent or stored.
			before := tokenCalls()
			binding := b.cookies[oauth.BindingCookie]
			wrong, _ := url.Parse(cb)
			wrong.Path = "/callback/" + euID
			resp, body := b.get(wrong.String())
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "invalid_state") {
				t.Errorf("%s's state at /callback/%s = %d %.300s, want 400 invalid_state", rcID, euID, resp.StatusCode, body)
			}
			if after := tokenCalls(); after != before {
				t.Errorf("token calls %v -> %v: the mix-up sent something", before, after)
			}
			if conns, err := ds.OAuth.Store.ListConnections(context.Background()); err != nil || len(conns) != 0 {
				t.Errorf("after the mix-up the store holds %d connections (%v), want none", len(conns), err)
			}
			b.cookies[oauth.BindingCookie] = binding // the victim's browser still holds it
		}
		back := followCallback(t, b, cb, "1001")
		resp, body := b.get(back.String())
		wantStatus(t, "GET /app/connected ("+id+")", resp, body, http.StatusOK)
		for _, s := range []string{"Confirmed for <strong>" + demoUser + "</strong>", `<code id="result-provider">` + id + `</code>`, `<code id="result-account">1001</code>`} {
			if !strings.Contains(body, s) {
				t.Errorf("/app/connected (%s) does not show %q", id, s)
			}
		}
		c, err := ds.OAuth.Store.GetConnection(context.Background(), id, "1001")
		if err != nil || c.Status != oauth.StatusActive || c.EndUser != demoUser {
			t.Fatalf("stored connection at %s: %+v, %v; want %s's, active", id, c, err, demoUser)
		}
	}
	if got := tokenCalls(); got != [2]int{1, 1} {
		t.Errorf("token calls per provider %v, want one code exchange at each", got)
	}
	if page := b.pages["GET /app/connected"]; !strings.Contains(page, `<td class="app-accounts"><code>`+euID+`/1001</code>, <code>`+rcID+`/1001</code></td><td class="index-accounts"><code>`+euID+`/1001</code>, <code>`+rcID+`/1001</code>`) {
		i := strings.Index(page, `id="owners"`)
		t.Errorf("the demo app's records do not show both accounts with their provider:\n%.1500s", page[max(i, 0):])
	}

	// The console: both connections and their events, each with its provider.
	_, console := b.get(ds.BaseURL + consolePath)
	for _, id := range []string{rcID, euID} {
		for _, s := range []string{
			`<tr><td class="provider"><code>` + id + `</code></td><td><code class="account">1001</code>`,
			`<input type="hidden" name="provider" value="` + id + `"><input type="hidden" name="account" value="1001">`,
			`<td class="provider"><code>` + id + `</code></td><td><code class="account">` + id + `/1001</code>`, // events
			`<option value="` + id + `"`,
			"Redirect URL (" + id + ")",
		} {
			if !strings.Contains(console, s) {
				t.Errorf("/_dev does not show %q", s)
			}
		}
	}

	// The token function, per provider; without one it cannot tell whose
	// account 1001 is.
	token := func(form url.Values) string {
		t.Helper()
		resp, body := sameOriginPost(t, b, consolePath+"/token", form)
		wantStatus(t, "POST /_dev/token", resp, body, http.StatusSeeOther)
		_, page := b.get(ds.BaseURL + resp.Header.Get("Location"))
		return page
	}
	for _, id := range []string{rcID, euID} {
		page := token(url.Values{"provider": {id}, "account_id": {"1001"}})
		if !strings.Contains(page, `<code>{&#34;provider&#34;: &#34;`+id+`&#34;, &#34;account_id&#34;: &#34;1001&#34;}</code> → <span class="ok">a working access token</span>`) {
			t.Errorf("token function for %s/1001 gave no token:\n%.3000s", id, page)
		}
	}
	if page := token(url.Values{"account_id": {"1001"}}); strings.Contains(page, `→ <span class="ok">`) || !strings.Contains(page, `→ <span class="bad">`) {
		t.Errorf("token function without a provider answered with a token:\n%.3000s", page)
	}
	if page := token(url.Values{"provider": {"nope"}, "account_id": {"1001"}}); strings.Contains(page, `→ <span class="ok">`) || !strings.Contains(page, `→ <span class="bad">`) {
		t.Errorf("token function for an unknown provider answered with a token")
	}

	// Make due now for ringcentral-eu only: the sweep refreshes only it.
	before := tokenCalls()
	rcBefore, _ := ds.OAuth.Store.GetConnection(context.Background(), rcID, "1001")
	resp, body := sameOriginPost(t, b, consolePath+"/due", url.Values{"provider": {euID}, "account": {"1001"}})
	wantStatus(t, "Make due now", resp, body, http.StatusSeeOther)
	if _, page := b.get(ds.BaseURL + resp.Header.Get("Location")); !strings.Contains(page, "account 1001 is due now") {
		t.Errorf("console does not confirm Make due now:\n%.3000s", page)
	}
	resp, body = sameOriginPost(t, b, consolePath+"/due", url.Values{"account": {"1001"}})
	wantStatus(t, "Make due now without a provider", resp, body, http.StatusSeeOther)
	if _, page := b.get(ds.BaseURL + resp.Header.Get("Location")); !strings.Contains(page, "a provider is required") {
		t.Errorf("Make due now without a provider was not refused:\n%.3000s", page)
	}
	resp, body = sameOriginPost(t, b, consolePath+"/actions/sweep", nil)
	wantStatus(t, "Run sweep now", resp, body, http.StatusSeeOther)
	if after := tokenCalls(); after[0] != before[0] || after[1] != before[1]+1 {
		t.Errorf("token calls %v -> %v after making %s due: want one refresh at %s only", before, after, euID, euID)
	}
	if rc, _ := ds.OAuth.Store.GetConnection(context.Background(), rcID, "1001"); rc.Version != rcBefore.Version || rc.RefreshToken != rcBefore.RefreshToken {
		t.Errorf("%s/1001 changed when %s/1001 was made due and refreshed", rcID, euID)
	}
	if eu, _ := ds.OAuth.Store.GetConnection(context.Background(), euID, "1001"); eu.LastRefreshAt.IsZero() {
		t.Errorf("%s/1001 was not refreshed", euID)
	}

	// No token, code or secret on a page or in the log.
	for where, text := range map[string]string{"log": logs.String(), "console": console} {
		for _, s := range []string{"mockrc_at_", "mockrc_rt_", "mockrc_code_", "mockrc-secret-"} {
			if strings.Contains(text, s) {
				t.Errorf("%s contains %q", where, s)
			}
		}
	}
}

// TestDevSeveralEnvProviders: -provider env with OAUTH_PROVIDERS (two real
// providers, played by mocks on their own servers): each entry without a
// redirect_url gets <base>/callback/<id>, one given is kept, and an
// account connects through /authorize/<id>.
func TestDevSeveralEnvProviders(t *testing.T) {
	a := mockrc.New(mockrc.Options{ClientID: "app-a", ClientSecret: "secret-a", Now: fixedClock})
	sa := httptest.NewServer(a)
	t.Cleanup(sa.Close)
	bm := mockrc.New(mockrc.Options{ClientID: "app-b", ClientSecret: "secret-b", Now: fixedClock})
	sb := httptest.NewServer(bm)
	t.Cleanup(sb.Close)
	providers, _ := json.Marshal(map[string]map[string]string{
		"crm":  {"preset": "ringcentral", "client_id": "app-a", "server_url": sa.URL},
		"chat": {"preset": "ringcentral", "client_id": "app-b", "server_url": sb.URL, "redirect_url": "http://localhost:9999/callback/chat"},
	})
	secrets, _ := json.Marshal(map[string]string{"crm": "secret-a", "chat": "secret-b"})
	ds, _ := startDev(t, devOptions{Provider: providerEnv, Store: storeMemory, Now: fixedClock,
		Getenv: envMap(map[string]string{"OAUTH_PROVIDERS": string(providers), "OAUTH_CLIENT_SECRET": string(secrets)})})
	if ds.Mock != nil || ds.Mocks != nil {
		t.Fatal("env mode built mock providers")
	}
	crm, _ := ds.OAuth.ForProvider("crm")
	chat, _ := ds.OAuth.ForProvider("chat")
	if crm.Config.RedirectURL != ds.BaseURL+"/callback/crm" || chat.Config.RedirectURL != "http://localhost:9999/callback/chat" {
		t.Errorf("redirect URLs %q, %q; want %s/callback/crm filled in and chat's own kept", crm.Config.RedirectURL, chat.Config.RedirectURL, ds.BaseURL)
	}
	if line := ds.StartupLine(); !strings.Contains(line, "providers chat at "+sb.URL) || !strings.Contains(line, "crm at "+sa.URL) {
		t.Errorf("startup line %q does not name both providers", line)
	}
	b := newBrowser(t, ds.BaseURL)
	signInAs(t, b, demoUser)
	start := connectAt(t, b, ds, "crm")
	back := finishLink(t, b, start, sa.URL+mockrc.AuthorizePath, "1002")
	keys, _ := ds.OAuth.Secrets.AppKeys(context.Background())
	keys.Now = ds.opts.Now
	res, err := keys.VerifyResult(back.Query().Get("result"))
	if err != nil || res.Provider != "crm" || res.AccountID != "1002" || res.Status != connect.StatusPending {
		t.Fatalf("result %+v, %v; want crm's pending 1002", res, err)
	}
	if resp, body := b.get(back.String()); resp.StatusCode != http.StatusOK || !strings.Contains(body, `<code id="result-provider">crm</code>`) {
		t.Fatalf("/app/connected = %d, want crm's result confirmed: %.2000s", resp.StatusCode, body)
	}
	if a.Calls(mockrc.TokenPath) != 1 || bm.Calls(mockrc.TokenPath) != 0 {
		t.Errorf("token calls crm %d, chat %d; want 1, 0", a.Calls(mockrc.TokenPath), bm.Calls(mockrc.TokenPath))
	}
}

// TestDevSeveralProvidersRefused: the start-up refusals of several
// providers: -providers with -provider env, bad or repeated ids, and an
// OAUTH_PROVIDERS the dev server does not rewrite (a repeated key), which
// LoadConfig then names.
func TestDevSeveralProvidersRefused(t *testing.T) {
	_, err := newDevServer(testenv.Context(t), devOptions{Addr: "127.0.0.1:8080", Provider: providerEnv, Providers: []string{"a"}, Store: storeMemory, Getenv: envMap(nil)})
	if err == nil || !strings.Contains(err.Error(), "-providers: only with -provider mock") {
		t.Errorf("-providers with -provider env: %v", err)
	}
	_, err = newDevServer(testenv.Context(t), devOptions{Addr: "127.0.0.1:8080", Provider: providerEnv, Store: storeMemory,
		Getenv: envMap(map[string]string{"OAUTH_PROVIDERS": `{"a":{"preset":"ringcentral","client_id":"x"},"a":{"preset":"ringcentral","client_id":"y"}}`, "OAUTH_CLIENT_SECRET": `{"a":"s"}`})})
	if err == nil || !strings.Contains(err.Error(), `repeated`) {
		t.Errorf("OAUTH_PROVIDERS with a repeated id: %v, want LoadConfig's refusal", err)
	}
	for _, v := range []string{"a,a", "A", "a,,b", "-x"} {
		var out strings.Builder
		if _, err := devFlags([]string{"-providers", v}, envMap(nil), &out); err == nil || !strings.Contains(out.String(), "-providers") {
			t.Errorf("-providers %q: %v %q, want a usage error naming -providers", v, err, out.String())
		}
	}
	opts, err := devFlags(nil, envMap(map[string]string{"OAUTHFN_DEV_PROVIDERS": "x, y-2"}), &strings.Builder{})
	if err != nil || strings.Join(opts.Providers, " ") != "x y-2" {
		t.Errorf("OAUTHFN_DEV_PROVIDERS: %v, %v", opts.Providers, err)
	}
}
