package oauth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/oauthfn/oauthfn/internal/mockrc"
)

// presetRig is a Handler configured by OAUTH_PROVIDER=<preset>, its
// endpoints pointed at the mock provider playing that preset's dialect.
type presetRig struct {
	name  string
	h     *Handler
	mock  *mockrc.Server
	srv   *httptest.Server
	clock *fakeClock
	logs  *bytes.Buffer
	store Store
}

// presetScopes are the OAUTH_SCOPES a deployment of the preset would set.
var presetScopes = map[string]string{PresetSlack: "chat:write", PresetAtlassian: "read:jira-work"}

func newPresetRig(t *testing.T, name string, store Store) *presetRig {
	t.Helper()
	r := &presetRig{name: name, clock: newFakeClock(), logs: &bytes.Buffer{}, store: store}
	r.mock = mockrc.New(mockrc.Options{Now: r.clock.Now, Dialect: mockrc.Dialects[name],
		RedirectURIs: []string{"https://abc123.execute-api.us-east-1.amazonaws.com/callback"}})
	r.srv = httptest.NewServer(r.mock)
	t.Cleanup(r.srv.Close)
	row := presetTable()[name]
	e := with(baseEnv(), "OAUTH_PROVIDER", name,
		"OAUTH_CLIENT_ID", mockrc.DefaultClientID, "OAUTH_CLIENT_SECRET", mockrc.DefaultClientSecret,
		"OAUTH_AUTH_URL", r.srv.URL+mockrc.AuthorizePath, "OAUTH_TOKEN_URL", r.srv.URL+mockrc.TokenPath,
		"OAUTH_SCOPES", presetScopes[name], "REQUIRE_CONNECT_TOKEN", "false")
	if row.RevokeURL != "" {
		e["OAUTH_REVOKE_URL"] = r.srv.URL + mockrc.RevokePath
	}
	if row.UserinfoURL != "" {
		e["OAUTH_USERINFO_URL"] = r.srv.URL + mockrc.UserinfoPath
	}
	cfg, err := LoadConfig(env(e))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	secrets, err := NewStaticSecrets(cfg.ClientSecret, cfg.TokenKey, cfg.AppKey)
	if err != nil {
		t.Fatal(err)
	}
	r.h = NewHandler(cfg, store, secrets)
	r.h.Now, r.h.Sleep = r.clock.Now, r.clock.Sleep
	r.h.HTTPClient = &http.Client{Timeout: answerTimeout}
	r.h.Log = slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		for _, s := range []string{"mockrc_at_", "mockrc_rt_", "mockrc_code_", mockrc.DefaultClientSecret} {
			if strings.Contains(r.logs.String(), s) {
				t.Errorf("logs contain %q", s)
			}
		}
	})
	return r
}

// connect runs /authorize, the provider's consent for account (the mock's
// form, with every parameter the authorize URL carried) and /callback.
// It returns the authorize URL's query.
func (r *presetRig) connect(t *testing.T, account string) url.Values {
	t.Helper()
	ctx := context.Background()
	resp, err := r.h.Authorize(ctx, apiRequest("/authorize", ""))
	if err != nil || resp.StatusCode != http.StatusFound || len(resp.Cookies) != 1 {
		t.Fatalf("authorize: got %d %v; body %.200s", resp.StatusCode, err, resp.Body)
	}
	cookie, err := http.ParseSetCookie(resp.Cookies[0])
	if err != nil {
		t.Fatal(err)
	}
	loc, err := url.Parse(resp.Headers["Location"])
	if err != nil {
		t.Fatal(err)
	}
	query := loc.Query()
	back := mockConsent(t, r.srv.URL, loc, account)
	cb, err := r.h.Callback(ctx, apiRequest("/callback", back.RawQuery, cookie.Name+"="+cookie.Value))
	if err != nil || cb.StatusCode != http.StatusOK {
		t.Fatalf("callback: got %d %v; body %.300s\nlogs: %s", cb.StatusCode, err, cb.Body, r.logs)
	}
	return query
}

