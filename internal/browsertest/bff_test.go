package browsertest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/internal/testenv"
)

// The browser-only app (the dev server's /app/, a static page that signs in
// and calls the provider's API through the BFF): its states, by main#app's
// data-state.
const (
	selSPASignedOut = `main#app[data-state="signed-out"]`
	selSPASignedIn  = `main#app[data-state="signed-in"]`
	selSPAError     = `main#app[data-state="error"]`
)

// sessionCookie is the BFF's session cookie (DESIGN.md, "Browser-only apps").
const sessionCookie = "__Host-oauthfn-session"

// tokenMarks are what the mock provider's access and refresh tokens start
// with (mockrc): none may reach the browser.
var tokenMarks = []string{"mockrc_at_", "mockrc_rt_"}

// mockAccountName is the name the mock's extension endpoint answers for
// mockAccount.
var mockAccountName = func() string {
	for _, a := range mockrc.DemoAccounts() {
		if a.ID == mockAccount {
			return a.Name
		}
	}
	return ""
}()

// netLog records everything a tab received over the network: each request's
// URLs (each hop), the raw response headers of each hop, and (fetched by
// collect) each response body.
type netLog struct {
	tb *tab

	mu       sync.Mutex
	urls     map[network.RequestID][]string
	headers  []string                       // raw response header blocks, every hop
	blocked  []string                       // cookies Chromium refused to store, with why
	received map[network.RequestID]string   // requests with a response: their final URL
	status   map[network.RequestID]int64    // and its status
	done     map[network.RequestID]bool     // loading finished (true) or failed (false)
	bodies   map[network.RequestID][]byte   // collected bodies
	order    []network.RequestID            // requests with a response, in order
	setBy    map[network.RequestID][]string // Set-Cookie lines per request, every hop
	reported map[string]bool                // leaks reported already (noTokens runs more than once)
}

// recordNetwork starts recording tb's network traffic. Bodies are kept in
// the browser (Network.enable's buffers, durable so they survive a
// navigation) until collect fetches them.
func recordNetwork(tb *tab) *netLog {
	tb.t.Helper()
	n := &netLog{
		tb: tb, urls: map[network.RequestID][]string{}, received: map[network.RequestID]string{},
		status: map[network.RequestID]int64{}, done: map[network.RequestID]bool{},
		bodies: map[network.RequestID][]byte{}, setBy: map[network.RequestID][]string{},
		reported: map[string]bool{},
	}
	total, each := int64(64<<20), int64(8<<20)
	durable := true
	if _, err := chromedp.Call(tb.ctx, network.Enable, network.EnableParams{
		MaxTotalBufferSize: &total, MaxResourceBufferSize: &each, EnableDurableMessages: &durable,
	}); err != nil {
		tb.t.Fatalf("network buffers: %v", err)
	}
	err := chromedp.Listen(tb.ctx, func(ev any) {
		n.mu.Lock()
		defer n.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			n.urls[ev.RequestID] = append(n.urls[ev.RequestID], ev.Request.URL)
			if r := ev.RedirectResponse; r != nil {
				n.headers = append(n.headers, headerBlock(r.Headers))
			}
		case *network.EventResponseReceived:
			if _, seen := n.received[ev.RequestID]; !seen {
				n.order = append(n.order, ev.RequestID)
			}
			n.received[ev.RequestID] = ev.Response.URL
			n.status[ev.RequestID] = ev.Response.Status
			n.headers = append(n.headers, headerBlock(ev.Response.Headers))
		case *network.EventResponseReceivedExtraInfo:
			n.headers = append(n.headers, ev.HeadersText, headerBlock(ev.Headers))
			for _, b := range ev.BlockedCookies {
				n.blocked = append(n.blocked, b.CookieLine+" ("+reasons(b.BlockedReasons)+")")
			}
			if v, ok := ev.Headers["Set-Cookie"].(string); ok {
				n.setBy[ev.RequestID] = append(n.setBy[ev.RequestID], strings.Split(v, "\n")...)
			} else if v, ok := ev.Headers["set-cookie"].(string); ok {
				n.setBy[ev.RequestID] = append(n.setBy[ev.RequestID], strings.Split(v, "\n")...)
			}
		case *network.EventLoadingFinished:
			n.done[ev.RequestID] = true
		case *network.EventLoadingFailed:
			n.done[ev.RequestID] = false
		}
	})
	if err != nil {
		tb.t.Fatalf("listen to the tab's network: %v", err)
	}
	return n
}

