package oauth

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func baseEnv() map[string]string {
	return map[string]string{
		"OAUTH_PROVIDER":      "ringcentral",
		"OAUTH_CLIENT_ID":     "client-1",
		"OAUTH_CLIENT_SECRET": "s3cret",
		"OAUTH_TOKEN_KEY":     strings.Repeat("k", 32),
		"OAUTH_APP_KEY":       testAppKey,
		"TABLE_NAME":          "oauthfn",
	}
}

// testAppKey is the app key of the handler tests (OAUTH_APP_KEY).
const testAppKey = "test app key shared with the app's backend, 48 chars"

func with(m map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := LoadConfig(env(baseEnv()))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if c.Provider.Endpoint.TokenURL != "https://platform.ringcentral.com/restapi/oauth/token" ||
		c.Provider.Endpoint.AuthURL != "https://platform.ringcentral.com/restapi/oauth/authorize" ||
		c.Provider.RevokeURL != "https://platform.ringcentral.com/restapi/oauth/revoke" {
		t.Errorf("ringcentral endpoints = %+v, revoke %q", c.Provider.Endpoint, c.Provider.RevokeURL)
	}
	if c.Provider.Endpoint.AuthStyle != oauth2.AuthStyleInHeader {
		t.Errorf("AuthStyle = %v, want AuthStyleInHeader", c.Provider.Endpoint.AuthStyle)
	}
	if c.Provider.AccountField != "owner_id" || c.TokenRatePerMin != 5 || c.RefreshMode != ModeKeepalive ||
		c.RefreshWindow != 15*time.Minute || c.KeepaliveMargin != 48*time.Hour || c.SweepConcurrency != 16 || c.LogLevel != slog.LevelInfo || c.MetricsService != "oauthfn" {
		t.Errorf("defaults = %+v", c)
	}
	if c.BFFIdleTimeout != 8*time.Hour || c.BFFMaxSession != 7*24*time.Hour {
		t.Errorf("BFF defaults = %v idle, %v max; want 8h, 168h", c.BFFIdleTimeout, c.BFFMaxSession)
	}
	if c.ClientSecret.Reveal() != "s3cret" || c.ClientSecretARN != "" {
		t.Errorf("client secret not taken from OAUTH_CLIENT_SECRET")
	}
}

