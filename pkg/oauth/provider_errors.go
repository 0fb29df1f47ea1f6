package oauth

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/oauth2"
)

// tokenFailure classifies a failed token-endpoint call (code exchange or
// refresh) into what the caller does about it.
type tokenFailure struct {
	kind        string        // one of the failure kinds below
	code        string        // RFC 6749 error code, if any
	description string        // the provider's error_description, sanitised (see safeDescription)
	providerID  string        // provider-specific code, e.g. RingCentral's OAU-251
	status      int           // HTTP status, 0 when none
	retryAfter  time.Duration // for rate limiting; 0 when absent

	// Set by Handler.tokenFailure, for the fix in logAttrs.
	grant     string // "authorization_code" or "refresh_token"
	authStyle string // "basic" or "post": how the client authenticated
}

// Failure kinds.
const (
	failInvalidGrant       = "invalid_grant"       // code/refresh token dead or used
	failInvalidClient      = "invalid_client"      // client id/secret wrong
	failUnauthorizedClient = "unauthorized_client" // grant type not allowed for the app
	failRateLimited        = "rate_limited"        // 429
	failUnavailable        = "provider_unavailable"
	failBadResponse        = "provider_bad_response"
	failTokenKey           = "token_key_unusable" // a stored token does not open: no provider call made
)

// classifyTokenError reads x/oauth2's error, reading a Retry-After date
// against now. It never keeps the response body beyond the provider's
// error codes, and cleans what it keeps of the values the call sent.
func classifyTokenError(err error, now time.Time, sent sentValues) tokenFailure {
	return classifyProviderError(err, now, sent, nil)
}

// classifyProviderError is classifyTokenError for a provider whose own
// error codes codes maps to RFC 6749's (Provider.ErrorCodes); the log keeps
// the provider's code.
func classifyProviderError(err error, now time.Time, sent sentValues, codes map[string]string) tokenFailure {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		f := tokenFailure{code: sent.code(re.ErrorCode), description: sent.description(re.ErrorDescription)}
		if std, ok := codes[re.ErrorCode]; ok {
			mapped := *re
			mapped.ErrorCode = std
			re = &mapped
		}
		if f.description == "" {
			f.description = ringCentralMessage(re.Body, sent)
		}
		if re.Response != nil {
			f.status = re.Response.StatusCode
			f.retryAfter = parseRetryAfter(re.Response.Header.Get("Retry-After"), now)
		}
		f.providerID = ringCentralErrorCode(re.Body, sent)
		switch {
		case f.status == http.StatusTooManyRequests || f.providerID == "CMN-301":
			f.kind = failRateLimited
		case re.ErrorCode == "invalid_grant":
			f.kind = failInvalidGrant
		case re.ErrorCode == "unauthorized_client" || re.ErrorCode == "unsupported_grant_type" || f.providerID == "OAU-251" || f.providerID == "OAU-250":
			f.kind = failUnauthorizedClient
		case re.ErrorCode == "invalid_client" || f.status == http.StatusUnauthorized:
			f.kind = failInvalidClient
		case f.status >= 500:
			f.kind = failUnavailable
		default:
			f.kind = failBadResponse
		}
		return f
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) || errors.Is(err, errTimeout) {
		return tokenFailure{kind: failUnavailable}
	}
	if strings.Contains(err.Error(), "context deadline exceeded") || strings.Contains(err.Error(), "context canceled") {
		return tokenFailure{kind: failUnavailable}
	}
	// Missing access_token, unparsable body, and the like.
	return tokenFailure{kind: failBadResponse}
}

var errTimeout = errors.New("oauth: provider timeout")

// answer is what the callback shows for f.
func (f tokenFailure) answer() answer {
	switch f.kind {
	case failInvalidGrant:
		return ansInvalidGrant
	case failUnauthorizedClient:
		return ansUnauthorizedClient
	case failInvalidClient:
		return ansInvalidClient
	case failRateLimited, failUnavailable:
		return ansUnavailable
	default:
		return ansBadResponse
	}
}

// logAttrs describe f for a log line: what the provider said (its error,
// error_description and HTTP status, as they were) and the fix where there
// is one.
func (f tokenFailure) logAttrs() []any {
	attrs := []any{"failure", f.kind}
	if f.code != "" {
		attrs = append(attrs, "error_code", f.code)
	}
	if f.description != "" {
		attrs = append(attrs, "error_description", f.description)
	}
	if f.providerID != "" {
		attrs = append(attrs, "provider_error_code", f.providerID)
	}
	if f.status != 0 {
		attrs = append(attrs, "http_status", f.status)
	}
	if fix := f.fix(); fix != "" {
		attrs = append(attrs, "fix", fix)
	}
	return attrs
}

