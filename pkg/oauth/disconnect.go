package oauth

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrRevocationPending: Disconnect could not revoke the session at the
// provider. The connection is kept with status revoked (its tokens still
// sealed, out of every token path) and the sweep retries the revocation
// until it succeeds or the refresh token expires.
var ErrRevocationPending = errors.New("oauth: revocation at the provider pending")

// lastErrorRevocation is the last_error of a revoked connection whose
// revocation has not succeeded yet.
const lastErrorRevocation = "revocation_failed"

// Disconnect revokes the account's session at the provider and deletes the
// connection, under the lease (a refresh in flight finishes first). When
// the revocation fails, the connection is not deleted, which would leave a
// live session with nothing to revoke it: it is kept as revoked, out of
// every token path, the sweep retries the revocation (with backoff) until
// it succeeds or the refresh token expires, and the error wraps
// ErrRevocationPending. A provider without a revocation endpoint gets the
// delete only. Disconnecting an unknown account is ErrNotFound.
func (h *Handler) Disconnect(ctx context.Context, accountID string) error {
	if h.needsProvider() {
		return fmt.Errorf("oauth: disconnect %s: %w", accountID, ErrProviderRequired)
	}
	provider := h.Config.Provider.Name
	owner := newOwner("disconnect")
	waitUntil := h.Now().Add(h.providerTimeout() + writeBudget)
	for {
		c, err := h.Store.GetConnection(ctx, provider, accountID)
		if err != nil {
			return fmt.Errorf("oauth: disconnect %s: %w", accountID, err)
		}
		now := h.Now()
		if leaseFree(c.LeaseUntil, now) {
			leased, err := h.Store.AcquireLease(ctx, provider, accountID, c.Version, owner, now, now.Add(LeaseDuration))
			if err == nil {
				return h.disconnectLeased(ctx, leased, owner)
			}
			if !errors.Is(err, ErrConflict) {
				return fmt.Errorf("oauth: disconnect %s: %w", accountID, err)
			}
		}
		if now.After(waitUntil) {
			return fmt.Errorf("oauth: disconnect %s: %w", accountID, ErrBusy)
		}
		if err := h.sleep(ctx, pollInterval); err != nil {
			return fmt.Errorf("oauth: disconnect %s: %w", accountID, err)
		}
	}
}

// disconnectLeased revokes the leased connection's session and deletes it,
// or keeps it as revoked for the sweep to retry.
func (h *Handler) disconnectLeased(ctx context.Context, c *Connection, owner string) error {
	revokeErr := h.revokeSession(ctx, c)
	if revokeErr == nil {
		if err := h.Store.DeleteConnection(ctx, c.Provider, c.AccountID); err != nil {
			h.release(ctx, c, owner)
			return fmt.Errorf("oauth: disconnect %s: session revoked, but the connection could not be deleted: %w", c.AccountID, err)
		}
		h.Log.InfoContext(ctx, "account disconnected", "account_id", c.AccountID, "outcome", "disconnected")
		return nil
	}
	if err := h.keepRevoked(ctx, c, owner, h.Now()); err != nil {
		return fmt.Errorf("oauth: disconnect %s: the provider did not revoke the session (%w), and the connection could not be marked revoked: %w", c.AccountID, revokeErr, err)
	}
	h.Log.WarnContext(ctx, "disconnect: the provider did not revoke the session; the connection is kept as revoked and the sweep retries the revocation",
		append([]any{"account_id", c.AccountID, "outcome", StatusRevoked, "err", revokeErr}, refusalAttrs(revokeErr)...)...)
	return fmt.Errorf("oauth: disconnect %s: the provider did not revoke the session (%v); the connection is kept as revoked, out of every token path, and the sweep retries the revocation: %w",
		c.AccountID, revokeErr, ErrRevocationPending)
}

// keepRevoked ends owner's lease on c with status revoked, the tokens kept,
// and the next revocation attempt as its refresh_at (backoff on failures,
// never after the refresh token's expiry).
func (h *Handler) keepRevoked(ctx context.Context, c *Connection, owner string, now time.Time) error {
	next := *c
	if c.Status != StatusRevoked {
		next.Failures = 0
	}
	next.Status = StatusRevoked
	next.Failures++
	next.LastError = lastErrorRevocation
	next.UpdatedAt = now
	next.RefreshAt = backoff(next.Failures, next.RefreshExpiresAt, now)
	return h.completeLease(ctx, &next, owner)
}

// revocationDue reports whether the sweep should retry c's revocation at now.
func revocationDue(c *Connection, now time.Time) bool {
	return c.Status == StatusRevoked && !c.RefreshAt.IsZero() && !c.RefreshAt.After(now)
}

// retryRevocation is the sweep's work on a leased revoked connection: its
// session is revoked and the item deleted; once the refresh token has
// expired the session ended on its own and the item is deleted without a
// call; otherwise the next attempt is scheduled.
func (h *Handler) retryRevocation(ctx context.Context, c *Connection, owner string) refreshResult {
	log := h.Log.With("provider", c.Provider, "account_id", c.AccountID)
	now := h.Now()
	expired := !c.RefreshExpiresAt.IsZero() && !c.RefreshExpiresAt.After(now)
	var err error
	if !expired {
		err = h.revokeSession(ctx, c)
	}
	if err == nil {
		if derr := h.Store.DeleteConnection(ctx, c.Provider, c.AccountID); derr != nil {
			h.release(ctx, c, owner)
			return refreshResult{outcome: outFailed, err: fmt.Errorf("oauth: revocation retry: delete: %w", derr)}
		}
		if expired {
			log.InfoContext(ctx, "revocation given up: the refresh token expired, so the session ended on its own; connection deleted", "outcome", "revoked")
		} else {
			log.InfoContext(ctx, "revocation retried: session revoked and connection deleted", "outcome", "revoked")
		}
		return refreshResult{outcome: outRevoked}
	}
	if kerr := h.keepRevoked(ctx, c, owner, now); kerr != nil {
		return refreshResult{outcome: outFailed, err: fmt.Errorf("oauth: revocation retry: %w", errors.Join(err, kerr))}
	}
	log.WarnContext(ctx, "revocation retry failed; retrying later", append([]any{"outcome", "failed", "err", err}, refusalAttrs(err)...)...)
	return refreshResult{outcome: outFailed, err: fmt.Errorf("oauth: revocation retry: %w", err)}
}
