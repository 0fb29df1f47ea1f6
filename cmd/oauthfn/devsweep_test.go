package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// nearNow is a fixed clock at the test's start: the sweep plans against
// its context's real deadline, so a clock years away (fixedClock) would
// stop it at once ("deadline near").
func nearNow(t *testing.T) func() time.Time {
	now := time.Now().Truncate(time.Second)
	return func() time.Time { return now }
}

// TestDevIdleSweepQuiet: the timer's idle sweeps leave nothing in the
// console's log (no "sweep done" at INFO, no raw EMF blob); a sweep with
// work is logged as usual; at LOG_LEVEL=debug both show on standard error.
func TestDevIdleSweepQuiet(t *testing.T) {
	t.Run("info", func(t *testing.T) {
		clock := nearNow(t)
		ds, logs := startDev(t, devOptions{Provider: providerMock, Store: storeMemory, Now: clock})
		for range 3 {
			if _, err := ds.sweep(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		ring := strings.Join(ds.Logs.Lines(), "\n")
		for where, text := range map[string]string{"console": ring, "stderr": logs.String()} {
			if strings.Contains(text, "sweep done") || strings.Contains(text, "CloudWatchMetrics") {
				t.Errorf("%s shows idle sweeps:\n%s", where, text)
			}
		}

		// A sweep with work is still logged.
		b := newBrowser(t, ds.BaseURL)
		connectFlow(t, b, ds, ds.BaseURL+mockPrefix+mockrc.AuthorizePath, "1001")
		if _, err := ds.makeDue(context.Background(), "", "1001"); err != nil {
			t.Fatal(err)
		}
		if s, err := ds.sweep(context.Background()); err != nil || s.Refreshed != 1 {
			t.Fatalf("sweep: %+v, %v; want one refreshed", s, err)
		}
		ring = strings.Join(ds.Logs.Lines(), "\n")
		if !strings.Contains(ring, `"msg":"sweep done"`) || !strings.Contains(ring, `"refreshed":1`) {
			t.Errorf("console lacks the working sweep's line:\n%s", ring)
		}
		if strings.Contains(ring, "CloudWatchMetrics") {
			t.Errorf("console shows a raw EMF line:\n%s", ring)
		}
	})
	t.Run("debug", func(t *testing.T) {
		clock := nearNow(t)
		ds, logs := startDev(t, devOptions{Provider: providerMock, Store: storeMemory, Now: clock,
			Getenv: envMap(map[string]string{"LOG_LEVEL": "debug"})})
		if _, err := ds.sweep(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(logs.String(), `"level":"DEBUG","msg":"sweep done"`) || !strings.Contains(logs.String(), "CloudWatchMetrics") {
			t.Errorf("LOG_LEVEL=debug: stderr lacks the idle sweep's DEBUG line or its EMF line:\n%s", logs.String())
		}
		if strings.Contains(strings.Join(ds.Logs.Lines(), "\n"), "CloudWatchMetrics") {
			t.Errorf("the console shows a raw EMF line")
		}
	})
}

// TestDevMakeDue: the console's "Make due now" makes a connection due
// (under the lease, version+1), so "Run sweep now" refreshes it once; it is
// refused for an unknown account, and cross-origin like every console POST.
func TestDevMakeDue(t *testing.T) {
	clock := nearNow(t)
	testNow := clock()
	ds, _ := startDev(t, devOptions{Provider: providerMock, Store: storeMemory, Now: clock})
	b := newBrowser(t, ds.BaseURL)
	connectFlow(t, b, ds, ds.BaseURL+mockPrefix+mockrc.AuthorizePath, "1001")
	before, err := ds.OAuth.Store.GetConnection(context.Background(), oauth.PresetRingCentral, "1001")
	if err != nil {
		t.Fatal(err)
	}
	if !before.RefreshAt.After(testNow) {
		t.Fatalf("a fresh connection is due already (refresh_at %v)", before.RefreshAt)
	}
	_, page := b.get(ds.BaseURL + consolePath)
	if !strings.Contains(page, `<form method="post" action="/_dev/due"><input type="hidden" name="account" value="1001"><button type="submit" class="small">Make due now</button></form>`) {
		t.Fatalf("console has no Make due now button for 1001:\n%s", page)
	}

	post := func(path string, form url.Values, headers map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, ds.BaseURL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, _ := b.do(req)
		return resp
	}
	sameOrigin := map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": ds.BaseURL}

	// Cross-origin: refused, nothing changed.
	if resp := post(consolePath+"/due", url.Values{"account": {"1001"}}, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://attacker.example"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin Make due now = %d, want 403", resp.StatusCode)
	}
	if c, _ := ds.OAuth.Store.GetConnection(context.Background(), oauth.PresetRingCentral, "1001"); c.Version != before.Version || !c.RefreshAt.Equal(before.RefreshAt) {
		t.Errorf("a refused request changed the connection")
	}

	// Unknown account: the console says so.
	resp := post(consolePath+"/due", url.Values{"account": {"<b>9999"}}, sameOrigin)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("Make due now for an unknown account = %d, want 303", resp.StatusCode)
	}
	if _, page := b.get(ds.BaseURL + resp.Header.Get("Location")); !strings.Contains(page, `Make due now: <span class="bad">failed</span> <span class="mono">no connection for account &#34;&lt;b&gt;9999&#34;`) {
		t.Errorf("console does not show the refusal, escaped:\n%s", page)
	}

	resp = post(consolePath+"/due", url.Values{"account": {"1001"}}, sameOrigin)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("Make due now = %d, want 303", resp.StatusCode)
	}
	c, err := ds.OAuth.Store.GetConnection(context.Background(), oauth.PresetRingCentral, "1001")
	if err != nil {
		t.Fatal(err)
	}
	if !c.RefreshAt.Equal(testNow) || c.Version != before.Version+1 || c.LeaseOwner != "" || c.RefreshToken != before.RefreshToken {
		t.Errorf("after Make due now: refresh_at %v, version %d, lease %q, same refresh token %t; want %v, %d, none, true",
			c.RefreshAt, c.Version, c.LeaseOwner, c.RefreshToken == before.RefreshToken, testNow, before.Version+1)
	}
	if _, page := b.get(ds.BaseURL + resp.Header.Get("Location")); !strings.Contains(page, "account 1001 is due now") {
		t.Errorf("console does not confirm:\n%s", page)
	}

	calls := ds.Mock.Calls(mockrc.TokenPath)
	resp = post(consolePath+"/actions/sweep", nil, sameOrigin)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("Run sweep now = %d", resp.StatusCode)
	}
	if n := ds.Mock.Calls(mockrc.TokenPath) - calls; n != 1 {
		t.Errorf("token calls after Make due now + Run sweep now: %d, want 1", n)
	}
	if _, page := b.get(ds.BaseURL + consolePath); strings.Contains(page, "&#34;refreshed&#34;:1") {
		t.Errorf("a browser that did not press Run sweep now is shown its summary")
	}
	if _, page := b.get(ds.BaseURL + resp.Header.Get("Location")); !strings.Contains(page, "&#34;refreshed&#34;:1") {
		t.Errorf("console does not show the refresh:\n%s", page)
	}
}

