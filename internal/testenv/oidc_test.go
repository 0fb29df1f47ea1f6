package testenv_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/oauthfn/oauthfn/internal/testenv"
)

// standIn starts the OAuth server stand-in with one redirect URI (never
// served: Login returns the redirect without following it).
func standIn(t *testing.T, opts testenv.OIDCOptions) (*testenv.OIDC, *oauth2.Config) {
	t.Helper()
	redirect := "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) + "/callback"
	opts.RedirectURIs = []string{redirect}
	o := testenv.StartOIDC(t, opts)
	return o, &oauth2.Config{
		ClientID:     o.ClientID,
		ClientSecret: o.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   o.AuthURL,
			TokenURL:  o.TokenURL,
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		RedirectURL: redirect,
		Scopes:      []string{"openid"},
	}
}

// connect runs the whole authorization code flow with PKCE for account.
func connect(t *testing.T, o *testenv.OIDC, conf *oauth2.Config, account string) *oauth2.Token {
	t.Helper()
	ctx := testenv.Context(t)
	verifier := oauth2.GenerateVerifier()
	state := "state-" + account
	cb := o.Login(t, conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), account)
	q := cb.Query()
	if got := q.Get("error"); got != "" {
		t.Fatalf("callback error = %q (%s), want none", got, q.Get("error_description"))
	}
	if got := q.Get("state"); got != state {
		t.Fatalf("callback state = %q, want %q", got, state)
	}
	if got := q.Get("iss"); got != o.URL {
		t.Errorf("callback iss = %q, want %q", got, o.URL)
	}
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("token: access %t, refresh %t; want both", tok.AccessToken != "", tok.RefreshToken != "")
	}
	return tok
}

func refresh(ctx context.Context, conf *oauth2.Config, refreshToken string) (*oauth2.Token, error) {
	return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: refreshToken}).Token()
}

func errorCode(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// userinfo returns the status and the sub of GET userinfo with token.
func userinfo(t *testing.T, o *testenv.OIDC, accessToken string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, o.UserinfoURL, nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		Sub string `json:"sub"`
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("userinfo: decode: %v", err)
		}
	}
	return resp.StatusCode, body.Sub
}

