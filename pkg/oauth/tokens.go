package oauth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// TokenSource returns the account's tokens for the app's own calls to the
// provider, ready for oauth2.NewClient. It serves the stored access token
// while it has more than a minute to live and otherwise refreshes it on
// demand, under the same lease as the sweep: if another holder (the sweep,
// another process) is refreshing, it polls until that holder is done and
// uses its result. Every token call takes a deployment-wide slot first when
// TOKEN_RATE_PER_MIN is set.
//
// ctx is used for every store and provider call the source makes, as with
// oauth2.Config.TokenSource. A rotated refresh token is stored even if ctx
// ends during the refresh. Errors wrap ErrNotFound (no such connection),
// ErrReauthRequired (the user must authorize again), ErrRateLimited or
// ErrBusy (try again later). The returned tokens never carry the refresh
// token.
func (h *Handler) TokenSource(ctx context.Context, accountID string) oauth2.TokenSource {
	return &tokenSource{h: h, ctx: ctx, account: accountID}
}

type tokenSource struct {
	h       *Handler
	ctx     context.Context
	account string

	mu     sync.Mutex
	tok    *oauth2.Token
	issued time.Time // when tok was issued (zero: unknown)
}

// Token implements oauth2.TokenSource.
func (s *tokenSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && fresh(s.tok.Expiry, s.issued, s.h.Now()) {
		t := *s.tok
		return &t, nil
	}
	tok, issued, err := s.h.token(s.ctx, s.account, nil)
	if err != nil {
		return nil, err
	}
	s.tok, s.issued = tok, issued
	t := *tok
	return &t, nil
}

// fresh reports whether an access token issued at issued and expiring at
// exp can still be handed out at now (a zero expiry is unknown: trusted, as
// x/oauth2 does): it must have more than its margin left.
func fresh(exp, issued, now time.Time) bool {
	return exp.IsZero() || exp.After(now.Add(tokenMargin(exp, issued)))
}

// tokenMargin is how long before its expiry an access token is refreshed:
// a quarter of its lifetime, at most tokenSkew (a minute). A fixed minute
// would refresh a 60-s token on every call. An unknown lifetime (issue time
// unknown) gets tokenSkew.
func tokenMargin(exp, issued time.Time) time.Duration {
	if issued.IsZero() || !exp.After(issued) {
		return tokenSkew
	}
	return min(tokenSkew, exp.Sub(issued)/4)
}

// token returns a working access token for the account, refreshing it
// under the lease protocol if needed, and when the token was issued (zero:
// unknown). If used is not nil, it receives the connection the token came
// from (as read or leased).
func (h *Handler) token(ctx context.Context, account string, used *Connection) (*oauth2.Token, time.Time, error) {
	return h.tokenAfter(ctx, account, "", nil, used)
}

