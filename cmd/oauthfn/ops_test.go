package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/pkg/oauth"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

type testSecrets struct{ sealer *oauth.Sealer }

func (testSecrets) ClientSecret(context.Context) (oauth.Secret, error) {
	return mockrc.DefaultClientSecret, nil
}
func (s testSecrets) Sealer(context.Context) (*oauth.Sealer, error) { return s.sealer, nil }
func (testSecrets) AppKeys(context.Context) (connect.Keys, error) {
	return connect.Keys{Current: "ops test app key, at least thirty-two characters"}, nil
}

// connected returns a Handler on a MemoryStore with account 1001 connected
// at mockrc through /authorize and /callback.
func connected(t *testing.T) (*oauth.Handler, *mockrc.Server) {
	t.Helper()
	rc := mockrc.New(mockrc.Options{})
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	sealer, err := oauth.NewSealer("ops test token key, at least thirty-two characters")
	if err != nil {
		t.Fatal(err)
	}
	cfg := oauth.Config{Provider: oauth.RingCentral(srv.URL), ClientID: mockrc.DefaultClientID,
		RedirectURL: "http://127.0.0.1/callback", RefreshMode: oauth.ModeKeepalive,
		KeepaliveMargin: 48 * time.Hour, SweepConcurrency: 2}
	h := oauth.NewHandler(cfg, oauth.NewMemoryStore(), testSecrets{sealer})
	h.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	h.Metrics = io.Discard
	h.HTTPClient = &http.Client{Timeout: 30 * time.Second} // mockrc answers for real: a bound load never reaches
	ctx := context.Background()
	auth, _ := h.Authorize(ctx, events.APIGatewayV2HTTPRequest{RawPath: "/authorize"})
	loc, _ := url.Parse(auth.Headers["Location"])
	form := loc.Query()
	form.Set("account", "1001")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.PostForm(srv.URL+mockrc.DecidePath, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))
	cookie := strings.SplitN(auth.Cookies[0], ";", 2)[0]
	cb, _ := h.Callback(ctx, events.APIGatewayV2HTTPRequest{RawPath: "/callback", RawQueryString: back.RawQuery, Cookies: []string{cookie}})
	if cb.StatusCode != http.StatusOK {
		t.Fatalf("callback: %d %s", cb.StatusCode, cb.Body)
	}
	return h, rc
}

func capture(t *testing.T) *bytes.Buffer {
	t.Helper()
	var b bytes.Buffer
	old := stdout
	stdout = &b
	t.Cleanup(func() { stdout = old })
	return &b
}

func TestOps(t *testing.T) {
	h, rc := connected(t)
	ctx := context.Background()

	out := capture(t)
	if err := runList(ctx, h, nil); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, "ACCOUNT") || !strings.Contains(got, "1001") || !strings.Contains(got, "active") || strings.Contains(got, "mockrc_") {
		t.Errorf("list: got %q, want a table row for 1001 without tokens", got)
	}

	out.Reset()
	if err := runToken(ctx, h, []string{"1001"}); err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(out.String())
	req, _ := http.NewRequest(http.MethodGet, h.Config.Provider.Endpoint.AuthURL[:strings.Index(h.Config.Provider.Endpoint.AuthURL, "/restapi")]+mockrc.ExtensionPath, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(tok, "mockrc_at_") {
		t.Errorf("token: got %q answering %d, want a working access token", tok, resp.StatusCode)
	}

	out.Reset()
	if err := runSweep(ctx, h, []string{"-shard-from", "0", "-shard-to", "15"}); err != nil {
		t.Fatal(err)
	}
	var sum oauth.SweepSummary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("sweep output %q: %v", out.String(), err)
	}
	if err := runSweep(ctx, h, []string{"-shard-from", "9", "-shard-to", "3"}); err == nil {
		t.Error("sweep with a reversed range: got nil error")
	}

	out.Reset()
	if err := runDisconnect(ctx, h, []string{"1001"}); err != nil {
		t.Fatal(err)
	}
	if rc.Sessions("1001") != 0 {
		t.Errorf("session still live at the provider after disconnect")
	}
	if _, err := h.Connection(ctx, "1001"); err == nil {
		t.Error("connection still stored after disconnect")
	}
	// Disconnecting it again (or any unknown account) fails and says so.
	if err := runDisconnect(ctx, h, []string{"1001"}); err == nil || !strings.Contains(err.Error(), "account 1001 is not connected") {
		t.Errorf("disconnect of a missing account: got %v, want an error saying it is not connected", err)
	}

	for _, bad := range []struct {
		name string
		run  func(context.Context, *oauth.Handler, []string) error
		args []string
	}{
		{"token without account", runToken, nil},
		{"disconnect with two", runDisconnect, []string{"a", "b"}},
		{"list with args", runList, []string{"x"}},
	} {
		if err := bad.run(ctx, h, bad.args); err == nil {
			t.Errorf("%s: got nil error", bad.name)
		}
	}
}

