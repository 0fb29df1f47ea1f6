package mockrc

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestJWTBearerGrant: the jwt-bearer grant as RingCentral's "JWT auth
// flow": refused with unauthorized_client OAU-251 while the app's setting is
// off; a credential from the admin endpoint then grants a session of its
// account (owner_id, a refresh token); revoked, expired and unknown ones get
// invalid_grant; grants are counted.
func TestJWTBearerGrant(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	s := New(Options{Now: func() time.Time { return now }})
	srv := httptest.NewServer(s)
	defer srv.Close()
	post := func(path string, form url.Values, basic bool) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			req.SetBasicAuth(DefaultClientID, DefaultClientSecret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	issue := func(account, ttl string) string {
		t.Helper()
		code, body := post(JWTPath, url.Values{"account": {account}, "ttl": {ttl}}, false)
		if code != http.StatusOK || !strings.HasPrefix(body, "eyJ") || strings.Count(body, ".") != 2 {
			t.Fatalf("issue: %d %q", code, body)
		}
		return strings.TrimSpace(body)
	}
	grant := func(jwt string) (int, map[string]any) {
		t.Helper()
		code, body := post(TokenPath, url.Values{"grant_type": {JWTBearerGrant}, "assertion": {jwt}}, true)
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("%d %q", code, body)
		}
		return code, m
	}
	rcCode := func(m map[string]any) string {
		errs, _ := m["errors"].([]any)
		if len(errs) == 0 {
			return ""
		}
		c, _ := errs[0].(map[string]any)["errorCode"].(string)
		return c
	}

	jwt := issue("1001", "")
	short := issue("1002", "1h")
	if code, m := grant(jwt); code != 400 || m["error"] != "unauthorized_client" || rcCode(m) != "OAU-251" {
		t.Fatalf("JWT flow off: %d %v", code, m)
	}
	s.EnableJWT(true)
	code, m := grant(jwt)
	if code != 200 || m["owner_id"] != "1001" || m["refresh_token"] == "" || m["access_token"] == "" {
		t.Fatalf("grant: %d %v", code, m)
	}
	if s.Sessions("1001") != 1 {
		t.Fatalf("sessions: %d", s.Sessions("1001"))
	}
	// Without client authentication: 401, nothing granted.
	if code, _ := post(TokenPath, url.Values{"grant_type": {JWTBearerGrant}, "assertion": {jwt}}, false); code != 401 {
		t.Fatalf("without client auth: %d", code)
	}
	now = now.Add(2 * time.Hour)
	if code, m := grant(short); code != 400 || m["error"] != "invalid_grant" || rcCode(m) != "OAU-210" {
		t.Fatalf("expired: %d %v", code, m)
	}
	if code, _ := post(JWTRevokePath, url.Values{"jwt": {jwt}}, false); code != http.StatusNoContent {
		t.Fatalf("revoke: %d", code)
	}
	if code, m := grant(jwt); code != 400 || m["error"] != "invalid_grant" || rcCode(m) != "OAU-211" {
		t.Fatalf("revoked: %d %v", code, m)
	}
	if code, m := grant(jwt + "x"); code != 400 || m["error"] != "invalid_grant" || rcCode(m) != "OAU-213" {
		t.Fatalf("unknown: %d %v", code, m)
	}
	if g, r := s.JWTGrants(); g != 1 || r != 4 {
		t.Fatalf("JWTGrants: %d granted, %d refused; want 1, 4", g, r)
	}
	for _, form := range []url.Values{{"account": {""}}, {"account": {"1001"}, "ttl": {"-1h"}}, {"account": {"1001"}, "ttl": {"soon"}}} {
		if code, _ := post(JWTPath, form, false); code != 400 {
			t.Errorf("issue %v: %d, want 400", form, code)
		}
	}
	if resp, err := http.Get(srv.URL + JWTPath); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET %s: %v %v", JWTPath, resp.StatusCode, err)
	}
}