func headerBlock(h network.Headers) string {
	var b strings.Builder
	for k, v := range h {
		b.WriteString(k + ": ")
		if s, ok := v.(string); ok {
			b.WriteString(s)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func reasons(rs []network.SetCookieBlockedReason) string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r))
	}
	return strings.Join(out, ",")
}

// collect waits (up to actionTimeout) until every response the tab has
// received has finished loading or failed, then fetches the body of each
// finished one not fetched yet. A finished response whose body the browser
// cannot give fails the test (a body left unchecked would let the token
// check pass without looking); 204, 304 and redirects have none.
func (n *netLog) collect() {
	t := n.tb.t
	t.Helper()
	deadline := time.Now().Add(actionTimeout)
	for {
		n.mu.Lock()
		var pending []string
		var fetch []network.RequestID
		for _, id := range n.order {
			ok, ended := n.done[id]
			switch {
			case !ended:
				pending = append(pending, n.received[id])
			case ok && n.bodies[id] == nil:
				fetch = append(fetch, id)
			}
		}
		n.mu.Unlock()
		if len(pending) == 0 {
			for _, id := range fetch {
				n.fetchBody(id)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("responses still loading after %v: %q", actionTimeout, pending)
		}
		select {
		case <-n.tb.ctx.Done():
			t.Fatalf("collect responses: %v", n.tb.ctx.Err())
		case <-time.After(pollEvery):
		}
	}
}

func (n *netLog) fetchBody(id network.RequestID) {
	t := n.tb.t
	t.Helper()
	n.mu.Lock()
	u, status := n.received[id], n.status[id]
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(n.tb.ctx, actionTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetResponseBody, network.GetResponseBodyParams{RequestID: id})
	if err != nil {
		if status == http.StatusNoContent || status == http.StatusNotModified || (status >= 300 && status < 400) {
			res.Body = []byte{}
		} else {
			t.Fatalf("body of %s (%d): %v", u, status, err)
		}
	}
	if res.Body == nil {
		res.Body = []byte{}
	}
	n.mu.Lock()
	n.bodies[id] = res.Body
	n.mu.Unlock()
}

// bodyOf is the collected body of the last response whose URL is u.
func (n *netLog) bodyOf(u string) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := len(n.order) - 1; i >= 0; i-- {
		id := n.order[i]
		if n.received[id] == u && n.bodies[id] != nil {
			return string(n.bodies[id]), true
		}
	}
	return "", false
}

// setCookies lists the Set-Cookie lines the tab received for cookie name.
func (n *netLog) setCookies(name string) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, id := range n.order {
		for _, line := range n.setBy[id] {
			if strings.HasPrefix(line, name+"=") {
				out = append(out, line)
			}
		}
	}
	return out
}

// noneOf checks that no URL, response header or body the tab saw contains
// one of values (exact tokens the provider issued). Call after noTokens,
// which collects the bodies.
func (n *netLog) noneOf(values []string) {
	t := n.tb.t
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	var seen []string
	for _, urls := range n.urls {
		seen = append(seen, urls...)
	}
	seen = append(seen, n.headers...)
	for _, b := range n.bodies {
		seen = append(seen, string(b))
	}
	for _, v := range values {
		for _, s := range seen {
			if strings.Contains(s, v) {
				t.Errorf("an access token the provider issued reached the browser")
			}
		}
	}
}

