package oauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// revoke revokes a token at the provider's revocation endpoint (RFC 7009:
// form token=..., the client authenticated as at the token endpoint:
// OAUTH_AUTH_STYLE basic or post). RingCentral revokes the whole session
// (access and refresh token) given either. A refusal is a *revokeError.
func (h *Handler) revoke(ctx context.Context, token string) error {
	p := h.Config.Provider
	if p.RevokeURL == "" {
		return errNoRevocation
	}
	secret, err := h.clientSecret(ctx)
	if err != nil {
		return fmt.Errorf("oauth: revoke: %w", err)
	}
	form := url.Values{"token": {token}}
	post := p.authStyle() == oauth2.AuthStyleInParams
	if post {
		form.Set("client_id", h.Config.ClientID)
		form.Set("client_secret", secret.Reveal())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.RevokeURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("oauth: revoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if !post {
		req.SetBasicAuth(url.QueryEscape(h.Config.ClientID), url.QueryEscape(secret.Reveal()))
	}
	resp, err := h.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("oauth: revoke: %w", redactURLError(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		f := refusalFromBody(resp.StatusCode, body, h.sentBy(secret, token))
		f.authStyle = authStyleName(p.authStyle())
		return &refusalError{"revoke", f}
	}
	return nil
}

// refusalError is a call to the provider's revocation or userinfo endpoint
// that the provider refused: its HTTP status and what it said. Log it with
// refusalAttrs.
type refusalError struct {
	endpoint string // "revoke", "userinfo"
	f        tokenFailure
}

func (e *refusalError) Error() string {
	msg := fmt.Sprintf("oauth: %s: provider refused: status %d", e.endpoint, e.f.status)
	if e.f.code != "" {
		msg += " " + e.f.code
	}
	if e.f.providerID != "" {
		msg += " (" + e.f.providerID + ")"
	}
	if e.f.description != "" {
		msg += ": " + e.f.description
	}
	return msg
}

// refusalAttrs are the log attributes of a provider's refusal inside err
// (the provider's error, error_description, HTTP status and the fix), or
// none.
func refusalAttrs(err error) []any {
	var re *refusalError
	if errors.As(err, &re) {
		return re.f.logAttrs()
	}
	return nil
}

// revokeTimeout bounds the revocation of a replaced session at /callback;
// revokeReserve is the time kept back for answering the browser.
const (
	revokeTimeout = 3 * time.Second
	revokeReserve = time.Second
)

var errNoRevocation = errString("oauth: the provider has no revocation endpoint (set OAUTH_REVOKE_URL)")

// revokeReplaced revokes the refresh token of a connection that a
// re-authorization replaced, so the account holds one session (RingCentral
// allows five per user per app). Failures are logged, not returned: the new
// connection is already stored.
func (h *Handler) revokeReplaced(ctx context.Context, old *Connection) {
	h.revokeBounded(ctx, old, "replaced session")
}

// revokeBounded revokes c's session with a short budget of its own (less
// when the function's deadline is near, so the browser still gets its
// answer) and logs the outcome; what names the session in the log.
func (h *Handler) revokeBounded(ctx context.Context, c *Connection, what string) {
	h.revokeBoundedAt(ctx, c, c.Key(), what)
}

// revokeBoundedAt is revokeBounded for tokens sealed for the item key (a
// pending connection's).
func (h *Handler) revokeBoundedAt(ctx context.Context, c *Connection, key, what string) {
	deadline, _ := ctx.Deadline()
	limit := revokeTimeout
	if h.revokeLimit > 0 {
		limit = h.revokeLimit
	}
	budget := revokeBudget(deadline, time.Now(), limit)
	if budget <= 0 {
		h.Log.WarnContext(ctx, "no time left to revoke the "+what+"; it expires on its own", "account_id", c.AccountID, "outcome", "revoke_skipped")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	if err := h.revokeSessionAt(ctx, c, key); err != nil {
		h.Log.WarnContext(ctx, "could not revoke the "+what+"; it expires on its own",
			append([]any{"account_id", c.AccountID, "outcome", "revoke_failed", "err", err}, refusalAttrs(err)...)...)
		return
	}
	h.Log.InfoContext(ctx, what+" revoked", "account_id", c.AccountID, "outcome", "revoked")
}

// revokeBudget is the time a bounded revocation may take at now, given the
// function's deadline (zero: none): limit (revokeTimeout), less when the
// deadline is nearer than limit+revokeReserve; zero or less means no time.
// A context deadline is wall-clock time, hence time.Now, not h.Now.
func revokeBudget(deadline, now time.Time, limit time.Duration) time.Duration {
	if deadline.IsZero() {
		return limit
	}
	return min(limit, deadline.Sub(now)-revokeReserve)
}

// revokeSession revokes c's session at the provider: its refresh token
// (RingCentral ends the whole session given either token), or its access
// token when it has none. Nothing to revoke (no endpoint, no token) is nil.
func (h *Handler) revokeSession(ctx context.Context, c *Connection) error {
	return h.revokeSessionAt(ctx, c, c.Key())
}

// revokeSessionAt is revokeSession for tokens sealed for the item key.
func (h *Handler) revokeSessionAt(ctx context.Context, c *Connection, key string) error {
	if h.Config.Provider.RevokeURL == "" {
		return nil
	}
	sealed, field := c.RefreshToken, attrRefreshToken
	if sealed == "" {
		sealed, field = c.AccessToken, attrAccessToken
	}
	if sealed == "" {
		return nil
	}
	tok, err := h.openSealed(ctx, sealed, key, field)
	if err != nil {
		return fmt.Errorf("oauth: revoke: open token: %w", err)
	}
	return h.revoke(ctx, tok)
}
