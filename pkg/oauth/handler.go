package oauth

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
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

	// providerID is set in a provider's view of a stack with
	// OAUTH_PROVIDERS (ForProvider); root is the handler it came from.
	providerID string
	root       *Handler
	views      sync.Map // provider id -> *Handler, on the root
}

// ProviderSecrets is implemented by Secrets that hold one client secret per
// provider (OAUTH_PROVIDERS): SecretsManager and StaticSecrets.
type ProviderSecrets interface {
	ProviderClientSecret(ctx context.Context, id string) (Secret, error)
}

// ForProvider returns the handler of one provider of the stack: its
// Config's Provider, ClientID, RedirectURL, Scopes and TokenRatePerMin
// are the provider's, its client secret the provider's, its 429 pause its
// own. A single-provider stack is its own only view (id "" or the
// provider's name). False for an id the configuration does not name. Views
// are built once, on first use, and share the store, secrets, HTTP client,
// logger and clock.
func (h *Handler) ForProvider(id string) (*Handler, bool) {
	if h.root != nil {
		if id == h.providerID {
			return h, true
		}
		return h.root.ForProvider(id)
	}
	if !h.Config.Named() {
		return h, id == "" || id == h.Config.Provider.Name
	}
	if v, ok := h.views.Load(id); ok {
		return v.(*Handler), true
	}
	pc, ok := h.Config.providerConfig(id)
	if !ok {
		return nil, false
	}
	cfg := h.Config
	cfg.Provider, cfg.ClientID, cfg.RedirectURL, cfg.Scopes, cfg.TokenRatePerMin = pc.Provider, pc.ClientID, pc.RedirectURL, pc.Scopes, pc.TokenRatePerMin
	v := &Handler{
		Config: cfg, Store: h.Store, Secrets: h.Secrets, HTTPClient: h.HTTPClient,
		Log: h.Log, Now: h.Now, Sleep: h.Sleep, Metrics: h.Metrics,
		revokeLimit: h.revokeLimit, providerID: id, root: h,
	}
	got, _ := h.views.LoadOrStore(id, v)
	return got.(*Handler), true
}

// clientSecret is the client secret of h's provider.
func (h *Handler) clientSecret(ctx context.Context) (Secret, error) {
	if h.providerID == "" {
		return h.Secrets.ClientSecret(ctx)
	}
	ps, ok := h.Secrets.(ProviderSecrets)
	if !ok {
		return "", fmt.Errorf("oauth: client secret for provider %q: %T holds no client secret per provider", h.providerID, h.Secrets)
	}
	return ps.ProviderClientSecret(ctx, h.providerID)
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
