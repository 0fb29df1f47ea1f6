package mockrc_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthfn/oauthfn/internal/mockrc"
)

// TestDialectLoginPageKeepsParams: the login page's form carries the
// dialect's own authorize parameters (access_type, prompt, audience) to the
// decision, so a person clicking through gets the refresh token the
// parameters ask for; Slack's dialect refuses an authorize request without
// scope, as Slack does.
func TestDialectLoginPageKeepsParams(t *testing.T) {
	srv := httptest.NewServer(mockrc.New(mockrc.Options{Dialect: mockrc.Dialects["google"]}))
	defer srv.Close()
	q := url.Values{"response_type": {"code"}, "client_id": {mockrc.DefaultClientID}, "redirect_uri": {redirectURL},
		"state": {"s"}, "scope": {"openid"}, "access_type": {"offline"}, "prompt": {"consent"}}
	resp, err := http.Get(srv.URL + mockrc.AuthorizePath + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`name="access_type" value="offline"`, `name="prompt" value="consent"`} {
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("login page (%d) lacks %s", resp.StatusCode, want)
		}
	}

	slack := httptest.NewServer(mockrc.New(mockrc.Options{Dialect: mockrc.Dialects["slack"]}))
	defer slack.Close()
	q.Del("scope")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = client.Get(slack.URL + mockrc.AuthorizePath + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc, _ := url.Parse(resp.Header.Get("Location")); loc == nil || loc.Query().Get("error") != "invalid_scope" {
		t.Errorf("slack without scope: %d %q, want a redirect with invalid_scope", resp.StatusCode, resp.Header.Get("Location"))
	}
}
