package browsertest

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// Pages, by a CSS selector only they match.
const (
	selSignIn      = `form[action="/app/signin"]`            // the demo app, signed out
	selConnect     = `button#connect`                        // the demo app's "Connect an account" (signed in)
	selConnectOwn  = `button#connect-own-page`               // "Connect, end on oauthfn's page" (no return_to)
	selConnected   = `section#result`                        // the demo app's /app/connected
	selMockLogin   = `form[action="authorize/decide"]`       // the mock provider's sign-in page
	selOIDCLogin   = `input[name="login"]`                   // oidc-provider's login page
	selOIDCConsent = `input[name="prompt"][value="consent"]` // oidc-provider's consent page
	selAnyAnswer   = `main[data-code]`                       // any answer page of /authorize or /callback
)

// selAnswer matches the answer page with the given code.
func selAnswer(code string) string { return `main[data-code="` + code + `"]` }

// setup is a dev server and how a person gets through its provider.
type setup struct {
	name     string
	dev      *devServer
	provider string // selector of the provider's first page
	account  string // the account id a sign-in yields
	// login signs in and consents on the provider's first page.
	login func(tb *tab)
	// decline cancels on the provider's first page.
	decline func(tb *tab)
	// tokens counts token-endpoint requests so far.
	tokens func() int
	oidc   *testenv.OIDC // nil for the mock
}

// mockAccount is the demo account the tests pick on the mock's page.
var mockAccount = mockrc.DemoAccounts()[0].ID

func mockSetup(t *testing.T) setup { return mockSetupEnv(t, nil) }

// noConfirmSetup is the mock with REQUIRE_CONFIRM=false: a connect token
// without return_to ends on oauthfn's own success page, which no flow
// reaches while confirmation is required.
func noConfirmSetup(t *testing.T) setup {
	s := mockSetupEnv(t, map[string]string{"REQUIRE_CONFIRM": "false"})
	s.name = "mock, REQUIRE_CONFIRM=false"
	return s
}

// mockSetupEnv is the dev server with its built-in mock provider (or, with
// args -providers a,b, one mock per provider id), env added to its
// environment.
func mockSetupEnv(t *testing.T, env map[string]string, args ...string) setup {
	t.Helper()
	ds := startMockDev(t, env, args...)
	return setup{
		name:     "mock",
		dev:      ds,
		provider: selMockLogin,
		account:  mockAccount,
		login: func(tb *tab) {
			tb.t.Helper()
			tb.wait(selMockLogin)
			tb.click(`button[name="account"][value="` + mockAccount + `"]`)
		},
		decline: func(tb *tab) {
			tb.t.Helper()
			tb.wait(selMockLogin)
			tb.click(`button[name="cancel"]`)
		},
		tokens: func() int { return ds.Requests("/mock" + mockrc.TokenPath) },
	}
}

const oidcAccount = "ada@example.test"

func oidcSetup(t *testing.T) setup {
	t.Helper()
	od := startOIDCDev(t)
	return setup{
		name:     "oidc-provider",
		dev:      od.devServer,
		provider: selOIDCLogin,
		account:  oidcAccount,
		login: func(tb *tab) {
			tb.t.Helper()
			tb.wait(selOIDCLogin)
			tb.do("fill oidc-provider's login form",
				chromedp.SendKeys(chromedp.CSS(`input[name="login"]`), oidcAccount),
				chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "any password"),
			)
			tb.click(`button.login-submit`)
			// Consent is asked once per grant: a second sign-in in the
			// same browser may skip it.
			if tb.waitPage(map[string]string{"consent": selOIDCConsent, "done": selAnyAnswer + "," + selConnected}) == "consent" {
				tb.click(`button.login-submit`)
			}
		},
		decline: func(tb *tab) {
			tb.t.Helper()
			tb.wait(selOIDCLogin)
			tb.click(`a[href$="/abort"]`)
		},
		tokens: func() int { return tokenRequests(od.OIDC) },
		oidc:   od.OIDC,
	}
}

// setups runs fn once with each provider.
func setups(t *testing.T, fn func(t *testing.T, s setup)) {
	for _, mk := range []func(*testing.T) setup{mockSetup, oidcSetup} {
		s := mk(t)
		t.Run(s.name, func(t *testing.T) { fn(t, s) })
	}
}

// demoUser is the demo app user the tests sign in as.
const demoUser = "ana"

// signIn opens the demo app and signs in as user (if no one is signed in
// in this browser yet).
func (s setup) signIn(tb *tab, user string) {
	tb.t.Helper()
	tb.navigate(s.dev.URL + "/")
	if tb.waitPage(map[string]string{"out": selSignIn, "in": selConnect}) == "out" {
		tb.click(`button[name="user"][value="` + user + `"]`)
		tb.wait(selConnect)
	}
	if got := run(tb, "signed-in user", chromedp.Evaluate[string](`document.querySelector("#signed-in").textContent`)); got != user {
		tb.t.Fatalf("signed in as %q, want %q", got, user)
	}
}

