package connect

import (
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Request is what a verified connect token asks for: the functions' side.
type Request struct {
	User      string // sub: the app's own user id
	ID        string // jti: single use
	ReturnTo  string // still to be checked against ALLOWED_RETURN_URLS
	AppState  string
	LoginHint string
	Provider  string // the provider id the token is for; "" when it names none
	IssuedAt  time.Time
	ExpiresAt time.Time
}

type connectClaims struct {
	jwt.RegisteredClaims
	ReturnTo  string `json:"return_to,omitempty"`
	AppState  string `json:"app_state,omitempty"`
	LoginHint string `json:"login_hint,omitempty"`
	Provider  string `json:"provider,omitempty"`
}

func (c connectClaims) checkOptional() error {
	switch {
	case len(c.ReturnTo) > MaxReturnToLen:
		return fail(CheckClaim, "return_to is longer than %d bytes", MaxReturnToLen)
	case len(c.AppState) > MaxAppStateLen:
		return fail(CheckClaim, "app_state is longer than %d bytes", MaxAppStateLen)
	case len(c.LoginHint) > MaxLoginHintLen:
		return fail(CheckClaim, "login_hint is longer than %d bytes", MaxLoginHintLen)
	case c.Provider != "":
		return checkText(CheckClaim, "provider", c.Provider, MaxProviderLen)
	}
	return nil
}

// VerifyToken checks a connect token: at most MaxTokenLen bytes, HS256 only (the parser's allow-list
// refuses none, HS512, RS256 and the rest), signed with Current or a
// Previous key, aud ConnectAudience, exp required and not passed, iat
// required and not in the future, exp at most MaxLifetime after iat (Leeway
// of skew on each), sub 1-128 printable characters, jti 1-64. That the jti
// was not used before is the caller's check (oauthfn: in the same write that
// stores the pending authorization).
func (k Keys) VerifyToken(token string) (Request, error) {
	if len(token) > MaxTokenLen {
		return Request{}, fail(CheckFormat, "token is longer than %d bytes", MaxTokenLen)
	}
	var c connectClaims
	if err := k.parse(token, ConnectAudience, &c); err != nil {
		return Request{}, err
	}
	if c.IssuedAt == nil {
		return Request{}, fail(CheckIssuedAt, "iat is missing")
	}
	if life := c.ExpiresAt.Sub(c.IssuedAt.Time); life > MaxLifetime {
		return Request{}, fail(CheckLifetime, "exp is %v after iat, more than %v", life, MaxLifetime)
	}
	if err := checkText(CheckUser, "sub", c.Subject, MaxUserLen); err != nil {
		return Request{}, err
	}
	if err := checkText(CheckID, "jti", c.ID, MaxIDLen); err != nil {
		return Request{}, err
	}
	if err := c.checkOptional(); err != nil {
		return Request{}, err
	}
	return Request{
		User: c.Subject, ID: c.ID,
		ReturnTo: c.ReturnTo, AppState: c.AppState, LoginHint: c.LoginHint, Provider: c.Provider,
		IssuedAt: c.IssuedAt.UTC(), ExpiresAt: c.ExpiresAt.UTC(),
	}, nil
}
