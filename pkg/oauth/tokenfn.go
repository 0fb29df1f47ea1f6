package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The token function's expected failures (TokenResponse.Error).
const (
	TokenNotFound       = "not_found"
	TokenReauthRequired = "reauth_required"
	TokenRateLimited    = "rate_limited"
	TokenBusy           = "busy"
	TokenInvalidRequest = "invalid_request"
)

// Bounds of the token function's input.
const (
	maxTokenRequest = 4096
	maxAccountLen   = 256
	maxEndUserLen   = 128
	// busyRetryAfter is the retry_after_s of a busy answer: another holder
	// is refreshing, which takes about one provider round trip.
	busyRetryAfter = 1
)

// TokenRequest is the token function's input: exactly one of AccountID
// (answer: a working access token) or EndUser (answer: that user's
// connections, without tokens).
//
// Provider names the provider (required for account_id in a stack with
// several providers, OAUTH_PROVIDERS); with end_user it keeps that
// provider's connections only.
type TokenRequest struct {
	Provider  string `json:"provider,omitempty"`
	AccountID string `json:"account_id,omitempty"`
	EndUser   string `json:"end_user,omitempty"`
}

// TokenResponse is the token function's answer: a token, a list of
// connections, or an expected failure (Error set). It marshals to exactly
// the fields of its kind (docs/connect-an-app.md, "From any language").
type TokenResponse struct {
	AccessToken string
	TokenType   string
	ExpiresAt   time.Time // zero: unknown
	AccountID   string
	EndUser     string
	Scope       string

	// Connections is set (possibly empty) for an end_user request.
	Connections []TokenConnection

	Error            string // TokenNotFound, …; "" on success
	ErrorDescription string
	RetryAfterS      int // rate_limited and busy
}

// TokenConnection is one of an end user's connections.
type TokenConnection struct {
	Provider         string `json:"provider"`
	AccountID        string `json:"account_id"`
	Status           string `json:"status"`
	AccessExpiresAt  string `json:"access_expires_at,omitempty"`
	RefreshExpiresAt string `json:"refresh_expires_at,omitempty"`
}

// MarshalJSON writes the fields of the answer's kind only.
func (r TokenResponse) MarshalJSON() ([]byte, error) {
	switch {
	case r.Error != "":
		return json.Marshal(struct {
			Error            string `json:"error"`
			ErrorDescription string `json:"error_description"`
			RetryAfterS      int    `json:"retry_after_s,omitempty"`
		}{r.Error, r.ErrorDescription, r.RetryAfterS})
	case r.Connections != nil:
		return json.Marshal(struct {
			Connections []TokenConnection `json:"connections"`
		}{r.Connections})
	}
	var exp string
	if !r.ExpiresAt.IsZero() {
		exp = r.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return json.Marshal(struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresAt   string `json:"expires_at,omitempty"`
		AccountID   string `json:"account_id"`
		EndUser     string `json:"end_user"`
		Scope       string `json:"scope"`
	}{r.AccessToken, r.TokenType, exp, r.AccountID, r.EndUser, r.Scope})
}

// LogValue keeps the access token out of logs.
func (r TokenResponse) LogValue() slog.Value { return slog.StringValue(r.String()) }

// String describes the answer without its token.
func (r TokenResponse) String() string {
	if r.Error != "" {
		return "token answer: " + r.Error
	}
	if r.Connections != nil {
		return fmt.Sprintf("token answer: %d connections", len(r.Connections))
	}
	return "token answer: token for " + r.AccountID + " (REDACTED)"
}

// TokenFunction is functions/token's handler (Lambda Invoke API): it
// decodes the payload strictly (one JSON object, known fields only) and
// answers with AnswerToken. A payload it cannot read is an invalid_request
// answer, not a function error.
func (h *Handler) TokenFunction(ctx context.Context, payload json.RawMessage) (TokenResponse, error) {
	if len(payload) > maxTokenRequest {
		return invalidToken(fmt.Sprintf("the request is larger than %d bytes", maxTokenRequest)), nil
	}
	req, problem := decodeTokenRequest(payload)
	if problem != "" {
		h.Log.InfoContext(ctx, "token request refused: not a request object")
		return invalidToken(problem), nil
	}
	resp, err := h.AnswerToken(ctx, req)
	if err == nil {
		level := slog.LevelDebug
		if resp.Error != "" {
			level = slog.LevelInfo
		}
		h.Log.Log(ctx, level, "token request answered", "account_id", req.AccountID, "answer", resp)
	}
	return resp, err
}

// decodeTokenRequest reads the token function's payload: one JSON object
// whose keys are exactly "account_id" or "end_user" (in that case: the
// encoding/json decoder would also take "Account_ID"), each at most once
// (the decoder would keep the last of two), with a string or null value,
// and nothing after it. It returns what is wrong, or "".
func decodeTokenRequest(payload []byte) (TokenRequest, string) {
	const want = `want a JSON object {"account_id": "..."} or {"end_user": "..."}, with "provider" when the stack serves several providers`
	var req TokenRequest
	dec := json.NewDecoder(bytes.NewReader(payload))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return req, want
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return req, want
		}
		key, _ := tok.(string)
		var dst *string
		switch key {
		case "account_id":
			dst = &req.AccountID
		case "end_user":
			dst = &req.EndUser
		case "provider":
			dst = &req.Provider
		default:
			return req, want + ": unknown key (keys are lower case)"
		}
		if seen[key] {
			return req, want + ": " + key + " appears twice"
		}
		seen[key] = true
		var v *string
		if err := dec.Decode(&v); err != nil {
			return req, want
		}
		if v != nil {
			*dst = *v
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return req, want
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, "trailing data after the JSON object"
	}
	return req, ""
}

