package oauth

import (
	"context"
	"time"
)

// When the sweep refreshes a connection (refresh_at, the due-index's sort
// key), and the warning when that is always "now".

// refreshAt is when the sweep should refresh c (zero: never; keep it out of
// the due-index). keepalive: refresh_expires_at − KEEPALIVE_MARGIN; eager: the
// earlier of that and access_expires_at − REFRESH_WINDOW. A connection
// without a refresh token cannot be refreshed. A refresh token of unknown
// lifetime is kept alive only in eager mode; in keepalive mode it stays in
// the due-index all the same, looked at once every modeRecheck without a
// refresh (unknownLifetimeRecheck), so that a switch to eager reaches it.
func (c Config) refreshAt(conn *Connection) time.Time {
	if conn.RefreshToken == "" && conn.HasCredential() && conn.Status == StatusActive {
		return c.credentialRefreshAt(conn) // granted again with its credential (credential.go)
	}
	if conn.RefreshToken == "" || conn.Status != StatusActive {
		return time.Time{}
	}
	var at time.Time
	if !conn.RefreshExpiresAt.IsZero() {
		at = conn.RefreshExpiresAt.Add(-c.KeepaliveMargin)
	}
	if c.RefreshMode == ModeEager && !conn.AccessExpiresAt.IsZero() {
		if a := conn.AccessExpiresAt.Add(-c.RefreshWindow); at.IsZero() || a.Before(at) {
			at = a
		}
	}
	if at.IsZero() && conn.RefreshExpiresAt.IsZero() {
		at = unknownLifetimeRecheck(conn.UpdatedAt)
	}
	return at
}

// modeRecheck is how often a keepalive sweep looks at a connection whose
// refresh-token lifetime is unknown (without refreshing it): a switch of
// REFRESH_MODE to eager reaches such connections within this time.
const modeRecheck = 24 * time.Hour

// unknownLifetimeRecheck is the refresh_at of such a connection last
// written at updated (zero stays zero: out of the index).
func unknownLifetimeRecheck(updated time.Time) time.Time {
	if updated.IsZero() {
		return time.Time{}
	}
	return updated.Add(modeRecheck)
}

// warnIfAlwaysDue logs when a connection is due the moment it was
// refreshed: the provider's lifetimes are shorter than KEEPALIVE_MARGIN (or,
// in eager mode, REFRESH_WINDOW), so every sweep would refresh it again.
func (h *Handler) warnIfAlwaysDue(ctx context.Context, c *Connection, now time.Time) {
	if c.RefreshAt.IsZero() || c.RefreshAt.After(now) {
		return
	}
	h.Log.WarnContext(ctx, "connection is due as soon as it is refreshed: the provider's token lifetimes are shorter than KEEPALIVE_MARGIN (eager: REFRESH_WINDOW), so every sweep refreshes it",
		"account_id", c.AccountID, "access_expires_at", c.AccessExpiresAt.UTC().Format(time.RFC3339), "refresh_expires_at", c.RefreshExpiresAt.UTC().Format(time.RFC3339),
		"fix", "set KEEPALIVE_MARGIN (and REFRESH_WINDOW) below the provider's refresh (and access) token lifetimes")
}