// presetAccount is the account id each dialect's demo account 1001 comes
// back as, from where the preset reads it.
var presetAccount = map[string]string{
	PresetRingCentral: "1001",
	PresetGoogle:      "sub-1001",                // id_token sub
	PresetMicrosoft:   "sub-1001",                // id_token sub
	PresetSlack:       "T1001",                   // team.id
	PresetGitHub:      "1001",                    // GET /user id, a number
	PresetSalesforce:  "00D000000000001/0051001", // the identity URL's org and user
	PresetAtlassian:   "1001",                    // GET /me account_id
}

// TestPresetLife runs each preset's whole life through the real Handler
// against the mock playing its dialect, on both stores: connect (the
// authorize parameters and scopes the provider needs for a refresh token,
// the account from the preset's source, lifetimes from the response or the
// preset's assumption), a refresh (rotation or not; the old refresh token
// refused, or still working where the provider says so), revocation (or
// none, sending nothing), and an invalid_grant in the provider's own shape
// marking the connection reauth_required.
func TestPresetLife(t *testing.T) {
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range presetAccount {
			if !yield(n) {
				return
			}
		}
	}) {
		t.Run(name, func(t *testing.T) {
			eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
				testPresetLife(t, name, newStore(t))
			})
		})
	}
}

func testPresetLife(t *testing.T, name string, store Store) {
	ctx := context.Background()
	r := newPresetRig(t, name, store)
	p := r.h.Config.Provider
	d := mockrc.Dialects[name]

	// Connect.
	q := r.connect(t, "1001")
	for k, v := range p.AuthorizeParams {
		if q.Get(k) != v {
			t.Errorf("authorize URL: %s=%q, want %q", k, q.Get(k), v)
		}
	}
	for _, s := range p.RequiredScopes {
		if !slices.Contains(strings.Fields(q.Get("scope")), s) {
			t.Errorf("authorize URL: scope %q lacks %q", q.Get("scope"), s)
		}
	}
	account := presetAccount[name]
	now := r.clock.Now()
	c, access, refresh := getOpenFor(t, r.h, name, account)
	if refresh == "" || access == "" || c.Status != StatusActive {
		t.Fatalf("connection: %+v; want active with both tokens", c)
	}
	wantAccess := now.Add(mockrc.DefaultAccessTTL)
	if d.NoExpiresIn {
		wantAccess = now.Add(p.AccessLifetime)
	}
	if !c.AccessExpiresAt.Equal(wantAccess) {
		t.Errorf("access expires at %v, want %v", c.AccessExpiresAt, wantAccess)
	}
	var wantRefresh time.Time
	switch {
	case !d.NoRefreshExpiresIn:
		wantRefresh = now.Add(mockrc.DefaultRefreshTTL)
	case p.RefreshIdle > 0:
		wantRefresh = now.Add(p.RefreshIdle)
	}
	if !c.RefreshExpiresAt.Equal(wantRefresh) {
		t.Errorf("refresh expires at %v, want %v", c.RefreshExpiresAt, wantRefresh)
	}

	// Refresh through the TokenSource near the access token's expiry.
	r.clock.Advance(wantAccess.Sub(now) - 30*time.Second)
	tok, err := r.h.TokenSource(ctx, account).Token()
	if err != nil || tok.AccessToken == access {
		t.Fatalf("refresh: got %v, want a new access token; logs %s", err, r.logs)
	}
	c2, _, refresh2 := getOpenFor(t, r.h, name, account)
	if rotated := refresh2 != refresh; rotated != p.Rotates {
		t.Errorf("refresh token rotated = %v, want %v (the preset's Rotates)", rotated, p.Rotates)
	}
	if !p.Rotates && p.RefreshIdle > 0 && !c2.RefreshExpiresAt.Equal(r.clock.Now().Add(p.RefreshIdle)) {
		t.Errorf("kept refresh token: expires at %v, want its idle lifetime from this use", c2.RefreshExpiresAt)
	}
	// The refresh token used before: refused after a rotation, unless the
	// provider keeps it working (Grace); the same token where none rotates.
	secret, _ := r.h.Secrets.ClientSecret(ctx)
	_, oldErr := r.h.oauth2Config("", secret).TokenSource(r.h.clientContext(ctx), &oauth2.Token{RefreshToken: refresh}).Token()
	if wantOK := !p.Rotates || p.Grace != 0; (oldErr == nil) != wantOK {
		t.Errorf("the previous refresh token after the refresh: err %v, want it working = %v", oldErr, wantOK)
	}

	// Revocation, or none.
	revokes := r.mock.Calls(mockrc.RevokePath)
	if err := r.h.Disconnect(ctx, account); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	if _, err := r.store.GetConnection(ctx, name, account); !errors.Is(err, ErrNotFound) {
		t.Errorf("connection after Disconnect: %v, want ErrNotFound", err)
	}
	got := r.mock.Calls(mockrc.RevokePath) - revokes
	if p.RevokeURL == "" && got != 0 {
		t.Errorf("revocation calls: %d, want none (the preset has no revocation)", got)
	}
	if p.RevokeURL != "" && (got != 1 || r.mock.Sessions("1001") != 0) {
		t.Errorf("revocation: %d calls, %d live sessions; want 1 call, none live", got, r.mock.Sessions("1001"))
	}

	// invalid_grant in the provider's own shape: the user removed the app.
	r.connect(t, "1002")
	account2 := strings.Replace(account, "1001", "1002", 1)
	c3, _, _ := getOpenFor(t, r.h, name, account2)
	r.mock.RevokeAccount("1002")
	r.clock.Advance(c3.AccessExpiresAt.Sub(r.clock.Now()) + time.Second)
	if _, err := r.h.TokenSource(ctx, account2).Token(); !errors.Is(err, ErrReauthRequired) {
		t.Fatalf("refresh after the user removed the app: %v, want ErrReauthRequired; logs %s", err, r.logs)
	}
	if c4, _ := r.store.GetConnection(ctx, name, account2); c4 == nil || c4.Status != StatusReauthRequired || c4.LastError != failInvalidGrant {
		t.Errorf("connection after invalid_grant: %+v, want reauth_required", c4)
	}
}