// tokenAfter is token for a caller whose access token, stored sealed as
// stale ("": none), was refused by the provider's API (a 401): while the
// stored connection still holds that very sealed value, its access token
// is refreshed under the lease even though its expiry says fresh; once
// another holder has stored another (a refresh, or a new sign-in, which
// starts again at version 1: a version could repeat, a sealed value, with
// its random nonce, cannot), that one's token is used as it is. So concurrent callers refused with the same token make
// one refresh between them. A connection without a refresh token (or
// credential) gives back the same token: nothing better can be had. read,
// when not nil, is the connection its caller has just read (strongly
// consistent): the first pass starts from it instead of reading again.
func (h *Handler) tokenAfter(ctx context.Context, account string, stale string, read, used *Connection) (*oauth2.Token, time.Time, error) {
	if h.needsProvider() {
		return nil, time.Time{}, fmt.Errorf("oauth: token for %s: %w", account, ErrProviderRequired)
	}
	provider := h.Config.Provider.Name
	owner := newOwner("app")
	waitUntil := h.Now().Add(h.providerTimeout() + writeBudget)
	maxPolls := int((h.providerTimeout()+writeBudget)/pollInterval) + 1
	for polls := 0; ; {
		c := read
		read = nil
		if c == nil {
			var err error
			if c, err = h.Store.GetConnection(ctx, provider, account); err != nil {
				return nil, time.Time{}, fmt.Errorf("oauth: token for %s: %w", account, err)
			}
		}
		if c.Status == StatusRevoked {
			return nil, time.Time{}, fmt.Errorf("oauth: token for %s: disconnected (revocation at the provider pending): %w", account, ErrNotFound)
		}
		if c.Status != StatusActive {
			return nil, time.Time{}, fmt.Errorf("oauth: token for %s: connection is %s: %w", account, c.Status, reauthError(c))
		}
		now := h.Now()
		refused := stale != "" && c.AccessToken == stale
		if c.AccessToken != "" && fresh(c.AccessExpiresAt, c.LastRefreshAt, now) && !refused {
			return h.openAccessAt(ctx, c, used)
		}
		if c.RefreshToken == "" && !c.HasCredential() {
			if c.AccessToken != "" && c.AccessExpiresAt.After(now) {
				return h.openAccessAt(ctx, c, used) // nothing better can be had
			}
			return nil, time.Time{}, fmt.Errorf("oauth: token for %s: access token expired and the provider issued no refresh token: %w", account, ErrReauthRequired)
		}
		if !leaseFree(c.LeaseUntil, now) {
			// Another holder is refreshing: poll until it is done.
			polls++
			if polls > maxPolls || now.After(waitUntil) {
				if c.AccessToken != "" && c.AccessExpiresAt.After(now) {
					return h.openAccessAt(ctx, c, used) // still valid, if only just
				}
				return nil, time.Time{}, fmt.Errorf("oauth: token for %s: %w", account, ErrBusy)
			}
			if err := h.sleep(ctx, pollInterval); err != nil {
				return nil, time.Time{}, fmt.Errorf("oauth: token for %s: %w", account, err)
			}
			continue
		}
		leased, err := h.Store.AcquireLease(ctx, provider, account, c.Version, owner, now, now.Add(LeaseDuration))
		if errors.Is(err, ErrConflict) {
			polls++
			if polls > maxPolls {
				return nil, time.Time{}, fmt.Errorf("oauth: token for %s: %w", account, ErrBusy)
			}
			continue // someone else wrote or leased it: re-read
		}
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("oauth: token for %s: %w", account, err)
		}
		notAfter := leased.LeaseUntil.Add(-h.providerTimeout() - writeBudget)
		if err := h.waitTokenCall(ctx, notAfter); err != nil {
			h.release(ctx, leased, owner)
			return nil, time.Time{}, fmt.Errorf("oauth: token for %s: %w", account, err)
		}
		h.Log.DebugContext(ctx, "access token stale; refreshing on demand", "provider", provider, "account_id", account,
			"access_expires_at", c.AccessExpiresAt.UTC().Format(time.RFC3339), "refused_by_api", refused)
		res := h.refreshLeased(ctx, leased, owner, nil)
		h.logOnDemand(ctx, account, res)
		switch res.outcome {
		case outRefreshed:
			setUsed(used, leased)
			return res.token, h.Now(), nil
		case outSkipped:
			// Another writer won (re-read its result), or the lease ran too
			// short for the call: bounded like the other retries.
			polls++
			if polls > maxPolls {
				return nil, time.Time{}, fmt.Errorf("oauth: token for %s: %w", account, ErrBusy)
			}
			continue
		case outStop:
			h.Log.ErrorContext(ctx, "refresh refused: the provider refused the client",
				append([]any{"outcome", res.failure.kind, "account_id", account}, res.failure.logAttrs()...)...)
		}
		return nil, time.Time{}, fmt.Errorf("oauth: token for %s: %w", account, res.err)
	}
}

// openAccessAt is openAccess with the token's issue time; used (if not nil)
// receives c.
func (h *Handler) openAccessAt(ctx context.Context, c *Connection, used *Connection) (*oauth2.Token, time.Time, error) {
	setUsed(used, c)
	tok, err := h.openAccess(ctx, c)
	return tok, c.LastRefreshAt, err
}

// logOnDemand logs the outcome of an on-demand refresh (never a token).
func (h *Handler) logOnDemand(ctx context.Context, account string, res refreshResult) {
	outcomes := map[outcome]string{outRefreshed: "refreshed", outFailed: "failed", outReauth: StatusReauthRequired,
		outRateLimited: "rate_limited", outSkipped: "skipped", outStop: "client_refused"}
	attrs := []any{"provider", h.Config.Provider.Name, "account_id", account, "outcome", outcomes[res.outcome]}
	if res.err != nil {
		attrs = append(attrs, "err", res.err)
	}
	if res.outcome == outRefreshed {
		h.Log.InfoContext(ctx, "access token refreshed on demand", append(attrs, "access_expires_at", res.token.Expiry.UTC().Format(time.RFC3339))...)
		return
	}
	h.Log.InfoContext(ctx, "on-demand refresh did not succeed", attrs...)
}