// fix is what the operator does about f, or "" when there is nothing to do
// but wait or reconnect.
func (f tokenFailure) fix() string {
	if f.grant == grantJWTBearer || f.grant == grantClientCredentials {
		return credentialFix(f)
	}
	switch f.kind {
	case failUnauthorizedClient:
		if f.grant == grantRefresh {
			return "the provider does not let this app use the refresh_token grant: allow it in the app's settings at the provider (RingCentral: enable \"Issue refresh tokens\"; OAU-251 \"Unauthorized for this grant type\"); client id and secret are not the problem"
		}
		return "the app is not approved for this grant type: enable the Authorization Code grant (and refresh tokens) in the app's settings at the provider (RingCentral OAU-251 \"Unauthorized for this grant type\"); client id and secret are not the problem"
	case failInvalidClient:
		return "the provider refused the client credentials, sent " + authStyleText(f.authStyle) +
			": check OAUTH_CLIENT_ID and the client secret (OAUTH_CLIENT_SECRET_ARN), and that OAUTH_AUTH_STYLE matches the authentication method the provider registered for the client (basic: client_secret_basic, post: client_secret_post)"
	}
	return ""
}

// Grant types, for tokenFailure.grant.
const (
	grantCode    = "authorization_code"
	grantRefresh = "refresh_token"
)

// tokenFailure classifies err from a token call of the given grant type,
// noting how the client authenticated (for the fix); sent are the values
// the call sent (see sentValues).
func (h *Handler) tokenFailure(err error, grant string, sent sentValues) tokenFailure {
	f := classifyProviderError(err, h.Now(), sent, h.Config.Provider.ErrorCodes)
	f.grant = grant
	f.authStyle = authStyleName(h.Config.Provider.Endpoint.AuthStyle)
	return f
}

// maxDescription bounds a provider's error_description in a log line.
const maxDescription = 200

// safeDescription makes a provider's error_description fit for a log line:
// control characters become spaces, anything that looks like a token (a run
// of 24 or more characters without spaces, as tokens, codes and secrets
// are; no word of prose is that long) is replaced by "[redacted]", and the
// result is capped at maxDescription bytes (on a rune boundary).
func safeDescription(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	words := strings.Fields(s)
	for i, w := range words {
		if utf8.RuneCountInString(w) >= 24 {
			words[i] = "[redacted]"
		}
	}
	s = strings.Join(words, " ")
	if len(s) > maxDescription {
		cut := maxDescription
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// ringCentralErrorCode returns the first errors[].errorCode of a RingCentral
// error body, if it looks like one and is none of the values sent.
func ringCentralErrorCode(body []byte, sent sentValues) string {
	var b struct {
		Errors []struct {
			ErrorCode string `json:"errorCode"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &b) != nil || len(b.Errors) == 0 {
		return ""
	}
	if c := sent.clean(b.Errors[0].ErrorCode); isCode(c) {
		return c
	}
	return ""
}

// refusalFromBody reads a refusal from a non-token endpoint (revocation,
// userinfo): RFC 7009's {"error", "error_description"} or RingCentral's
// {"errorCode", "message", "errors": [...]}, cleaned of the values sent.
func refusalFromBody(status int, body []byte, sent sentValues) tokenFailure {
	f := tokenFailure{kind: failBadResponse, status: status}
	var b struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		ErrorCode   string `json:"errorCode"`
		Message     string `json:"message"`
	}
	_ = json.Unmarshal(body, &b) // a body that is not JSON says nothing more
	f.code = sent.code(b.Error)
	f.description = sent.description(b.Description)
	if f.description == "" {
		f.description = sent.description(b.Message)
	}
	if f.description == "" {
		f.description = ringCentralMessage(body, sent)
	}
	f.providerID = ringCentralErrorCode(body, sent)
	if c := sent.clean(b.ErrorCode); f.providerID == "" && isCode(c) {
		f.providerID = c
	}
	switch {
	case status == http.StatusTooManyRequests:
		f.kind = failRateLimited
	case b.Error == "invalid_client" || status == http.StatusUnauthorized:
		f.kind = failInvalidClient
	case b.Error == "unauthorized_client":
		f.kind = failUnauthorizedClient
	case status >= 500:
		f.kind = failUnavailable
	}
	return f
}

// ringCentralMessage returns the first errors[].message of a RingCentral
// error body (cleaned and sanitised), if it looks like one.
func ringCentralMessage(body []byte, sent sentValues) string {
	var b struct {
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &b) != nil || len(b.Errors) == 0 {
		return ""
	}
	return sent.description(b.Errors[0].Message)
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date (read
// against now, the handler's clock), capped at MaxRetryAfter (a number too large for any integer type too); 0 if absent,
// negative or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if err != nil || secs > uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, MaxRetryAfter)
		}
	}
	return 0
}

// redactURLError drops the URL from a *url.Error (it may carry query values).
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return errors.New(ue.Op + ": " + ue.Err.Error())
	}
	return err
}
