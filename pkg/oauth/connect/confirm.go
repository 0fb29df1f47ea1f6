package connect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// A connect link is a bearer URL: whoever opens it finishes the flow with
// their own provider account, while the link names the user who minted it.
// So a result made with a connect token is pending: the app checks that the
// user signed in to it in the browser that came back is the result's User,
// and only then confirms. Confirm and Reject make that call (POST /confirm,
// the stack's ConfirmUrl output) with a confirm token signed with the app
// key; ConfirmToken mints one for apps that make the call themselves.

// ConfirmRequest is a verified confirm token: the functions' side.
type ConfirmRequest struct {
	User      string // sub: the app's user signed in where the result came back
	ID        string // jti: the result's jti, naming the pending connection
	Decision  string // DecisionAccept or DecisionReject
	IssuedAt  time.Time
	ExpiresAt time.Time
}

type confirmClaims struct {
	jwt.RegisteredClaims
	Decision string `json:"decision"`
}

// ConfirmToken mints a confirm token, signed with k.Current, for the result
// whose jti is id: user is the app's user signed in in the browser that
// brought the result back, decision DecisionAccept or DecisionReject. It
// lives ConfirmLifetime.
func (k Keys) ConfirmToken(id, user, decision string) (string, error) {
	if err := checkKey(k.Current); err != nil {
		return "", err
	}
	if err := checkText(CheckUser, "sub", user, MaxUserLen); err != nil {
		return "", err
	}
	if err := checkText(CheckID, "jti", id, MaxIDLen); err != nil {
		return "", err
	}
	if decision != DecisionAccept && decision != DecisionReject {
		return "", fail(CheckClaim, "decision is %q, want %q or %q", decision, DecisionAccept, DecisionReject)
	}
	now := k.now().Truncate(time.Second)
	return sign(k.Current, confirmClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Audience:  jwt.ClaimStrings{ConfirmAudience},
			Subject:   user,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ConfirmLifetime)),
			ID:        id,
		},
		Decision: decision,
	})
}

// VerifyConfirm checks a confirm token: HS256 only, signed with Current or
// a Previous key, aud ConfirmAudience, exp required and not passed, iat
// required and not in the future, exp at most ConfirmLifetime after iat
// (Leeway of skew on each), sub and jti as in a connect token, decision
// accept or reject. That the jti names a live pending connection is the
// caller's check.
func (k Keys) VerifyConfirm(token string) (ConfirmRequest, error) {
	var c confirmClaims
	if err := k.parse(token, ConfirmAudience, &c); err != nil {
		return ConfirmRequest{}, err
	}
	if c.IssuedAt == nil {
		return ConfirmRequest{}, fail(CheckIssuedAt, "iat is missing")
	}
	if life := c.ExpiresAt.Sub(c.IssuedAt.Time); life > ConfirmLifetime {
		return ConfirmRequest{}, fail(CheckLifetime, "exp is %v after iat, more than %v", life, ConfirmLifetime)
	}
	if err := checkText(CheckUser, "sub", c.Subject, MaxUserLen); err != nil {
		return ConfirmRequest{}, err
	}
	if err := checkText(CheckID, "jti", c.ID, MaxIDLen); err != nil {
		return ConfirmRequest{}, err
	}
	if c.Decision != DecisionAccept && c.Decision != DecisionReject {
		return ConfirmRequest{}, fail(CheckClaim, "decision is not %q or %q", DecisionAccept, DecisionReject)
	}
	return ConfirmRequest{
		User: c.Subject, ID: c.ID, Decision: c.Decision,
		IssuedAt: c.IssuedAt.UTC(), ExpiresAt: c.ExpiresAt.UTC(),
	}, nil
}

// Confirmation is oauthfn's answer to Confirm or Reject.
type Confirmation struct {
	Status    string `json:"status"` // StatusConnected or StatusRejected
	Provider  string `json:"provider,omitempty"`
	AccountID string `json:"account_id,omitempty"`
	EndUser   string `json:"end_user,omitempty"`
}