// connect signs in as demoUser and presses Connect with appState: the demo
// app's backend mints the connect token and sends the tab to /authorize.
func (s setup) connect(tb *tab, appState string) {
	tb.t.Helper()
	s.signIn(tb, demoUser)
	q, _ := json.Marshal(appState)
	run(tb, "set app_state", chromedp.Evaluate[string](`document.querySelector('input[name="app_state"]').value = `+string(q)))
	tb.click(selConnect)
}

// connectOwnPage is connect without return_to: the flow ends on oauthfn's
// own success page (only with REQUIRE_CONFIRM=false: noConfirmSetup).
func (s setup) connectOwnPage(tb *tab) {
	tb.t.Helper()
	s.signIn(tb, demoUser)
	tb.click(selConnectOwn)
}

// wantConnected checks the tab is on the demo app's page with a verified
// result that the app confirmed for demoUser (POST /confirm): demoUser
// connected the account, with appState; the URL carries only the signed
// result.
func (s setup) wantConnected(tb *tab, appState string) {
	tb.t.Helper()
	if tb.waitPage(map[string]string{"connected": selConnected, "answer": selAnyAnswer}) == "answer" {
		code := run(tb, "answer code", chromedp.Evaluate[string](`document.querySelector("main").dataset.code`))
		tb.t.Fatalf("want the app's page, got the answer page %q at %s", code, tb.location())
	}
	u := tb.locationURL()
	if u.Path != "/app/connected" || len(u.Query()) != 1 || u.Query().Get("result") == "" || strings.Contains(u.RawQuery, s.account) {
		tb.t.Errorf("landed on %s, want /app/connected?result=… and no bare account id", u)
	}
	got := run(tb, "verified result", chromedp.Evaluate[string](`["#verified", "#result-user", "#result-account", "#result-app-state"].map(s => { const e = document.querySelector(s); return e ? e.textContent.trim().split(" ")[0] : "-" }).join("|")`))
	if want := "Signature,|" + demoUser + "|" + s.account + "|" + appState; got != want {
		tb.t.Errorf("the demo app shows %q, want %q (verified|user|account|app_state)", got, want)
	}
	if text := tb.text(); !strings.Contains(text, "Confirmed for "+demoUser) {
		tb.t.Errorf("the demo app did not confirm for %s:\n%s", demoUser, text)
	}
}

// replayCallback opens again the /callback URL the provider sent the tab
// to (as a reload of it would).
func (s setup) replayCallback(tb *tab) {
	tb.t.Helper()
	cbs := tb.requested(s.dev.URL + "/callback?")
	if len(cbs) != 1 {
		tb.t.Fatalf("requests to /callback = %d, want 1", len(cbs))
	}
	tb.navigate(cbs[0])
}

// owners is the demo app's "who owns which account" row of user: the app's
// records and oauthfn's user-index.
func owners(tb *tab, user string) string {
	tb.t.Helper()
	return run(tb, "owners of "+user, chromedp.Evaluate[string](`(() => { const r = document.querySelector('tr[data-user="`+user+`"]'); return r ? r.querySelector(".app-accounts").textContent + "|" + r.querySelector(".index-accounts").textContent : "no row" })()`))
}

// wantAnswer checks the tab shows the answer page code with status, and that
// the page is a page a person can read: one heading, lang, nothing of the
// callback's query (code, state) in the text.
func (s setup) wantAnswer(tb *tab, code string, status int64, wantText ...string) {
	tb.t.Helper()
	tb.wait(selAnswer(code))
	if doc := tb.lastDocument(); doc.Status != status {
		tb.t.Errorf("%s: HTTP status %d, want %d", code, doc.Status, status)
	}
	text := tb.text()
	for _, w := range wantText {
		if !strings.Contains(text, w) {
			tb.t.Errorf("%s page lacks %q:\n%s", code, w, text)
		}
	}
	u := tb.locationURL()
	for _, p := range []string{"code", "state", "error_description"} {
		if v := u.Query().Get(p); len(v) > 8 && strings.Contains(text, v) {
			tb.t.Errorf("%s page shows the query's %s", code, p)
		}
	}
	shape := run(tb, "page shape", chromedp.Evaluate[string](
		`document.documentElement.lang + "|" + document.querySelectorAll("h1").length + "|" + document.title`))
	if parts := strings.SplitN(shape, "|", 3); parts[0] != "en" || parts[1] != "1" || parts[2] == "" {
		tb.t.Errorf("%s page: lang|h1 count|title = %q, want en|1|<title>", code, shape)
	}
}