func TestLoadConfig(t *testing.T) {
	arn := "arn:aws:secretsmanager:us-east-1:123456789012:secret:x"
	tests := []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr []string // every variable named in the one error
	}{
		{name: "partner brand server", env: with(baseEnv(), "OAUTH_SERVER_URL", "https://platform.ringcentral.biz/"),
			check: func(t *testing.T, c Config) {
				if c.Provider.Endpoint.TokenURL != "https://platform.ringcentral.biz/restapi/oauth/token" {
					t.Errorf("TokenURL = %q", c.Provider.Endpoint.TokenURL)
				}
			}},
		{name: "generic with userinfo", env: with(baseEnv(), "OAUTH_PROVIDER", "generic", "OAUTH_AUTH_URL", "https://idp.example/auth",
			"OAUTH_TOKEN_URL", "https://idp.example/token", "OAUTH_USERINFO_URL", "https://idp.example/me", "OAUTH_SCOPES", "openid  offline_access"),
			check: func(t *testing.T, c Config) {
				if c.Provider.Name != "generic" || c.Provider.UserinfoURL != "https://idp.example/me" || len(c.Scopes) != 2 || c.TokenRatePerMin != 0 {
					t.Errorf("generic config = %+v", c)
				}
				if c.Provider.Endpoint.AuthStyle != oauth2.AuthStyleInHeader {
					t.Errorf("generic AuthStyle = %v", c.Provider.Endpoint.AuthStyle)
				}
			}},
		{name: "ARNs", env: with(baseEnv(), "OAUTH_CLIENT_SECRET", "", "OAUTH_TOKEN_KEY", "", "OAUTH_CLIENT_SECRET_ARN", arn, "OAUTH_TOKEN_KEY_ARN", arn),
			check: func(t *testing.T, c Config) {
				if c.ClientSecretARN != arn || c.TokenKeyARN != arn || c.ClientSecret != "" {
					t.Errorf("ARNs not taken: %+v", c)
				}
			}},
		{name: "return urls and tuning", env: with(baseEnv(), "ALLOWED_RETURN_URLS", "https://app.example/done, http://localhost:3000/", "REFRESH_MODE", "eager",
			"REFRESH_WINDOW", "20m", "KEEPALIVE_MARGIN", "72h", "SWEEP_CONCURRENCY", "4", "TOKEN_RATE_PER_MIN", "0", "LOG_LEVEL", "DEBUG"),
			check: func(t *testing.T, c Config) {
				if len(c.AllowedReturn) != 2 || c.AllowedReturn[0] != (ReturnPrefix{"https", "app.example", "/done"}) || c.RefreshMode != ModeEager ||
					c.RefreshWindow != 20*time.Minute || c.KeepaliveMargin != 72*time.Hour || c.SweepConcurrency != 4 || c.TokenRatePerMin != 0 || c.LogLevel != slog.LevelDebug {
					t.Errorf("config = %+v", c)
				}
			}},
		{name: "nothing set", env: map[string]string{},
			wantErr: []string{"OAUTH_PROVIDER", "OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET_ARN", "OAUTH_TOKEN_KEY_ARN", "TABLE_NAME"}},
		{name: "every bad value at once", env: with(baseEnv(), "OAUTH_SERVER_URL", "ftp://x", "REFRESH_MODE", "sometimes", "REFRESH_WINDOW", "-1m",
			"KEEPALIVE_MARGIN", "soon", "SWEEP_CONCURRENCY", "0", "TOKEN_RATE_PER_MIN", "-1", "LOG_LEVEL", "loud", "ALLOWED_RETURN_URLS", "javascript:alert(1)",
			"OAUTH_REDIRECT_URL", "http://evil.example/cb"),
			wantErr: []string{"OAUTH_SERVER_URL", "REFRESH_MODE", "REFRESH_WINDOW", "KEEPALIVE_MARGIN", "SWEEP_CONCURRENCY", "TOKEN_RATE_PER_MIN", "LOG_LEVEL", "ALLOWED_RETURN_URLS", "OAUTH_REDIRECT_URL"}},
		{name: "unknown preset", env: with(baseEnv(), "OAUTH_PROVIDER", "okta"), wantErr: []string{"OAUTH_PROVIDER"}},
		{name: "credentials in a URL are refused and not echoed", env: with(baseEnv(), "OAUTH_PROVIDER", "generic", "OAUTH_AUTH_URL", "https://id:s3cret@idp.example/auth",
			"OAUTH_TOKEN_URL", "http://id:s3cret@idp.example/token", "OAUTH_ACCOUNT_FIELD", "sub"), wantErr: []string{"OAUTH_AUTH_URL", "OAUTH_TOKEN_URL"}},
		{name: "generic without endpoints or account", env: with(baseEnv(), "OAUTH_PROVIDER", "generic"),
			wantErr: []string{"OAUTH_AUTH_URL", "OAUTH_TOKEN_URL", "OAUTH_ACCOUNT_FIELD"}},
		{name: "both secret forms", env: with(baseEnv(), "OAUTH_CLIENT_SECRET_ARN", arn), wantErr: []string{"OAUTH_CLIENT_SECRET"}},
		{name: "short token key", env: with(baseEnv(), "OAUTH_TOKEN_KEY", "short"), wantErr: []string{"OAUTH_TOKEN_KEY"}},
		{name: "not an ARN", env: with(baseEnv(), "OAUTH_CLIENT_SECRET", "", "OAUTH_CLIENT_SECRET_ARN", "my-secret"), wantErr: []string{"OAUTH_CLIENT_SECRET_ARN"}},
		{name: "metrics service", env: with(baseEnv(), "METRICS_SERVICE", "oauthfn-staging"),
			check: func(t *testing.T, c Config) {
				if c.MetricsService != "oauthfn-staging" {
					t.Errorf("MetricsService = %q, want oauthfn-staging", c.MetricsService)
				}
			}},
		{name: "metrics service with a space", env: with(baseEnv(), "METRICS_SERVICE", "oauthfn staging"), wantErr: []string{"METRICS_SERVICE"}},
		{name: "metrics service too long", env: with(baseEnv(), "METRICS_SERVICE", strings.Repeat("s", MaxMetricsServiceLen+1)), wantErr: []string{"METRICS_SERVICE"}},
		{name: "bff session lengths in days and durations", env: with(baseEnv(), "BFF_IDLE_TIMEOUT", "90m", "BFF_MAX_SESSION", "30d"),
			check: func(t *testing.T, c Config) {
				if c.BFFIdleTimeout != 90*time.Minute || c.BFFMaxSession != 30*24*time.Hour {
					t.Errorf("BFF = %v idle, %v max; want 1h30m, 720h", c.BFFIdleTimeout, c.BFFMaxSession)
				}
			}},
		{name: "bff idle in days, max as a Go duration", env: with(baseEnv(), "BFF_IDLE_TIMEOUT", "1d", "BFF_MAX_SESSION", "48h"),
			check: func(t *testing.T, c Config) {
				if c.BFFIdleTimeout != 24*time.Hour || c.BFFMaxSession != 48*time.Hour {
					t.Errorf("BFF = %v idle, %v max; want 24h, 48h", c.BFFIdleTimeout, c.BFFMaxSession)
				}
			}},
		{name: "bff idle longer than max loads (the idle expiry never passes the absolute one)", env: with(baseEnv(), "BFF_IDLE_TIMEOUT", "8h", "BFF_MAX_SESSION", "1h"),
			check: func(t *testing.T, c Config) {
				if c.BFFIdleTimeout != 8*time.Hour || c.BFFMaxSession != time.Hour {
					t.Errorf("BFF = %v idle, %v max; want 8h, 1h", c.BFFIdleTimeout, c.BFFMaxSession)
				}
			}},
		{name: "bff bad values", env: with(baseEnv(), "BFF_IDLE_TIMEOUT", "soon", "BFF_MAX_SESSION", "-7d"),
			wantErr: []string{"BFF_IDLE_TIMEOUT", "BFF_MAX_SESSION"}},
		{name: "bff out of range", env: with(baseEnv(), "BFF_IDLE_TIMEOUT", "30s", "BFF_MAX_SESSION", "401d"),
			wantErr: []string{"BFF_IDLE_TIMEOUT", "BFF_MAX_SESSION"}},
		{name: "bff fractional or signed days", env: with(baseEnv(), "BFF_IDLE_TIMEOUT", "+1d", "BFF_MAX_SESSION", "1.5d"),
			wantErr: []string{"BFF_IDLE_TIMEOUT", "BFF_MAX_SESSION"}},
		{name: "return url with query", env: with(baseEnv(), "ALLOWED_RETURN_URLS", "https://app.example/?x=1"), wantErr: []string{"ALLOWED_RETURN_URLS"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig(env(tt.env))
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("LoadConfig: no error, want one naming %v", tt.wantErr)
				}
				for _, name := range tt.wantErr {
					if !strings.Contains(err.Error(), name+":") {
						t.Errorf("error %q does not name %s", err, name)
					}
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error %q reveals a secret", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestReturnAllowed(t *testing.T) {
	c, err := LoadConfig(env(with(baseEnv(), "ALLOWED_RETURN_URLS", "https://app.example/oauth/done,https://other.example")))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		raw  string
		want bool
	}{
		{"https://app.example/oauth/done", true},
		{"https://app.example/oauth/done?x=1", true},
		{"https://app.example/oauth/done/sub", true},
		{"https://APP.example/oauth/done", true},
		{"https://other.example/anything", true},
		{"https://other.example", true},
		{"https://app.example/oauth/doneX", false},
		{"https://app.example/oauth/done?a=1;b=2", false},
		{"https://app.example/oauth/done?a=%zz", false},
		{"https://app.example/oauth/done?a=1&b=%20", true},
		{"https://app.example/oauth", false},
		{"https://app.example/oauth/done/../../admin", false},
		{"https://app.example/oauth/done/%2e%2e/admin", false},
		{"https://app.example/oauth/done%2f..%2fadmin", false},
		{"http://app.example/oauth/done", false},
		{"https://app.example:8443/oauth/done", false},
		{"https://app.example.evil.example/oauth/done", false},
		{"https://app-example.com/oauth/done", false},
		{"https://evil.example/oauth/done", false},
		{"//evil.example", false},
		{"//app.example/oauth/done", false},
		{"/\\evil.example", false},
		{"/oauth/done", false},
		{"https:\\\\evil.example", false},
		{"https://app.example\\@evil.example/oauth/done", false},
		{"https://user@app.example/oauth/done", false},
		{"https://app.example/oauth/done#frag", false},
		{"javascript:alert(1)", false},
		{"JavaScript://app.example/oauth/done", false},
		{"https://app.example/oauth/done\t", false},
		{"https://app.example/oauth/do\nne", false},
		{"\thttps://app.example/oauth/done", false},
		{"https://app.example/oauth/done%0a", false},
		{"https://app.example/oauth/done/%0a", false},
		{"https://app.example/oauth/done/%09x", false},
		{"https://app.example/oauth/done/%5cevil", false},
		{"https://app.example/oauth/done?next=%0a", true}, // stays encoded in the query
		{"data:text/html,hi", false},
	}
	for _, tt := range tests {
		if got := c.returnAllowed(tt.raw); got != tt.want {
			t.Errorf("returnAllowed(%q) = %v, want %v", tt.raw, got, tt.want)
		}
	}
}

// An absolute URL of another scheme gets a message about its scheme, not
// "want an absolute URL" (issue 16: ALLOWED_RETURN_URLS=ftp://x).
func TestConfigURLScheme(t *testing.T) {
	for name, v := range map[string]string{"ALLOWED_RETURN_URLS": "ftp://x", "OAUTH_REDIRECT_URL": "ftp://x/callback"} {
		_, err := LoadConfig(env(with(baseEnv(), name, v)))
		want := name + `: `
		if name == "ALLOWED_RETURN_URLS" {
			want += `"ftp://x": `
		}
		want += `want an https URL (plain http only for localhost), got scheme "ftp"`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s=%s: error %v, want it to contain %s", name, v, err, want)
		}
	}
}
