package connect

import (
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Result is what oauthfn tells the app after a connection, verified.
type Result struct {
	// User is the app's user id from the connect token (sub); empty when
	// the connection was made without one (REQUIRE_CONNECT_TOKEN=false).
	User      string
	AccountID string // the provider account now connected
	Provider  string // the preset name, e.g. ringcentral
	Status    string // StatusConnected
	AppState  string // the connect token's app_state, unchanged
	ID        string // jti: an app may refuse a result it has seen before
	IssuedAt  time.Time
	ExpiresAt time.Time
}

type resultClaims struct {
	jwt.RegisteredClaims
	AccountID string `json:"account_id"`
	Provider  string `json:"provider"`
	Status    string `json:"status"`
	AppState  string `json:"app_state,omitempty"`
}

// SignResult signs r with k.Current for the redirect to return_to: the
// functions' side. IssuedAt, ExpiresAt (IssuedAt + ResultLifetime) and ID
// are set here; Status defaults to StatusConnected.
func (k Keys) SignResult(r Result) (string, error) {
	if err := checkKey(k.Current); err != nil {
		return "", err
	}
	if r.AccountID == "" || r.Provider == "" {
		return "", fail(CheckClaim, "result needs an account id and a provider")
	}
	if r.Status == "" {
		r.Status = StatusConnected
	}
	now := k.now().Truncate(time.Second)
	return sign(k.Current, resultClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Audience:  jwt.ClaimStrings{ResultAudience},
			Subject:   r.User,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ResultLifetime)),
			ID:        randomID(),
		},
		AccountID: r.AccountID,
		Provider:  r.Provider,
		Status:    r.Status,
		AppState:  r.AppState,
	})
}

// VerifyResult checks a result: HS256 with Current or a Previous key, aud
// ResultAudience, exp required and not passed, iat not in the future (Leeway
// of skew), an account id and status connected. Use the returned User, not
// whoever is signed in, as the owner of AccountID.
func (k Keys) VerifyResult(result string) (Result, error) {
	var c resultClaims
	if err := k.parse(result, ResultAudience, &c); err != nil {
		return Result{}, err
	}
	if c.IssuedAt == nil {
		return Result{}, fail(CheckIssuedAt, "iat is missing")
	}
	if life := c.ExpiresAt.Sub(c.IssuedAt.Time); life > ResultLifetime {
		return Result{}, fail(CheckLifetime, "exp is %v after iat, more than %v", life, ResultLifetime)
	}
	if c.AccountID == "" || c.Provider == "" {
		return Result{}, fail(CheckClaim, "account_id or provider is missing")
	}
	if c.Status != StatusConnected {
		return Result{}, fail(CheckClaim, "status is %q, want %q", c.Status, StatusConnected)
	}
	return Result{
		User: c.Subject, AccountID: c.AccountID, Provider: c.Provider, Status: c.Status, AppState: c.AppState,
		ID: c.ID, IssuedAt: c.IssuedAt.UTC(), ExpiresAt: c.ExpiresAt.UTC(),
	}, nil
}