// TestConnect: demo app → sign in → "Connect an account" → provider → back in
// the app with a verified result, which the app confirms and records (and
// oauthfn's user-index agrees); /authorize without a connect token is
// refused; with REQUIRE_CONFIRM=false a connect token without return_to
// ends on the success page (with confirmation the demo app offers no such
// button).
func TestConnect(t *testing.T) {
	setups(t, func(t *testing.T, s setup) {
		t.Run("return_to", func(t *testing.T) {
			tb := newBrowserWindow(t)
			s.connect(tb, "demo")
			s.login(tb)
			s.wantConnected(tb, "demo")
			if got, want := owners(tb, demoUser), s.account+"|"+s.account; got != want {
				t.Errorf("owners of %s = %q, want %q (app records|user-index)", demoUser, got, want)
			}
		})
		t.Run("no connect token", func(t *testing.T) {
			tb := newBrowserWindow(t)
			before := s.tokens()
			tb.navigate(s.dev.URL + "/authorize?return_to=" + url.QueryEscape(s.dev.URL+"/app/connected"))
			s.wantAnswer(tb, "connect_required", 401, "Start connecting from the app")
			if c := tb.cookie(s.dev.URL+"/", oauth.BindingCookie); c != nil || s.tokens() != before {
				t.Errorf("a refused /authorize set a binding cookie or reached the provider")
			}
		})
		t.Run("no success-page button", func(t *testing.T) {
			tb := newBrowserWindow(t)
			s.signIn(tb, demoUser)
			if got := run(tb, "own-page button", chromedp.Evaluate[bool](`document.querySelector("`+selConnectOwn+`") !== null`)); got {
				t.Errorf("with confirmation required the demo app offers a connect without return_to")
			}
		})
	})
	s := noConfirmSetup(t)
	t.Run("success page", func(t *testing.T) {
		tb := newBrowserWindow(t)
		s.connectOwnPage(tb)
		s.login(tb)
		s.wantAnswer(tb, "connected", 200, "Your account is connected", s.account)
		if u := tb.locationURL(); u.Path != "/callback" {
			t.Errorf("success page at %s, want /callback", u)
		}
	})
}

// TestBindingCookie follows the binding cookie in Chromium's jar across two
// sites: the dev server on localhost, oidc-provider on 127.0.0.1.
func TestBindingCookie(t *testing.T) {
	s := oidcSetup(t)
	dev, _ := url.Parse(s.dev.URL)
	idp, _ := url.Parse(s.oidc.AuthURL)
	if dev.Hostname() != "localhost" || idp.Hostname() != "127.0.0.1" {
		t.Fatalf("dev server at %s, provider at %s: want localhost and 127.0.0.1 (two sites)", dev.Host, idp.Host)
	}
	tb := newBrowserWindow(t)
	s.connect(tb, "demo")
	tb.wait(selOIDCLogin)
	if u := tb.locationURL(); u.Host != idp.Host {
		t.Fatalf("sign-in page at %s, want the provider's site %s", u, idp.Host)
	}

	c := tb.cookie(s.dev.URL+"/", oauth.BindingCookie)
	if c == nil {
		t.Fatalf("after /authorize Chromium keeps no %s for %s", oauth.BindingCookie, s.dev.URL)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"domain (host-only)", c.Domain, "localhost"},
		{"path", c.Path, "/"},
		{"HttpOnly", c.HTTPOnly, true},
		{"Secure", c.Secure, true},
		{"SameSite", c.SameSite, network.CookieSameSiteLax},
		{"session cookie", c.Session, false},
		{"value length (one nonce)", len(c.Value), 43},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("cookie %s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if other := tb.cookie(s.oidc.URL+"/", oauth.BindingCookie); other != nil {
		t.Errorf("the provider's site sees %s", oauth.BindingCookie)
	}

	s.login(tb)
	s.wantConnected(tb, "demo")

	sent := tb.cookiesSentTo(s.dev.URL + "/callback")
	if len(sent) != 1 || !contains(sent[0], oauth.BindingCookie) {
		t.Errorf("cookies sent on the provider's redirect to /callback = %v, want one request with %s", sent, oauth.BindingCookie)
	}
	for _, names := range tb.cookiesSentTo(s.dev.URL + "/app/") {
		if contains(names, oauth.BindingCookie) {
			t.Errorf("%s still sent after the callback: %v", oauth.BindingCookie, names)
		}
	}
	if c := tb.cookie(s.dev.URL+"/", oauth.BindingCookie); c != nil {
		t.Errorf("after the callback Chromium still keeps %s (expires %v)", oauth.BindingCookie, c.Expires)
	}
}

func contains(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}
