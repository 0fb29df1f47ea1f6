package oauth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/oauth2"
)

// ProviderConfig is one provider of a stack: its preset with the settings'
// overrides, and its own client. In a single-provider stack it is built from
// the single-provider variables and its ID is the preset's name.
type ProviderConfig struct {
	// ID names the provider in routes, connect tokens, connection keys
	// (conn#<id>#<account>) and rate buckets: [a-z][a-z0-9-]{0,31}.
	ID string
	// Provider is the preset with the settings' overrides; Provider.Name
	// is ID.
	Provider    Provider
	ClientID    string
	RedirectURL string   // "": <the API's URL>/callback/<id>
	Scopes      []string // may be empty
	// TokenRatePerMin is the provider's token_rate_per_min, else
	// TOKEN_RATE_PER_MIN, else the preset's (0: unlimited).
	TokenRatePerMin int
}

// ValidProviderID reports whether id is a well-formed provider id of
// OAUTH_PROVIDERS: [a-z][a-z0-9-]{0,31}. (No package-level regexp: the
// functions do no work at start-up before main.)
func ValidProviderID(id string) bool {
	if id == "" || len(id) > 32 || id[0] < 'a' || id[0] > 'z' {
		return false
	}
	for i := 1; i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// providerKeys are the settings of one OAUTH_PROVIDERS entry, in the order
// they are read.
var providerKeys = []string{
	"preset", "client_id", "server_url", "auth_url", "token_url", "revoke_url",
	"userinfo_url", "issuer", "authorization_response_iss_parameter_supported",
	"scopes", "account_field", "auth_style", "token_rate_per_min", "redirect_url",
	"authorize_params", "api_prefixes",
}

// envLabel names a setting of a single-provider stack by its variable.
func envLabel(key string) string {
	switch key {
	case "preset":
		return "OAUTH_PROVIDER"
	case "scopes", "server_url", "auth_url", "token_url", "revoke_url", "userinfo_url", "account_field", "auth_style", "client_id", "redirect_url", "issuer",
		"api_prefixes":
		return "OAUTH_" + strings.ToUpper(key)
	}
	return key
}

// envSetting reads a single-provider stack's settings from its variables;
// settings without a variable are unset.
func envSetting(get func(string) string) func(string) string {
	return func(key string) string {
		if l := envLabel(key); l != key {
			return get(l)
		}
		return ""
	}
}

// buildProvider checks one provider's settings (get returns a setting's
// text, "" when unset; label names it in errors) and returns its
// configuration. TokenRatePerMin is -1 when the settings leave it unset.
func buildProvider(get func(string) string, label func(string) string, bad func(name, format string, args ...any)) ProviderConfig {
	pc := ProviderConfig{TokenRatePerMin: -1}
	preset := get("preset")
	valid := strings.Join(PresetNames(), ", ")
	row, known := LookupPreset(preset)
	switch {
	case preset == "":
		bad(label("preset"), "required: one of %s", valid)
	case !known:
		bad(label("preset"), "want one of %s, got %q", valid, preset)
	case row.DefaultServer != "":
		server := get("server_url")
		if server == "" {
			server = row.DefaultServer
		}
		if checkURL(server) != nil {
			bad(label("server_url"), "want an absolute https URL, got %q", server)
		}
		pc.Provider = row.For(server)
	default:
		pc.Provider = row.For("")
	}
	generic := preset == PresetGeneric
	// A generic provider with an issuer and an endpoint unset takes its
	// endpoints from the issuer's OpenID configuration (Config.Discover,
	// at start-up); the settings' own endpoints win over discovered ones.
	discover := generic && get("issuer") != "" && (get("auth_url") == "" || get("token_url") == "")
	endpoint := func(key string, dst *string, required bool) {
		v := get(key)
		if v == "" {
			if required && generic && !discover {
				bad(label(key), "required when %s=generic", label("preset"))
			}
			return
		}
		if err := checkURL(v); err != nil {
			bad(label(key), "%v", err)
			return
		}
		*dst = v
	}
	endpoint("auth_url", &pc.Provider.Endpoint.AuthURL, true)
	endpoint("token_url", &pc.Provider.Endpoint.TokenURL, true)
	endpoint("revoke_url", &pc.Provider.RevokeURL, false)
	endpoint("userinfo_url", &pc.Provider.UserinfoURL, false)
	if v := get("account_field"); v != "" {
		// The setting names the account whatever the preset's own source.
		pc.Provider.AccountField, pc.Provider.Account, pc.Provider.IDTokenClaim = v, nil, ""
		if pc.Provider.UserinfoURL != "" && generic {
			bad(label("account_field"), "set either %s or %s, not both", label("account_field"), label("userinfo_url"))
		}
	}
	switch v := get("auth_style"); v {
	case "":
		// The preset's documented method (Basic unless it says post).
		pc.Provider.Endpoint.AuthStyle = pc.Provider.authStyle()
	case AuthStyleBasic:
		pc.Provider.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	case AuthStylePost:
		pc.Provider.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	default:
		bad(label("auth_style"), "want basic (HTTP Basic, client_secret_basic) or post (client_secret_post), got %q; never detected automatically", v)
	}
	if generic && !discover && pc.Provider.AccountField == "" && pc.Provider.UserinfoURL == "" {
		bad(label("account_field"), "generic provider needs %s or %s to name the account (or %s, to take the userinfo endpoint from OpenID discovery)", label("account_field"), label("userinfo_url"), label("issuer"))
	}
	if v := get("issuer"); v != "" {
		if err := checkURL(v); err != nil {
			bad(label("issuer"), "%v", err)
		}
		pc.Provider.Issuer = v
	}
	switch v := get("authorization_response_iss_parameter_supported"); v {
	case "", "false":
	case "true":
		pc.Provider.IssuerInResponse = true
		if pc.Provider.Issuer == "" {
			bad(label("authorization_response_iss_parameter_supported"), "needs %s: the iss the provider sends is checked against it", label("issuer"))
		}
	default:
		bad(label("authorization_response_iss_parameter_supported"), "want true or false, got %s", v)
	}
	if discover {
		pc.Provider.discovery = &discovery{
			label:        label("issuer"),
			authStyleSet: get("auth_style") != "",
			issSet:       get("authorization_response_iss_parameter_supported") != "",
		}
	}

	pc.Provider.APIPrefixes = parseAPIPrefixes(get("api_prefixes"), pc.Provider.APIPrefixes, label("api_prefixes"), bad)

	pc.ClientID = get("client_id")
	if pc.ClientID == "" {
		bad(label("client_id"), "required")
	}
	if v := get("redirect_url"); v != "" {
		if err := checkURL(v); err != nil {
			bad(label("redirect_url"), "%v", err)
		} else {
			pc.RedirectURL = v
		}
	}
	pc.Scopes = strings.Fields(get("scopes"))
	if len(pc.Scopes) == 0 {
		pc.Scopes = slices.Clone(pc.Provider.DefaultScopes)
	}
	for _, s := range pc.Provider.RequiredScopes {
		if !slices.Contains(pc.Scopes, s) {
			pc.Scopes = append(pc.Scopes, s)
		}
	}
	if v := get("token_rate_per_min"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > MaxTokenRatePerMin {
			bad(label("token_rate_per_min"), "want an integer >= 0 and <= %d, got %s", MaxTokenRatePerMin, v)
		} else {
			pc.TokenRatePerMin = n
		}
	}
	if v := get("authorize_params"); v != "" {
		var params map[string]string
		if err := json.Unmarshal([]byte(v), &params); err != nil {
			bad(label("authorize_params"), "want an object of strings")
		} else {
			reserved := []string{"response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method", "scope"}
			merged := maps.Clone(pc.Provider.AuthorizeParams)
			if merged == nil {
				merged = map[string]string{}
			}
			for _, k := range slices.Sorted(maps.Keys(params)) {
				if slices.Contains(reserved, k) {
					bad(label("authorize_params"), "%q is set by oauthfn itself", k)
					continue
				}
				merged[k] = params[k]
			}
			pc.Provider.AuthorizeParams = merged
		}
	}
	return pc
}

// parseProviders reads OAUTH_PROVIDERS: a JSON object, provider id ->
// settings. Every problem is reported through bad, each naming the
// provider and the setting; the result is ordered by id.
func parseProviders(raw string, bad func(name, format string, args ...any)) []ProviderConfig {
	const name = "OAUTH_PROVIDERS"
	entries, err := decodeObject([]byte(raw))
	if err != nil {
		bad(name, "want a JSON object, provider id -> settings: %v", err)
		return nil
	}
	if len(entries) == 0 {
		bad(name, "names no provider")
		return nil
	}
	var out []ProviderConfig
	for _, id := range slices.Sorted(maps.Keys(entries)) {
		label := func(key string) string { return fmt.Sprintf("%s: provider %q: %s", name, id, key) }
		if !ValidProviderID(id) {
			bad(fmt.Sprintf("%s: provider %q", name, id), "want an id of 1-32 lower-case letters, digits and hyphens, starting with a letter")
			continue
		}
		settings, err := decodeObject(entries[id])
		if err != nil {
			bad(fmt.Sprintf("%s: provider %q", name, id), "want a JSON object of settings: %v", err)
			continue
		}
		text := map[string]string{}
		for _, k := range slices.Sorted(maps.Keys(settings)) {
			v := bytes.TrimSpace(settings[k])
			switch {
			case !slices.Contains(providerKeys, k):
				bad(label(k), "unknown setting; known: %s", strings.Join(providerKeys, ", "))
			case k == "authorize_params":
				text[k] = string(v)
			case k == "api_prefixes":
				if t, ok := apiPrefixesSetting(v, label(k), bad); ok {
					text[k] = t
				}
			case k == "token_rate_per_min" || k == "authorization_response_iss_parameter_supported":
				if len(v) > 0 && v[0] == '"' {
					bad(label(k), "want a JSON %s, not a string", map[bool]string{true: "number", false: "boolean"}[k == "token_rate_per_min"])
					continue
				}
				text[k] = string(v)
			default:
				var s string
				if json.Unmarshal(v, &s) != nil {
					bad(label(k), "want a string")
					continue
				}
				text[k] = strings.TrimSpace(s)
			}
		}
		pc := buildProvider(func(k string) string { return text[k] }, label, bad)
		pc.ID = id
		pc.Provider.Name = id
		out = append(out, pc)
	}
	return out
}

// decodeObject reads a JSON object's members, refusing a repeated key and
// trailing data.
func decodeObject(b []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not valid JSON")
		}
		k, _ := t.(string)
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("key %q repeated", k)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("not valid JSON")
		}
		out[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not valid JSON")
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("trailing data after the JSON object")
	}
	return out, nil
}

