package oauth

import (
	"strings"

	"golang.org/x/oauth2"
)

// Provider is what a preset knows about an OAuth 2.0 provider beyond its
// oauth2.Endpoint: where to revoke, how to name the account, and its limits.
type Provider struct {
	Name string // "ringcentral" or "generic": part of every connection's key
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
}

// Provider preset names.
const (
	PresetRingCentral = "ringcentral"
	PresetGeneric     = "generic"
)

// DefaultRingCentralServer is OAUTH_SERVER_URL's default.
const DefaultRingCentralServer = "https://platform.ringcentral.com"

// RingCentral returns the RingCentral preset for a server URL such as
// https://platform.ringcentral.com. Endpoints:
// /restapi/oauth/authorize, /restapi/oauth/token, /restapi/oauth/revoke.
// The account is the token response's owner_id. The Auth API group allows 5
// token requests a minute, hence TokenRatePerMin 5.
func RingCentral(serverURL string) Provider {
	base := strings.TrimRight(serverURL, "/")
	return Provider{
		Name: PresetRingCentral,
		Endpoint: oauth2.Endpoint{
			AuthURL:   base + "/restapi/oauth/authorize",
			TokenURL:  base + "/restapi/oauth/token",
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		RevokeURL:       base + "/restapi/oauth/revoke",
		AccountField:    "owner_id",
		TokenRatePerMin: 5,
	}
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
