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

	mu  sync.Mutex
	tok *oauth2.Token
}

// Token implements oauth2.TokenSource.
func (s *tokenSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tok != nil && s.h.fresh(s.tok.Expiry, s.h.Now()) {
		t := *s.tok
		return &t, nil
	}
	tok, err := s.h.token(s.ctx, s.account, nil)
	if err != nil {
		return nil, err
	}
	s.tok = tok
	t := *tok
	return &t, nil
}

// fresh reports whether an access token expiring at exp can still be handed
// out at now (a zero expiry is unknown: trusted, as x/oauth2 does).
func (h *Handler) fresh(exp, now time.Time) bool {
	return exp.IsZero() || exp.After(now.Add(tokenSkew))
}

// token returns a working access token for the account, refreshing it
// under the lease protocol if needed. If used is not nil, it receives the
// connection the token came from (as read or leased).
func (h *Handler) token(ctx context.Context, account string, used *Connection) (*oauth2.Token, error) {
	provider := h.Config.Provider.Name
	owner := newOwner("app")
	waitUntil := h.Now().Add(h.providerTimeout() + writeBudget)
	maxPolls := int((h.providerTimeout()+writeBudget)/pollInterval) + 1
	for polls := 0; ; {
		c, err := h.Store.GetConnection(ctx, provider, account)
		if err != nil {
			return nil, fmt.Errorf("oauth: token for %s: %w", account, err)
		}
		if c.Status != StatusActive {
			return nil, fmt.Errorf("oauth: token for %s: connection is %s: %w", account, c.Status, ErrReauthRequired)
		}
		now := h.Now()
		if c.AccessToken != "" && h.fresh(c.AccessExpiresAt, now) {
			setUsed(used, c)
			return h.openAccess(ctx, c)
		}
		if c.RefreshToken == "" {
			return nil, fmt.Errorf("oauth: token for %s: access token expired and the provider issued no refresh token: %w", account, ErrReauthRequired)
		}
		if !leaseFree(c.LeaseUntil, now) {
			// Another holder is refreshing: poll until it is done.
			polls++
			if polls > maxPolls || now.After(waitUntil) {
				if c.AccessToken != "" && c.AccessExpiresAt.After(now) {
					setUsed(used, c)
					return h.openAccess(ctx, c) // still valid, if only just
				}
				return nil, fmt.Errorf("oauth: token for %s: %w", account, ErrBusy)
			}
			if err := h.sleep(ctx, pollInterval); err != nil {
				return nil, fmt.Errorf("oauth: token for %s: %w", account, err)
			}
			continue
		}
		leased, err := h.Store.AcquireLease(ctx, provider, account, c.Version, owner, now, now.Add(LeaseDuration))
		if errors.Is(err, ErrConflict) {
			polls++
			if polls > maxPolls {
				return nil, fmt.Errorf("oauth: token for %s: %w", account, ErrBusy)
			}
			continue // someone else wrote or leased it: re-read
		}
		if err != nil {
			return nil, fmt.Errorf("oauth: token for %s: %w", account, err)
		}
		notAfter := leased.LeaseUntil.Add(-h.providerTimeout() - writeBudget)
		if err := h.waitTokenCall(ctx, notAfter); err != nil {
			h.release(ctx, leased, owner)
			return nil, fmt.Errorf("oauth: token for %s: %w", account, err)
		}
		res := h.refreshLeased(ctx, leased, owner, nil)
		switch res.outcome {
		case outRefreshed:
			setUsed(used, leased)
			return res.token, nil
		case outSkipped:
			// Another writer won (re-read its result), or the lease ran too
			// short for the call: bounded like the other retries.
			polls++
			if polls > maxPolls {
				return nil, fmt.Errorf("oauth: token for %s: %w", account, ErrBusy)
			}
			continue
		case outStop:
			h.Log.ErrorContext(ctx, "refresh refused: the provider refused the client",
				append([]any{"outcome", res.failure.kind, "account_id", account}, res.failure.logAttrs()...)...)
		}
		return nil, fmt.Errorf("oauth: token for %s: %w", account, res.err)
	}
}

func setUsed(used, c *Connection) {
	if used != nil {
		*used = *c
	}
}

func (h *Handler) openAccess(ctx context.Context, c *Connection) (*oauth2.Token, error) {
	sealer, err := h.Secrets.Sealer(ctx)
	if err != nil {
		return nil, fmt.Errorf("oauth: token for %s: token key: %w", c.AccountID, err)
	}
	access, err := sealer.Open(c.AccessToken, c.Key())
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

// Info describes c without its tokens.
func (c *Connection) Info() ConnectionInfo {
	return ConnectionInfo{
		Provider:         c.Provider,
		AccountID:        c.AccountID,
		EndUser:          c.EndUser,
		Status:           c.Status,
		Scope:            c.Scope,
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

// Disconnect revokes the account's session at the provider and deletes the
// connection. The delete happens even when the revocation fails (the user
// asked to be disconnected; the session then ends on its own when its
// refresh token expires): the error returned then wraps the revocation's.
// A provider without a revocation endpoint gets the delete only, and no
// error. Disconnecting an unknown account is not an error.
func (h *Handler) Disconnect(ctx context.Context, accountID string) error {
	provider := h.Config.Provider.Name
	c, err := h.Store.GetConnection(ctx, provider, accountID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("oauth: disconnect %s: %w", accountID, err)
	}
	revokeErr := h.revokeConnection(ctx, c)
	if err := h.Store.DeleteConnection(ctx, provider, accountID); err != nil {
		return fmt.Errorf("oauth: disconnect %s: %w", accountID, errors.Join(err, revokeErr))
	}
	if revokeErr != nil {
		h.Log.WarnContext(ctx, "disconnected, but the provider did not revoke the session",
			append([]any{"account_id", accountID, "err", revokeErr}, refusalAttrs(revokeErr)...)...)
		return fmt.Errorf("oauth: disconnect %s: connection deleted, revocation failed: %w", accountID, revokeErr)
	}
	h.Log.InfoContext(ctx, "account disconnected", "account_id", accountID)
	return nil
}

// revokeConnection revokes c's refresh token (RingCentral ends the whole
// session given either token), or its access token when it has none.
func (h *Handler) revokeConnection(ctx context.Context, c *Connection) error {
	if h.Config.Provider.RevokeURL == "" {
		return nil
	}
	sealed := c.RefreshToken
	if sealed == "" {
		sealed = c.AccessToken
	}
	if sealed == "" {
		return nil
	}
	sealer, err := h.Secrets.Sealer(ctx)
	if err != nil {
		return fmt.Errorf("oauth: revoke: token key: %w", err)
	}
	tok, err := sealer.Open(sealed, c.Key())
	if err != nil {
		return fmt.Errorf("oauth: revoke: open token: %w", err)
	}
	return h.revoke(ctx, tok)
}
