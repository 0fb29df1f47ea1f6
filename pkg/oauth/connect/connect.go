// Package connect is the app's half of oauthfn, and the functions' half of
// the same two statements: a connect token (the app's backend says which of
// its users is connecting) and a result (oauthfn says which provider account
// that user connected). Both are HS256 JWTs (RFC 7519) signed with the app
// key, the secret the app's backend shares with the functions
// (OAUTH_APP_KEY_ARN). The browser carries them but cannot make or change
// them, so a typed return_to?account_id=… URL proves nothing and changes
// nothing.
//
// The app's backend makes one call each way:
//
//	u, err := connect.URL(key, "https://…/authorize", user.ID, connect.Options{ReturnTo: "https://app.example/connected"})
//	// redirect the signed-in user to u
//	…
//	r, err := connect.VerifyResult(key, req.URL.Query().Get("result"))
//	// r.User connected r.AccountID: store that, never a bare query parameter
//
// The package imports neither the AWS SDK nor aws-lambda-go: an app's web
// server links only golang-jwt and the standard library.
package connect

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// The app's side in numbers (docs/connect-an-app.md).
const (
	// ConnectAudience is the aud of a connect token.
	ConnectAudience = "oauthfn:connect"
	// ResultAudience is the aud of a result.
	ResultAudience = "oauthfn:result"
	// MaxLifetime bounds a connect token: exp at most this after iat.
	MaxLifetime = 15 * time.Minute
	// DefaultLifetime is the lifetime of a connect token Token mints when
	// Options.Lifetime is zero.
	DefaultLifetime = 10 * time.Minute
	// ResultLifetime is a result's exp − iat.
	ResultLifetime = 5 * time.Minute
	// Leeway is the clock skew allowed on exp and iat.
	Leeway = 30 * time.Second
	// MaxUserLen bounds the end user id (sub), in characters.
	MaxUserLen = 128
	// MaxIDLen bounds a token id (jti), in characters.
	MaxIDLen = 64
	// MinKeyLen is the shortest app key accepted, in bytes (HS256 wants a
	// key of at least the hash's 32 bytes; the template generates 64
	// characters).
	MinKeyLen = 32

	// StatusConnected and StatusPending are a result's statuses:
	// attached already, or waiting for the app's Confirm or Reject.
	StatusConnected = "connected"
	StatusPending   = "pending"
	// StatusRejected is a Confirmation's status after Reject.
	StatusRejected = "rejected"

	// ConfirmAudience is the aud of a confirm token; ConfirmLifetime
	// bounds its exp − iat.
	ConfirmAudience = "oauthfn:confirm"
	ConfirmLifetime = 5 * time.Minute
	// DecisionAccept and DecisionReject are a confirm token's decisions.
	DecisionAccept = "accept"
	DecisionReject = "reject"

	// Bounds of the optional claims, the same as /authorize's plain
	// parameters.
	MaxReturnToLen  = 2048
	MaxAppStateLen  = 512
	MaxLoginHintLen = 256
	// MaxProviderLen bounds the provider claim (a provider id of
	// OAUTH_PROVIDERS: [a-z][a-z0-9-]{0,31}).
	MaxProviderLen = 32

	// MaxTokenLen bounds a connect token's encoded length, in bytes: the
	// bound /authorize applies to its connect parameter. A token with every
	// optional claim at its own bound (or a return_to whose & < > grow
	// sixfold in JSON) is longer than that: Token refuses to mint it.
	MaxTokenLen = 4096
)

// The checks an Error names.
const (
	CheckKey       = "key"        // the app key is missing or too short
	CheckFormat    = "format"     // not a JWT, or a claim of the wrong type
	CheckAlgorithm = "algorithm"  // alg is not HS256 (none, HS512, RS256, …)
	CheckSignature = "signature"  // signed with another key, or edited
	CheckAudience  = "audience"   // aud is not the expected one
	CheckExpiry    = "expiry"     // exp missing or passed
	CheckIssuedAt  = "issued_at"  // iat missing or in the future
	CheckNotBefore = "not_before" // nbf in the future
	CheckLifetime  = "lifetime"   // exp too long after iat
	CheckUser      = "user"       // sub missing, too long or not printable
	CheckID        = "id"         // jti missing, too long or not printable
	CheckClaim     = "claim"      // another claim is missing or out of bounds
)

// Error says which check a token failed. It never holds the token.
type Error struct {
	Check string // one of the Check* constants
	Err   error
}

func (e *Error) Error() string { return "connect: " + e.Check + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func fail(check, format string, args ...any) error {
	return &Error{Check: check, Err: fmt.Errorf(format, args...)}
}

// Keys is the app key: Current signs; Current and Previous verify (during a
// rotation, statements signed with the previous version still pass; a
// Previous key shorter than MinKeyLen is ignored, as Current is refused). Now is
// the clock (nil: time.Now). Printing Keys never shows a key.
type Keys struct {
	Current  string
	Previous []string
	Now      func() time.Time
	// Client makes Confirm's and Reject's call (nil: http.DefaultClient).
	Client *http.Client
}

// Format prints how many keys there are, never a key, for every verb.
func (k Keys) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "connect.Keys{Current: REDACTED, Previous: %d}", len(k.Previous))
}

// LogValue keeps the keys out of structured logs.
func (k Keys) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// MarshalJSON keeps the keys out of JSON.
func (k Keys) MarshalJSON() ([]byte, error) { return []byte(`"REDACTED"`), nil }

func (k Keys) now() time.Time {
	if k.Now == nil {
		return time.Now()
	}
	return k.Now()
}

