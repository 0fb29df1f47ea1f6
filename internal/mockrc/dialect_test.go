package mockrc_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

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

// TestDialectIssuer: Google's dialect answers with iss (RFC 9207) on the
// redirect back, a code or an error alike; RingCentral's sends none.
func TestDialectIssuer(t *testing.T) {
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range []struct{ dialect, want string }{{"google", "https://accounts.google.com"}, {"ringcentral", ""}} {
		srv := httptest.NewServer(mockrc.New(mockrc.Options{Dialect: mockrc.Dialects[tt.dialect]}))
		for _, choice := range []url.Values{{"account": {"1001"}}, {"cancel": {"1"}}} {
			form := url.Values{"client_id": {mockrc.DefaultClientID}, "redirect_uri": {redirectURL}, "state": {"s"},
				"scope": {"openid"}, "access_type": {"offline"}}
			for k, v := range choice {
				form[k] = v
			}
			resp, err := client.PostForm(srv.URL+mockrc.DecidePath, form)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if loc == nil || resp.StatusCode != http.StatusSeeOther || loc.Query().Get("state") != "s" {
				t.Fatalf("%s %v: %d %q", tt.dialect, choice, resp.StatusCode, resp.Header.Get("Location"))
			}
			if got, has := loc.Query().Get("iss"), loc.Query().Has("iss"); got != tt.want || has != (tt.want != "") {
				t.Errorf("%s %v: iss %q (present %v), want %q", tt.dialect, choice, got, has, tt.want)
			}
		}
		srv.Close()
	}
}

// TestDialectLeeway: Atlassian's rotating refresh tokens. A rotated refresh
// token works again within the 10-minute leeway; reused after it, the
// whole grant ends, the newest refresh token with it, in Atlassian's error
// shape (invalid_grant with HTTP 403).
func TestDialectLeeway(t *testing.T) {
	e := newEnv(t, mockrc.Options{Dialect: mockrc.Dialects["atlassian"]})
	e.conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	e.conf.Scopes = []string{"offline_access"}
	verifier := oauth2.GenerateVerifier()
	_, _, form := e.page(e.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("audience", "api.atlassian.com")))
	q := e.decide(form, "account", "1001")
	first, err := e.conf.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || first.RefreshToken == "" {
		t.Fatalf("exchange: %v, refresh token %t", err, first != nil && first.RefreshToken != "")
	}
	second, err := e.refresh(first.RefreshToken)
	if err != nil || second.RefreshToken == first.RefreshToken {
		t.Fatalf("refresh: %v (rotated: %t)", err, err == nil && second.RefreshToken != first.RefreshToken)
	}
	e.clk.Advance(9 * time.Minute)
	third, err := e.refresh(first.RefreshToken)
	if err != nil {
		t.Fatalf("the rotated refresh token inside the leeway: %v, want accepted", err)
	}
	e.clk.Advance(2 * time.Minute) // 11 minutes after its rotation
	_, err = e.refresh(first.RefreshToken)
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || re.Response.StatusCode != http.StatusForbidden {
		t.Fatalf("the rotated refresh token after the leeway: %v, want 403 invalid_grant", err)
	}
	if _, err := e.refresh(third.RefreshToken); err == nil {
		t.Error("the newest refresh token still works after a reuse past the leeway, want the grant ended")
	}
}
