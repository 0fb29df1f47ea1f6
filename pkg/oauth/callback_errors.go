package oauth

import (
	"context"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// What the callback says about the provider's refusals: errors on the
// redirect, a missing refresh token, a refused userinfo call.

// providerRedirectError answers a callback that brought the provider's
// error instead of a code. An error no retry can fix (the app's
// configuration at the provider or here is wrong) is logged as a
// configuration error with the fix, and the page offers no "Try again";
// the user declining, or a passing fault, offers one (retry, or back to the
// app's return_to when the authorization came with a connect token).
//
// The provider saw the state (in the authorization request): its error
// text is cleaned of it.
func (h *Handler) providerRedirectError(ctx context.Context, req events.APIGatewayV2HTTPRequest, provErr, description, state, retry, back, cookie string) events.APIGatewayV2HTTPResponse {
	sent := sentOnly(state)
	attrs := []any{"provider_error", sent.code(provErr)} // provErr is never empty here
	if d := sent.description(description); d != "" {
		attrs = append(attrs, "error_description", d)
	}
	if a, fix, ok := redirectConfigError(provErr, h.Config.Provider.presetName()); ok {
		h.Log.ErrorContext(ctx, "configuration error: the provider refused the authorization request; no retry can fix it",
			append(attrs, "outcome", a.code, "fix", fix)...)
		return render(req, a, cookie)
	}
	a := ansProviderRefused
	if provErr == "access_denied" {
		a = ansDeclined
	}
	a.retry, a.back = retry, back
	h.Log.InfoContext(ctx, "authorization ended by the provider", append(attrs, "outcome", a.code)...)
	return render(req, a, cookie)
}

// redirectConfigError maps the provider's redirect errors that only a
// configuration change can fix (RFC 6749 4.1.2.1) to their page and the
// fix for the log.
func redirectConfigError(provErr, preset string) (answer, string, bool) {
	switch provErr {
	case "unauthorized_client", "unsupported_response_type":
		return ansUnauthorizedClient, "the provider does not let this client use the authorization code grant: enable the Authorization Code grant for the app in its settings at the provider (RingCentral: auth type \"3-legged OAuth flow authorization code\")", true
	case "invalid_scope":
		fix := "OAUTH_SCOPES asks for scopes the provider does not grant this client: use only scopes the app is allowed at the provider"
		if preset == PresetRingCentral {
			fix = "RingCentral sets permissions in the app's settings, not per request: leave OAUTH_SCOPES empty, or list only permissions the app has"
		}
		return ansInvalidScope, fix, true
	case "invalid_request":
		return ansRequestRefused, "the provider refused the authorization request as malformed: check that OAUTH_CLIENT_ID is the app's client id, that OAUTH_REDIRECT_URL (or the derived callback URL) is registered with the provider exactly, and that OAUTH_AUTH_URL is the provider's authorization endpoint and accepts PKCE (S256); the error_description names the parameter", true
	}
	return answer{}, "", false
}

// noRefreshTokenFix is what makes the provider issue refresh tokens.
func noRefreshTokenFix(preset string) string {
	if preset == PresetRingCentral {
		return "turn on \"Issue refresh tokens\" in the RingCentral app's settings (Developer Console, app settings, Auth), then have the account authorize again"
	}
	return "allow the refresh_token grant for this client at the provider, and request offline access (most OpenID Connect providers issue refresh tokens only for the offline_access scope: add it to OAUTH_SCOPES), then have the account authorize again"
}

// bearerError reads error and error_description from an RFC 6750
// WWW-Authenticate challenge (Bearer error="invalid_token",
// error_description="..."), cleaned of the values sent and sanitised.
func bearerError(challenge string, sent sentValues) (code, description string) {
	for _, name := range []string{"error", "error_description"} {
		i := strings.Index(challenge, name+"=\"")
		if i < 0 {
			continue
		}
		v := challenge[i+len(name)+2:]
		if j := strings.IndexByte(v, '"'); j >= 0 {
			v = v[:j]
		}
		if name == "error" {
			code = sent.code(v)
		} else {
			description = sent.description(v)
		}
	}
	return code, description
}
