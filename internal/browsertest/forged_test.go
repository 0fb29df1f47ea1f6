package browsertest

import (
	"net/url"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/oauthfn/oauthfn/pkg/oauth/connect/connecttest"
)

// TestForgedReturnGetsNothing: ana connects account 1001 through the demo
// app. ben, signed in to the same app in another browser, types the return
// URL the old design trusted (return_to?status=connected&account_id=1001),
// then ana's own result edited to name him: the app refuses both (400, "Nothing
// changed"), and neither the app's records nor oauthfn's user-index give him
// the account.
func TestForgedReturnGetsNothing(t *testing.T) {
	s := mockSetup(t)
	victim := newBrowserWindow(t)
	s.connect(victim, "demo")
	s.login(victim)
	s.wantConnected(victim, "demo")
	result := victim.locationURL().Query().Get("result")

	attacker := newBrowserWindow(t)
	s.signIn(attacker, "ben")
	forged := []struct{ name, query string }{
		{"typed account_id", url.Values{"status": {"connected"}, "account_id": {s.account}, "app_state": {"demo"}}.Encode()},
		{"result edited to name ben", url.Values{"result": {connecttest.EditPayload(result)}}.Encode()},
	}
	for _, f := range forged {
		attacker.navigate(s.dev.URL + "/app/connected?" + f.query)
		attacker.wait("#refused")
		if doc := attacker.lastDocument(); doc.Status != 400 {
			t.Errorf("%s: HTTP status %d, want 400", f.name, doc.Status)
		}
		if got := run(attacker, "verified marker", chromedp.Evaluate[bool](`document.querySelector("#verified") !== null`)); got {
			t.Errorf("%s: the demo app shows a verified result", f.name)
		}
		if got := owners(attacker, "ben"); got != "—|—" {
			t.Errorf("%s: ben owns %q (app records|user-index), want nothing", f.name, got)
		}
		if got, want := owners(attacker, demoUser), s.account+"|"+s.account; got != want {
			t.Errorf("%s: %s owns %q, want %q", f.name, demoUser, got, want)
		}
	}
	attacker.navigate(s.dev.URL + "/_dev")
	if got := run(attacker, "console end user", chromedp.Evaluate[string](`document.querySelector("td.end-user").textContent`)); got != demoUser {
		t.Errorf("the console shows end user %q for the account, want %s", got, demoUser)
	}
}
