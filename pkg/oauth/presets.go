package oauth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Preset is one row of the presets table: a provider's documented facts as
// plain values. Endpoints may hold "{server}", replaced by OAUTH_SERVER_URL
// (or DefaultServer) for providers with a tenant, instance or My Domain.
// Quirks are small named functions the row points at (Provider.Account); the
// flow never branches on a preset's name. OAUTH_PROVIDERS (one stack, many
// providers) takes the same rows by name.
type Preset struct {
	Provider
	// DefaultServer is OAUTH_SERVER_URL's default; "" means the preset's
	// endpoints are fixed and OAUTH_SERVER_URL is not read.
	DefaultServer string
	// Sources are the provider's pages each fact above was taken from.
	Sources []string
}

// For returns the preset's Provider for the server URL ("": DefaultServer).
func (p Preset) For(server string) Provider {
	if server == "" {
		server = p.DefaultServer
	}
	base := strings.TrimRight(server, "/")
	out := p.Provider
	out.Preset = out.Name
	sub := func(s string) string { return strings.ReplaceAll(s, "{server}", base) }
	out.Endpoint.AuthURL = sub(out.Endpoint.AuthURL)
	out.Endpoint.TokenURL = sub(out.Endpoint.TokenURL)
	out.RevokeURL = sub(out.RevokeURL)
	out.UserinfoURL = sub(out.UserinfoURL)
	out.APIPrefixes = substAll(out.APIPrefixes, sub)
	out.APIDenied = substAll(out.APIDenied, sub)
	if p.DefaultServer != "" {
		out.APIBase = base + "/"
	}
	return out
}

// substAll applies sub to a copy of each of ss.
func substAll(ss []string, sub func(string) string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = sub(s)
	}
	return out
}