// getOpenFor is getOpen for a provider other than the handler's default key.
func getOpenFor(t *testing.T, h *Handler, provider, account string) (*Connection, string, string) {
	t.Helper()
	if provider != h.Config.Provider.Name {
		t.Fatalf("provider %q is not the handler's %q", provider, h.Config.Provider.Name)
	}
	return getOpen(t, h, account)
}

// TestPresetGoogleIssuer: Google's redirect back carries its issuer
// (RFC 9207); the preset knows it, so a callback with another iss is
// refused before anything is consumed or sent, and one without iss (Google
// does not promise it) still connects.
func TestPresetGoogleIssuer(t *testing.T) {
	ctx := context.Background()
	r := newPresetRig(t, PresetGoogle, NewMemoryStore())
	resp, err := r.h.Authorize(ctx, apiRequest("/authorize", ""))
	if err != nil || resp.StatusCode != http.StatusFound || len(resp.Cookies) != 1 {
		t.Fatalf("authorize: got %d %v", resp.StatusCode, err)
	}
	cookie, _ := http.ParseSetCookie(resp.Cookies[0])
	loc, _ := url.Parse(resp.Headers["Location"])
	back := mockConsent(t, r.srv.URL, loc, "1001").Query()
	if got := back.Get("iss"); got != "https://accounts.google.com" {
		t.Fatalf("the mock's redirect back: iss %q, want Google's", got)
	}
	calls := r.mock.Calls(mockrc.TokenPath)
	back.Set("iss", "https://login.example.com")
	cb, _ := r.h.Callback(ctx, apiRequest("/callback", back.Encode(), cookie.Name+"="+cookie.Value))
	if cb.StatusCode != http.StatusBadRequest || !strings.Contains(cb.Body, "issuer_mismatch") {
		t.Errorf("another iss: %d %.200s, want 400 issuer_mismatch", cb.StatusCode, cb.Body)
	}
	if got := r.mock.Calls(mockrc.TokenPath); got != calls {
		t.Errorf("token calls %d -> %d after a refused iss", calls, got)
	}
	back.Del("iss")
	if cb, _ := r.h.Callback(ctx, apiRequest("/callback", back.Encode(), cookie.Name+"="+cookie.Value)); cb.StatusCode != http.StatusOK {
		t.Errorf("no iss: %d %.300s, want connected", cb.StatusCode, cb.Body)
	}
}

