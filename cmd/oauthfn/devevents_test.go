package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthfn/oauthfn/internal/mockrc"
)

// TestDevEventsAndToken: connecting an account shows "Connection
// Connected" in the console's events; the console's token form calls the
// token handler (a token for a connected account, never shown; not_found
// for another); disconnecting shows "Connection Disconnected".
func TestDevEventsAndToken(t *testing.T) {
	ds, logs := startDev(t, devOptions{Provider: providerMock, Store: storeMemory, Now: fixedClock})
	b := newBrowser(t, ds.BaseURL)
	if got := connectFlow(t, b, ds, ds.BaseURL+mockPrefix+mockrc.AuthorizePath, "1001"); got.AccountID != "1001" {
		t.Fatalf("connect: %+v", got)
	}
	post := func(account string) string {
		req, _ := http.NewRequest(http.MethodPost, ds.BaseURL+"/_dev/token", strings.NewReader(url.Values{"account_id": {account}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", ds.BaseURL)
		resp, _ := b.do(req)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("POST /_dev/token = %d, want 303", resp.StatusCode)
		}
		// Another browser opening the console sees no token answer.
		if _, other := b.get(ds.BaseURL + "/_dev"); strings.Contains(other, "characters, not shown") || strings.Contains(other, "no connection for this account_id") {
			t.Errorf("the console shows a token answer to a browser that did not ask")
		}
		_, page := b.get(ds.BaseURL + resp.Header.Get("Location"))
		return page
	}
	tests := []struct {
		name, account string
		want          []string
	}{
		{"connected account", "1001", []string{"a working access token", "characters, not shown", "Bearer", "Connection Connected", "new"}},
		{"unknown account", "404", []string{"not_found", "no connection for this account_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page := post(tt.account)
			for _, w := range tt.want {
				if !strings.Contains(page, w) {
					t.Errorf("console lacks %q", w)
				}
			}
			if strings.Contains(page, "mockrc_at_") {
				t.Error("the console shows a token")
			}
		})
	}
	if err := ds.OAuth.Disconnect(t.Context(), "1001"); err != nil {
		t.Fatal(err)
	}
	_, page := b.get(ds.BaseURL + "/_dev")
	if !strings.Contains(page, "Connection Disconnected") {
		t.Errorf("console events lack Connection Disconnected")
	}
	// An account id in the events table does not break across lines.
	if !strings.Contains(page, `<code class="account">ringcentral/1001</code>`) {
		t.Errorf("events table: the account is not kept on one line")
	}
	// A cross-origin POST is refused and calls nothing.
	req, _ := http.NewRequest(http.MethodPost, ds.BaseURL+"/_dev/token", strings.NewReader("account_id=1001"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	if resp, _ := b.do(req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin POST /_dev/token = %d, want 403", resp.StatusCode)
	}
	for _, s := range []string{"mockrc_at_", "mockrc_rt_"} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("logs hold a token (%s…)", s)
		}
	}
}
