package browsertest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/oauthfn/oauthfn/internal/mockrc"
)

// TestForwardedLinkGetsNothing: ana connected account 1001 through the demo
// app. ben, an ordinary user of the same app in another browser, presses
// Connect and keeps the /authorize?connect=… link without opening it (the
// tab blocks it), then sends it to ana. ana opens it in her browser, where
// she is signed in, and signs in at the provider as her own 1001. The demo
// app sees a result made for ben in ana's browser: it rejects it and says
// "this link was made for another user". ben owns nothing, the mock
// provider sees the new session revoked, and ana's connection is unmoved
// (same end user, same version) and unrevoked (the sweep still refreshes
// it at the mock).
func TestForwardedLinkGetsNothing(t *testing.T) {
	s := mockSetup(t)
	victim := newBrowserWindow(t)
	s.connect(victim, "demo")
	s.login(victim)
	s.wantConnected(victim, "demo")
	victim.navigate(s.dev.URL + "/_dev")
	versionBefore := consoleVersion(victim)

	attacker := newBrowserWindow(t)
	s.signIn(attacker, "ben")
	authorize := s.dev.URL + "/authorize?"
	// ben's tab keeps the link: the redirect to /authorize is paused,
	// read and failed, never sent.
	paused := make(chan string, 1)
	if err := chromedp.Listen(attacker.ctx, func(ev any) {
		if ev, ok := ev.(*fetch.EventRequestPaused); ok {
			select {
			case paused <- ev.Request.URL:
			default:
			}
			go chromedp.Call(attacker.ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonBlockedByClient})
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(attacker.ctx, fetch.Enable, fetch.EnableParams{
		Patterns: []*fetch.RequestPattern{{URLPattern: authorize + "*"}},
	}); err != nil {
		t.Fatalf("intercept /authorize in ben's tab: %v", err)
	}
	attacker.click(selConnect)
	var link string
	select {
	case link = <-paused:
	case <-time.After(actionTimeout):
		t.Fatalf("ben's Connect made no request to %s", authorize)
	}
	if n := s.dev.Requests("/authorize"); n != 1 { // ana's, none of ben's
		t.Fatalf("/authorize requests = %d, want 1 (ana's): ben's link was opened", n)
	}

	revokes := s.dev.Requests("/mock" + mockrc.RevokePath)
	victim.navigate(link)
	s.login(victim)
	victim.wait("#other-user")
	if doc := victim.lastDocument(); doc.Status != 409 {
		t.Errorf("the demo app's answer to the forwarded link: HTTP %d, want 409", doc.Status)
	}
	text := victim.text()
	if !strings.Contains(text, "This link was made for another user.") || strings.Contains(text, "Confirmed for") {
		t.Errorf("the demo app says:\n%s", text)
	}
	victim.screenshot("forwarded-link")
	if got := owners(victim, "ben"); got != "—|—" {
		t.Errorf("ben owns %q (app records|user-index), want nothing", got)
	}
	if got, want := owners(victim, demoUser), s.account+"|"+s.account; got != want {
		t.Errorf("%s owns %q, want %q", demoUser, got, want)
	}
	if got := s.dev.Requests("/mock"+mockrc.RevokePath) - revokes; got != 1 {
		t.Errorf("revocations at the mock = %d, want 1 (the forwarded flow's new session)", got)
	}

	// ana's connection: same end user, same version, and its refresh
	// token still works at the mock.
	victim.navigate(s.dev.URL + "/_dev")
	if got := run(victim, "console end user", chromedp.Evaluate[string](`document.querySelector("td.end-user").textContent`)); got != demoUser {
		t.Errorf("the console shows end user %q for the account, want %s", got, demoUser)
	}
	if got := consoleVersion(victim); got != versionBefore {
		t.Errorf("connection version = %q after the forwarded link, want %q", got, versionBefore)
	}
	victim.click(`form[action="/_dev/due"] button`)
	waitText(victim, "is due now")
	victim.click(`form[action="/_dev/actions/sweep"] button`)
	waitText(victim, `"refreshed":1`)
}

// waitText polls (every pollEvery, up to actionTimeout) until the page's
// text contains s: text only the page after a console action shows.
func waitText(tb *tab, s string) {
	tb.t.Helper()
	deadline := time.Now().Add(actionTimeout)
	for {
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
		cancel()
		if err == nil && strings.Contains(text, s) {
			return
		}
		if time.Now().After(deadline) {
			tb.t.Fatalf("no page with %q after %v:\n%s", s, actionTimeout, text)
		}
		select {
		case <-tb.ctx.Done():
			tb.t.Fatalf("waiting for %q: %v", s, tb.ctx.Err())
		case <-time.After(pollEvery):
		}
	}
}

// consoleVersion is the "ringcentral, version N" note of the console's
// first connection.
func consoleVersion(tb *tab) string {
	tb.t.Helper()
	text := tb.text()
	i := strings.Index(text, "version ")
	if i < 0 {
		tb.t.Fatalf("the console shows no connection version:\n%s", text)
	}
	v, _, _ := strings.Cut(text[i:], "\n")
	return strings.Fields(v)[1]
}