// revoke posts an RFC 7009 revocation with HTTP Basic client credentials.
func revoke(t *testing.T, o *testenv.OIDC, token, hint string) int {
	t.Helper()
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	req, _ := http.NewRequest(http.MethodPost, o.RevokeURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(o.ClientID), url.QueryEscape(o.ClientSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("revoke: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestOIDCCodeFlowRefreshRotation(t *testing.T) {
	t.Parallel()
	ctx := testenv.Context(t)
	o, conf := standIn(t, testenv.OIDCOptions{})

	tok := connect(t, o, conf, "alice")
	if status, sub := userinfo(t, o, tok.AccessToken); status != http.StatusOK || sub != "alice" {
		t.Fatalf("userinfo = %d sub %q, want 200 sub %q", status, sub, "alice")
	}
	if got := tok.Extra("refresh_token_expires_in"); got != nil {
		t.Errorf("refresh_token_expires_in = %v without the option, want absent", got)
	}

	// Two refreshes in a row: each rotates the refresh token.
	seen := map[string]bool{tok.RefreshToken: true}
	current := tok
	for i := 1; i <= 2; i++ {
		next, err := refresh(ctx, conf, current.RefreshToken)
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
		if next.AccessToken == "" || next.AccessToken == current.AccessToken {
			t.Fatalf("refresh %d: access token is empty or unchanged", i)
		}
		if next.RefreshToken == "" || seen[next.RefreshToken] {
			t.Fatalf("refresh %d: refresh token is empty or reused, want a new one (rotation)", i)
		}
		seen[next.RefreshToken] = true
		if status, sub := userinfo(t, o, next.AccessToken); status != http.StatusOK || sub != "alice" {
			t.Fatalf("refresh %d: userinfo = %d sub %q, want 200 sub %q", i, status, sub, "alice")
		}
		current = next
	}

	// A rotated refresh token is refused, and (oidc-provider's replay
	// protection) the reuse revokes the whole grant: the newest refresh
	// token and access token die with it.
	if _, err := refresh(ctx, conf, tok.RefreshToken); errorCode(err) != "invalid_grant" {
		t.Fatalf("reuse of rotated refresh token: error %v, want invalid_grant", err)
	}
	if _, err := refresh(ctx, conf, current.RefreshToken); errorCode(err) != "invalid_grant" {
		t.Fatalf("newest refresh token after a reuse: error %v, want invalid_grant (grant revoked)", err)
	}
	if status, _ := userinfo(t, o, current.AccessToken); status != http.StatusUnauthorized {
		t.Fatalf("userinfo after a reuse: status %d, want %d", status, http.StatusUnauthorized)
	}
}

func TestOIDCRevoke(t *testing.T) {
	t.Parallel()
	ctx := testenv.Context(t)
	o, conf := standIn(t, testenv.OIDCOptions{})

	tests := []struct {
		name string
		hint string
		pick func(*oauth2.Token) string
	}{
		{name: "refresh token", hint: "refresh_token", pick: func(tok *oauth2.Token) string { return tok.RefreshToken }},
		{name: "access token", hint: "access_token", pick: func(tok *oauth2.Token) string { return tok.AccessToken }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := connect(t, o, conf, "bob")
			if got := revoke(t, o, tt.pick(tok), tt.hint); got != http.StatusOK {
				t.Fatalf("revoke status = %d, want %d", got, http.StatusOK)
			}
			// Revoking either token revokes the grant.
			if _, err := refresh(ctx, conf, tok.RefreshToken); errorCode(err) != "invalid_grant" {
				t.Errorf("refresh after revoke: error %v, want invalid_grant", err)
			}
			if status, _ := userinfo(t, o, tok.AccessToken); status != http.StatusUnauthorized {
				t.Errorf("userinfo after revoke: status %d, want %d", status, http.StatusUnauthorized)
			}
			// RFC 7009: revoking an unknown or revoked token is still 200.
			if got := revoke(t, o, tt.pick(tok), tt.hint); got != http.StatusOK {
				t.Errorf("second revoke status = %d, want %d", got, http.StatusOK)
			}
		})
	}
}

func TestOIDCRefused(t *testing.T) {
	t.Parallel()
	ctx := testenv.Context(t)
	o, conf := standIn(t, testenv.OIDCOptions{UnauthorizedClient: true})
	unauthorized := *conf
	unauthorized.ClientID = o.UnauthorizedClientID
	unauthorized.ClientSecret = o.UnauthorizedClientSecret
	wrongSecret := *conf
	wrongSecret.ClientSecret = "wrong"

	t.Run("authorize without PKCE", func(t *testing.T) {
		cb := o.Login(t, conf.AuthCodeURL("s1"), "carol")
		if got, want := cb.Query().Get("error"), "invalid_request"; got != want {
			t.Errorf("error = %q (%s), want %q", got, cb.Query().Get("error_description"), want)
		}
		if got := cb.Query().Get("code"); got != "" {
			t.Errorf("code = %q, want none", got)
		}
	})
	t.Run("authorize by unauthorized client", func(t *testing.T) {
		cb := o.Login(t, unauthorized.AuthCodeURL("s2", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "carol")
		if got, want := cb.Query().Get("error"), "unauthorized_client"; got != want {
			t.Errorf("error = %q (%s), want %q", got, cb.Query().Get("error_description"), want)
		}
	})
	t.Run("declined", func(t *testing.T) {
		cb := o.Decline(t, conf.AuthCodeURL("s3", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		q := cb.Query()
		if got, want := q.Get("error"), "access_denied"; got != want {
			t.Errorf("error = %q, want %q", got, want)
		}
		if got, want := q.Get("state"), "s3"; got != want {
			t.Errorf("state = %q, want %q", got, want)
		}
	})

	// Code exchanges that must fail, each with a fresh code.
	tests := []struct {
		name     string
		conf     *oauth2.Config
		verifier func(good string) string // "" sends no code_verifier
		want     string
	}{
		{name: "unauthorized client", conf: &unauthorized, verifier: func(v string) string { return v }, want: "unauthorized_client"},
		{name: "wrong client secret", conf: &wrongSecret, verifier: func(v string) string { return v }, want: "invalid_client"},
		{name: "missing verifier", conf: conf, verifier: func(string) string { return "" }, want: "invalid_grant"},
		{name: "wrong verifier", conf: conf, verifier: func(string) string { return oauth2.GenerateVerifier() }, want: "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verifier := oauth2.GenerateVerifier()
			cb := o.Login(t, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "dave")
			code := cb.Query().Get("code")
			if code == "" {
				t.Fatalf("no code: %s", cb)
			}
			var opts []oauth2.AuthCodeOption
			if v := tt.verifier(verifier); v != "" {
				opts = append(opts, oauth2.VerifierOption(v))
			}
			_, err := tt.conf.Exchange(ctx, code, opts...)
			if got := errorCode(err); got != tt.want {
				t.Errorf("exchange error = %v (code %q), want %q", err, got, tt.want)
			}
		})
	}

	t.Run("code is single use", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		cb := o.Login(t, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "erin")
		code := cb.Query().Get("code")
		if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err != nil {
			t.Fatalf("first exchange: %v", err)
		}
		_, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if got, want := errorCode(err), "invalid_grant"; got != want {
			t.Errorf("second exchange error = %v, want %q", err, want)
		}
	})
}

func TestOIDCRingCentralShape(t *testing.T) {
	t.Parallel()
	o, conf := standIn(t, testenv.OIDCOptions{
		RefreshTokenExpiresIn: true,
		AccountField:          "owner_id",
		AccessTokenTTL:        10 * time.Minute,
		RefreshTokenTTL:       7 * 24 * time.Hour,
	})
	conf.Scopes = nil // RingCentral sets permissions in the app, not per request

	tok := connect(t, o, conf, "frank")
	if got, want := tok.Extra("owner_id"), "frank"; got != want {
		t.Errorf("owner_id = %v, want %q", got, want)
	}
	if got, want := tok.ExpiresIn, int64(600); got != want {
		t.Errorf("expires_in = %d, want %d", got, want)
	}
	rtExpires, ok := tok.Extra("refresh_token_expires_in").(float64)
	if !ok || rtExpires <= 0 || rtExpires > 7*24*3600 {
		t.Errorf("refresh_token_expires_in = %v, want in (0, %d]", tok.Extra("refresh_token_expires_in"), 7*24*3600)
	}
	next, err := refresh(testenv.Context(t), conf, tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if got, want := next.Extra("owner_id"), "frank"; got != want {
		t.Errorf("refresh: owner_id = %v, want %q", got, want)
	}
	if next.Extra("refresh_token_expires_in") == nil {
		t.Error("refresh: refresh_token_expires_in absent, want present")
	}
}