// noTokens collects the bodies and checks that no URL, response header or
// body the tab saw carries a provider token (and that no cookie was
// refused). It returns how many bodies it looked at.
func (n *netLog) noTokens() int {
	t := n.tb.t
	t.Helper()
	n.collect()
	n.mu.Lock()
	defer n.mu.Unlock()
	report := func(msg string) {
		if !n.reported[msg] {
			n.reported[msg] = true
			t.Error(msg)
		}
	}
	look := func(what, s string) {
		for _, m := range tokenMarks {
			if strings.Contains(s, m) {
				report("a token (" + m + "…) reached the browser in " + what)
			}
		}
	}
	for _, urls := range n.urls {
		for _, u := range urls {
			look("the URL "+u, u)
		}
	}
	for _, h := range n.headers {
		look("response headers", h)
	}
	for id, body := range n.bodies {
		look("the body of "+n.received[id], string(body))
		if strings.Contains(n.received[id], "/bff/") {
			for _, field := range []string{"access_token", "refresh_token"} {
				if strings.Contains(string(body), field) {
					report("the body of " + n.received[id] + " names " + field)
				}
			}
		}
	}
	for _, b := range n.blocked {
		report("Chromium refused a cookie: " + b)
	}
	return len(n.bodies)
}

// spa is one browser window on the browser-only app.
type spa struct {
	*tab
	net *netLog
	dev *devServer
}

// watchProblems is run in every document of the app's tabs before the
// page's own script: it records what would go wrong silently, a resource
// or script the CSP refused, an uncaught error or rejected promise.
const watchProblems = `(() => {
	const problems = [];
	Object.defineProperty(window, "__oauthfnTestProblems", {value: problems});
	document.addEventListener("securitypolicyviolation", e => problems.push("CSP " + e.violatedDirective + " refused " + e.blockedURI));
	window.addEventListener("error", e => problems.push("error: " + e.message));
	window.addEventListener("unhandledrejection", e => problems.push("unhandled rejection: " + e.reason));
})()`

func openSPA(t *testing.T, dev *devServer) *spa {
	t.Helper()
	tb := newBrowserWindow(t)
	s := &spa{tab: tb, net: recordNetwork(tb), dev: dev}
	if _, err := chromedp.Call(tb.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: watchProblems}); err != nil {
		t.Fatalf("watch the page's problems: %v", err)
	}
	tb.navigate(dev.URL + "/app/")
	return s
}

// state waits for the app to settle in one of the signed-in or signed-out
// states (an error state fails the test) and returns it; at every step the
// page's script must not see the session cookie.
func (s *spa) state() string {
	s.t.Helper()
	got := s.waitPage(map[string]string{"signed-in": selSPASignedIn, "signed-out": selSPASignedOut, "error": selSPAError})
	if got == "error" {
		s.t.Fatalf("the app shows an error: %s", s.text())
	}
	s.noCookieInScript()
	if p := run(s.tab, "the page's problems", chromedp.Evaluate[string](`JSON.stringify(window.__oauthfnTestProblems || ["the problem watcher did not run"])`)); p != "[]" {
		s.t.Errorf("the app at %s: %s", s.location(), p)
	}
	return got
}

// want waits for the app's state and checks it is want.
func (s *spa) want(want string) {
	s.t.Helper()
	if got := s.state(); got != want {
		s.t.Fatalf("the app is %s, want %s:\n%s", got, want, s.text())
	}
	if want == "signed-in" {
		if name := s.field("account-name"); name != mockAccountName {
			s.t.Errorf("the app shows the name %q, want %q (the mock's, through the proxy)", name, mockAccountName)
		}
	}
}

// noCookieInScript checks that document.cookie never shows the session
// cookie.
func (s *spa) noCookieInScript() {
	s.t.Helper()
	if c := run(s.tab, "document.cookie", chromedp.Evaluate[string]("document.cookie")); strings.Contains(c, sessionCookie) {
		s.t.Errorf("document.cookie shows %s at %s", sessionCookie, s.location())
	}
}

