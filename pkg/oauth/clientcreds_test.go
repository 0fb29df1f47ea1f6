package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth/connevent"
)

// client_credentials connections (credential.go) against the real
// oidc-provider stand-in, on both stores.

// ccRig is a Handler for the generic provider on oidc-provider whose client
// may use the client_credentials grant, its store watched for connection
// events.
type ccRig struct {
	o      *testenv.OIDC
	h      *Handler
	store  Store
	clock  *fakeClock
	logs   *testenv.Buffer
	mu     sync.Mutex
	events []*connevent.Event
}

func newCCRig(t *testing.T, o *testenv.OIDC, store Store, clientID, clientSecret string) *ccRig {
	t.Helper()
	h, clock, logs, _ := newTestHandler(t, store, PresetGeneric, o.TokenURL, o.RevokeURL, clientID, clientSecret)
	h.Config.Provider.Endpoint.AuthURL = o.AuthURL
	r := &ccRig{o: o, h: h, store: store, clock: clock, logs: logs}
	h.Store = WatchStore(store, clock.Now, func(rec events.DynamoDBEventRecord) {
		ev, err := connevent.Transition(rec)
		if err != nil {
			t.Errorf("event: %v", err)
		}
		if ev != nil {
			r.mu.Lock()
			r.events = append(r.events, ev)
			r.mu.Unlock()
		}
	})
	return r
}

// grants is the number of client_credentials grants oidc-provider made.
func (r *ccRig) grants() int { return strings.Count(r.o.Log(), "POST /token 200") }

func (r *ccRig) eventsOf(dt string) []*connevent.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*connevent.Event
	for _, ev := range r.events {
		if ev.DetailType == dt {
			out = append(out, ev)
		}
	}
	return out
}

