package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// DiscoveryTimeout bounds start-up's OpenID discovery, every provider's
// together (Setup): well inside Lambda's 10-second init phase.
const DiscoveryTimeout = 5 * time.Second

// maxDiscoveryDocument bounds the discovery document read.
const maxDiscoveryDocument = 1 << 20

// discovery marks a provider whose endpoints come from its issuer's OpenID
// configuration, and which of its settings were chosen explicitly.
type discovery struct {
	label        string // the issuer's setting, for errors: OAUTH_ISSUER or OAUTH_PROVIDERS: provider "x": issuer
	authStyleSet bool   // auth_style set: token_endpoint_auth_methods_supported is not read
	issSet       bool   // authorization_response_iss_parameter_supported set: the document's is not read
}

// openIDConfiguration is the part of an OpenID Provider's configuration
// (OpenID Connect Discovery 1.0 §3, RFC 8414, RFC 9207) oauthfn reads.
type openIDConfiguration struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	IssParameterSupported             bool     `json:"authorization_response_iss_parameter_supported"`
}

// discoveryURL is where an issuer's OpenID configuration is read:
// <issuer>/.well-known/openid-configuration, a terminating "/" of the
// issuer removed first (OpenID Connect Discovery 1.0 §4).
func discoveryURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// NeedsDiscovery reports whether a provider of c takes endpoints from its
// issuer's OpenID configuration and Discover has not run yet.
func (c Config) NeedsDiscovery() bool {
	if c.Provider.discovery != nil {
		return true
	}
	return slices.ContainsFunc(c.Providers, func(p ProviderConfig) bool { return p.Provider.discovery != nil })
}

// Discover completes every generic provider whose settings name an issuer
// and leave an endpoint unset (OAUTH_ISSUER, or an OAUTH_PROVIDERS entry's
// issuer): it reads <issuer>/.well-known/openid-configuration with hc (one
// GET, no redirect followed, no credentials) and takes from it the
// endpoints the settings leave unset (authorization, token, revocation,
// userinfo when no account_field names the account), the client
// authentication when auth_style is unset (client_secret_basic when the
// document offers it or names no method, else client_secret_post), and
// authorization_response_iss_parameter_supported when the settings leave it
// unset. The document's issuer must equal the configured issuer exactly
// (OpenID Connect Discovery 1.0 §4.3), else the provider is refused. Each
// provider's problem is one line naming its issuer setting; nothing is
// changed for a provider that fails. Setup calls it once per execution
// environment, bounded by DiscoveryTimeout; a warm invocation reads nothing.
func (c *Config) Discover(ctx context.Context, hc *http.Client) error {
	if hc == nil {
		hc = &http.Client{Timeout: DiscoveryTimeout}
	}
	client := *hc
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	var errs []error
	if c.Provider.discovery != nil {
		if err := discoverProvider(ctx, &client, &c.Provider); err != nil {
			errs = append(errs, err)
		}
	}
	for i := range c.Providers {
		p := &c.Providers[i].Provider
		if p.discovery == nil {
			continue
		}
		if err := discoverProvider(ctx, &client, p); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("oauth: OpenID discovery failed: %w", errors.Join(errs...))
	}
	return nil
}

// discoverProvider reads p's issuer's OpenID configuration and completes p.
func discoverProvider(ctx context.Context, hc *http.Client, p *Provider) error {
	d := p.discovery
	where := discoveryURL(p.Issuer)
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s: %s", d.label, where, fmt.Sprintf(format, args...))
	}
	doc, err := fetchOpenIDConfiguration(ctx, hc, where)
	if err != nil {
		return fail("%v", err)
	}
	if doc.Issuer != p.Issuer {
		got := doc.Issuer
		if len(got) > 256 { // the document's text, bounded in the log line
			got = got[:256] + "…"
		}
		return fail("the document's issuer %q is not the configured issuer %q (they must be equal exactly: OpenID Connect Discovery 1.0 §4.3); refused", got, p.Issuer)
	}
	out := *p
	var errs []string
	take := func(name, v string, dst *string, required bool) {
		if *dst != "" { // the settings' own endpoint wins
			return
		}
		if v == "" {
			if required {
				errs = append(errs, fmt.Sprintf("no %s", name))
			}
			return
		}
		if err := checkURL(v); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", name, err))
			return
		}
		*dst = v
	}
	take("authorization_endpoint", doc.AuthorizationEndpoint, &out.Endpoint.AuthURL, true)
	take("token_endpoint", doc.TokenEndpoint, &out.Endpoint.TokenURL, true)
	take("revocation_endpoint", doc.RevocationEndpoint, &out.RevokeURL, false)
	if out.AccountField == "" {
		take("userinfo_endpoint (the account's sub; or set account_field)", doc.UserinfoEndpoint, &out.UserinfoURL, true)
	}
	if !d.authStyleSet {
		methods := doc.TokenEndpointAuthMethodsSupported
		switch {
		case len(methods) == 0 || slices.Contains(methods, "client_secret_basic"):
			out.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
		case slices.Contains(methods, "client_secret_post"):
			out.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		default:
			errs = append(errs, fmt.Sprintf("token_endpoint_auth_methods_supported %q offers neither client_secret_basic nor client_secret_post", methods))
		}
	}
	if !d.issSet {
		out.IssuerInResponse = doc.IssParameterSupported
	}
	if len(errs) > 0 {
		return fail("%s", strings.Join(errs, "; "))
	}
	out.discovery = nil
	*p = out
	return nil
}

// fetchOpenIDConfiguration GETs and decodes a discovery document.
func fetchOpenIDConfiguration(ctx context.Context, hc *http.Client, where string) (*openIDConfiguration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, where, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the cause; the URL is named already
		}
		if errors.Is(err, context.DeadlineExceeded) || (ue != nil && ue.Timeout()) {
			return nil, fmt.Errorf("no answer within the start-up bound (%v)", DiscoveryTimeout)
		}
		return nil, fmt.Errorf("unreachable: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered HTTP %d, want 200 with the OpenID configuration (redirects are not followed)", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscoveryDocument+1))
	if err != nil {
		return nil, fmt.Errorf("reading the document: %v", err)
	}
	if len(body) > maxDiscoveryDocument {
		return nil, fmt.Errorf("document larger than %d bytes", maxDiscoveryDocument)
	}
	var doc openIDConfiguration
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, errors.New("not a JSON OpenID configuration")
	}
	return &doc, nil
}