// TestPresetRefreshNeedsParams: without the authorize parameters and
// scopes a preset adds, the mock (as the provider) issues no refresh token
// and the callback says so: the preset's AuthorizeParams and
// RequiredScopes are what makes a connection last.
func TestPresetRefreshNeedsParams(t *testing.T) {
	for _, name := range []string{PresetGoogle, PresetMicrosoft, PresetSalesforce, PresetAtlassian} {
		t.Run(name, func(t *testing.T) {
			r := newPresetRig(t, name, NewMemoryStore())
			r.h.Config.Provider.AuthorizeParams = nil
			r.h.Config.Scopes = slices.DeleteFunc(r.h.Config.Scopes, func(s string) bool {
				return s == "offline_access" || s == "refresh_token" || (s == "openid" && name == PresetGoogle)
			})
			if name == PresetGoogle {
				// Without openid there is no id_token to name the account:
				// read the userinfo-less sub from a field instead.
				r.h.Config.Provider.IDTokenClaim, r.h.Config.Provider.Account = "", func(*oauth2.Token) (string, error) { return "g-1001", nil }
			}
			r.connect(t, "1001")
			c, err := r.store.GetConnection(context.Background(), name, map[string]string{
				PresetGoogle: "g-1001", PresetMicrosoft: "sub-1001", PresetSalesforce: "00D000000000001/0051001", PresetAtlassian: "1001"}[name])
			if err != nil || c.RefreshToken != "" {
				t.Fatalf("connection: %+v, %v; want one without a refresh token", c, err)
			}
			if !strings.Contains(r.logs.String(), "provider issued no refresh token") {
				t.Errorf("no warning about the missing refresh token: %s", r.logs)
			}
		})
	}
}

