package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// revoke revokes a token at the provider's revocation endpoint (RFC 7009:
// form token=..., client authentication in HTTP Basic). RingCentral revokes
// the whole session (access and refresh token) given either.
func (h *Handler) revoke(ctx context.Context, token string) error {
	p := h.Config.Provider
	if p.RevokeURL == "" {
		return errNoRevocation
	}
	secret, err := h.Secrets.ClientSecret(ctx)
	if err != nil {
		return fmt.Errorf("oauth: revoke: %w", err)
	}
	form := url.Values{"token": {token}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.RevokeURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("oauth: revoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(h.Config.ClientID), url.QueryEscape(secret.Reveal()))
	resp, err := h.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("oauth: revoke: %w", redactURLError(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("oauth: revoke: status %d%s", resp.StatusCode, revokeErrorCodes(body))
	}
	return nil
}

// revokeErrorCodes names the error of a refused revocation: RFC 7009's
// standard "error" (RFC 6749 section 5.2) and RingCentral's errors[].errorCode,
// each only when it looks like a protocol code (never free text), as
// " invalid_client (OAU-123)".
func revokeErrorCodes(body []byte) string {
	var b struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &b)
	code := ""
	if b.Error != "" && errorCodePattern.MatchString(b.Error) {
		code = " " + b.Error
	}
	if rc := ringCentralErrorCode(body); rc != "" {
		code += " (" + rc + ")"
	}
	return code
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
	budget := revokeTimeout
	if d, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(d)-revokeReserve)
	}
	if budget <= 0 {
		h.Log.WarnContext(ctx, "no time left to revoke the "+what+"; it expires on its own", "account_id", c.AccountID, "outcome", "revoke_skipped")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	if err := h.revokeSession(ctx, c); err != nil {
		h.Log.WarnContext(ctx, "could not revoke the "+what+"; it expires on its own", "account_id", c.AccountID, "outcome", "revoke_failed", "err", err)
		return
	}
	h.Log.InfoContext(ctx, what+" revoked", "account_id", c.AccountID, "outcome", "revoked")
}

// revokeSession revokes c's session at the provider: its refresh token
// (RingCentral ends the whole session given either token), or its access
// token when it has none. Nothing to revoke (no endpoint, no token) is nil.
func (h *Handler) revokeSession(ctx context.Context, c *Connection) error {
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
	tok, err := h.openSealed(ctx, sealed, c.Key(), field)
	if err != nil {
		return fmt.Errorf("oauth: revoke: open token: %w", err)
	}
	return h.revoke(ctx, tok)
}