func (s *spa) field(id string) string {
	s.t.Helper()
	return run(s.tab, "#"+id, chromedp.Evaluate[string](`document.getElementById("`+id+`").textContent`))
}

// signIn presses the sign-in button of provider and picks the demo account
// on the mock's page.
func (s *spa) signIn(provider string) {
	s.t.Helper()
	s.click(`button.signin[data-provider="` + provider + `"]`)
	s.wait(selMockLogin)
	s.noCookieInScript() // the mock's page is on the same origin
	s.click(`button[name="account"][value="` + mockAccount + `"]`)
	s.want("signed-in")
}

// reload reloads the page and waits for it to settle.
func (s *spa) reload() string {
	s.t.Helper()
	s.do("reload", chromedp.Reload())
	return s.state()
}

// session is the page's own GET /bff/session.
func (s *spa) session() map[string]any {
	s.t.Helper()
	raw := run(s.tab, "fetch /bff/session", chromedp.Evaluate[string](
		`fetch("/bff/session", {headers: {"X-OAuthFn-CSRF": "1"}, credentials: "same-origin", cache: "no-store"}).then(r => r.text())`,
		chromedp.EvalAwaitPromise))
	var v map[string]any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		s.t.Fatalf("/bff/session answered %q: %v", raw, err)
	}
	return v
}

// cookie is the session cookie in this browser context's jar
// (Storage.getCookies: every cookie of the context), or nil.
func (s *spa) cookie() *network.Cookie {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, actionTimeout)
	defer cancel()
	res, err := chromedp.CallBrowser(ctx, storage.GetCookies, storage.GetCookiesParams{BrowserContextID: chromedp.FromContext(s.ctx).BrowserContextID})
	if err != nil {
		s.t.Fatalf("all cookies: %v", err)
	}
	var found *network.Cookie
	for _, c := range res.Cookies {
		if c.Name == sessionCookie {
			if found != nil {
				s.t.Errorf("two %s cookies in the jar", sessionCookie)
			}
			found = c
		}
	}
	return found
}

// serverSession asks GET /bff/session with cookie value v from outside the
// browser: whether the server still has that session.
func serverSession(t *testing.T, dev *devServer, v string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, dev.URL+"/bff/session", nil)
	req.Header.Set("X-OAuthFn-CSRF", "1")
	req.Header.Set("Cookie", sessionCookie+"="+v)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /bff/session: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestBrowserOnlyApp drives the dev server's browser-only app in Chromium:
