package oauth

import (
	"slices"
	"strings"
	"testing"
)

// TestAPIPrefixesConfig: the preset's default, OAUTH_API_PREFIXES and the
// api_prefixes setting of OAUTH_PROVIDERS, and start-up errors naming the
// provider and the setting.
func TestAPIPrefixesConfig(t *testing.T) {
	load := func(t *testing.T, kv ...string) []string {
		t.Helper()
		cfg, err := LoadConfig(env(with(baseEnv(), kv...)))
		if err != nil {
			t.Fatalf("LoadConfig: %v", err)
		}
		return cfg.Provider.APIPrefixes
	}
	if got := load(t); !slices.Equal(got, []string{"https://platform.ringcentral.com/restapi/v1.0/"}) {
		t.Errorf("ringcentral default: %q", got)
	}
	if got := load(t, "OAUTH_SERVER_URL", "https://platform.devtest.ringcentral.com/"); !slices.Equal(got, []string{"https://platform.devtest.ringcentral.com/restapi/v1.0/"}) {
		t.Errorf("ringcentral with OAUTH_SERVER_URL: %q", got)
	}
	if got := load(t, "OAUTH_API_PREFIXES", " https://API.example/v1/ , http://127.0.0.1:8080/mock/restapi/v1.0/"); !slices.Equal(got, []string{"https://api.example/v1/", "http://127.0.0.1:8080/mock/restapi/v1.0/"}) {
		t.Errorf("OAUTH_API_PREFIXES: %q", got)
	}
	if got := load(t, "OAUTH_API_PREFIXES", "none"); got != nil {
		t.Errorf("none: %q", got)
	}
	for preset, want := range map[string]string{
		PresetGitHub: "https://api.github.com/", PresetMicrosoft: "https://graph.microsoft.com/", PresetSlack: "https://slack.com/api/",
		PresetGoogle: "https://www.googleapis.com/", PresetAtlassian: "https://api.atlassian.com/", PresetSalesforce: "",
	} {
		row, _ := LookupPreset(preset)
		got := row.For("").APIPrefixes
		if (want == "" && got != nil) || (want != "" && !slices.Equal(got, []string{want})) {
			t.Errorf("%s: %q, want %q", preset, got, want)
		}
	}

	for _, tc := range []struct{ value, want string }{
		{"http://api.example/v1/", "want https"},
		{"https://api.example/v1", "ending in /"},
		{"https://api.example/v1/?a=b", "without a query"},
		{"https://api.example/a%2Fb/", "percent-encoding"},
		{"https://api.example/a/../b/", "plain path"},
		{"https://api.example//b/", "plain path"},
		{"https://user:pw@api.example/v1/", "user info"},
		{"api.example/v1/", "absolute URL"},
		{"https://api.example/v1/,", "empty entry"},
	} {
		_, err := LoadConfig(env(with(baseEnv(), "OAUTH_API_PREFIXES", tc.value)))
		if err == nil || !strings.Contains(err.Error(), "OAUTH_API_PREFIXES: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("OAUTH_API_PREFIXES=%q: got %v, want an error naming it and saying %q", tc.value, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("error shows user info: %v", err)
		}
	}

	multi := func(setting string) (Config, error) {
		return LoadConfig(env(with(baseEnv(), "OAUTH_PROVIDER", "", "OAUTH_CLIENT_ID", "",
			"OAUTH_PROVIDERS", `{"rc":{"preset":"ringcentral","client_id":"c1"},"gh":{"preset":"github","client_id":"c2"`+setting+`}}`,
			"OAUTH_CLIENT_SECRET", `{"rc":"s1","gh":"s2"}`)))
	}
	cfg, err := multi(`,"api_prefixes":["https://api.github.com/repos/","https://uploads.github.com/"]`)
	if err != nil {
		t.Fatal(err)
	}
	gh, _ := cfg.providerConfig("gh")
	rc, _ := cfg.providerConfig("rc")
	if !slices.Equal(gh.Provider.APIPrefixes, []string{"https://api.github.com/repos/", "https://uploads.github.com/"}) ||
		!slices.Equal(rc.Provider.APIPrefixes, []string{"https://platform.ringcentral.com/restapi/v1.0/"}) {
		t.Errorf("OAUTH_PROVIDERS api_prefixes: gh %q, rc %q", gh.Provider.APIPrefixes, rc.Provider.APIPrefixes)
	}
	if cfg, err = multi(`,"api_prefixes":[]`); err != nil {
		t.Fatal(err)
	}
	if gh, _ = cfg.providerConfig("gh"); gh.Provider.APIPrefixes != nil {
		t.Errorf("[]: %q, want none", gh.Provider.APIPrefixes)
	}
	for _, setting := range []string{`,"api_prefixes":"https://api.github.com/"`, `,"api_prefixes":["https://api.github.com"]`, `,"api_prefixes":["a,b"]`} {
		_, err := multi(setting)
		if err == nil || !strings.Contains(err.Error(), `OAUTH_PROVIDERS: provider "gh": api_prefixes: `) {
			t.Errorf("%s: got %v, want an error naming provider gh and api_prefixes", setting, err)
		}
	}
}
