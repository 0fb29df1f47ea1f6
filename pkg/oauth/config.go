package oauth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/oauthfn/oauthfn/internal/loglevel"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// Refresh modes (REFRESH_MODE).
const (
	ModeKeepalive = "keepalive"
	ModeEager     = "eager"
)

// Config is the deployment's configuration, read from the environment by
// LoadConfig. The same variables are set on every function.
type Config struct {
	// Provider, ClientID, RedirectURL and Scopes are the provider of a
	// single-provider stack (OAUTH_PROVIDER and its variables), or, in a
	// view of a stack with OAUTH_PROVIDERS (Handler.ForProvider), the
	// view's provider. Provider.Name is the provider id of the
	// connections' keys (a single provider's: its preset's name).
	Provider Provider
	ClientID string

	// Providers (OAUTH_PROVIDERS, ordered by id) are the providers of a
	// stack that serves several; nil in a single-provider stack. When set,
	// the routes carry the provider id (/authorize/{provider},
	// /callback/{provider}), connect tokens name it, and Provider above is
	// unset outside a provider's view.
	Providers []ProviderConfig
	// ClientSecrets holds, with Providers and a local OAUTH_CLIENT_SECRET,
	// each provider's client secret (the variable's JSON object).
	ClientSecrets map[string]Secret

	// Exactly one of each pair is set: the ARN in AWS, the plain value for
	// local development.
	ClientSecretARN string
	ClientSecret    Secret
	TokenKeyARN     string
	TokenKey        Secret
	AppKeyARN       string // signs connect tokens and results (shared with the app)
	AppKey          Secret

	// RequireConnectToken (REQUIRE_CONNECT_TOKEN, default true): /authorize
	// needs the app's signed connect token; false also allows anonymous
	// /authorize with plain return_to, app_state and login_hint.
	RequireConnectToken bool
	// RequireConfirm (REQUIRE_CONFIRM, default true): a connection made
	// with a connect token waits, as a pending connection, for the app's
	// POST /confirm (at most ConfirmTTL, CONFIRM_TTL, default 10m, 1m-60m)
	// before it is attached to anything. false attaches at the callback.
	RequireConfirm bool
	ConfirmTTL     time.Duration

	// AppURL (APP_URL, optional) is where a person starts again from the
	// app: the error pages whose only way forward is a new connect link
	// (an expired or spent sign-in, another browser, no connect token)
	// link back to it when the authorization's own return_to is unknown.
	AppURL string

	RedirectURL   string   // "" derives it from the API Gateway request
	Scopes        []string // may be empty
	AllowedReturn []ReturnPrefix
	TableName     string

	RefreshMode      string
	RefreshWindow    time.Duration
	KeepaliveMargin  time.Duration
	SweepConcurrency int
	TokenRatePerMin  int // 0: unlimited

	// BFFIdleTimeout (BFF_IDLE_TIMEOUT, default 8h) ends a browser
	// session of the backend for the frontend that was not used for that
	// long; BFFMaxSession (BFF_MAX_SESSION, default 7d) ends it that long
	// after sign-in however much it is used (and never later than the
	// connection's refresh token expires). An idle timeout longer than the
	// maximum never ends a session first. See bff.go.
	BFFIdleTimeout time.Duration
	BFFMaxSession  time.Duration

	// MetricsService (METRICS_SERVICE, default "oauthfn") is the value of
	// the Service dimension of the sweep's metrics. The template sets it to
	// the stack's name, so two stacks in one account and region (staging
	// and production) have metrics, and alarms, of their own.
	MetricsService string

	LogLevel slog.Level
}

