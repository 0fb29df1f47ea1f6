package browsertest

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/oauthfn/oauthfn/internal/mockrc"
)

// TestSeveralProviders: the dev server with two mock providers
// (-providers): in Chromium, the demo app's picker sends the flow to the
// picked provider's /authorize/<id>, its mock and /callback/<id>, the app
// confirms the result with its provider, and the console lists the
// connection with its provider.
func TestSeveralProviders(t *testing.T) {
	const picked = "ringcentral-eu"
	s := mockSetupEnv(t, nil, "-providers", "ringcentral,"+picked)
	tb := newBrowserWindow(t)
	s.signIn(tb, demoUser)
	run(tb, "pick a provider", chromedp.Evaluate[string](`document.querySelector('select#provider').value = "`+picked+`"`))
	tb.click(selConnect)
	s.login(tb)
	s.wantConnected(tb, "demo")
	if got := run(tb, "result provider", chromedp.Evaluate[string](`document.querySelector("#result-provider").textContent`)); got != picked {
		t.Errorf("the demo app's result names provider %q, want %q", got, picked)
	}
	if n := s.dev.Requests("/mock/" + picked + mockrc.TokenPath); n != 1 {
		t.Errorf("token requests at %s's mock = %d, want 1", picked, n)
	}
	if n := s.dev.Requests("/mock/ringcentral" + mockrc.TokenPath); n != 0 {
		t.Errorf("token requests at the other mock = %d, want 0", n)
	}
	if got, want := owners(tb, demoUser), picked+"/"+s.account+"|"+picked+"/"+s.account; got != want {
		t.Errorf("owners of %s = %q, want %q (app records|user-index)", demoUser, got, want)
	}
	tb.navigate(s.dev.URL + "/_dev")
	tb.wait(`section#connections`)
	got := run(tb, "console row", chromedp.Evaluate[string](`(() => { const r = document.querySelector("#connections tbody tr"); return r ? r.querySelector("td.provider").textContent + "|" + r.querySelector("code.account").textContent : "no row" })()`))
	if want := picked + "|" + s.account; got != want {
		t.Errorf("console's connection row = %q, want %q (provider|account)", got, want)
	}
	if text := tb.text(); !strings.Contains(text, "Provider") {
		t.Errorf("console has no provider column:\n%s", text)
	}
}
