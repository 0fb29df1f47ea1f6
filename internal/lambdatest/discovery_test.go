package lambdatest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/oauthfn/oauthfn/internal/lambdatest"
	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/internal/testenv"
)

// discoveryServer serves an OpenID configuration naming issuer (its own URL
// when empty) and the mock's endpoints, and records the paths asked for.
type discoveryServer struct {
	URL   string
	mu    sync.Mutex
	paths []string
}

func newDiscoveryServer(t *testing.T, rcURL, issuer string) *discoveryServer {
	t.Helper()
	d := &discoveryServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		d.paths = append(d.paths, r.URL.Path)
		d.mu.Unlock()
		iss := issuer
		if iss == "" {
			iss = d.URL
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                 iss,
			"authorization_endpoint": rcURL + mockrc.AuthorizePath,
			"token_endpoint":         rcURL + mockrc.TokenPath,
			"revocation_endpoint":    rcURL + mockrc.RevokePath,
			"userinfo_endpoint":      rcURL + mockrc.UserinfoPath,
		})
	}))
	t.Cleanup(srv.Close)
	d.URL = srv.URL
	return d
}

func (d *discoveryServer) requests() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.paths...)
}

// TestDiscoveryUnderEmulator: a function whose generic provider is named
// only by OAUTH_ISSUER reads the OpenID configuration once, at init, and
// redirects to the discovered authorization endpoint; warm invocations
// read nothing. A document naming another issuer fails the init with one
// line naming OAUTH_ISSUER, and nothing but the document is asked for.
func TestDiscoveryUnderEmulator(t *testing.T) {
	r := newRig(t)
	r.build(t, "authorize")
	generic := func(issuer string) map[string]string {
		return map[string]string{"OAUTH_PROVIDER": "generic", "OAUTH_ISSUER": issuer, "OAUTH_SERVER_URL": ""}
	}

	t.Run("discovered at init, once", func(t *testing.T) {
		d := newDiscoveryServer(t, r.rcURL, "")
		r.startAs(t, "authorize", "authorize", "AuthorizeFunction", generic(d.URL))
		r.authorize(t) // checks the Location is the mock's authorization endpoint
		r.authorize(t)
		if got := d.requests(); len(got) != 1 || got[0] != "/.well-known/openid-configuration" {
			t.Errorf("discovery requests over two invocations = %q, want the one at init", got)
		}
	})

	t.Run("another issuer fails the init", func(t *testing.T) {
		d := newDiscoveryServer(t, r.rcURL, "https://evil.example")
		calls := r.rc.Calls(mockrc.AuthorizePath) + r.rc.Calls(mockrc.TokenPath)
		e := r.startWith(t, "authorize", "AuthorizeFunction", generic(d.URL))
		_, err := e.Invoke(testenv.Context(t), readFile(t, filepath.Join(r.root, "events", "authorize.json")))
		if err == nil {
			t.Fatal("invoke: no error, want the function to fail at init")
		}
		// The line is written before the process exits, and the emulator
		// answers the failed init only after that exit: reading once is exact.
		var lines []string
		for _, l := range lambdatest.LogLines(e.Stdout() + e.Stderr()) {
			if strings.Contains(l, "cannot start") {
				lines = append(lines, l)
			}
		}
		if len(lines) == 0 || !strings.Contains(lines[0], "OAUTH_ISSUER: "+d.URL+"/.well-known/openid-configuration") ||
			!strings.Contains(lines[0], `issuer \"https://evil.example\" is not the configured issuer`) {
			t.Errorf("start-up error lines %q: want one naming OAUTH_ISSUER, the document and the mismatch (invoke error: %v)", lines, err)
		}
		for _, p := range d.requests() {
			if p != "/.well-known/openid-configuration" {
				t.Errorf("request for %s at the issuer, want only the document", p)
			}
		}
		if got := r.rc.Calls(mockrc.AuthorizePath) + r.rc.Calls(mockrc.TokenPath); got != calls {
			t.Errorf("calls at the provider's endpoints: %d, want none", got-calls)
		}
	})
}