// TestPresetConfig: OAUTH_PROVIDER takes every preset, its error lists
// them, server-based presets read OAUTH_SERVER_URL, and the settings still
// override the preset's values.
func TestPresetConfig(t *testing.T) {
	for _, name := range PresetNames() {
		e := with(baseEnv(), "OAUTH_PROVIDER", name)
		if name == PresetGeneric {
			e = with(e, "OAUTH_AUTH_URL", "https://idp.example/a", "OAUTH_TOKEN_URL", "https://idp.example/t", "OAUTH_ACCOUNT_FIELD", "sub")
		}
		c, err := LoadConfig(env(e))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if c.Provider.Name != name || (name != PresetGeneric && (c.Provider.Endpoint.AuthURL == "" || c.Provider.Endpoint.TokenURL == "")) {
			t.Errorf("%s: provider %+v", name, c.Provider)
		}
		if strings.Contains(c.Provider.Endpoint.AuthURL+c.Provider.Endpoint.TokenURL+c.Provider.RevokeURL, "{server}") {
			t.Errorf("%s: endpoints keep {server}", name)
		}
		if len(presetTable()[name].Sources) == 0 {
			t.Errorf("%s: no sources cited", name)
		}
	}
	_, err := LoadConfig(env(with(baseEnv(), "OAUTH_PROVIDER", "gitlab")))
	if err == nil || !strings.Contains(err.Error(), "want one of atlassian, generic, github, google, microsoft, ringcentral, salesforce, slack") {
		t.Errorf("unknown preset: %v", err)
	}

	c, err := LoadConfig(env(with(baseEnv(), "OAUTH_PROVIDER", PresetMicrosoft, "OAUTH_SERVER_URL", "https://login.microsoftonline.com/contoso.onmicrosoft.com",
		"OAUTH_SCOPES", "https://graph.microsoft.com/User.Read offline_access")))
	if err != nil {
		t.Fatal(err)
	}
	if c.Provider.Endpoint.TokenURL != "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token" {
		t.Errorf("microsoft tenant: token URL %q", c.Provider.Endpoint.TokenURL)
	}
	if want := []string{"https://graph.microsoft.com/User.Read", "offline_access", "openid"}; !slices.Equal(c.Scopes, want) {
		t.Errorf("microsoft scopes: %q, want %q (required ones added once)", c.Scopes, want)
	}
	c, err = LoadConfig(env(with(baseEnv(), "OAUTH_PROVIDER", PresetSalesforce)))
	if err != nil || c.Provider.Endpoint.AuthURL != "https://login.salesforce.com/services/oauth2/authorize" || !slices.Equal(c.Scopes, []string{"api", "refresh_token"}) {
		t.Errorf("salesforce defaults: %+v %q, %v", c.Provider.Endpoint, c.Scopes, err)
	}
	c, err = LoadConfig(env(with(baseEnv(), "OAUTH_PROVIDER", PresetSlack, "OAUTH_ACCOUNT_FIELD", "app_id", "OAUTH_TOKEN_URL", "https://slack.example/t")))
	if err != nil || c.Provider.AccountField != "app_id" || c.Provider.Account != nil || c.Provider.Endpoint.TokenURL != "https://slack.example/t" {
		t.Errorf("settings override the preset: %+v, %v", c.Provider, err)
	}
}

// TestPresetErrorCodes: a provider's own error codes (Slack's ok:false
// with HTTP 200, GitHub's form-encoded error with HTTP 200) classify as
// RFC 6749's, and the log keeps the provider's code.
func TestPresetErrorCodes(t *testing.T) {
	tests := []struct {
		preset, ctype, body, want string
	}{
		{PresetSlack, "application/json", `{"ok":false,"error":"invalid_refresh_token"}`, failInvalidGrant},
		{PresetSlack, "application/json", `{"ok":false,"error":"bad_client_secret"}`, failInvalidClient},
		{PresetGitHub, "application/x-www-form-urlencoded", `error=bad_refresh_token&error_description=The+refresh+token+passed+is+incorrect+or+expired.`, failInvalidGrant},
		{PresetGitHub, "application/x-www-form-urlencoded", `error=incorrect_client_credentials`, failInvalidClient},
		{PresetGeneric, "application/json", `{"ok":false,"error":"invalid_refresh_token"}`, failBadResponse},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", tt.ctype)
			_, _ = w.Write([]byte(tt.body))
		}))
		conf := &oauth2.Config{ClientID: "c", Endpoint: oauth2.Endpoint{TokenURL: srv.URL, AuthStyle: oauth2.AuthStyleInParams}}
		_, err := conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: "rt"}).Token()
		srv.Close()
		f := classifyProviderError(err, time.Now(), nil, presetTable()[tt.preset].ErrorCodes)
		if f.kind != tt.want || f.code == "" || f.code == tt.want && tt.preset != PresetGeneric {
			t.Errorf("%s %s: kind %q code %q, want %q with the provider's code kept", tt.preset, tt.body, f.kind, f.code, tt.want)
		}
	}
}
