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
	Provider  string // the provider id (a single-provider stack: its preset name, e.g. ringcentral)
	// Status is StatusPending (the connection waits for the app's Confirm
	// or Reject) or StatusConnected (already attached: a flow without a
	// connect token, or REQUIRE_CONFIRM=false).
	Status   string
	AppState string // the connect token's app_state, unchanged
	// ID is the jti: it names the pending connection that Confirm and
	// Reject decide; an app may also refuse a result it has seen before.
	ID        string
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
// functions' side. IssuedAt and ExpiresAt (IssuedAt + ResultLifetime) are
// set here, and ID when it is empty; Status defaults to StatusConnected.
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
	if r.ID == "" {
		r.ID = randomID()
	}
	now := k.now().Truncate(time.Second)
	return sign(k.Current, resultClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Audience:  jwt.ClaimStrings{ResultAudience},
			Subject:   r.User,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ResultLifetime)),
			ID:        r.ID,
		},
		AccountID: r.AccountID,
		Provider:  r.Provider,
		Status:    r.Status,
		AppState:  r.AppState,
	})
}

// VerifyResult checks a result: HS256 with Current or a Previous key, aud
// ResultAudience, exp required and not passed, iat required and not in the
// future (Leeway of skew), exp at most ResultLifetime after iat, jti, an
// account id, a provider and a status (pending or connected).
//
// A verified result says who *minted* the connect link, not who finished
// the flow: a link can be forwarded. Before the app attaches AccountID to
// anyone it must check that User is the user signed in to the app in the
// browser that brought the result back, then Confirm (or Reject) a pending
// result.
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
	if c.Status != StatusConnected && c.Status != StatusPending {
		return Result{}, fail(CheckClaim, "status is %q, want %q or %q", c.Status, StatusPending, StatusConnected)
	}
	if err := checkText(CheckID, "jti", c.ID, MaxIDLen); err != nil {
		return Result{}, err
	}
	return Result{
		User: c.Subject, AccountID: c.AccountID, Provider: c.Provider, Status: c.Status, AppState: c.AppState,
		ID: c.ID, IssuedAt: c.IssuedAt.UTC(), ExpiresAt: c.ExpiresAt.UTC(),
	}, nil
}
