package testenv

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// OIDCOptions configures the OAuth server stand-in (testdata/oidc/server.mjs,
// oidc-provider).
type OIDCOptions struct {
	// RedirectURIs registered for the client (and for the unauthorized
	// client). The callback URL of the code under test, usually on a
	// FreePort. At least one is required.
	RedirectURIs []string
	// ClientID defaults to "oauthfn-test"; ClientSecret to a random value.
	ClientID     string
	ClientSecret string
	// UnauthorizedClient also registers a client that may not use the
	// authorization code grant (only refresh_token): any authorize or code
	// exchange with it answers unauthorized_client. Its credentials are
	// OIDC.UnauthorizedClientID and OIDC.UnauthorizedClientSecret.
	UnauthorizedClient bool
	// AccessTokenTTL and RefreshTokenTTL set the token lifetimes (whole
	// seconds; default 1h and 14 days). expires_in reflects the first.
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	// RefreshTokenExpiresIn adds refresh_token_expires_in (seconds left on
	// the issued refresh token) to token responses, as RingCentral does.
	RefreshTokenExpiresIn bool
	// AccountField, when set, names a token-response field carrying the
	// account id (the login name), like RingCentral's owner_id.
	AccountField string
	// ClientAuthMethod is how the client must authenticate at the token and
	// revocation endpoints: "client_secret_basic" (the default) or
	// "client_secret_post". The other method is refused (invalid_client).
	ClientAuthMethod string
	// ClientCredentials lets the client use the client_credentials grant
	// (RFC 6749 4.4) too; the unauthorized client never may.
	ClientCredentials bool
}

// OIDC is a running oidc-provider. Its issuer is URL; the endpoints come
// from its discovery document. The server keeps its state in memory: a
// restart forgets every token.
type OIDC struct {
	URL          string // issuer, http://127.0.0.1:PORT
	ClientID     string
	ClientSecret string

	UnauthorizedClientID     string // empty unless OIDCOptions.UnauthorizedClient
	UnauthorizedClientSecret string

	AuthURL     string
	TokenURL    string
	RevokeURL   string
	UserinfoURL string

	redirectURIs []string
	log          *ChildLog
}

// OIDCDir is the directory of the OAuth server stand-in.
func OIDCDir() string { return filepath.Join(RepoRoot(), "testdata", "oidc") }

