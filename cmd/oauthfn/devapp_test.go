package main

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// The forwarded-link attack through the demo app: ben presses Connect and
// sends the link, unopened, to ana, who connected account 1001 before. ana
// opens it in her browser, where she is signed in, and signs in at the
// provider as her 1001. The demo app, seeing a result made for ben in ana's
// browser, rejects it and says so: no connection for ben, the new session
// revoked at the mock, ana's connection unmoved and unrevoked.
func TestDemoAppForwardedLink(t *testing.T) {
	ds, _ := startDev(t, devOptions{Provider: providerMock, Store: storeMemory, Now: fixedClock})
	authURL := ds.BaseURL + mockPrefix + mockrc.AuthorizePath
	victim := newBrowser(t, ds.BaseURL)
	connectFlow(t, victim, ds, authURL, "1001")
	before, err := ds.OAuth.Store.GetConnection(context.Background(), oauth.PresetRingCentral, "1001")
	if err != nil {
		t.Fatal(err)
	}

	attacker := newBrowser(t, ds.BaseURL)
	signInAs(t, attacker, "ben")
	link := pressConnect(t, attacker, ds, "ben")

	back := finishLink(t, victim, link, authURL, "1001")
	resp, page := victim.get(back.String())
	wantStatus(t, "GET /app/connected (forwarded link)", resp, page, http.StatusConflict)
	for _, s := range []string{`id="other-user"`, "This link was made for another user.", "<strong>ben</strong>"} {
		if !strings.Contains(page, s) {
			t.Errorf("the demo app's page lacks %q: %.2000s", s, page)
		}
	}
	if strings.Contains(page, `id="verified"`) {
		t.Errorf("the demo app shows a verified connection")
	}
	for _, s := range []string{`<tr data-user="ben"><td>ben</td><td class="app-accounts">—</td><td class="index-accounts">—</td>`,
		`<tr data-user="ana"><td>ana</td><td class="app-accounts"><code>1001</code></td><td class="index-accounts"><code>1001</code></td>`} {
		if !strings.Contains(page, s) {
			t.Errorf("owners table lacks %q", s)
		}
	}
	after, err := ds.OAuth.Store.GetConnection(context.Background(), oauth.PresetRingCentral, "1001")
	if err != nil || after.EndUser != demoUser || after.Version != before.Version || after.RefreshToken != before.RefreshToken {
		t.Errorf("ana's connection after the forwarded link = %+v, %v; want it unchanged", after, err)
	}
	if n := ds.Mock.Calls(mockrc.RevokePath); n != 1 {
		t.Errorf("mock revocations = %d, want 1 (the forwarded flow's session)", n)
	}
	if n := ds.Mock.Sessions("1001"); n != 1 {
		t.Errorf("mock holds %d live sessions for 1001, want 1 (ana's)", n)
	}
}

// A result that comes back to a signed-out browser waits in the demo app's
// session (never in a URL): signing in as the user the link was made for
// confirms it; as anyone else rejects it; after CONFIRM_TTL it is gone.
func TestDemoAppSignInFirst(t *testing.T) {
	var now atomic.Pointer[time.Time]
	t0 := testNow
	now.Store(&t0)
	ds, _ := startDev(t, devOptions{Provider: providerMock, Store: storeMemory, Now: func() time.Time { return *now.Load() }})
	authURL := ds.BaseURL + mockPrefix + mockrc.AuthorizePath

	// link makes a link for ana in a browser of its own; a fresh browser,
	// signed out, finishes it and opens the return page.
	link := func(account string) *browser {
		t.Helper()
		maker := newBrowser(t, ds.BaseURL)
		signInAs(t, maker, demoUser)
		start := pressConnect(t, maker, ds, demoUser)
		b := newBrowser(t, ds.BaseURL)
		back := finishLink(t, b, start, authURL, account)
		resp, page := b.get(back.String())
		wantStatus(t, "GET /app/connected signed out", resp, page, http.StatusOK)
		if !strings.Contains(page, `id="sign-in-to-finish"`) || !strings.Contains(page, `action="/app/signin"`) {
			t.Fatalf("signed out, the return page does not ask to sign in: %.2000s", page)
		}
		if _, err := ds.OAuth.Store.GetConnection(context.Background(), oauth.PresetRingCentral, account); err == nil {
			t.Fatalf("%s connected before anyone signed in", account)
		}
		return b
	}
	signIn := func(b *browser, user string) (int, string) {
		t.Helper()
		resp, body := b.postForm(ds.BaseURL+"/app/signin", map[string][]string{"user": {user}})
		wantStatus(t, "POST /app/signin", resp, body, http.StatusSeeOther)
		if loc := resp.Header.Get("Location"); loc != "/app/connected" {
			t.Fatalf("sign-in with a pending result redirects to %q, want /app/connected", loc)
		}
		resp, page := b.get(ds.BaseURL + "/app/connected")
		return resp.StatusCode, page
	}

	b := link("1001")
	if status, page := signIn(b, demoUser); status != http.StatusOK || !strings.Contains(page, "Confirmed for <strong>"+demoUser+"</strong>") {
		t.Errorf("signed in as %s: %d %.2000s; want the confirmed connection", demoUser, status, page)
	}
	if c, err := ds.OAuth.Store.GetConnection(context.Background(), oauth.PresetRingCentral, "1001"); err != nil || c.EndUser != demoUser {
		t.Errorf("after sign-in and confirm: %+v, %v", c, err)
	}
	// The pending result was taken: the page again shows nothing.
	if _, page := b.get(ds.BaseURL + "/app/connected"); !strings.Contains(page, `id="no-result"`) {
		t.Errorf("the pending result is still kept after it was decided")
	}

	b = link("1002")
	if status, page := signIn(b, "cleo"); status != http.StatusConflict || !strings.Contains(page, "This link was made for another user.") {
		t.Errorf("signed in as cleo: %d %.2000s; want the rejection", status, page)
	}
	if _, err := ds.OAuth.Store.GetConnection(context.Background(), oauth.PresetRingCentral, "1002"); err == nil {
		t.Errorf("1002 connected after cleo signed in")
	}

	b = link("1003")
	late := t0.Add(ds.OAuth.Config.ConfirmTTL + time.Second)
	now.Store(&late)
	if status, page := signIn(b, demoUser); status != http.StatusConflict || !strings.Contains(page, "waited longer than CONFIRM_TTL") {
		t.Errorf("signed in after CONFIRM_TTL: %d %.2000s; want it dropped", status, page)
	}
	if _, err := ds.OAuth.Store.GetConnection(context.Background(), oauth.PresetRingCentral, "1003"); err == nil {
		t.Errorf("1003 connected after CONFIRM_TTL")
	}
}