// Upper bounds of LoadConfig's integers.
const (
	// MaxTokenRatePerMin: the limiter keeps slots to the millisecond, so a
	// higher rate would give an interval under a millisecond.
	MaxTokenRatePerMin = 60_000
	// MaxSweepConcurrency bounds the sweep's parallel refreshes.
	MaxSweepConcurrency = 256

	// DefaultConfirmTTL, MinConfirmTTL and MaxConfirmTTL: how long a
	// pending connection waits for the app's confirmation (CONFIRM_TTL).
	DefaultConfirmTTL = 10 * time.Minute
	MinConfirmTTL     = time.Minute
	MaxConfirmTTL     = time.Hour

	// DefaultBFFIdleTimeout and DefaultBFFMaxSession: BFF_IDLE_TIMEOUT and
	// BFF_MAX_SESSION when unset. MinBFFSession is the shortest either may
	// be; MaxBFFSession the longest (browsers cap a cookie's Max-Age at
	// 400 days).
	DefaultBFFIdleTimeout = 8 * time.Hour
	DefaultBFFMaxSession  = 7 * 24 * time.Hour
	MinBFFSession         = time.Minute
	MaxBFFSession         = 400 * 24 * time.Hour

	// MaxMetricsServiceLen bounds METRICS_SERVICE (CloudWatch takes
	// dimension values up to 1024 characters; stack names have at most 128).
	MaxMetricsServiceLen = 255
)

// DefaultMetricsService is the Service dimension when METRICS_SERVICE is
// empty (local runs).
const DefaultMetricsService = "oauthfn"

// ReturnPrefix is one entry of ALLOWED_RETURN_URLS: a return_to must have
// this scheme and host (with port) exactly, and a path under Path.
type ReturnPrefix struct {
	Scheme, Host, Path string
}

// Variables lists every environment variable LoadConfig reads.
var Variables = []string{
	"OAUTH_PROVIDER", "OAUTH_SERVER_URL", "OAUTH_AUTH_URL", "OAUTH_TOKEN_URL",
	"OAUTH_REVOKE_URL", "OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET_ARN",
	"OAUTH_TOKEN_KEY_ARN", "OAUTH_APP_KEY_ARN", "OAUTH_CLIENT_SECRET", "OAUTH_TOKEN_KEY",
	"OAUTH_APP_KEY", "REQUIRE_CONNECT_TOKEN", "REQUIRE_CONFIRM", "CONFIRM_TTL", "APP_URL",
	"OAUTH_REDIRECT_URL", "OAUTH_SCOPES", "OAUTH_ACCOUNT_FIELD",
	"OAUTH_USERINFO_URL", "OAUTH_AUTH_STYLE", "ALLOWED_RETURN_URLS", "TABLE_NAME", "REFRESH_MODE",
	"REFRESH_WINDOW", "KEEPALIVE_MARGIN", "SWEEP_CONCURRENCY",
	"TOKEN_RATE_PER_MIN", "METRICS_SERVICE", "LOG_LEVEL", "OAUTH_PROVIDERS",
	"OAUTH_ISSUER",
	"BFF_IDLE_TIMEOUT", "BFF_MAX_SESSION",
	"OAUTH_API_PREFIXES",
}

// SingleProviderVariables are the variables that define the one provider of
// a single-provider stack; OAUTH_PROVIDERS replaces them all.
var SingleProviderVariables = []string{
	"OAUTH_PROVIDER", "OAUTH_CLIENT_ID", "OAUTH_SERVER_URL", "OAUTH_AUTH_URL",
	"OAUTH_TOKEN_URL", "OAUTH_REVOKE_URL", "OAUTH_USERINFO_URL", "OAUTH_SCOPES",
	"OAUTH_ACCOUNT_FIELD", "OAUTH_AUTH_STYLE", "OAUTH_REDIRECT_URL", "OAUTH_ISSUER",
	"OAUTH_API_PREFIXES",
}

// ParseLogLevel reads a LOG_LEVEL value: debug, info (also ""), warn or
// error, in any case.
func ParseLogLevel(v string) (slog.Level, bool) { return loglevel.Parse(v) }

