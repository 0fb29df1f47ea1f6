package main

import (
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
	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// multiConnected returns the Handler of a stack with two providers
// (OAUTH_PROVIDERS: "a" and "b", each a mock with its own client) on a
// MemoryStore, account 1001 connected at each through /authorize/{provider}
// and /callback/{provider}.
func multiConnected(t *testing.T) *oauth.Handler {
	t.Helper()
	providers := map[string]map[string]string{}
	secrets := map[string]string{}
	for _, id := range []string{"a", "b"} {
		rc := mockrc.New(mockrc.Options{ClientID: "client-" + id, ClientSecret: "secret-" + id})
		srv := httptest.NewServer(rc)
		t.Cleanup(srv.Close)
		providers[id] = map[string]string{"preset": "ringcentral", "client_id": "client-" + id, "server_url": srv.URL,
			"redirect_url": "http://127.0.0.1/callback/" + id}
		secrets[id] = "secret-" + id
	}
	pj, _ := json.Marshal(providers)
	sj, _ := json.Marshal(secrets)
	env := map[string]string{"OAUTH_PROVIDERS": string(pj), "OAUTH_CLIENT_SECRET": string(sj),
		"OAUTH_TOKEN_KEY": "ops test token key, at least thirty-two characters", "OAUTH_APP_KEY": "ops test app key, at least thirty-two characters",
		"TABLE_NAME": "t", "REQUIRE_CONNECT_TOKEN": "false", "REQUIRE_CONFIRM": "false",
		"ALLOWED_RETURN_URLS": "https://app.example/done"}
	cfg, err := oauth.LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	sec, err := oauth.SecretsFromConfig(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := oauth.NewHandler(cfg, oauth.NewMemoryStore(), sec)
	h.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	h.Metrics = io.Discard
	h.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	ctx := context.Background()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for id := range providers {
		params := map[string]string{"provider": id}
		auth, _ := h.Authorize(ctx, events.APIGatewayV2HTTPRequest{RawPath: "/authorize/" + id, PathParameters: params})
		loc, err := url.Parse(auth.Headers["Location"])
		if err != nil || auth.StatusCode != http.StatusFound {
			t.Fatalf("authorize/%s: %d %s", id, auth.StatusCode, auth.Body)
		}
		form := loc.Query()
		form.Set("account", "1001")
		resp, err := noFollow.PostForm(loc.Scheme+"://"+loc.Host+mockrc.DecidePath, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		back, _ := url.Parse(resp.Header.Get("Location"))
		cookie := strings.SplitN(auth.Cookies[0], ";", 2)[0]
		cb, _ := h.Callback(ctx, events.APIGatewayV2HTTPRequest{RawPath: "/callback/" + id, PathParameters: params,
			RawQueryString: back.RawQuery, Cookies: []string{cookie}})
		if cb.StatusCode != http.StatusOK {
			t.Fatalf("callback/%s: %d %s", id, cb.StatusCode, cb.Body)
		}
	}
	return h
}

// The operators' commands with several providers: -provider picks the
// provider (required, and checked), token answers that provider's token,
// list names each connection's provider, connect-url signs a token for the
// provider's own /authorize/{provider} route.
func TestOpsSeveralProviders(t *testing.T) {
	h := multiConnected(t)
	ctx := context.Background()
	for _, id := range []string{"", "c"} {
		if _, err := forProvider(h, id); err == nil || !strings.Contains(err.Error(), "a, b") {
			t.Errorf("-provider %q = %v, want an error naming a and b", id, err)
		}
	}
	tokens := map[string]string{}
	for _, id := range []string{"a", "b"} {
		v, err := forProvider(h, id)
		if err != nil {
			t.Fatal(err)
		}
		out := capture(t)
		if err := runToken(ctx, v, []string{"1001"}); err != nil {
			t.Fatalf("token -provider %s: %v", id, err)
		}
		tokens[id] = strings.TrimSpace(out.String())
	}
	if tokens["a"] == "" || tokens["a"] == tokens["b"] {
		t.Errorf("tokens %v: want one per provider", tokens)
	}
	if err := runToken(ctx, h, []string{"1001"}); err == nil {
		t.Error("token without -provider on the root: no error")
	}
	out := capture(t)
	if err := runList(ctx, h, nil); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "PROVIDER") || !strings.HasPrefix(lines[1], "a ") || !strings.HasPrefix(lines[2], "b ") {
		t.Errorf("list =\n%s\nwant a provider column", out)
	}

	v, _ := forProvider(h, "b")
	v.Config.RequireConnectToken = true
	out = capture(t)
	if err := runConnectURL(ctx, v, []string{"-provider", "b", "-user", "u", "-return-to", "https://app.example/done"}); err != nil {
		t.Fatal(err)
	}
	link, err := url.Parse(strings.TrimSpace(out.String()))
	if err != nil || link.Path != "/authorize/b" {
		t.Fatalf("connect-url printed %q, want /authorize/b", out.String())
	}
	keys, _ := v.Secrets.AppKeys(ctx)
	req, err := keys.VerifyToken(link.Query().Get("connect"))
	if err != nil || req.Provider != "b" {
		t.Errorf("connect-url token = %+v, %v; want provider b", req, err)
	}
}

// The dev server plays one provider: with -provider env, OAUTH_PROVIDERS is
// refused at start-up with a line saying so (-provider mock ignores every
// OAUTH_ variable, this one too).
func TestDevRefusesSeveralProviders(t *testing.T) {
	_, err := newDevServer(testenv.Context(t), devOptions{
		Addr: "127.0.0.1:8080", Provider: providerEnv, Store: storeMemory,
		Getenv: envMap(map[string]string{"OAUTH_PROVIDERS": `{"a":{"preset":"ringcentral","client_id":"x"}}`}),
	})
	if err == nil || !strings.Contains(err.Error(), "OAUTH_PROVIDERS") {
		t.Errorf("newDevServer with OAUTH_PROVIDERS = %v, want a start-up error naming it", err)
	}
}