// sign in at the mock provider through the BFF, the account's name from the
// provider's API through the proxy, a reload keeps the session, sign-out
// ends it (in the page, in /bff/session, and on the server for the
// cookie's value). All along, the page's script never sees the session
// cookie, and no URL, header or body the tab received carries a token.
func TestBrowserOnlyApp(t *testing.T) {
	dev := startMockDev(t, nil)
	s := openSPA(t, dev)
	s.want("signed-out")
	if v := s.session(); v["authenticated"] != false || len(v) != 1 {
		t.Errorf("/bff/session before sign-in = %v, want {authenticated: false}", v)
	}

	s.signIn("ringcentral")
	if u := s.location(); u != dev.URL+"/app/" {
		t.Errorf("back at %s, want %s/app/ (nothing in the URL)", u, dev.URL)
	}
	s.screenshot("browser-only-app-signed-in")
	if got := s.field("account-id") + "|" + s.field("provider"); got != mockAccount+"|ringcentral" {
		t.Errorf("the app shows account|provider %q", got)
	}
	if logins := s.requested(dev.URL + "/bff/ringcentral/login?"); len(logins) != 1 {
		t.Errorf("sign-in navigations = %q, want 1", logins)
	}
	v := s.session()
	if v["authenticated"] != true || v["account_id"] != mockAccount || v["provider"] != "ringcentral" {
		t.Errorf("/bff/session = %v", v)
	}

	c := s.cookie()
	if c == nil {
		t.Fatalf("after sign-in the jar has no %s", sessionCookie)
	}
	expires := time.Unix(int64(c.Expires), 0)
	checks := []struct {
		name      string
		got, want any
	}{
		{"HttpOnly", c.HTTPOnly, true},
		{"Secure", c.Secure, true},
		{"SameSite", c.SameSite, network.CookieSameSiteStrict},
		{"path", c.Path, "/"},
		{"domain (host-only: no Domain attribute)", c.Domain, "localhost"},
		{"value length (32 bytes base64url)", len(c.Value), 43},
		{"persistent (Max-Age)", c.Session, false},
		{"expiry within BFF_MAX_SESSION (7d)", !expires.After(time.Now().Add(7*24*time.Hour+time.Minute)) && expires.After(time.Now()), true},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("cookie %s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	lines := s.net.setCookies(sessionCookie)
	if len(lines) == 0 {
		t.Errorf("no Set-Cookie for %s seen", sessionCookie)
	}
	for _, l := range lines {
		if strings.Contains(strings.ToLower(l), "domain=") {
			t.Errorf("Set-Cookie carries a Domain: %q", l)
		}
	}
	value := c.Value

	if got := s.reload(); got != "signed-in" {
		t.Fatalf("after a reload the app is %s, want signed-in", got)
	}
	if name := s.field("account-name"); name != mockAccountName {
		t.Errorf("after a reload the app shows %q", name)
	}
	s.net.noTokens()
	ext, ok := s.net.bodyOf(dev.URL + "/bff/api" + mockrc.ExtensionPath)
	if !ok || !strings.Contains(ext, `"name":"`+mockAccountName+`"`) {
		t.Errorf("the proxied extension answer seen by the tab = %q (found %v), want the account's name: the body check must see it", ext, ok)
	}

	s.click("#signout")
	s.want("signed-out")
	if v := s.session(); v["authenticated"] != false {
		t.Errorf("/bff/session after sign-out = %v, want authenticated false", v)
	}
	if c := s.cookie(); c != nil {
		t.Errorf("after sign-out the jar still has %s", sessionCookie)
	}
	if got := serverSession(t, dev, value); !strings.Contains(got, `"authenticated":false`) {
		t.Errorf("the signed-out cookie's value still has a session: %s", got)
	}
	if got := s.reload(); got != "signed-out" {
		t.Errorf("after sign-out and a reload the app is %s", got)
	}
	s.screenshot("browser-only-app-signed-out")
	if n := s.net.noTokens(); n < 6 {
		t.Errorf("looked at %d bodies, want the pages, script and every BFF answer", n)
	}
}

// TestBrowserOnlyAppTwoBrowsers: two browsers (contexts of their own)
// signed in to the same account: signing out of one keeps the other signed
// in; "sign out everywhere" in one ends both.
func TestBrowserOnlyAppTwoBrowsers(t *testing.T) {
	dev := startMockDev(t, nil)
	a, b := openSPA(t, dev), openSPA(t, dev)
	a.want("signed-out")
	b.want("signed-out")
	a.signIn("ringcentral")
	b.signIn("ringcentral")

	a.click("#signout")
	a.want("signed-out")
	if got := b.reload(); got != "signed-in" {
		t.Fatalf("after the other browser signed out, this one is %s, want signed-in", got)
	}
	b.want("signed-in") // the name again, through the proxy

	a.reload()
	a.want("signed-out")
	a.signIn("ringcentral")
	if got := b.reload(); got != "signed-in" {
		t.Fatalf("after the other browser signed in again, this one is %s, want signed-in", got)
	}

	b.click("#signout-everywhere")
	b.want("signed-out")
	if got := a.reload(); got != "signed-out" {
		t.Errorf("after sign-out everywhere in the other browser, this one is %s, want signed-out", got)
	}
	if v := a.session(); v["authenticated"] != false {
		t.Errorf("/bff/session after sign-out everywhere = %v", v)
	}
	a.net.noTokens()
	b.net.noTokens()
}

// TestBrowserOnlyAppProviders: with several providers the app offers one
// sign-in each; the picked one's mock signs the person in.
func TestBrowserOnlyAppProviders(t *testing.T) {
	const picked = "ringcentral-eu"
	dev := startMockDev(t, nil, "-providers", "ringcentral,"+picked)
	s := openSPA(t, dev)
	s.want("signed-out")
	buttons := run(s.tab, "sign-in buttons", chromedp.Evaluate[string](`[...document.querySelectorAll("button.signin")].map(b => b.dataset.provider).join(",")`))
	if buttons != "ringcentral,"+picked {
		t.Errorf("sign-in buttons for %q, want ringcentral,%s", buttons, picked)
	}
	s.signIn(picked)
	if got := s.field("provider"); got != picked {
		t.Errorf("signed in with %q, want %q", got, picked)
	}
	if n := dev.Requests("/mock/" + picked + mockrc.TokenPath); n != 1 {
		t.Errorf("token requests at %s's mock = %d, want 1", picked, n)
	}
	if n := dev.Requests("/mock/ringcentral" + mockrc.TokenPath); n != 0 {
		t.Errorf("token requests at the other mock = %d, want 0", n)
	}
	s.net.noTokens()
}

// TestBrowserOnlyAppCrossSiteProvider is the production shape: the provider
// on another site (the mock on 127.0.0.1, in this test process; the dev
// server on localhost), so the way back from the provider is a cross-site
// redirect chain. The SameSite=Strict session cookie is still set by the
// callback's answer to that top-level navigation, and sent on the app's
// own same-origin calls; the proxy's API calls carry access tokens that
// this test reads from the mock's records, and none of those exact values
// (besides the prefixes) reaches the browser.
func TestBrowserOnlyAppCrossSiteProvider(t *testing.T) {
	port := testenv.FreePort(t)
	redirect := "http://localhost:" + strconv.Itoa(port) + "/callback"
	mock := mockrc.New(mockrc.Options{ClientID: "spa-client", ClientSecret: "spa-secret", RedirectURIs: []string{redirect}})
	ps := httptest.NewServer(mock)
	t.Cleanup(ps.Close)
	dev := startDev(t, "localhost", port, map[string]string{
		"OAUTH_PROVIDER":      "ringcentral",
		"OAUTH_SERVER_URL":    ps.URL,
		"OAUTH_CLIENT_ID":     "spa-client",
		"OAUTH_CLIENT_SECRET": "spa-secret",
		"OAUTH_REDIRECT_URL":  redirect,
	}, "-provider", "env")
	if !strings.HasPrefix(ps.URL, "http://127.0.0.1:") {
		t.Fatalf("the mock at %s: want 127.0.0.1 (another site than localhost)", ps.URL)
	}

	s := openSPA(t, dev)
	s.want("signed-out")
	s.click(`button.signin[data-provider="ringcentral"]`)
	s.wait(selMockLogin)
	if u := s.locationURL(); u.Host != strings.TrimPrefix(ps.URL, "http://") {
		t.Fatalf("sign-in page at %s, want the provider's site", u)
	}
	s.click(`button[name="account"][value="` + mockAccount + `"]`)
	s.want("signed-in")
	if c := s.cookie(); c == nil || c.SameSite != network.CookieSameSiteStrict || !c.HTTPOnly {
		t.Errorf("after a cross-site sign-in the jar has %+v, want the HttpOnly SameSite=Strict session cookie", c)
	}
	if got := s.reload(); got != "signed-in" {
		t.Fatalf("after a reload the app is %s", got)
	}
	s.want("signed-in")
	s.click("#signout-everywhere")
	s.want("signed-out")

	s.net.noTokens()
	var issued []string
	for _, r := range mock.Requests() {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && r.Path == mockrc.ExtensionPath {
			issued = append(issued, tok)
		}
	}
	if len(issued) < 2 {
		t.Fatalf("the mock saw %d proxied API calls with a token, want one per page load (2)", len(issued))
	}
	s.net.noneOf(issued)
}