// PresetNames lists the presets, sorted, for error messages and the docs.
func PresetNames() []string {
	table := presetTable()
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// presetTable is the presets table, keyed by OAUTH_PROVIDER's value. Each row
// cites the provider's pages; docs/providers.md is the same table for
// people. Lifetimes a provider documents but does not send are assumed
// (AccessLifetime, RefreshIdle); rotation and grace are facts the mock
// provider plays in the tests (internal/mockrc's dialects).
func presetTable() map[string]Preset {
	return map[string]Preset{
		// RingCentral: https://developers.ringcentral.com/guide/authentication/auth-code-flow,
		// https://developers.ringcentral.com/guide/authentication/auth-code-pkce-flow,
		// https://developers.ringcentral.com/guide/authentication/tokens
		// (refresh tokens are single use; at most five sessions per user and
		// app), https://developers.ringcentral.com/guide/basics/rate-limits
		// (Auth group: 5 requests a minute). The token response carries
		// owner_id, expires_in and refresh_token_expires_in.
		PresetRingCentral: {
			Provider: Provider{
				Name: PresetRingCentral,
				Endpoint: oauth2.Endpoint{
					AuthURL:   "{server}/restapi/oauth/authorize",
					TokenURL:  "{server}/restapi/oauth/token",
					AuthStyle: oauth2.AuthStyleInHeader,
				},
				RevokeURL:       "{server}/restapi/oauth/revoke",
				AccountField:    "owner_id",
				TokenRatePerMin: 5,
				// The REST API (https://developers.ringcentral.com/api-reference);
				// never its OAuth endpoints.
				APIPrefixes: []string{"{server}/restapi/v1.0/"},
				APIDenied:   []string{"{server}/restapi/oauth/"},
				PKCE:        true,
				Rotates:     true,
				Grace:       60 * time.Minute,
				Settings:    "OAUTH_SERVER_URL (default https://platform.ringcentral.com)",
			},
			DefaultServer: DefaultRingCentralServer,
			Sources: []string{
				"https://developers.ringcentral.com/guide/authentication/auth-code-flow",
				"https://developers.ringcentral.com/guide/authentication/auth-code-pkce-flow",
				"https://developers.ringcentral.com/guide/authentication/tokens",
			},
		},

		// Any OAuth 2.0 provider: every endpoint and the account's source come
		// from the settings (OAUTH_AUTH_URL, OAUTH_TOKEN_URL, and
		// OAUTH_ACCOUNT_FIELD or OAUTH_USERINFO_URL), or, for an OpenID
		// Connect provider named by OAUTH_ISSUER, from its discovery
		// document (discovery.go; a setting wins over the document).
		PresetGeneric: {
			Provider: Provider{
				Name:     PresetGeneric,
				Settings: "OAUTH_ISSUER (OpenID discovery), or OAUTH_AUTH_URL, OAUTH_TOKEN_URL, and OAUTH_ACCOUNT_FIELD or OAUTH_USERINFO_URL; optional OAUTH_REVOKE_URL",
			},
			Sources: []string{
				"https://www.rfc-editor.org/rfc/rfc6749", "https://www.rfc-editor.org/rfc/rfc7009",
				"https://openid.net/specs/openid-connect-discovery-1_0.html", "https://www.rfc-editor.org/rfc/rfc9207",
			},
		},

		// Google: https://developers.google.com/identity/protocols/oauth2/web-server
		// (endpoints; access_type=offline for a refresh token, prompt=consent
		// to get one again on a later consent; PKCE; the client secret in the
		// form body; refresh responses carry no new refresh token;
		// refresh_token_expires_in only for time-based access; revocation at
		// oauth2.googleapis.com/revoke, a refresh token's access tokens with
		// it), https://developers.google.com/identity/protocols/oauth2#expiration
		// (a refresh token unused for six months stops working; a limit of
		// live refresh tokens per account and client, the oldest dropped),
		// https://developers.google.com/identity/openid-connect/openid-connect
		// (id_token sub, iss accounts.google.com or https://accounts.google.com),
		// https://developers.google.cn/identity/openid-connect/reference
		// (Google's OpenID Connect reference, read in its developers.google.cn
		// copy; the discovery document: issuer https://accounts.google.com,
		// code_challenge_methods_supported for PKCE, and the RFC 9207 field
		// authorization_response_iss_parameter_supported). Google's redirect
		// back carries iss=https://accounts.google.com, but its discovery
		// document is not documented to promise it, so an iss is checked
		// when present and its absence is not refused.
		PresetGoogle: {
			Provider: Provider{
				Name: PresetGoogle,
				Endpoint: oauth2.Endpoint{
					AuthURL:   "https://accounts.google.com/o/oauth2/v2/auth",
					TokenURL:  "https://oauth2.googleapis.com/token",
					AuthStyle: oauth2.AuthStyleInParams,
				},
				RevokeURL:       "https://oauth2.googleapis.com/revoke",
				Issuer:          "https://accounts.google.com",
				IDTokenClaim:    "sub",
				IDTokenIssuers:  []string{"https://accounts.google.com", "accounts.google.com"},
				AuthorizeParams: map[string]string{"access_type": "offline", "prompt": "consent"},
				APIPrefixes:     []string{"https://www.googleapis.com/"},
				APIDenied:       []string{"https://www.googleapis.com/oauth2/"}, // legacy OAuth endpoints: oauth2/v4/token, v3/tokeninfo, v3/userinfo
				RequiredScopes:  []string{"openid"},
				RefreshIdle:     182 * 24 * time.Hour,
				PKCE:            true,
				Settings:        "OAUTH_SCOPES (the Google API scopes; openid is always added)",
			},
			Sources: []string{
				"https://developers.google.com/identity/protocols/oauth2/web-server",
				"https://developers.google.com/identity/protocols/oauth2#expiration",
				"https://developers.google.com/identity/openid-connect/openid-connect",
				"https://developers.google.cn/identity/openid-connect/reference",
			},
		},

		// Microsoft Entra ID (identity platform v2.0):
		// https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow
		// (endpoints under the tenant: common, organizations, consumers or a
		// tenant id; offline_access for a refresh token; PKCE; client_secret in
		// the form body), https://learn.microsoft.com/entra/identity-platform/refresh-tokens
		// (90 days; "refresh tokens replace themselves with a fresh token upon
		// every use" and the old one is not revoked; no lifetime in the
		// response), https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference
		// (sub, per user and application; iss names the user's tenant, so it
		// is not fixed for common). No RFC 7009 revocation endpoint.
		PresetMicrosoft: {
			Provider: Provider{
				Name: PresetMicrosoft,
				Endpoint: oauth2.Endpoint{
					AuthURL:   "{server}/oauth2/v2.0/authorize",
					TokenURL:  "{server}/oauth2/v2.0/token",
					AuthStyle: oauth2.AuthStyleInParams,
				},
				IDTokenClaim:   "sub",
				RequiredScopes: []string{"openid", "offline_access"},
				APIPrefixes:    []string{"https://graph.microsoft.com/"},
				RefreshIdle:    90 * 24 * time.Hour,
				PKCE:           true,
				Rotates:        true,
				Grace:          -1,
				Revokes:        "no per-app revocation endpoint (Graph's revokeSignInSessions ends all of the user's sessions); a disconnect forgets the tokens",
				Settings:       "OAUTH_SERVER_URL https://login.microsoftonline.com/<tenant> (default .../common); OAUTH_SCOPES such as https://graph.microsoft.com/User.Read",
			},
			DefaultServer: "https://login.microsoftonline.com/common",
			Sources: []string{
				"https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow",
				"https://learn.microsoft.com/entra/identity-platform/refresh-tokens",
				"https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference",
			},
		},

		// Slack (OAuth v2, token rotation enabled in the app's settings):
		// https://docs.slack.dev/authentication/installing-with-oauth
		// (slack.com/oauth/v2/authorize, scope required),
		// https://api.slack.com/methods/oauth.v2.access (HTTP Basic preferred;
		// code_verifier for PKCE; errors such as invalid_code, bad_client_secret,
		// invalid_refresh_token answered {"ok":false,"error":...} with HTTP
		// 200; token_type "bot"; the workspace in team.id),
		// https://docs.slack.dev/authentication/using-token-rotation (access
		// tokens expire after 12 hours, expires_in; each refresh revokes the
		// refresh token used and returns a new one). auth.revoke is not RFC
		// 7009 (the token to revoke is the caller's own credential), so not used.
		PresetSlack: {
			Provider: Provider{
				Name: PresetSlack,
				Endpoint: oauth2.Endpoint{
					AuthURL:   "https://slack.com/oauth/v2/authorize",
					TokenURL:  "https://slack.com/api/oauth.v2.access",
					AuthStyle: oauth2.AuthStyleInHeader,
				},
				Account: slackAccount,
				// The account is the workspace (or the Grid organisation):
				// no browser session of the BFF (bff.go).
				SharedAccount: true,
				// Web API methods (https://docs.slack.dev/reference/methods),
				// never its OAuth, OpenID or revocation methods.
				APIPrefixes: []string{"https://slack.com/api/"},
				APIDenied: []string{"https://slack.com/api/oauth.", "https://slack.com/api/openid.connect.",
					"https://slack.com/api/auth.revoke"},
				TokenTypes: []string{"bot", "user"},
				ErrorCodes: map[string]string{
					"invalid_code":          "invalid_grant",
					"invalid_refresh_token": "invalid_grant",
					"bad_redirect_uri":      "invalid_grant",
					"bad_client_secret":     "invalid_client",
					"invalid_client_id":     "invalid_client",
					"invalid_grant_type":    "unsupported_grant_type",
				},
				PKCE:     true,
				Rotates:  true,
				Revokes:  "auth.revoke takes the token as the caller's own credential (not RFC 7009); not called, a disconnect forgets the tokens",
				Settings: "OAUTH_SCOPES (the bot scopes, required); token rotation enabled in the app's settings",
			},
			Sources: []string{
				"https://api.slack.com/methods/oauth.v2.access",
				"https://docs.slack.dev/authentication/using-token-rotation",
				"https://docs.slack.dev/authentication/installing-with-oauth",
			},
		},

		// GitHub App user access tokens (expiring tokens on, the default):
		// https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app
		// (github.com/login/oauth/authorize and access_token, client_id and
		// client_secret as parameters, a form-encoded answer unless Accept
		// asks for JSON, errors such as bad_verification_code with HTTP 200),
		// https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens
		// (8-hour access tokens, 6-month refresh tokens, both lifetimes in the
		// response; a refresh returns a new refresh token and the one used
		// stops working; bad_refresh_token), https://docs.github.com/rest/users/users#get-the-authenticated-user
		// (GET /user: the account's numeric id). Revocation (DELETE
		// /applications/{client_id}/grant with an access token in a JSON body)
		// is not RFC 7009: not called.
		PresetGitHub: {
			Provider: Provider{
				Name: PresetGitHub,
				Endpoint: oauth2.Endpoint{
					AuthURL:   "https://github.com/login/oauth/authorize",
					TokenURL:  "https://github.com/login/oauth/access_token",
					AuthStyle: oauth2.AuthStyleInParams,
				},
				UserinfoURL:   "https://api.github.com/user",
				UserinfoField: "id",
				APIPrefixes:   []string{"https://api.github.com/"},
				ErrorCodes: map[string]string{
					"bad_verification_code":        "invalid_grant",
					"bad_refresh_token":            "invalid_grant",
					"redirect_uri_mismatch":        "invalid_grant",
					"incorrect_client_credentials": "invalid_client",
				},
				PKCE:     true,
				Rotates:  true,
				Revokes:  "DELETE /applications/{client_id}/grant needs an access token in a JSON body (not RFC 7009); not called, a disconnect forgets the tokens",
				Settings: "a GitHub App with expiring user access tokens (an OAuth App issues no refresh token)",
			},
			Sources: []string{
				"https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-user-access-token-for-a-github-app",
				"https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens",
				"https://docs.github.com/rest/apps/oauth-applications#delete-an-app-authorization",
				// PKCE (S256 only) supported and recommended, not required.
				"https://github.blog/changelog/2025-07-14-pkce-support-for-oauth-and-github-app-authentication",
			},
		},

		// Salesforce: https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_web_server_flow.htm
		// (endpoints under login.salesforce.com, test.salesforce.com or the My
		// Domain; PKCE; the refresh_token scope for a refresh token; the
		// response has id, instance_url, issued_at, signature and no
		// expires_in), https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_refresh_token_flow.htm
		// (the session timeout ends access tokens; refresh token rotation is
		// an app setting: off, no new refresh token; on, a new one each time
		// and the previous one invalidated),
		// https://developer.salesforce.com/docs/platform/mobile-sdk/guide/oauth-revoking-tokens.html
		// (POST /services/oauth2/revoke token=..., a refresh token's access
		// tokens with it). The account is the identity URL's org and user ids.
		PresetSalesforce: {
			Provider: Provider{
				Name: PresetSalesforce,
				Endpoint: oauth2.Endpoint{
					AuthURL:   "{server}/services/oauth2/authorize",
					TokenURL:  "{server}/services/oauth2/token",
					AuthStyle: oauth2.AuthStyleInParams,
				},
				RevokeURL:      "{server}/services/oauth2/revoke",
				Account:        salesforceAccount,
				DefaultScopes:  []string{"api"},
				RequiredScopes: []string{"refresh_token"},
				// No expires_in: the access token lives as long as the org's
				// session timeout (default two hours), which an admin may set
				// as low as 15 minutes; assuming the shortest hands out no
				// dead token. docs/providers.md says where each was read.
				AccessLifetime: 15 * time.Minute,
				PKCE:           true,
				Settings:       "OAUTH_SERVER_URL: the My Domain (https://<name>.my.salesforce.com; default https://login.salesforce.com)",
			},
			DefaultServer: "https://login.salesforce.com",
			Sources: []string{
				"https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_web_server_flow.htm",
				"https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_refresh_token_flow.htm",
				"https://developer.salesforce.com/docs/platform/mobile-sdk/guide/oauth-revoking-tokens.html",
			},
		},

		// Atlassian (Jira, Confluence: OAuth 2.0 3LO):
		// https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/
		// (auth.atlassian.com/authorize with audience=api.atlassian.com and
		// prompt=consent; client_id and client_secret in the body;
		// GET api.atlassian.com/me for the account_id, scope read:me),
		// https://developer.atlassian.com/cloud/oauth/getting-started/refresh-tokens
		// (offline_access for a refresh token; rotating: each refresh returns
		// a new one; invalid_grant with HTTP 403),
		// https://community.developer.atlassian.com/t/updated-31-january-2022-action-required-deprecating-persistent-refresh-tokens/54172
		// (Atlassian's announcement of rotating refresh tokens: 90 days of
		// inactivity, 365 days absolute; a rotated token may be reused within
		// a 10-minute leeway, and reuse after it invalidates all of the
		// grant's refresh tokens),
		// https://community.developer.atlassian.com/t/refresh-token-expire-after-36000-seconds/60806/2
		// (the same lifetimes, by Atlassian staff; not in the response).
		// https://developer.atlassian.com/cloud/oauth/getting-started/implementing-oauth-3lo
		// shows the token requests with a JSON body; oauthfn sends RFC 6749's
		// form body, which Atlassian does not document. No documented
		// revocation endpoint.
		PresetAtlassian: {
			Provider: Provider{
				Name: PresetAtlassian,
				Endpoint: oauth2.Endpoint{
					AuthURL:   "https://auth.atlassian.com/authorize",
					TokenURL:  "https://auth.atlassian.com/oauth/token",
					AuthStyle: oauth2.AuthStyleInParams,
				},
				UserinfoURL:     "https://api.atlassian.com/me",
				UserinfoField:   "account_id",
				APIPrefixes:     []string{"https://api.atlassian.com/"},
				AuthorizeParams: map[string]string{"audience": "api.atlassian.com", "prompt": "consent"},
				RequiredScopes:  []string{"offline_access", "read:me"},
				RefreshIdle:     90 * 24 * time.Hour,
				Rotates:         true,
				Grace:           10 * time.Minute,
				Revokes:         "no documented revocation endpoint; a disconnect forgets the tokens",
				Settings:        "OAUTH_SCOPES (the product scopes, e.g. read:jira-work; offline_access and read:me are always added)",
			},
			Sources: []string{
				"https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/",
				"https://developer.atlassian.com/cloud/oauth/getting-started/refresh-tokens",
				"https://developer.atlassian.com/cloud/oauth/getting-started/implementing-oauth-3lo",
				"https://community.developer.atlassian.com/t/updated-31-january-2022-action-required-deprecating-persistent-refresh-tokens/54172",
				"https://community.developer.atlassian.com/t/refresh-token-expire-after-36000-seconds/60806/2",
			},
		},
	}
}

// LookupPreset returns the preset named name (a value of OAUTH_PROVIDER, or
// a provider's "preset" setting). The table is built on each call, at
// start-up only, so the package does no work at init.
func LookupPreset(name string) (Preset, bool) {
	p, ok := presetTable()[name]
	return p, ok
}

// slackAccount names a Slack installation: the workspace (team.id), or the
// Enterprise Grid organisation (enterprise.id) for an org-wide install,
// where team is null.
func slackAccount(tok *oauth2.Token) (string, error) {
	for _, field := range []string{"team", "enterprise"} {
		if m, ok := tok.Extra(field).(map[string]any); ok {
			if id, ok := m["id"].(string); ok && id != "" {
				return id, nil
			}
		}
	}
	return "", errors.New("token response has no team.id or enterprise.id")
}

// salesforceAccount names a Salesforce user by the identity URL of the
// token response (id: https://login.salesforce.com/id/<org id>/<user id>):
// "<org id>/<user id>", the same whatever host issued it.
func salesforceAccount(tok *oauth2.Token) (string, error) {
	u, err := url.Parse(extraString(tok, "id"))
	if err != nil {
		return "", errors.New("token response's id is not a URL")
	}
	parts := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	if len(parts) != 3 || parts[0] != "id" || parts[1] == "" || parts[2] == "" {
		return "", errors.New("token response's id is not an identity URL (/id/<org>/<user>)")
	}
	return parts[1] + "/" + parts[2], nil
}

// idTokenClaim reads a claim of the token response's id_token. The
// signature is not checked: the token came straight from the token
// endpoint over TLS, which OpenID Connect Core 1.0 §3.1.3.7 allows in place
// of it. Its audience must be the client, its issuer one of issuers (when
// given), and it must not have expired at now.
func idTokenClaim(tok *oauth2.Token, claim, clientID string, issuers []string, now time.Time) (string, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return "", errors.New("token response has no id_token (is the openid scope requested?)")
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", errors.New("id_token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", errors.New("id_token payload does not decode")
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", errors.New("id_token payload is not JSON")
	}
	var aud []string
	switch v := c["aud"].(type) {
	case string:
		aud = []string{v}
	case []any:
		for _, a := range v {
			if s, ok := a.(string); ok {
				aud = append(aud, s)
			}
		}
	}
	if !slices.Contains(aud, clientID) {
		return "", errors.New("id_token is not for this client (aud)")
	}
	if iss, _ := c["iss"].(string); len(issuers) > 0 && !slices.Contains(issuers, iss) {
		return "", fmt.Errorf("id_token issuer is not the provider's (iss %q)", safeCode(iss))
	}
	if exp, ok := c["exp"].(float64); ok && !now.Before(time.Unix(int64(exp), 0)) {
		return "", errors.New("id_token has expired")
	}
	switch v := c[claim].(type) {
	case string:
		if v != "" {
			return v, nil
		}
	}
	return "", fmt.Errorf("id_token has no %q", claim)
}
