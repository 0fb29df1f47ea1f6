package browsertest

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// alreadyUsed is what the answer to a spent sign-in says.
const alreadyUsed = "already used"

// TestReloadAndBack: after a success, opening the callback URL again (a
// reload of it) and going back to the provider's page and signing in again
// both end on the "already used" answer, with no second token request.
func TestReloadAndBack(t *testing.T) {
	setups(t, func(t *testing.T, s setup) {
		t.Run("reload the callback", func(t *testing.T) {
			tb := newBrowserWindow(t)
			s.connect(tb, "demo")
			s.login(tb)
			s.wantConnected(tb, "demo")
			before := s.tokens()
			s.replayCallback(tb)
			s.wantAnswer(tb, "invalid_state", 400, alreadyUsed)
			if got := s.tokens(); got != before {
				t.Errorf("token requests after the reload = %d, want %d (none more)", got, before)
			}
		})
		t.Run("back to the provider", func(t *testing.T) {
			tb := newBrowserWindow(t)
			s.connect(tb, "demo")
			s.login(tb)
			s.wantConnected(tb, "demo")
			before := s.tokens()
			tb.back()
			if s.oidc != nil {
				// oidc-provider's interaction is over: going back shows
				// its own error page, and nothing reaches /callback. (Any
				// selector matches the app's page until the navigation
				// commits: wait for the provider's host instead.)
				tb.waitHost(mustHost(t, s.oidc.URL))
				t.Logf("back at oidc-provider shows: %.120q", tb.text())
			} else {
				// The mock's sign-in page comes back with the spent
				// state in its form; signing in again reaches /callback.
				// Chromium restores it from the back/forward cache
				// (no new request), although it was sent no-store.
				s.login(tb)
				s.wantAnswer(tb, "invalid_state", 400, alreadyUsed)
			}
			if got := s.tokens(); got != before {
				t.Errorf("token requests after going back = %d, want %d (none more)", got, before)
			}
		})
	})
}

func mustHost(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// TestTwoTabs: tab A starts, tab B starts, A finishes, B finishes; both
// connect (the binding cookie holds both nonces, docs/decisions.md, "Two tabs").
func TestTwoTabs(t *testing.T) {
	setups(t, func(t *testing.T, s setup) {
		a := newBrowserWindow(t)
		b := a.newTab()
		s.connect(a, "tab-a")
		a.wait(s.provider)
		s.connect(b, "tab-b") // the same browser: already signed in
		b.wait(s.provider)
		if c := a.cookie(s.dev.URL+"/", oauth.BindingCookie); c == nil || strings.Count(c.Value, ".") != 1 {
			t.Fatalf("after two starts the binding cookie = %v, want two nonces", c)
		}

		s.login(a)
		s.wantConnected(a, "tab-a")
		if c := a.cookie(s.dev.URL+"/", oauth.BindingCookie); c == nil || len(c.Value) != 43 {
			t.Errorf("after tab A finished the binding cookie = %v, want tab B's nonce only", c)
		}

		s.login(b)
		s.wantConnected(b, "tab-b")
		if c := b.cookie(s.dev.URL+"/", oauth.BindingCookie); c != nil {
			t.Errorf("after both finished the binding cookie is still there: %d bytes", len(c.Value))
		}
		if got := s.tokens(); got != 2 {
			t.Errorf("token requests = %d, want 2", got)
		}
	})
}

// TestDeclineAndTryAgain: the person cancels at the provider; the page says
// so and links back to the app (the connect token was single use), where
// Connect starts a new authorization, which then completes.
func TestDeclineAndTryAgain(t *testing.T) {
	setups(t, func(t *testing.T, s setup) {
		tb := newBrowserWindow(t)
		s.connect(tb, "demo")
		s.decline(tb)
		s.wantAnswer(tb, "access_denied", 400, "You declined", "Back to the app")
		if c := tb.cookie(s.dev.URL+"/", oauth.BindingCookie); c != nil {
			t.Errorf("after declining the binding cookie is still there")
		}
		href := run(tb, "Back to the app link", chromedp.Evaluate[string](`document.querySelector("a.button").href`))
		if href != s.dev.URL+"/app/connected" {
			t.Errorf("Back to the app links to %s, want the demo's return_to %s/app/connected", href, s.dev.URL)
		}

		tb.click("a.button")
		tb.wait("#no-result")
		tb.click(selConnect)
		tb.wait(s.provider)
		if c := tb.cookie(s.dev.URL+"/", oauth.BindingCookie); c == nil {
			t.Errorf("Connect did not start a new authorization (no binding cookie)")
		}
		s.login(tb)
		s.wantConnected(tb, "demo")
		if got := s.tokens(); got != 1 {
			t.Errorf("token requests = %d, want 1", got)
		}
	})
}

// TestScreenshots saves the answer pages as a person sees them, on a desktop
// window and on a 390×844 phone, under test-artifacts/screenshots/.
func TestScreenshots(t *testing.T) {
	s := mockSetup(t)
	shots := []struct {
		name string
		code string
		// reach opens the page in tb.
		reach func(t *testing.T, tb *tab)
	}{
		{"success", "connected", func(t *testing.T, tb *tab) {
			// Reached only without confirmation.
			s := noConfirmSetup(t)
			s.connectOwnPage(tb)
			s.login(tb)
		}},
		{"declined", "access_denied", func(t *testing.T, tb *tab) {
			s.connect(tb, "demo")
			s.decline(tb)
		}},
		{"invalid_state", "invalid_state", func(t *testing.T, tb *tab) {
			s.connect(tb, "demo")
			s.login(tb)
			s.wantConnected(tb, "demo")
			s.replayCallback(tb)
		}},
		{"binding_mismatch", "binding_mismatch", func(t *testing.T, tb *tab) {
			// Started in one browser, finished in another: the
			// provider's page is opened in a second browser context.
			other := newBrowserWindow(t)
			s.connect(other, "demo")
			other.wait(s.provider)
			tb.navigate(other.location())
			s.login(tb)
		}},
		{"connect_required", "connect_required", func(t *testing.T, tb *tab) {
			tb.navigate(s.dev.URL + "/authorize?return_to=" + url.QueryEscape("https://evil.example/steal"))
		}},
	}
	for _, sh := range shots {
		t.Run(sh.name, func(t *testing.T) {
			tb := newBrowserWindow(t)
			sh.reach(t, tb)
			tb.wait(selAnswer(sh.code))
			tb.screenshot(sh.name)
			tb.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
			tb.screenshot(sh.name + "-390x844")
			// The page fits the phone: nothing wider than the viewport.
			if w := run(tb, "scroll width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > 390 {
				t.Errorf("%s page is %d px wide on a 390 px phone", sh.name, w)
			}
		})
	}
}