// Options are the optional claims of a connect token.
type Options struct {
	// ReturnTo is where the browser goes back with the result; it must be
	// under ALLOWED_RETURN_URLS. Empty: oauthfn shows its own success page.
	ReturnTo string
	// AppState is handed back unchanged in the result (at most 512 bytes).
	AppState string
	// LoginHint is passed to the provider's sign-in page.
	LoginHint string
	// Provider is the provider id the token is for (the "provider"
	// claim): required by a stack with several providers
	// (OAUTH_PROVIDERS), where it must be the id of the
	// /authorize/{provider} route the token is used at; optional with one.
	Provider string
	// Lifetime is exp − iat; zero means DefaultLifetime, at most MaxLifetime.
	Lifetime time.Duration
	// ID is the token's jti (single use); empty draws a random one.
	ID string
}

// Token mints a connect token for the app's user user, signed with key.
func Token(key, user string, opts Options) (string, error) {
	return Keys{Current: key}.Token(user, opts)
}

// URL returns authorizeURL (the stack's AuthorizeUrl output) with a fresh
// connect token for user: send the signed-in user's browser there.
func URL(key, authorizeURL, user string, opts Options) (string, error) {
	return Keys{Current: key}.URL(authorizeURL, user, opts)
}

// VerifyResult checks the result query parameter oauthfn sent back (HS256
// with key, aud, exp, iat) and returns what it says.
func VerifyResult(key, result string) (Result, error) {
	return Keys{Current: key}.VerifyResult(result)
}

// Token mints a connect token for user, signed with k.Current.
func (k Keys) Token(user string, opts Options) (string, error) {
	if err := checkKey(k.Current); err != nil {
		return "", err
	}
	if err := checkText(CheckUser, "sub", user, MaxUserLen); err != nil {
		return "", err
	}
	lifetime := opts.Lifetime
	if lifetime == 0 {
		lifetime = DefaultLifetime
	}
	if lifetime < 0 || lifetime > MaxLifetime {
		return "", fail(CheckLifetime, "lifetime %v is outside (0, %v]", lifetime, MaxLifetime)
	}
	id := opts.ID
	if id == "" {
		id = randomID()
	}
	if err := checkText(CheckID, "jti", id, MaxIDLen); err != nil {
		return "", err
	}
	c := connectClaims{
		ReturnTo:  opts.ReturnTo,
		AppState:  opts.AppState,
		LoginHint: opts.LoginHint,
		Provider:  opts.Provider,
	}
	if err := c.checkOptional(); err != nil {
		return "", err
	}
	now := k.now().Truncate(time.Second)
	c.RegisteredClaims = jwt.RegisteredClaims{
		Audience:  jwt.ClaimStrings{ConnectAudience},
		Subject:   user,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(lifetime)),
		ID:        id,
	}
	tok, err := sign(k.Current, c)
	if err != nil {
		return "", err
	}
	if len(tok) > MaxTokenLen {
		return "", fail(CheckClaim, "the token would be %d bytes, more than /authorize accepts (%d): shorten return_to, app_state or login_hint", len(tok), MaxTokenLen)
	}
	return tok, nil
}

// URL returns authorizeURL with ?connect=<a fresh token for user>.
func (k Keys) URL(authorizeURL, user string, opts Options) (string, error) {
	u, err := url.Parse(authorizeURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fail(CheckClaim, "authorize URL: want an absolute http(s) URL")
	}
	tok, err := k.Token(user, opts)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("connect", tok)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// parse verifies tok as an HS256 JWT for aud signed with one of k's keys,
// with exp required and iat checked, and maps the library's error to the
// check that failed.
func (k Keys) parse(tok, aud string, claims jwt.Claims) error {
	if err := checkKey(k.Current); err != nil {
		return err
	}
	keys := jwt.VerificationKeySet{Keys: []jwt.VerificationKey{[]byte(k.Current)}}
	for _, p := range k.Previous {
		if len(p) >= MinKeyLen { // a shorter previous key verifies nothing
			keys.Keys = append(keys.Keys, []byte(p))
		}
	}
	parsed, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return keys, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithAudience(aud),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(k.now),
	)
	if err == nil {
		return nil
	}
	switch {
	case parsed != nil && parsed.Header != nil && parsed.Header["alg"] != jwt.SigningMethodHS256.Alg():
		return fail(CheckAlgorithm, "alg is not HS256")
	case errors.Is(err, jwt.ErrTokenMalformed), errors.Is(err, jwt.ErrInvalidType):
		return fail(CheckFormat, "not a well-formed JWT")
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return fail(CheckAlgorithm, "alg is missing or unknown")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return fail(CheckSignature, "signature does not match the app key")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return fail(CheckAudience, "aud is not %q", aud)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		if exp, _ := claims.GetExpirationTime(); exp != nil {
			return fail(CheckAudience, "aud is missing, want %q", aud)
		}
		return fail(CheckExpiry, "exp is missing")
	case errors.Is(err, jwt.ErrTokenExpired):
		return fail(CheckExpiry, "exp is missing or has passed")
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return fail(CheckIssuedAt, "iat is in the future")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return fail(CheckNotBefore, "nbf is in the future")
	}
	return fail(CheckFormat, "%v", err)
}

func checkKey(key string) error {
	if len(key) < MinKeyLen {
		return fail(CheckKey, "app key is missing or shorter than %d bytes", MinKeyLen)
	}
	return nil
}

// checkText accepts 1 to max printable characters (valid UTF-8, no control
// characters).
func checkText(check, claim, v string, max int) error {
	switch {
	case v == "":
		return fail(check, "%s is missing", claim)
	case !utf8.ValidString(v):
		return fail(check, "%s is not valid UTF-8", claim)
	case utf8.RuneCountInString(v) > max:
		return fail(check, "%s is longer than %d characters", claim, max)
	case strings.ContainsFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }):
		return fail(check, "%s has control or non-printable characters", claim)
	}
	return nil
}

func randomID() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