// AnswerToken answers one token request: by account, a working access
// token, refreshed on demand under the same lease as TokenSource and the
// sweep (so it never races them); by end user, the user's connections
// without tokens. Expected failures (unknown account, reauthorization
// needed, rate limited, busy, bad input) are answers; only internal faults
// (the store, the token key, a provider that is down) are errors.
func (h *Handler) AnswerToken(ctx context.Context, req TokenRequest) (TokenResponse, error) {
	v := h
	if req.Provider != "" {
		var ok bool
		if v, ok = h.ForProvider(req.Provider); !ok {
			return invalidToken("provider: not a provider of this stack (" + strings.Join(h.Config.ProviderIDs(), ", ") + ")"), nil
		}
	}
	switch {
	case req.AccountID != "" && req.EndUser != "":
		return invalidToken("give account_id or end_user, not both"), nil
	case req.AccountID != "":
		if !validID(req.AccountID, maxAccountLen) {
			return invalidToken(fmt.Sprintf("account_id: want 1 to %d printable characters", maxAccountLen)), nil
		}
		if v.needsProvider() {
			return invalidToken("provider is required: this stack serves several providers (" + strings.Join(h.Config.ProviderIDs(), ", ") + ")"), nil
		}
		return v.answerAccount(ctx, req.AccountID)
	case req.EndUser != "":
		if !validID(req.EndUser, maxEndUserLen) {
			return invalidToken(fmt.Sprintf("end_user: want 1 to %d printable characters", maxEndUserLen)), nil
		}
		return h.answerEndUser(ctx, req.EndUser, req.Provider)
	}
	return invalidToken("account_id or end_user is required"), nil
}

func (h *Handler) answerAccount(ctx context.Context, account string) (TokenResponse, error) {
	var c Connection
	tok, _, err := h.token(ctx, account, &c)
	if err == nil {
		return TokenResponse{
			AccessToken: tok.AccessToken,
			TokenType:   "Bearer",
			ExpiresAt:   tok.Expiry,
			AccountID:   account,
			EndUser:     c.EndUser,
			Scope:       c.Scope,
		}, nil
	}
	var wait *rateWaitError
	switch {
	case errors.Is(err, ErrNotFound):
		return TokenResponse{Error: TokenNotFound, ErrorDescription: "no connection for this account_id"}, nil
	case errors.Is(err, ErrCredentialRefused):
		return TokenResponse{Error: TokenReauthRequired,
			ErrorDescription: "the provider refused the connection's server credential: an operator must replace it (oauthfn credential rotate; for client_credentials, fix the client and run oauthfn credential add again)"}, nil
	case errors.Is(err, ErrReauthRequired):
		return TokenResponse{Error: TokenReauthRequired,
			ErrorDescription: "the account's authorization ended: send the user to connect again"}, nil
	case errors.As(err, &wait):
		return TokenResponse{Error: TokenRateLimited, ErrorDescription: "the provider's token endpoint is rate limited",
			RetryAfterS: retryAfterS(wait.until.Sub(h.Now()))}, nil
	case errors.Is(err, ErrRateLimited):
		return TokenResponse{Error: TokenRateLimited, ErrorDescription: "the provider's token endpoint is rate limited",
			RetryAfterS: retryAfterS(defaultRetryAfter)}, nil
	case errors.Is(err, ErrBusy):
		return TokenResponse{Error: TokenBusy, ErrorDescription: "the connection is being refreshed; try again",
			RetryAfterS: busyRetryAfter}, nil
	}
	h.Log.ErrorContext(ctx, "token request failed", "account_id", account, "err", err)
	return TokenResponse{}, fmt.Errorf("oauth: token function: %w", err)
}

func (h *Handler) answerEndUser(ctx context.Context, endUser, provider string) (TokenResponse, error) {
	infos, err := h.ConnectionsForUser(ctx, endUser)
	if err != nil {
		h.Log.ErrorContext(ctx, "connections of an end user failed", "err", err)
		return TokenResponse{}, fmt.Errorf("oauth: token function: %w", err)
	}
	out := make([]TokenConnection, 0, len(infos))
	for _, in := range infos {
		if provider != "" && in.Provider != provider {
			continue
		}
		out = append(out, TokenConnection{
			Provider:         in.Provider,
			AccountID:        in.AccountID,
			Status:           in.Status,
			AccessExpiresAt:  rfc3339(in.AccessExpiresAt),
			RefreshExpiresAt: rfc3339(in.RefreshExpiresAt),
		})
	}
	return TokenResponse{Connections: out}, nil
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// retryAfterS is d in whole seconds, rounded up, at least 1.
func retryAfterS(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

func invalidToken(desc string) TokenResponse {
	return TokenResponse{Error: TokenInvalidRequest, ErrorDescription: desc}
}

// validID: 1 to n characters of valid UTF-8, none of them control or
// invisible characters.
func validID(s string, n int) bool {
	if s == "" || len(s) > 4*n || utf8.RuneCountInString(s) > n || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
