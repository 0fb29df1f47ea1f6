package oauth

import (
	"net/url"
	"strings"
	"testing"
)

// Issue 16 item 6: a page a person can only get past by starting again from
// the app never links to a bare /authorize, which with a connect token
// required (the default) lands on connect_required, a dead end. It links
// back to the app instead: APP_URL, or the pending authorization's
// return_to when the callback knows it.
func TestStartAgainFromTheApp(t *testing.T) {
	const appURL = "https://app.example/home"
	const backLink = `href="` + appURL + `">Back to the app`
	type page struct {
		name   string
		status int
		code   string
		get    func(t *testing.T, r *testRig) (status int, body string)
	}
	unknownState := func(t *testing.T, r *testRig) (int, string) {
		_, cookie := r.start(t, "")
		cb := r.callback(t, url.Values{"state": {newNonce()}, "code": {"c"}}.Encode(), cookie)
		return cb.StatusCode, cb.Body
	}
	otherBrowser := func(t *testing.T, r *testRig) (int, string) {
		resp, _ := r.start(t, "")
		_, other := r.start(t, "")
		cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), other)
		return cb.StatusCode, cb.Body
	}
	// The back button after a finished flow: the callback cleared the
	// cookie, and the state is spent.
	backButton := func(t *testing.T, r *testRig) (int, string) {
		resp, cookie := r.start(t, "")
		query := r.prov.approve(t, resp.Headers["Location"])
		if cb := r.callback(t, query, cookie); cb.StatusCode != 200 {
			t.Fatalf("first callback: %d", cb.StatusCode)
		}
		cb := r.callback(t, query)
		return cb.StatusCode, cb.Body
	}
	noToken := func(t *testing.T, r *testRig) (int, string) {
		resp, _ := r.startRaw(t, "")
		return resp.StatusCode, resp.Body
	}
	spentToken := func(t *testing.T, r *testRig) (int, string) {
		q := r.connectQuery(t, "")
		r.startRaw(t, q)
		resp, _ := r.startRaw(t, q)
		return resp.StatusCode, resp.Body
	}
	pages := []page{
		{"unknown state", 400, "invalid_state", unknownState},
		{"another browser", 403, "binding_mismatch", otherBrowser},
		{"back button after success", 400, "invalid_state", backButton},
		{"authorize without a connect token", 401, "connect_required", noToken},
		{"authorize with a spent connect token", 401, "invalid_connect_token", spentToken},
	}
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		for _, p := range pages {
			t.Run(p.name, func(t *testing.T) {
				t.Run("APP_URL set", func(t *testing.T) {
					r := newRig(t, newStore, "APP_URL", appURL)
					status, body := p.get(t, r)
					if status != p.status || !strings.Contains(body, "Error code: "+p.code) {
						t.Fatalf("status %d, want %d %s:\n%s", status, p.status, p.code, body)
					}
					if strings.Contains(body, `href="authorize`) || !strings.Contains(body, backLink) {
						t.Errorf("page does not send the person back to the app (and only there):\n%s", body)
					}
				})
				t.Run("APP_URL unset", func(t *testing.T) {
					r := newRig(t, newStore)
					status, body := p.get(t, r)
					if status != p.status || strings.Contains(body, `href="authorize`) {
						t.Errorf("status %d (want %d), a link that cannot work:\n%s", status, p.status, body)
					}
				})
			})
		}
		// Without connect tokens a bare /authorize works: "Try again" stays.
		t.Run("connect tokens not required", func(t *testing.T) {
			r := newRig(t, newStore, "REQUIRE_CONNECT_TOKEN", "false", "APP_URL", appURL)
			status, body := unknownState(t, r)
			if status != 400 || !strings.Contains(body, `href="authorize">Try again`) {
				t.Errorf("status %d, want 400 with Try again:\n%s", status, body)
			}
		})
		// A known pending authorization without a return_to: back to
		// APP_URL, not a page without a way forward.
		t.Run("declined, no return_to", func(t *testing.T) {
			r := newRig(t, newStore, "APP_URL", appURL)
			resp, cookie := r.start(t, "")
			loc, _ := url.Parse(resp.Headers["Location"])
			cb := r.callback(t, url.Values{"error": {"access_denied"}, "state": {loc.Query().Get("state")}}.Encode(), cookie)
			if cb.StatusCode != 400 || !strings.Contains(cb.Body, backLink) {
				t.Errorf("status %d, want 400 with a link back to APP_URL:\n%s", cb.StatusCode, cb.Body)
			}
		})
	})
}

func TestAppURLValidated(t *testing.T) {
	for _, v := range []string{"ftp://app.example", "http://app.example/", "https://user:pw@app.example/", "app.example"} {
		if _, err := LoadConfig(env(with(baseEnv(), "APP_URL", v))); err == nil || !strings.Contains(err.Error(), "APP_URL") {
			t.Errorf("APP_URL=%s: error %v, want one naming APP_URL", v, err)
		}
	}
	c, err := LoadConfig(env(with(baseEnv(), "APP_URL", "https://app.example/home")))
	if err != nil || c.AppURL != "https://app.example/home" {
		t.Errorf("APP_URL: %q, %v", c.AppURL, err)
	}
}