// parseLocalClientSecrets reads a local OAUTH_CLIENT_SECRET next to
// OAUTH_PROVIDERS: a JSON object, provider id -> client secret, one for
// every provider. Errors name providers, never a value.
func parseLocalClientSecrets(v Secret, providers []ProviderConfig, bad func(name, format string, args ...any)) map[string]Secret {
	const name = "OAUTH_CLIENT_SECRET"
	m, err := parseProviderSecrets(v.Reveal())
	if err != nil {
		bad(name, "%v", err)
		return nil
	}
	for _, p := range providers {
		if _, ok := m[p.ID]; !ok {
			bad(name, "no client secret for provider %q: want a JSON object {\"<provider id>\": \"<secret>\", …} naming every provider of OAUTH_PROVIDERS", p.ID)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(m)) {
		if !slices.ContainsFunc(providers, func(p ProviderConfig) bool { return p.ID == id }) {
			bad(name, "client secret for provider %q, which OAUTH_PROVIDERS does not name", id)
		}
	}
	return m
}

// parseProviderSecrets reads {"<provider id>": "<secret>", …}. Errors name
// providers, never a value.
func parseProviderSecrets(v string) (map[string]Secret, error) {
	obj, err := decodeObject([]byte(v))
	if err != nil {
		return nil, fmt.Errorf("with OAUTH_PROVIDERS, want a JSON object {\"<provider id>\": \"<secret>\", …}: %v", err)
	}
	out := make(map[string]Secret, len(obj))
	for id, raw := range obj {
		var s string
		if json.Unmarshal(raw, &s) != nil || strings.TrimSpace(s) == "" {
			return nil, fmt.Errorf("the client secret for provider %q is not a non-empty string", id)
		}
		out[id] = Secret(strings.TrimSpace(s))
	}
	return out, nil
}

// Named reports whether the stack names its providers (OAUTH_PROVIDERS):
// then the routes carry the provider id and connect tokens name it.
func (c Config) Named() bool { return len(c.Providers) > 0 }

// ProviderIDs lists the stack's provider ids, in order (a single
// provider's: its preset's name).
func (c Config) ProviderIDs() []string {
	if !c.Named() {
		return []string{c.Provider.Name}
	}
	ids := make([]string, len(c.Providers))
	for i, p := range c.Providers {
		ids[i] = p.ID
	}
	return ids
}

// providerConfig returns the provider id's configuration.
func (c Config) providerConfig(id string) (ProviderConfig, bool) {
	for _, p := range c.Providers {
		if p.ID == id {
			return p, true
		}
	}
	return ProviderConfig{}, false
}