// Issue 10 item 20: `list` tells a connection without a refresh token from
// one whose refresh token's lifetime is unknown, and shows a refusal of the
// client as the last error.
func TestListRefreshStates(t *testing.T) {
	store := oauth.NewMemoryStore()
	now := time.Now()
	for _, c := range []*oauth.Connection{
		{Provider: "p", AccountID: "no-refresh", Status: oauth.StatusActive, Version: 1, AccessToken: "sealed"},
		{Provider: "p", AccountID: "unknown-lifetime", Status: oauth.StatusActive, Version: 1, AccessToken: "sealed", RefreshToken: "sealed"},
		{Provider: "p", AccountID: "refused", Status: oauth.StatusActive, Version: 1, AccessToken: "sealed", RefreshToken: "sealed",
			RefreshExpiresAt: now.Add(time.Hour), LastError: "invalid_client"},
	} {
		if _, err := store.PutConnection(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	out := capture(t)
	h := &oauth.Handler{Config: oauth.Config{Provider: oauth.Provider{Name: "p"}}, Store: store}
	if err := runList(context.Background(), h, nil); err != nil {
		t.Fatal(err)
	}
	for account, want := range map[string]string{
		"no-refresh":       "none (no refresh token)",
		"unknown-lifetime": "unknown (lifetime not given)",
		"refused":          "invalid_client",
	} {
		line := ""
		for l := range strings.SplitSeq(out.String(), "\n") {
			if strings.HasPrefix(l, account+" ") {
				line = l
			}
		}
		if !strings.Contains(line, want) {
			t.Errorf("%s: line %q lacks %q", account, line, want)
		}
	}
}

// connect-url prints a link whose token the deployment's /authorize
// accepts, once.
func TestConnectURL(t *testing.T) {
	h, _ := connected(t)
	h.Config.RequireConnectToken = true
	h.Config.AllowedReturn = []oauth.ReturnPrefix{{Scheme: "https", Host: "app.example", Path: "/done"}}
	ctx := context.Background()
	out := capture(t)
	if err := runConnectURL(ctx, h, []string{"-user", "user-9", "-return-to", "https://app.example/done", "-app-state", "s"}); err != nil {
		t.Fatal(err)
	}
	link, err := url.Parse(strings.TrimSpace(out.String()))
	if err != nil || link.String() != "http://127.0.0.1/authorize?"+link.RawQuery {
		t.Fatalf("connect-url printed %q, want OAUTH_REDIRECT_URL's /authorize", out.String())
	}
	keys, _ := h.Secrets.AppKeys(ctx)
	req, err := keys.VerifyToken(link.Query().Get("connect"))
	if err != nil || req.User != "user-9" || req.ReturnTo != "https://app.example/done" || req.AppState != "s" {
		t.Errorf("printed token = %+v, %v", req, err)
	}
	for i, want := range []int{302, 401} {
		resp, _ := h.Authorize(ctx, events.APIGatewayV2HTTPRequest{RawPath: "/authorize", RawQueryString: link.RawQuery})
		if resp.StatusCode != want {
			t.Errorf("authorize #%d with the printed link = %d, want %d", i+1, resp.StatusCode, want)
		}
	}
	rt := []string{"-return-to", "https://app.example/done"}
	for _, args := range [][]string{nil, append([]string{"-user", "u", "extra"}, rt...), append([]string{"-user", "u", "-ttl", "1h"}, rt...), append([]string{"-user", "bad\nuser"}, rt...)} {
		if err := runConnectURL(ctx, h, args); err == nil {
			t.Errorf("connect-url %q: got nil error", args)
		}
	}
	// Confirmation needs someone at return_to to confirm.
	h.Config.RequireConfirm = true
	if err := runConnectURL(ctx, h, []string{"-user", "u"}); err == nil || !strings.Contains(err.Error(), "-return-to is required") {
		t.Errorf("connect-url without -return-to under REQUIRE_CONFIRM = %v, want it refused", err)
	}
	h.Config.RequireConfirm = false
	out.Reset()
	if err := runConnectURL(ctx, h, []string{"-user", "u"}); err != nil || !strings.Contains(out.String(), "connect=") {
		t.Errorf("connect-url without -return-to, REQUIRE_CONFIRM=false = %v, %q; want a link", err, out.String())
	}
}

// TestOpsErrorsExplained: library errors become what happened and what to
// do, for the account at hand, without "oauth: " prefixes.
func TestOpsErrorsExplained(t *testing.T) {
	h, _ := connected(t)
	ctx := context.Background()
	capture(t)

	c, err := h.Store.GetConnection(ctx, h.Config.Provider.Name, "1001")
	if err != nil {
		t.Fatal(err)
	}
	c.Status = oauth.StatusReauthRequired
	if _, err := h.Store.PutConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		run  func(context.Context, *oauth.Handler, []string) error
		args []string
		want string
	}{
		{"token for an unknown account", runToken, []string{"alice"}, "no connection for account alice: send the user to /authorize"},
		{"token for an account that must reconnect", runToken, []string{"1001"}, "account 1001 must connect again (its refresh token was refused or the session ended): send the user to /authorize"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run(ctx, h, tt.args)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to start %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "oauth: ") {
				t.Errorf("error stutters: %q", err)
			}
		})
	}
}
