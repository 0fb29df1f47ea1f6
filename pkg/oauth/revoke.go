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
	secret, err := h.Secrets.ClientSecret(ctx)
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
		f := refusalFromBody(resp.StatusCode, body)
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
	// The new connection is stored: the revocation must not make the
	// function run out of time (the browser would see an error for a
	// connect that worked), so it gets a short budget of its own.
	budget := revokeTimeout
	if d, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(d)-revokeReserve)
	}
	if budget <= 0 {
		h.Log.WarnContext(ctx, "no time left to revoke the replaced session; it expires on its own", "account_id", old.AccountID)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	token := old.RefreshToken
	if token == "" {
		token = old.AccessToken
	}
	if token == "" {
		return
	}
	sealer, err := h.Secrets.Sealer(ctx)
	if err == nil {
		token, err = sealer.Open(token, old.Key())
	}
	if err == nil {
		err = h.revoke(ctx, token)
	}
	if err != nil {
		h.Log.WarnContext(ctx, "could not revoke the replaced session; it expires on its own",
			append([]any{"account_id", old.AccountID, "err", err}, refusalAttrs(err)...)...)
		return
	}
	h.Log.InfoContext(ctx, "replaced session revoked", "account_id", old.AccountID)
}
