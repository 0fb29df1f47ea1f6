package oauth

import (
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// testAPIProvider is RingCentral on a test server with a second allowed
// host.
func testAPIProvider() Provider {
	p := RingCentral("https://platform.example")
	p.APIPrefixes = append(p.APIPrefixes, "https://media.example/files/")
	return p
}

// TestAPITarget: what the path checker accepts and the URL it makes, and
// each refusal's status and code.
func TestAPITarget(t *testing.T) {
	p := testAPIProvider()
	for _, tc := range []struct{ path, query, want string }{
		{"restapi/v1.0/account/~/extension/~", "", "https://platform.example/restapi/v1.0/account/~/extension/~"},
		{"restapi/v1.0/account/~/call-log", "view=Detailed&dateFrom=2026-01-01T00%3A00%3A00Z", "https://platform.example/restapi/v1.0/account/~/call-log?view=Detailed&dateFrom=2026-01-01T00%3A00%3A00Z"},
		{"restapi/v1.0/a%20b/caf%C3%A9", "", "https://platform.example/restapi/v1.0/a%20b/caf%C3%A9"},
		{"restapi/v1.0/a b/café", "", "https://platform.example/restapi/v1.0/a%20b/caf%C3%A9"}, // as API Gateway decoded it
		{"restapi/v1.0/x/", "", "https://platform.example/restapi/v1.0/x/"},
		{"restapi/v1.0/x:batch", "", "https://platform.example/restapi/v1.0/x:batch"},
		{"files/report.pdf", "", "https://media.example/files/report.pdf"},
	} {
		u, ref := p.apiTarget(tc.path, tc.query)
		if ref != nil || u.String() != tc.want {
			t.Errorf("apiTarget(%q, %q) = %v, %+v; want %s", tc.path, tc.query, u, ref, tc.want)
		}
	}
	for _, tc := range []struct {
		path, query string
		status      int
		code        string
	}{
		{"restapi/v1.0/../oauth/token", "", 400, "invalid_path"},
		{"restapi/v1.0/%2e%2e/oauth/token", "", 400, "invalid_path"},
		{"restapi/v1.0/%2E%2E/oauth/token", "", 400, "invalid_path"},
		{"restapi/v1.0/./x", "", 400, "invalid_path"},
		{"restapi/v1.0/..", "", 400, "invalid_path"},
		{"restapi/v1.0/a%2Fb", "", 400, "invalid_path"},
		{"restapi/v1.0/a%2fb", "", 400, "invalid_path"},
		{"restapi/v1.0/a%5Cb", "", 400, "invalid_path"},
		{`restapi/v1.0/a\..\..\oauth`, "", 400, "invalid_path"},
		{"restapi//v1.0/x", "", 400, "invalid_path"},
		{"/restapi/v1.0/x", "", 400, "invalid_path"},
		{"//evil.example/restapi/v1.0/x", "", 400, "invalid_path"},
		{"restapi/v1.0/@evil.example", "", 400, "invalid_path"},
		{"restapi/v1.0/x%40evil.example", "", 400, "invalid_path"},
		{"https://evil.example/restapi/v1.0/x", "", 400, "invalid_path"},
		{"https:evil.example/restapi/v1.0/x", "", 400, "invalid_path"},
		{"restapi/v1.0/x%00", "", 400, "invalid_path"},
		{"restapi/v1.0/x\r\nHost: evil", "", 400, "invalid_path"},
		{"restapi/v1.0/%252e%252e/x", "", 400, "invalid_path"},
		{"restapi/v1.0/%25", "", 400, "invalid_path"},
		{"restapi/v1.0/%2", "", 400, "invalid_path"},
		{"restapi/v1.0/%zz", "", 400, "invalid_path"},
		{"restapi/v1.0/x?y=1", "", 400, "invalid_path"},
		{"restapi/v1.0/x%3Fy=1", "", 400, "invalid_path"},
		{"restapi/v1.0/x;jsessionid=1", "", 400, "invalid_path"},
		{"restapi/v1.0/%ff", "", 400, "invalid_path"},
		{"restapi/v1.0/x", "a=b c", 400, "invalid_query"},
		{"restapi/v1.0/x", "a=b#c", 400, "invalid_query"},
		{"restapi/v1.0/x", "a=%zz", 400, "invalid_query"},
		{"restapi/oauth/token", "", 403, "api_not_allowed"},
		{"restapi/OAuth/Token", "", 403, "api_not_allowed"},
		{"restapi/oauth/revoke", "", 403, "api_not_allowed"},
		{"restapi/v2.0/x", "", 403, "api_not_allowed"},
		{"restapi/v1.0", "", 403, "api_not_allowed"},
		{"evil.example/restapi/v1.0/x", "", 403, "api_not_allowed"},
		{"", "", 403, "api_not_allowed"},
	} {
		u, ref := p.apiTarget(tc.path, tc.query)
		if ref == nil || ref.status != tc.status || ref.code != tc.code {
			t.Errorf("apiTarget(%q, %q) = %v, %+v; want %d %s", tc.path, tc.query, u, ref, tc.status, tc.code)
		}
	}

	// The OAuth endpoints are refused even inside a wider prefix.
	wide := RingCentral("https://platform.example")
	wide.APIPrefixes = []string{"https://platform.example/"}
	for _, path := range []string{"restapi/oauth/token", "restapi/oauth/authorize", "restapi/oauth/revoke/", "RESTAPI/OAUTH/x"} {
		if _, ref := wide.apiTarget(path, ""); ref == nil || ref.status != 403 {
			t.Errorf("wide prefix: %q = %+v, want 403", path, ref)
		}
	}
	gh, _ := LookupPreset(PresetGitHub)
	ghp := gh.For("")
	if u, ref := ghp.apiTarget("user", ""); ref != nil || u.String() != "https://api.github.com/user" {
		t.Errorf("github userinfo endpoint (an API call like any other): %v %+v", u, ref)
	}
	if u, ref := ghp.apiTarget("user/repos", ""); ref != nil || u.String() != "https://api.github.com/user/repos" {
		t.Errorf("github user/repos: %v %+v", u, ref)
	}
	slack, _ := LookupPreset(PresetSlack)
	for _, path := range []string{"api/oauth.v2.access", "api/auth.revoke", "api/openid.connect.userInfo"} {
		if _, ref := slack.For("").apiTarget(path, ""); ref == nil || ref.status != 403 {
			t.Errorf("slack %s: %+v, want 403", path, ref)
		}
	}
	generic, _ := LookupPreset(PresetGeneric)
	if _, ref := generic.For("").apiTarget("x", ""); ref == nil || ref.status != 403 || ref.code != "api_not_allowed" {
		t.Errorf("no allow-list: %+v, want 403 api_not_allowed", ref)
	}
	// The dev server's mock lives under /mock: the preset's server is the
	// path's base.
	dev := RingCentral("http://127.0.0.1:8080/mock")
	if u, ref := dev.apiTarget("restapi/v1.0/account/~/extension/~", ""); ref != nil || u.String() != "http://127.0.0.1:8080/mock/restapi/v1.0/account/~/extension/~" {
		t.Errorf("dev server: %v %+v", u, ref)
	}
}

// TestAPIDeniedOAuthEndpoints: the provider's authorization, token and
// revocation endpoints are refused as prefixes, in any case: the exact
// path, and the path followed by "/" or "." (/oauth/token.json, a format
// suffix many servers route to the same handler). A path that merely
// starts with the same letters is an API call.
func TestAPIDeniedOAuthEndpoints(t *testing.T) {
	p := Provider{
		Name: "idp",
		Endpoint: oauth2.Endpoint{
			AuthURL:  "https://idp.example/oauth/authorize",
			TokenURL: "https://idp.example/oauth/token/",
		},
		RevokeURL:   "https://idp.example/oauth/revoke",
		APIPrefixes: []string{"https://idp.example/"},
	}
	for _, path := range []string{
		"oauth/token", "oauth/token/", "oauth/token.json", "oauth/token/x", "oauth/token.", "OAuth/Token.JSON",
		"OAUTH/TOKEN/", "oauth/authorize.php", "oauth/Authorize/x", "oauth/revoke.json", "oauth/revoke/x",
	} {
		if u, ref := p.apiTarget(path, ""); ref == nil || ref.status != 403 || ref.code != "api_not_allowed" {
			t.Errorf("%q = %v %+v, want 403 api_not_allowed", path, u, ref)
		}
	}
	for _, path := range []string{"oauth/tokens", "oauth/tokeninfo", "oauth/userinfo", "oauth/token-x", "api/oauth/token"} {
		if u, ref := p.apiTarget(path, ""); ref != nil || u.String() != "https://idp.example/"+path {
			t.Errorf("%q = %v %+v, want it proxied", path, u, ref)
		}
	}
	// An endpoint at the host's root refuses only the root, not the host.
	root := p
	root.Endpoint.TokenURL = "https://idp.example/"
	if u, ref := root.apiTarget("x", ""); ref != nil || u.String() != "https://idp.example/x" {
		t.Errorf("token endpoint at the root: %v %+v, want x proxied", u, ref)
	}
}

// TestAPIDeniedGoogle: Google's legacy OAuth endpoints under
// www.googleapis.com/oauth2/ (v4/token, v3/tokeninfo, v3/userinfo) are
// inside its allow-list and refused, the whole folder; its other APIs are
// proxied.
func TestAPIDeniedGoogle(t *testing.T) {
	g, _ := LookupPreset(PresetGoogle)
	p := g.For("")
	for _, path := range []string{"oauth2/v4/token", "oauth2/v3/tokeninfo", "oauth2/v3/userinfo", "OAuth2/v4/token", "oauth2/"} {
		if u, ref := p.apiTarget(path, ""); ref == nil || ref.status != 403 || ref.code != "api_not_allowed" {
			t.Errorf("google %q = %v %+v, want 403 api_not_allowed", path, u, ref)
		}
	}
	for _, path := range []string{"drive/v3/files", "calendar/v3/users/me/calendarList", "oauth2x/v1"} {
		if u, ref := p.apiTarget(path, ""); ref != nil || u.String() != "https://www.googleapis.com/"+path {
			t.Errorf("google %q = %v %+v, want it proxied", path, u, ref)
		}
	}
}

// FuzzAPITarget: anything the path checker accepts is a URL on an allowed
// prefix's host, under its path, with no "." or ".." segment and no "%"
// once decoded, that parses back to the same path (what was checked is
// what is sent), and never an OAuth endpoint.
func FuzzAPITarget(f *testing.F) {
	for _, s := range []string{
		"restapi/v1.0/account/~/extension/~", "restapi/v1.0/../oauth/token", "restapi/v1.0/%2e%2e/x",
		"restapi/v1.0/a%2Fb", "restapi//v1.0", "//evil/x", "restapi/v1.0/@evil", "https://evil/x",
		"restapi/v1.0/%252e", "restapi/v1.0/a b/café", "files/x", "restapi/oauth/token", "restapi/v1.0/x%3A",
		"restapi/v1.0/.%2e/x", "restapi/v1.0/%C0%AE%C0%AE/x", "restapi/v1.0/x/..", "restapi/v1.0/\x00",
	} {
		f.Add(s)
	}
	p := testAPIProvider()
	f.Fuzz(func(t *testing.T, path string) {
		u, ref := p.apiTarget(path, "")
		if ref != nil {
			if u != nil || ref.status != 400 && ref.status != 403 {
				t.Fatalf("refusal %+v with URL %v", ref, u)
			}
			return
		}
		back, err := url.Parse(u.String())
		if err != nil || back.Path != u.Path || back.Host != u.Host {
			t.Fatalf("%q: sent %q parses to %v (%v), checked %q", path, u.String(), back, err, u.Path)
		}
		if strings.Contains(back.Path, "%") || back.User != nil || back.Fragment != "" {
			t.Fatalf("%q: sent %q", path, u.String())
		}
		for _, seg := range strings.Split(back.Path, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("%q: sent %q with a dot segment", path, u.String())
			}
		}
		under := false
		for _, pre := range p.APIPrefixes {
			a, _ := url.Parse(pre)
			under = under || (a.Scheme == back.Scheme && a.Host == back.Host && strings.HasPrefix(back.Path, a.Path))
		}
		if !under || strings.HasPrefix(strings.ToLower(back.Path), "/restapi/oauth/") {
			t.Fatalf("%q: sent %q outside the allow-list", path, u.String())
		}
	})
}