// TestDevNotFoundPage: unknown paths get a page saying where things are;
// 405s and the mock provider's own answers are untouched.
func TestDevNotFoundPage(t *testing.T) {
	ds, _ := startDev(t, devOptions{Provider: providerMock, Store: storeMemory})
	tests := []struct {
		method, path string
		status       int
		want, not    string
	}{
		{"GET", "/nope", 404, "Nothing here", "404 page not found"},
		{"GET", "/%3Cscript%3Ealert(1)%3C/script%3E", 404, "&lt;script&gt;alert(1)&lt;/script&gt;", "<script>"},
		{"GET", consolePath + "/x", 404, "Nothing here", "404 page not found"},
		{"POST", consolePath + "/actions/nope", 404, "Nothing here", "404 page not found"},
		{"POST", "/authorize", 405, "", "Nothing here"},
		{"GET", mockPrefix + "/nope", 404, "", "Nothing here"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, ds.BaseURL+tt.path, nil)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if !strings.Contains(string(b), tt.want) || strings.Contains(string(b), tt.not) {
				t.Errorf("body %q: want %q, not %q", b, tt.want, tt.not)
			}
			if tt.want == "Nothing here" && (resp.Header.Get("Content-Type") != "text/html; charset=utf-8" || resp.Header.Get("Cache-Control") != "no-store") {
				t.Errorf("404 page headers: %v", resp.Header)
			}
		})
	}
}
