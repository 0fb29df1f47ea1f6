package oauth

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// Secrets supplies the client secret, the token sealer and the app key.
// SecretsManager fetches them from AWS Secrets Manager and caches them per
// execution environment; StaticSecrets holds local-development values.
type Secrets interface {
	ClientSecret(ctx context.Context) (Secret, error)
	Sealer(ctx context.Context) (*Sealer, error)
	// AppKeys returns the app key: Current (AWSCURRENT) signs results,
	// Current and Previous (AWSPREVIOUS) verify connect tokens.
	AppKeys(ctx context.Context) (connect.Keys, error)
}

// Handler serves /authorize and /callback and runs the refresh sweep. Build
// it once per execution environment (outside the Lambda handler); its methods
// are safe for concurrent use.
type Handler struct {
	Config  Config
	Store   Store
	Secrets Secrets
	// HTTPClient calls the provider (token, revoke, userinfo). Its Timeout
	// bounds every provider call; NewHandler sets 10 s.
	HTTPClient *http.Client
	// Log receives structured logs; NewHandler uses slog.Default().
	Log *slog.Logger
	// Now is the clock; NewHandler uses time.Now.
	Now func() time.Time
	// Sleep waits d, or less if ctx ends first (then it returns ctx's
	// error): rate-limit waits, lease polling, write retries. Nil waits on a
	// timer; tests inject a fake clock's.
	Sleep func(ctx context.Context, d time.Duration) error
	// Metrics receives the sweep's CloudWatch Embedded Metric Format lines;
	// nil writes them to os.Stdout, where Lambda hands them to CloudWatch.
	Metrics io.Writer

	// revokeLimit, when set, replaces revokeTimeout as the bound of a
	// revocation at /callback: tests whose revocation endpoint answers for
	// real give a generous one (SetRevokeLimit in export_test.go), so a
	// loaded machine cannot cut a real answer.
	revokeLimit time.Duration

	// pausedUntil (unix ms) is this execution environment's copy of a 429
	// pause: with TOKEN_RATE_PER_MIN=0 there is no shared limiter item, so
	// the pause holds only here.
	pausedUntil atomic.Int64
}

// ProviderTimeout bounds every call to the provider.
const ProviderTimeout = 10 * time.Second

// NewHandler returns a Handler with the default clock, logger and HTTP client.
func NewHandler(cfg Config, store Store, secrets Secrets) *Handler {
	return &Handler{
		Config:     cfg,
		Store:      store,
		Secrets:    secrets,
		HTTPClient: &http.Client{Timeout: ProviderTimeout},
		Log:        slog.Default(),
		Now:        time.Now,
	}
}
