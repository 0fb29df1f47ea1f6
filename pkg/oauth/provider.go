package oauth

import (
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Provider is what a preset knows about an OAuth 2.0 provider beyond its
// oauth2.Endpoint: where to revoke, how to name the account, and its limits.
type Provider struct {
	// Name is the provider id, part of every connection's key: the
	// preset's name in a single-provider stack, the OAUTH_PROVIDERS id
	// otherwise.
	Name string
	// Preset is the preset's name (what the messages about a preset's
	// quirks go by).
	Preset string
	// Issuer is the provider's issuer identifier (RFC 9207): an iss on the
	// callback must equal it. IssuerInResponse: the provider always sends
	// iss (authorization_response_iss_parameter_supported), so a callback
	// without one is refused.
	Issuer           string
	IssuerInResponse bool
	// Endpoint's AuthStyle is oauth2.AuthStyleInHeader (OAUTH_AUTH_STYLE
	// basic, the default) or oauth2.AuthStyleInParams (post); never
	// auto-detected. Revocation authenticates the same way.
	Endpoint oauth2.Endpoint
	// RevokeURL revokes a token (RFC 7009 style form POST, the client
	// authenticated as at the token endpoint).
	// Empty: the provider offers no revocation.
	RevokeURL string
	// AccountField names the token-response field holding the account id
	// (RingCentral: "owner_id").
	AccountField string
	// UserinfoURL, when AccountField is empty, is fetched with the access
	// token; the account is its JSON "sub".
	UserinfoURL string
	// TokenRatePerMin is the preset's default for TOKEN_RATE_PER_MIN.
	TokenRatePerMin int

	// APIPrefixes are the absolute URL prefixes (each ending in "/") the
	// BFF's API proxy may call with the account's access token
	// (OAUTH_API_PREFIXES, the api_prefixes setting, else the preset's);
	// none: the proxy answers 403 api_not_allowed. APIBase, when set, is
	// the URL a proxied path is first resolved against (the preset's
	// server), before each prefix's origin. APIDenied are URL prefixes
	// never proxied even inside APIPrefixes (RingCentral's /restapi/oauth/),
	// besides the provider's own OAuth endpoints. See api_prefixes.go.
	APIPrefixes []string
	APIBase     string
	APIDenied   []string

	// The fields below are set by the presets of presets.go; a zero value
	// is the plain OAuth 2.0 behaviour (and ringcentral's and generic's).

	// UserinfoField is the field of the userinfo answer naming the account
	// ("" : "sub"; a number is read as its decimal text unless the field
	// is "sub").
	UserinfoField string
	// IDTokenClaim, when set, names the account: that claim of the token
	// response's id_token (see idTokenClaim), taken before AccountField
	// and UserinfoURL.
	IDTokenClaim string
	// IDTokenIssuers, when not empty, are the only accepted "iss" of that
	// id_token.
	IDTokenIssuers []string
	// Account, when set, names the account from the token response (a
	// provider whose id is nested or must be cut out of another value);
	// it is taken before everything else.
	Account func(tok *oauth2.Token) (string, error)
	// SharedAccount: the account id names an organisation, not a person
	// (a Slack workspace): everyone in it who signs in gets the same
	// account. The BFF, where the person who signs in is the user,
	// refuses such a provider (its sessions would be shared by everyone in
	// the organisation, with the latest installation's token).
	SharedAccount bool
	// TokenTypes are token_type values, besides "bearer" (any case) and
	// none, that the provider sends for bearer tokens (Slack: "bot").
	TokenTypes []string
	// ErrorCodes maps the provider's own token-endpoint error codes to
	// RFC 6749's (GitHub: bad_refresh_token -> invalid_grant).
	ErrorCodes map[string]string

	// AuthorizeParams are added to the authorize URL: what the provider
	// needs before it issues a refresh token at all (Google's
	// access_type=offline and prompt=consent).
	AuthorizeParams map[string]string
	// DefaultScopes are requested when OAUTH_SCOPES is empty;
	// RequiredScopes are always requested (added to OAUTH_SCOPES when it
	// lacks them): the scopes without which no refresh token or account
	// id comes back (offline_access, openid).
	DefaultScopes  []string
	RequiredScopes []string

	// AccessLifetime is assumed when a token response carries no
	// expires_in (0: unknown, the token is used until refused).
	AccessLifetime time.Duration
	// RefreshIdle is assumed when a token response carries no
	// refresh_token_expires_in: the refresh token dies after this long
	// unused, and each use (a refresh) starts it again. 0: unknown (kept
	// alive only in eager mode).
	RefreshIdle time.Duration

	// Facts the flow does not branch on, for the docs and the tests.
	PKCE     bool          // the provider documents PKCE (S256) support
	Rotates  bool          // a refresh returns a new refresh token
	Grace    time.Duration // the old refresh token keeps working this long after a rotation (-1: until it expires)
	Revokes  string        // how revocation works, when RevokeURL is empty or not RFC 7009
	Settings string        // the settings this preset needs beyond the common ones

	// discovery is set, until Config.Discover has run, for a generic
	// provider whose settings name an issuer and leave an endpoint unset.
	discovery *discovery
}

// Provider preset names.
const (
	PresetRingCentral = "ringcentral"
	PresetGeneric     = "generic"
	PresetGoogle      = "google"
	PresetMicrosoft   = "microsoft"
	PresetSlack       = "slack"
	PresetGitHub      = "github"
	PresetSalesforce  = "salesforce"
	PresetAtlassian   = "atlassian"
)

// DefaultRingCentralServer is OAUTH_SERVER_URL's default.
const DefaultRingCentralServer = "https://platform.ringcentral.com"

// RingCentral returns the RingCentral preset for a server URL such as
// https://platform.ringcentral.com. Endpoints:
// /restapi/oauth/authorize, /restapi/oauth/token, /restapi/oauth/revoke.
// The account is the token response's owner_id. The Auth API group allows 5
// token requests a minute, hence TokenRatePerMin 5.
func RingCentral(serverURL string) Provider {
	return presetTable()[PresetRingCentral].For(serverURL)
}

// presetName is the preset's name (Name when Preset is unset: a Provider
// built by hand).
func (p Provider) presetName() string {
	if p.Preset != "" {
		return p.Preset
	}
	return p.Name
}

// bearerType reports whether a token response's token_type names a bearer
// token: none, "bearer" in any case, or one of the provider's TokenTypes.
func (p Provider) bearerType(t string) bool {
	return t == "" || strings.EqualFold(t, "bearer") || slices.Contains(p.TokenTypes, t)
}

// Client authentication methods at the token and revocation endpoints
// (OAUTH_AUTH_STYLE).
const (
	AuthStyleBasic = "basic" // client_secret_basic: HTTP Basic (the default)
	AuthStylePost  = "post"  // client_secret_post: client_id and client_secret in the form body
)

// authStyle is the oauth2.AuthStyle the client uses: Basic unless post was
// chosen. Never oauth2.AuthStyleAutoDetect: it re-sends a refused request
// the other way and can burn a single-use code or refresh token.
func (p Provider) authStyle() oauth2.AuthStyle {
	if p.Endpoint.AuthStyle == oauth2.AuthStyleInParams {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

// authStyleName is OAUTH_AUTH_STYLE's value for s.
func authStyleName(s oauth2.AuthStyle) string {
	if s == oauth2.AuthStyleInParams {
		return AuthStylePost
	}
	return AuthStyleBasic
}

// authStyleText says how the credentials were sent, for a log line.
func authStyleText(name string) string {
	if name == AuthStylePost {
		return "in the form body (client_secret_post, OAUTH_AUTH_STYLE=post)"
	}
	return "in an HTTP Basic header (client_secret_basic, OAUTH_AUTH_STYLE=basic)"
}