// Errors of Confirm and Reject besides *ConfirmError.
var (
	// ErrUserMismatch: the result was made for another user than the one
	// Confirm named (a forwarded link). oauthfn rejected the pending
	// connection: nothing is attached, the new session is revoked.
	ErrUserMismatch = errors.New("connect: this link was made for another user; the connection is rejected")
	// ErrNotPending: no pending connection for the result: unknown,
	// expired (CONFIRM_TTL) or already decided.
	ErrNotPending = errors.New("connect: no pending connection for this result (unknown, expired or already decided)")
)

// ConfirmError is an answer of /confirm that is not a decision: a refused
// confirm token (401 invalid_confirm_token) or a failure of oauthfn or of
// the network between.
type ConfirmError struct {
	StatusCode int    // the HTTP status, 0 when there was no answer
	Code       string // the answer's error code, when it has one
	Err        error  // the transport's error, when there was no answer
}

func (e *ConfirmError) Error() string {
	switch {
	case e.Err != nil:
		return "connect: confirm: " + e.Err.Error()
	case e.Code != "":
		return fmt.Sprintf("connect: confirm: %d %s", e.StatusCode, e.Code)
	}
	return fmt.Sprintf("connect: confirm: status %d", e.StatusCode)
}

func (e *ConfirmError) Unwrap() error { return e.Err }

// Confirm attaches a pending result's account to user, the app's user
// signed in in the browser that brought the result back: it POSTs an accept
// confirm token to confirmURL (the ConfirmUrl output). oauthfn compares user
// with the result's User: when they differ it rejects the connection and
// Confirm returns ErrUserMismatch. A result that is not pending (connected
// already) needs no confirmation and is an error here.
func (k Keys) Confirm(ctx context.Context, confirmURL string, r Result, user string) (Confirmation, error) {
	if r.Status != StatusPending {
		return Confirmation{}, fail(CheckClaim, "result status is %q: only a pending result is confirmed", r.Status)
	}
	return k.decide(ctx, confirmURL, r.ID, user, DecisionAccept)
}

// Reject refuses a pending result (the user signed in is not its User, or
// the app does not want the connection): oauthfn revokes the new session at
// the provider and attaches nothing.
func (k Keys) Reject(ctx context.Context, confirmURL string, r Result) (Confirmation, error) {
	if r.Status != StatusPending {
		return Confirmation{}, fail(CheckClaim, "result status is %q: only a pending result is rejected", r.Status)
	}
	return k.decide(ctx, confirmURL, r.ID, r.User, DecisionReject)
}

// Confirm is Keys{Current: key}.Confirm.
func Confirm(ctx context.Context, key, confirmURL string, r Result, user string) (Confirmation, error) {
	return Keys{Current: key}.Confirm(ctx, confirmURL, r, user)
}

// Reject is Keys{Current: key}.Reject.
func Reject(ctx context.Context, key, confirmURL string, r Result) (Confirmation, error) {
	return Keys{Current: key}.Reject(ctx, confirmURL, r)
}

func (k Keys) decide(ctx context.Context, confirmURL, id, user, decision string) (Confirmation, error) {
	tok, err := k.ConfirmToken(id, user, decision)
	if err != nil {
		return Confirmation{}, err
	}
	body, _ := json.Marshal(map[string]string{"confirm": tok})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, confirmURL, bytes.NewReader(body))
	if err != nil {
		return Confirmation{}, &ConfirmError{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	client := k.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Confirmation{}, &ConfirmError{Err: err}
	}
	defer resp.Body.Close()
	var answer struct {
		Confirmation
		Error string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&answer); err != nil && resp.StatusCode == http.StatusOK {
		return Confirmation{}, &ConfirmError{StatusCode: resp.StatusCode, Err: fmt.Errorf("decode answer: %w", err)}
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return answer.Confirmation, nil
	case http.StatusConflict:
		return Confirmation{Status: StatusRejected}, ErrUserMismatch
	case http.StatusNotFound:
		return Confirmation{}, ErrNotPending
	}
	return Confirmation{}, &ConfirmError{StatusCode: resp.StatusCode, Code: answer.Error}
}