// StartOIDC starts the OAuth server stand-in for this test on a free port
// and stops it when the test ends. Its log is printed if the test fails.
// It fails the test if the stand-in's npm packages are not installed
// (`make test` installs them) or if node is missing.
func StartOIDC(t testing.TB, opts OIDCOptions) *OIDC {
	t.Helper()
	dir := OIDCDir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")); err != nil {
		t.Fatalf("testenv: oidc-provider is not installed in %s (run `make test`, which runs npm ci there): %v", dir, err)
	}
	if len(opts.RedirectURIs) == 0 {
		t.Fatal("testenv: StartOIDC needs at least one redirect URI")
	}
	o := &OIDC{
		ClientID:     opts.ClientID,
		ClientSecret: opts.ClientSecret,
		redirectURIs: opts.RedirectURIs,
		log:          NewChildLog(t),
	}
	if o.ClientID == "" {
		o.ClientID = "oauthfn-test"
	}
	if o.ClientSecret == "" {
		o.ClientSecret = randomString(t)
	}

	type client struct {
		ClientID     string   `json:"client_id"`
		ClientSecret string   `json:"client_secret"`
		RedirectURIs []string `json:"redirect_uris"`
		GrantTypes   []string `json:"grant_types"`
		AuthMethod   string   `json:"auth_method,omitempty"`
	}
	cfg := struct {
		Clients               []client `json:"clients"`
		AccessTokenTTL        int64    `json:"access_token_ttl,omitempty"`
		RefreshTokenTTL       int64    `json:"refresh_token_ttl,omitempty"`
		RefreshTokenExpiresIn bool     `json:"refresh_token_expires_in,omitempty"`
		AccountField          string   `json:"account_field,omitempty"`
	}{
		Clients: []client{{
			ClientID:     o.ClientID,
			ClientSecret: o.ClientSecret,
			RedirectURIs: opts.RedirectURIs,
			GrantTypes:   []string{"authorization_code", "refresh_token"},
			AuthMethod:   opts.ClientAuthMethod,
		}},
		AccessTokenTTL:        int64(opts.AccessTokenTTL / time.Second),
		RefreshTokenTTL:       int64(opts.RefreshTokenTTL / time.Second),
		RefreshTokenExpiresIn: opts.RefreshTokenExpiresIn,
		AccountField:          opts.AccountField,
	}
	if opts.ClientCredentials {
		cfg.Clients[0].GrantTypes = append(cfg.Clients[0].GrantTypes, "client_credentials")
	}
	if opts.UnauthorizedClient {
		o.UnauthorizedClientID = o.ClientID + "-unauthorized"
		o.UnauthorizedClientSecret = randomString(t)
		cfg.Clients = append(cfg.Clients, client{
			ClientID:     o.UnauthorizedClientID,
			ClientSecret: o.UnauthorizedClientSecret,
			RedirectURIs: opts.RedirectURIs,
			GrantTypes:   []string{"refresh_token"},
		})
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		t.Fatalf("testenv: oidc config: %v", err)
	}

	// --port 0: the stand-in takes a free port itself and names it in its
	// "listening" line (no port picked here that another process could
	// take before node binds it).
	cmd := exec.Command("node", filepath.Join(dir, "server.mjs"), "--port", "0", "--config", string(cfgJSON))
	cmd.Stdout, cmd.Stderr = o.log.File(), o.log.File()
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start node (oidc-provider stand-in): %v (`make test` checks the tools it needs)", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("testenv: oidc-provider log:\n%s", o.log.String())
		}
	})

	o.URL = o.listening(t, exited)
	disc := o.discover(t, exited)
	if disc.Issuer != o.URL {
		t.Fatalf("testenv: oidc issuer = %q, want %q", disc.Issuer, o.URL)
	}
	o.AuthURL = disc.AuthorizationEndpoint
	o.TokenURL = disc.TokenEndpoint
	o.RevokeURL = disc.RevocationEndpoint
	o.UserinfoURL = disc.UserinfoEndpoint
	for name, v := range map[string]string{"authorization": o.AuthURL, "token": o.TokenURL, "revocation": o.RevokeURL, "userinfo": o.UserinfoURL} {
		if v == "" {
			t.Fatalf("testenv: oidc discovery has no %s endpoint", name)
		}
	}
	return o
}

type discovery struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
	UserinfoEndpoint      string `json:"userinfo_endpoint"`
}

// startTimeout bounds a stand-in's start: node loading oidc-provider, or
// python loading moto, can take a minute on a loaded machine.
const startTimeout = 120 * time.Second

var listeningRE = regexp.MustCompile(`oidc stand-in listening, issuer (http://127\.0\.0\.1:[0-9]+),`)

// listening waits (up to startTimeout) for the stand-in's "listening" line
// and returns the issuer it names; it fails the test if the process exits
// first.
func (o *OIDC) listening(t testing.TB, exited <-chan struct{}) string {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		if m := listeningRE.FindStringSubmatch(o.log.String()); m != nil {
			return m[1]
		}
		select {
		case <-exited:
			t.Fatalf("testenv: oidc-provider stand-in exited before listening:\n%s", o.log.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: oidc-provider stand-in not listening after %v:\n%s", startTimeout, o.log.String())
		}
	}
}

// discover reads the discovery document of the listening server (a few
// tries if the connection fails; each answer may take 30 s).
func (o *OIDC) discover(t testing.TB, exited <-chan struct{}) discovery {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	client := &http.Client{Timeout: 30 * time.Second}
	for {
		resp, err := client.Get(o.URL + "/.well-known/openid-configuration")
		if err == nil {
			body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if rerr != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("testenv: oidc discovery: status %d, read error %v\n%s", resp.StatusCode, rerr, o.log.String())
			}
			var d discovery
			if err := json.Unmarshal(body, &d); err != nil {
				t.Fatalf("testenv: oidc discovery: %v", err)
			}
			return d
		}
		select {
		case <-exited:
			t.Fatalf("testenv: oidc-provider stand-in exited before answering:\n%s", o.log.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: oidc-provider stand-in did not answer at %s: %v\n%s", o.URL, err, o.log.String())
		}
	}
}

// Log is the stand-in's output so far (one line per request and grant
// event; no tokens). The stand-in logs a request before it answers it and
// writes straight to a file (ChildLog), so a request whose answer the test
// holds is always in Log: counting lines is exact.
func (o *OIDC) Log() string { return o.log.String() }

func randomString(t testing.TB) string {
	t.Helper()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("testenv: random: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