func setUsed(used, c *Connection) {
	if used != nil {
		*used = *c
	}
}

func (h *Handler) openAccess(ctx context.Context, c *Connection) (*oauth2.Token, error) {
	access, err := h.openSealed(ctx, c.AccessToken, c.Key(), attrAccessToken)
	if err != nil && h.localKeyMismatch(err) {
		return nil, fmt.Errorf("oauth: token for %s: %w: the local OAUTH_TOKEN_KEY is not the deployment's token key", c.AccountID, err)
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: token for %s: open access token: %w", c.AccountID, err)
	}
	return &oauth2.Token{AccessToken: access, TokenType: "Bearer", Expiry: c.AccessExpiresAt}, nil
}

// ConnectionInfo describes a connection for the app and operators. It never
// holds a token.
type ConnectionInfo struct {
	Provider  string
	AccountID string
	EndUser   string // the app's user who connected it, or ""
	Status    string // StatusActive, StatusReauthRequired, StatusRevoked
	Scope     string
	// Source is how the connection was made: SourceBrowser, or
	// SourceJWTBearer or SourceClientCredentials (from a server
	// credential). Empty from
	// ConnectionsForUser: the user-index does not project it.
	Source string

	AccessExpiresAt  time.Time // zero: unknown
	RefreshExpiresAt time.Time // zero: unknown or no refresh token
	HasRefreshToken  bool
	LastRefreshAt    time.Time
	// NextRefreshAt is when the sweep will refresh it; zero: never (no
	// refresh token, or not active).
	NextRefreshAt time.Time
	Failures      int    // failed refreshes in a row
	LastError     string // short code of the last failure, or ""
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Refresh-token states (ConnectionInfo.RefreshState).
const (
	RefreshNone    = "none"    // the provider issued no refresh token
	RefreshUnknown = "unknown" // a refresh token of unknown lifetime
	RefreshKnown   = "known"   // a refresh token expiring at RefreshExpiresAt
)

// RefreshState tells a connection without a refresh token (RefreshNone)
// from one whose refresh token's lifetime is unknown (RefreshUnknown): both
// have a zero RefreshExpiresAt.
func (i ConnectionInfo) RefreshState() string {
	switch {
	case !i.HasRefreshToken:
		return RefreshNone
	case i.RefreshExpiresAt.IsZero():
		return RefreshUnknown
	}
	return RefreshKnown
}

// Info describes c without its tokens.
func (c *Connection) Info() ConnectionInfo {
	return ConnectionInfo{
		Provider:         c.Provider,
		AccountID:        c.AccountID,
		EndUser:          c.EndUser,
		Status:           c.Status,
		Scope:            c.Scope,
		Source:           c.SourceName(),
		AccessExpiresAt:  c.AccessExpiresAt,
		RefreshExpiresAt: c.RefreshExpiresAt,
		HasRefreshToken:  c.RefreshToken != "",
		LastRefreshAt:    c.LastRefreshAt,
		NextRefreshAt:    c.RefreshAt,
		Failures:         c.Failures,
		LastError:        c.LastError,
		CreatedAt:        c.CreatedAt,
		UpdatedAt:        c.UpdatedAt,
	}
}

// Connection describes the account's connection (status, expiries, last
// refresh, failures; never tokens). ErrNotFound if there is none.
func (h *Handler) Connection(ctx context.Context, accountID string) (ConnectionInfo, error) {
	if h.needsProvider() {
		return ConnectionInfo{}, fmt.Errorf("oauth: connection %s: %w", accountID, ErrProviderRequired)
	}
	c, err := h.Store.GetConnection(ctx, h.Config.Provider.Name, accountID)
	if err != nil {
		return ConnectionInfo{}, fmt.Errorf("oauth: connection %s: %w", accountID, err)
	}
	return c.Info(), nil
}

// Connections describes every connection, ordered by key. It reads the
// whole table: for operators' tools, not for request paths.
func (h *Handler) Connections(ctx context.Context) ([]ConnectionInfo, error) {
	cs, err := h.Store.ListConnections(ctx)
	if err != nil {
		return nil, fmt.Errorf("oauth: connections: %w", err)
	}
	out := make([]ConnectionInfo, len(cs))
	for i, c := range cs {
		out[i] = c.Info()
	}
	return out, nil
}
