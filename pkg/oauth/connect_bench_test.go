package oauth

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// BenchmarkAuthorizeConnectToken is /authorize on the memory store, anonymous and with a
// connect token (HS256 verification and claim checks, the jti spent in the
// same write): compare the two ns/op figures of one run for what the token
// costs. Tokens are minted before the timer starts.
func BenchmarkAuthorizeConnectToken(b *testing.B) {
	for _, require := range []string{"false", "true"} {
		b.Run("require_connect_token="+require, func(b *testing.B) {
			cfg, err := LoadConfig(env(with(baseEnv(), "OAUTH_PROVIDER", "generic", "OAUTH_AUTH_URL", "https://idp.example/authorize",
				"OAUTH_TOKEN_URL", "https://idp.example/token", "OAUTH_ACCOUNT_FIELD", "owner_id",
				"ALLOWED_RETURN_URLS", "https://app.example/done", "REQUIRE_CONNECT_TOKEN", require)))
			if err != nil {
				b.Fatal(err)
			}
			secrets, err := NewStaticSecrets(cfg.ClientSecret, cfg.TokenKey, cfg.AppKey)
			if err != nil {
				b.Fatal(err)
			}
			h := NewHandler(cfg, NewMemoryStore(), secrets)
			h.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
			queries := make([]string, b.N)
			for i := range queries {
				queries[i] = "return_to=https%3A%2F%2Fapp.example%2Fdone&app_state=s"
				if require == "true" {
					tok, err := connect.Token(testAppKey, "user-1", connect.Options{ReturnTo: "https://app.example/done", AppState: "s"})
					if err != nil {
						b.Fatal(err)
					}
					queries[i] = "connect=" + tok
				}
			}
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				if resp, _ := h.Authorize(ctx, apiRequest("/authorize", queries[i])); resp.StatusCode != 302 {
					b.Fatalf("authorize = %d: %s", resp.StatusCode, resp.Body)
				}
			}
		})
	}
}