func startCCOIDC(t *testing.T) *testenv.OIDC {
	return testenv.StartOIDC(t, testenv.OIDCOptions{
		RedirectURIs:       []string{"http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) + "/callback"},
		ClientCredentials:  true,
		UnauthorizedClient: true,
		AccessTokenTTL:     time.Hour,
	})
}

// TestClientCredentialsLife: granted at once and stored under -account
// (source client_credentials, no refresh token, due before its access token
// expires), served by the token function without another grant, granted
// again by the sweep near expiry (fake clock), and then, the client refused
// (its secret changed), reauth_required with reason credential_refused, one
// event, and the fix in the log. No secret or token in the log.
func TestClientCredentialsLife(t *testing.T) {
	o := startCCOIDC(t)
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newCCRig(t, o, newStore(t), o.ClientID, o.ClientSecret)
		ctx := t.Context()
		before := r.grants()
		info, err := r.h.AddCredential(ctx, CredentialInput{Source: SourceClientCredentials, Account: "billing-bot", EndUser: "svc-1"})
		if err != nil {
			t.Fatalf("AddCredential: %v", err)
		}
		if n := r.grants() - before; n != 1 {
			t.Fatalf("%d grants at the provider, want 1", n)
		}
		if info.AccountID != "billing-bot" || info.Source != SourceClientCredentials || info.Status != StatusActive || info.EndUser != "svc-1" || info.HasRefreshToken {
			t.Fatalf("added: %+v", info)
		}
		c, access, _ := getOpen(t, r.h, "billing-bot")
		if c.Credential != "" || c.RefreshToken != "" || access == "" {
			t.Fatalf("stored: credential %v, refresh token %v, access token %v", c.Credential != "", c.RefreshToken != "", access != "")
		}
		due := c.AccessExpiresAt.Add(-r.h.Config.RefreshWindow)
		if c.AccessExpiresAt.IsZero() || !c.RefreshAt.Equal(due) {
			t.Fatalf("refresh_at %v, want %v (before the access token's expiry %v)", c.RefreshAt, due, c.AccessExpiresAt)
		}

		// Served by the token function: the stored token, no grant.
		resp, err := r.h.TokenFunction(ctx, json.RawMessage(`{"account_id":"billing-bot"}`))
		if err != nil || resp.Error != "" || resp.AccessToken != access {
			t.Fatalf("token function: %v %s %s", err, resp.Error, resp.ErrorDescription)
		}
		// Not due yet: the sweep leaves it.
		if sum, err := r.h.Sweep(ctx, SweepInput{}); err != nil || sum.Refreshed != 0 {
			t.Fatalf("sweep before due: %+v %v", sum, err)
		}
		if n := r.grants() - before; n != 1 {
			t.Fatalf("%d grants, want still 1", n)
		}

		// Near expiry: the sweep grants again.
		r.clock.Advance(due.Sub(r.clock.Now()) + time.Second)
		sum, err := r.h.Sweep(ctx, SweepInput{})
		if err != nil || sum.Refreshed != 1 {
			t.Fatalf("sweep when due: %+v %v", sum, err)
		}
		if n := r.grants() - before; n != 2 {
			t.Fatalf("%d grants, want 2", n)
		}
		c2, access2, _ := getOpen(t, r.h, "billing-bot")
		if access2 == access || c2.Status != StatusActive || c2.Source != SourceClientCredentials || !c2.RefreshAt.After(r.clock.Now()) {
			t.Fatalf("after the sweep: %+v (new token %v)", c2.Info(), access2 != access)
		}
		resp, err = r.h.TokenFunction(ctx, json.RawMessage(`{"account_id":"billing-bot"}`))
		if err != nil || resp.AccessToken != access2 {
			t.Fatalf("token function after the grant: %v %s", err, resp.Error)
		}
		noLeases(t, r.store)

		// The client's secret is no longer the provider's: the next grant
		// is refused (invalid_client) and the connection needs an operator.
		r.h.Secrets = newTestSecrets(t, "not-"+o.ClientSecret)
		r.clock.Advance(2 * time.Hour)
		resp, err = r.h.TokenFunction(ctx, json.RawMessage(`{"account_id":"billing-bot"}`))
		if err != nil || resp.Error != TokenReauthRequired || resp.AccessToken != "" || !strings.Contains(resp.ErrorDescription, "credential add") {
			t.Fatalf("token function with a refused client: %v %+v", err, resp)
		}
		c3, _, _ := getOpen(t, r.h, "billing-bot")
		if c3.Status != StatusReauthRequired || c3.LastError != FailCredentialRefused || c3.AccessToken != "" || !c3.RefreshAt.IsZero() {
			t.Fatalf("after the refusal: %+v", c3.Info())
		}
		if evs := r.eventsOf(connevent.ReauthRequired); len(evs) != 1 || !strings.Contains(string(mustJSON(t, evs[0])), FailCredentialRefused) {
			t.Fatalf("reauth events: %d", len(evs))
		}
		line := logLine(t, r.logs.String(), "credential refused")
		wantAttrs(t, line, map[string]string{"error_code": "invalid_client", "source": SourceClientCredentials, "fix": "credential add -source client_credentials"})
		// Nothing more is granted: the sweep leaves it.
		if sum, err := r.h.Sweep(ctx, SweepInput{}); err != nil || sum.Refreshed != 0 {
			t.Fatalf("sweep after the refusal: %+v %v", sum, err)
		}
		// Added again (the client fixed): active.
		r.h.Secrets = newTestSecrets(t, o.ClientSecret)
		if info, err := r.h.AddCredential(ctx, CredentialInput{Source: SourceClientCredentials, Account: "billing-bot"}); err != nil || info.Status != StatusActive {
			t.Fatalf("added again: %+v %v", info, err)
		}
		noLeases(t, r.store)
		// Disconnected as any other: revoked at the provider, gone.
		if err := r.h.Disconnect(ctx, "billing-bot"); err != nil {
			t.Fatalf("Disconnect: %v", err)
		}
		if !strings.Contains(o.Log(), "POST /token/revocation 200") {
			t.Fatal("the session was not revoked at the provider")
		}
		if c, err := r.h.Store.GetConnection(ctx, PresetGeneric, "billing-bot"); err == nil && c.Status != StatusRevoked {
			t.Fatalf("after Disconnect: %+v", c.Info())
		}
		if sum, err := r.h.Sweep(ctx, SweepInput{}); err != nil || sum.Refreshed != 0 {
			t.Fatalf("sweep after Disconnect: %+v %v", sum, err)
		}
		for _, secret := range []string{o.ClientSecret, access, access2} {
			if strings.Contains(r.logs.String(), secret) {
				t.Fatal("a secret or token is in the log")
			}
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestClientCredentialsOneGrant: two token-function invocations and a sweep
// at once on a client_credentials connection whose access token expired
// make exactly one grant (under the lease), and all get its token.
func TestClientCredentialsOneGrant(t *testing.T) {
	o := startCCOIDC(t)
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newCCRig(t, o, newStore(t), o.ClientID, o.ClientSecret)
		if _, err := r.h.AddCredential(t.Context(), CredentialInput{Source: SourceClientCredentials, Account: "bot"}); err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(2 * time.Hour) // the access token dead; no sweep ran
		wakeOnWrite(r.h, r.clock)
		before := r.grants()
		tokens, sum := tokensAndASweep(t, r.h, "bot")
		if n := r.grants() - before; n != 1 {
			t.Fatalf("%d grants, want 1", n)
		}
		_, access, _ := getOpen(t, r.h, "bot")
		if tokens[0] != access || tokens[1] != access {
			t.Fatal("the token calls did not get the granted token")
		}
		if sum.Refreshed+sum.SkippedLeased > 1 {
			t.Fatalf("sweep: %+v", sum)
		}
		noLeases(t, r.store)
	})
}

// TestClientCredentialsAddRefused: a client that may not use the grant
// (unauthorized_client) or a wrong secret (invalid_client) fails at add
// with the provider's error and its fix, and nothing is stored; so do a
// missing -account, a credential given, and -account on a JWT.
func TestClientCredentialsAddRefused(t *testing.T) {
	o := startCCOIDC(t)
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		for _, tc := range []struct {
			name, id, secret, kind string
		}{
			{"unauthorized_client", o.UnauthorizedClientID, o.UnauthorizedClientSecret, failUnauthorizedClient},
			{"invalid_client", o.ClientID, "wrong-" + o.ClientSecret, failInvalidClient},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := newCCRig(t, o, newStore(t), tc.id, tc.secret)
				before := strings.Count(o.Log(), "POST /token")
				_, err := r.h.AddCredential(t.Context(), CredentialInput{Source: SourceClientCredentials, Account: "bot"})
				var ce *CredentialError
				if !errors.As(err, &ce) || ce.Kind != tc.kind || !errors.Is(err, ErrCredentialRefused) || !strings.Contains(ce.Fix, "client_credentials") {
					t.Fatalf("err = %v, want a refused %s with its fix", err, tc.kind)
				}
				if n := strings.Count(o.Log(), "POST /token") - before; n != 1 {
					t.Fatalf("%d token calls, want 1", n)
				}
				if cs, _ := r.store.ListConnections(t.Context()); len(cs) != 0 {
					t.Fatalf("stored %d connections", len(cs))
				}
				if strings.Contains(r.logs.String(), tc.secret) || strings.Contains(err.Error(), tc.secret) {
					t.Fatal("the client secret is in the log or the error")
				}
				wantAttrs(t, logLine(t, r.logs.String(), "credential grant refused"), map[string]string{"error_code": tc.kind, "source": SourceClientCredentials})
			})
		}
		r := newCCRig(t, o, newStore(t), o.ClientID, o.ClientSecret)
		before := strings.Count(o.Log(), "POST /token")
		for _, in := range []CredentialInput{
			{Source: SourceClientCredentials},
			{Source: SourceClientCredentials, Account: "bot", Credential: "a-secret-value"},
			{Source: SourceClientCredentials, Account: "bad\x00name"},
			{Source: SourceJWTBearer, Account: "bot", Credential: "eyJ.x.y"},
		} {
			if _, err := r.h.AddCredential(t.Context(), in); err == nil {
				t.Fatalf("AddCredential(%+v) succeeded", in.Account)
			} else if strings.Contains(err.Error(), "a-secret-value") {
				t.Fatal("the credential is in the error")
			}
		}
		if n := strings.Count(o.Log(), "POST /token") - before; n != 0 {
			t.Fatalf("%d token calls, want none", n)
		}
		if cs, _ := r.store.ListConnections(t.Context()); len(cs) != 0 {
			t.Fatalf("stored %d connections", len(cs))
		}
	})
}

