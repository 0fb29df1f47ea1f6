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

	"golang.org/x/oauth2"
)

// tokenFailure classifies a failed token-endpoint call (code exchange or
// refresh) into what the caller does about it.
type tokenFailure struct {
	kind       string        // one of the failure kinds below
	code       string        // RFC 6749 error code, if any
	providerID string        // provider-specific code, e.g. RingCentral's OAU-251
	status     int           // HTTP status, 0 when none
	retryAfter time.Duration // for rate limiting; 0 when absent
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

// classifyTokenError reads x/oauth2's error. It never keeps the response
// body beyond the provider's error codes.
func classifyTokenError(err error) tokenFailure {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		f := tokenFailure{code: safeCode(re.ErrorCode)}
		if re.ErrorCode == "" {
			f.code = ""
		}
		if re.Response != nil {
			f.status = re.Response.StatusCode
			f.retryAfter = parseRetryAfter(re.Response.Header.Get("Retry-After"))
		}
		f.providerID = ringCentralErrorCode(re.Body)
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

// logAttrs describe f for a log line, with the fix where there is one.
func (f tokenFailure) logAttrs() []any {
	attrs := []any{"failure", f.kind}
	if f.code != "" {
		attrs = append(attrs, "error_code", f.code)
	}
	if f.providerID != "" {
		attrs = append(attrs, "provider_error_code", f.providerID)
	}
	if f.status != 0 {
		attrs = append(attrs, "http_status", f.status)
	}
	switch f.kind {
	case failUnauthorizedClient:
		attrs = append(attrs, "fix", "the app is not approved for this grant type: enable the Authorization Code grant (and refresh tokens) in the app's settings at the provider (RingCentral OAU-251 \"Unauthorized for this grant type\")")
	case failInvalidClient:
		attrs = append(attrs, "fix", "the provider refused the client credentials: check OAUTH_CLIENT_ID and the client secret in Secrets Manager")
	}
	return attrs
}

// ringCentralErrorCode returns the first errors[].errorCode of a RingCentral
// error body, if it looks like one.
func ringCentralErrorCode(body []byte) string {
	var b struct {
		Errors []struct {
			ErrorCode string `json:"errorCode"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &b) != nil || len(b.Errors) == 0 {
		return ""
	}
	if c := b.Errors[0].ErrorCode; isCode(c) {
		return c
	}
	return ""
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date; 0 if absent
// or unreadable.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
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