// LoadConfig reads and validates the configuration. getenv is usually
// os.Getenv. A bad configuration returns one error naming every bad variable.
// It makes no network call: a generic provider named by its issuer alone
// is complete only after Config.Discover (Setup calls it; NeedsDiscovery
// tells).
func LoadConfig(getenv func(string) string) (Config, error) {
	var (
		c    Config
		errs []error
	)
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }

	// The providers: OAUTH_PROVIDERS, or the single-provider variables.
	providersJSON := get("OAUTH_PROVIDERS")
	if providersJSON == "" {
		pc := buildProvider(envSetting(get), envLabel, bad)
		c.Provider, c.ClientID, c.RedirectURL, c.Scopes = pc.Provider, pc.ClientID, pc.RedirectURL, pc.Scopes
	} else {
		for _, name := range SingleProviderVariables {
			if get(name) != "" {
				bad(name, "set OAUTH_PROVIDERS or %s, never both: OAUTH_PROVIDERS replaces the single-provider variables (put the setting in the provider's entry)", name)
			}
		}
		c.Providers = parseProviders(providersJSON, bad)
	}

	// Secrets: the ARN in AWS, the plain value locally; exactly one.
	secretPair := func(arnName, valueName string, arn *string, value *Secret, minLen int) {
		a, v := get(arnName), getenv(valueName)
		switch {
		case a != "" && v != "":
			bad(valueName, "set %s or %s, never both (the plain value is for local development only)", arnName, valueName)
		case a != "":
			if !strings.HasPrefix(a, "arn:") {
				bad(arnName, "want a Secrets Manager ARN (arn:aws:secretsmanager:…)")
			}
			*arn = a
		case v != "":
			if len(v) < minLen {
				bad(valueName, "too short: want at least %d characters", minLen)
			}
			*value = Secret(v)
		default:
			bad(arnName, "required (or %s for local development)", valueName)
		}
	}
	secretPair("OAUTH_CLIENT_SECRET_ARN", "OAUTH_CLIENT_SECRET", &c.ClientSecretARN, &c.ClientSecret, 1)
	secretPair("OAUTH_TOKEN_KEY_ARN", "OAUTH_TOKEN_KEY", &c.TokenKeyARN, &c.TokenKey, MinTokenKeyLen)
	secretPair("OAUTH_APP_KEY_ARN", "OAUTH_APP_KEY", &c.AppKeyARN, &c.AppKey, connect.MinKeyLen)

	switch v := strings.ToLower(get("REQUIRE_CONNECT_TOKEN")); v {
	case "", "true":
		c.RequireConnectToken = true
	case "false":
	default:
		bad("REQUIRE_CONNECT_TOKEN", "want true or false, got %q", v)
	}
	switch v := strings.ToLower(get("REQUIRE_CONFIRM")); v {
	case "", "true":
		c.RequireConfirm = true
	case "false":
	default:
		bad("REQUIRE_CONFIRM", "want true or false, got %q", v)
	}
	c.ConfirmTTL = DefaultConfirmTTL
	if v := get("CONFIRM_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < MinConfirmTTL || d > MaxConfirmTTL {
			bad("CONFIRM_TTL", "want a duration from %v to %v such as 10m, got %q", MinConfirmTTL, MaxConfirmTTL, v)
		} else {
			c.ConfirmTTL = d
		}
	}

	if v := get("APP_URL"); v != "" {
		if err := checkURL(v); err != nil {
			bad("APP_URL", "%v", err)
		} else {
			c.AppURL = v
		}
	}

	if v := get("ALLOWED_RETURN_URLS"); v != "" {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			p, err := parseReturnPrefix(s)
			if err != nil {
				bad("ALLOWED_RETURN_URLS", "%q: %v", s, err)
				continue
			}
			c.AllowedReturn = append(c.AllowedReturn, p)
		}
	}

	c.TableName = get("TABLE_NAME")
	if c.TableName == "" {
		bad("TABLE_NAME", "required")
	}

	c.RefreshMode = get("REFRESH_MODE")
	switch c.RefreshMode {
	case "":
		c.RefreshMode = ModeKeepalive
	case ModeKeepalive, ModeEager:
	default:
		bad("REFRESH_MODE", "want keepalive or eager, got %q", c.RefreshMode)
	}
	duration := func(name string, def time.Duration) time.Duration {
		v := get(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad(name, "want a positive duration such as 15m or 48h, got %q", v)
			return def
		}
		return d
	}
	c.RefreshWindow = duration("REFRESH_WINDOW", 15*time.Minute)
	c.KeepaliveMargin = duration("KEEPALIVE_MARGIN", 48*time.Hour)
	integer := func(name string, def, min, max int) int {
		v := get(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < min || n > max {
			bad(name, "want an integer >= %d and <= %d, got %q", min, max, v)
			return def
		}
		return n
	}
	c.SweepConcurrency = integer("SWEEP_CONCURRENCY", 16, 1, MaxSweepConcurrency)
	c.TokenRatePerMin = integer("TOKEN_RATE_PER_MIN", c.Provider.TokenRatePerMin, 0, MaxTokenRatePerMin)
	for i := range c.Providers {
		if c.Providers[i].TokenRatePerMin < 0 { // unset: TOKEN_RATE_PER_MIN, else the preset's
			c.Providers[i].TokenRatePerMin = c.Providers[i].Provider.TokenRatePerMin
			if get("TOKEN_RATE_PER_MIN") != "" {
				c.Providers[i].TokenRatePerMin = c.TokenRatePerMin
			}
		}
	}
	if len(c.Providers) > 0 && c.ClientSecret != "" {
		c.ClientSecrets = parseLocalClientSecrets(c.ClientSecret, c.Providers, bad)
	}

	bffDuration := func(name string, def time.Duration) time.Duration {
		v := get(name)
		if v == "" {
			return def
		}
		d, ok := parseDays(v)
		if !ok || d < MinBFFSession || d > MaxBFFSession {
			bad(name, "want a duration from %v to 400d such as 8h or 7d, got %q", MinBFFSession, v)
			return def
		}
		return d
	}
	c.BFFIdleTimeout = bffDuration("BFF_IDLE_TIMEOUT", DefaultBFFIdleTimeout)
	c.BFFMaxSession = bffDuration("BFF_MAX_SESSION", DefaultBFFMaxSession)
	// An idle timeout longer than the maximum is not an error: the
	// session's idle expiry never passes its absolute one (bff.go), so it
	// simply never ends a session first. Every function reads these
	// variables, and a value only the BFF uses must not stop the others.

	c.MetricsService = get("METRICS_SERVICE")
	switch {
	case c.MetricsService == "":
		c.MetricsService = DefaultMetricsService
	case len(c.MetricsService) > MaxMetricsServiceLen || strings.ContainsFunc(c.MetricsService, func(r rune) bool { return r < 0x21 || r > 0x7e }):
		bad("METRICS_SERVICE", "want at most %d printable ASCII characters without spaces (the stack's name), got %q", MaxMetricsServiceLen, c.MetricsService)
	}

	if l, ok := ParseLogLevel(get("LOG_LEVEL")); ok {
		c.LogLevel = l
	} else {
		bad("LOG_LEVEL", "want debug, info, warn or error, got %q", get("LOG_LEVEL"))
	}

	if len(errs) > 0 {
		return Config{}, fmt.Errorf("oauth: bad configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

// parseDays reads a Go duration (8h, 90m) or a whole number of days (7d).
func parseDays(v string) (time.Duration, bool) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100_000 || strings.HasPrefix(n, "+") {
			return 0, false
		}
		return time.Duration(days) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(v)
	return d, err == nil
}

// checkURL accepts an absolute https URL (http for loopback only). Its
// errors quote the URL with any user info redacted: a credential put into a
// URL by mistake must not reach the start-up log.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("want an absolute URL; this one does not parse")
	}
	if u.Host == "" {
		return fmt.Errorf("want an absolute URL, got %q", u.Redacted())
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("want an https URL (plain http only for localhost), got scheme %q", u.Scheme)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("want https (plain http only for localhost), got %q", u.Redacted())
	}
	if u.User != nil || u.Fragment != "" {
		return fmt.Errorf("want a URL without user info or fragment, got %q", u.Redacted())
	}
	return nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

func parseReturnPrefix(s string) (ReturnPrefix, error) {
	if err := checkURL(s); err != nil {
		return ReturnPrefix{}, err
	}
	u, _ := url.Parse(s)
	if u.RawQuery != "" {
		return ReturnPrefix{}, errors.New("want scheme, host and path only, no query")
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return ReturnPrefix{Scheme: u.Scheme, Host: strings.ToLower(u.Host), Path: path}, nil
}
