package oauth

import (
	"strings"
	"testing"
)

// Issue 10 item 14: invalid UTF-8 in app_state or return_to (or
// login_hint) is refused with 400 at /authorize and nothing is stored;
// before, memory kept the bytes while DynamoDB handed back U+FFFD. (These
// are the plain parameters of REQUIRE_CONNECT_TOKEN=false; a connect
// token's claims are JSON, always valid UTF-8.)
func TestAuthorizeRefusesInvalidUTF8(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		tests := []struct{ name, query string }{
			{"app_state", "app_state=ab%FFcd"},
			{"app_state truncated sequence", "app_state=%E2%82"},
			{"return_to", "return_to=https%3A%2F%2Fapp.example%2Fdone%3Fx%3D%FF"},
			{"return_to in the path", "return_to=https%3A%2F%2Fapp.example%2Fdone%2F%C3%28"},
			{"login_hint", "login_hint=a%C0%AFb"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := newRig(t, newStore, "REQUIRE_CONNECT_TOKEN", "false")
				resp, _ := r.startRaw(t, tt.query)
				if resp.StatusCode != 400 || !strings.Contains(resp.Body, "invalid_request") || len(resp.Cookies) != 0 || resp.Headers["Location"] != "" {
					t.Errorf("status %d, cookies %v, location %q; want 400 invalid_request", resp.StatusCode, resp.Cookies, resp.Headers["Location"])
				}
				if r.store.puts.Load() != 0 {
					t.Errorf("pending authorization stored")
				}
				if r.prov.tokenCalls.Load() != 0 {
					t.Errorf("provider called")
				}
			})
		}
		// Valid multi-byte UTF-8 is still fine.
		r := newRig(t, newStore, "REQUIRE_CONNECT_TOKEN", "false")
		if resp, _ := r.startRaw(t, "app_state=%C3%A9t%C3%A9"); resp.StatusCode != 302 {
			t.Errorf("valid UTF-8 app_state: status %d, want 302", resp.StatusCode)
		}
	})
}