// TestClientCredentialsRate: client_credentials grants made by the sweep
// take TOKEN_RATE_PER_MIN slots like any token call: never more token calls
// in a minute, and every connection is granted again in the end.
func TestClientCredentialsRate(t *testing.T) {
	o := startCCOIDC(t)
	r := newCCRig(t, o, NewMemoryStore(), o.ClientID, o.ClientSecret)
	accounts := []string{"bot-1", "bot-2", "bot-3", "bot-4", "bot-5"}
	for _, a := range accounts {
		if _, err := r.h.AddCredential(t.Context(), CredentialInput{Source: SourceClientCredentials, Account: a}); err != nil {
			t.Fatal(err)
		}
	}
	const rate = 2
	r.h.Config.TokenRatePerMin = rate
	var mu sync.Mutex
	var times []time.Time
	r.h.HTTPClient.Transport = roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.URL.Path == "/token" {
			mu.Lock()
			times = append(times, r.clock.Now())
			mu.Unlock()
		}
		return http.DefaultTransport.RoundTrip(req)
	})
	r.clock.Advance(time.Hour) // every access token near its expiry
	for range 4 {
		ctx, cancel := context.WithDeadline(t.Context(), r.clock.Now().Add(10*time.Minute))
		_, err := r.h.Sweep(ctx, SweepInput{})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(time.Minute)
	}
	for _, a := range accounts {
		if c, _, _ := getOpen(t, r.h, a); c.Status != StatusActive || !c.RefreshAt.After(r.clock.Now()) {
			t.Fatalf("%s: %+v", a, c.Info())
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(times) != len(accounts) {
		t.Fatalf("%d token calls, want %d (one grant each)", len(times), len(accounts))
	}
	if m := maxPerMinute(times); m > rate {
		t.Fatalf("%d token calls in one minute, want at most %d", m, rate)
	}
	noLeases(t, r.store)
}
