package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/pkg/oauth/connevent"
)

// Server credentials (credential.go) against mockrc's jwt-bearer grant, on
// both stores.

// credRig is an rcRig whose store is watched: every change becomes the
// connection event functions/events would send, and every error and answer
// the test sees is kept for the leak check.
type credRig struct {
	*rcRig
	mu     sync.Mutex
	events []*connevent.Event
	texts  []string // errors, answers, list rows: searched for credentials
}

func newCredRig(t *testing.T, store Store) *credRig {
	t.Helper()
	r := &credRig{rcRig: newRCRig(t, store, mockrc.Options{})}
	r.rc.EnableJWT(true)
	r.h.Store = WatchStore(r.h.Store, r.clock.Now, func(rec events.DynamoDBEventRecord) {
		ev, err := connevent.Transition(rec)
		if err != nil {
			t.Errorf("event: %v", err)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if ev != nil {
			r.events = append(r.events, ev)
		}
		b, _ := json.Marshal(rec)
		r.texts = append(r.texts, string(b)) // the stream record itself: sealed values only
	})
	return r
}

func (r *credRig) keep(v any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch v := v.(type) {
	case error:
		if v != nil {
			r.texts = append(r.texts, v.Error())
		}
	default:
		b, _ := json.Marshal(v)
		r.texts = append(r.texts, string(b), fmt.Sprintf("%+v", v))
	}
}

// eventsOf returns the events of detail type dt.
func (r *credRig) eventsOf(dt string) []*connevent.Event {
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

// noCredentialLeak: no credential appears in the logs, the metrics, an
// error, an answer, an event or a stream record; in the store only sealed.
func (r *credRig) noCredentialLeak(t *testing.T, credentials ...string) {
	t.Helper()
	r.mu.Lock()
	texts := append([]string{r.logs.String(), r.metrics.String()}, r.texts...)
	r.mu.Unlock()
	cs, err := r.store.ListConnections(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		texts = append(texts, fmt.Sprintf("%+v", *c), fmt.Sprintf("%+v", c.Info()))
	}
	if len(texts) < 5 || !strings.Contains(r.logs.String(), "credential") {
		t.Fatalf("the leak check would be vacuous: %d texts", len(texts))
	}
	for _, cred := range credentials {
		if len(cred) < 40 {
			t.Fatalf("a credential of %d characters cannot be searched for reliably", len(cred))
		}
		// The signature part alone, too: a credential cut in pieces.
		sig := cred[strings.LastIndex(cred, ".")+1:]
		for _, text := range texts {
			if strings.Contains(text, cred) || strings.Contains(text, sig) || strings.Contains(text, url.QueryEscape(cred)) {
				t.Errorf("a credential appears in: %.200s", text)
			}
		}
	}
}

// revokeSession revokes the connection's session at the mock (its refresh
// token), as a user or an admin may: the next refresh gets invalid_grant.
func (r *credRig) revokeSession(t *testing.T, account string) {
	t.Helper()
	_, _, refresh := r.get(t, account)
	if refresh == "" {
		t.Fatal("no refresh token to revoke")
	}
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL+mockrc.RevokePath, strings.NewReader(url.Values{"token": {refresh}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(mockrc.DefaultClientID, mockrc.DefaultClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke at the mock: %d", resp.StatusCode)
	}
}

func (r *credRig) grants(t *testing.T, wantGranted, wantRefused int) {
	t.Helper()
	if g, f := r.rc.JWTGrants(); g != wantGranted || f != wantRefused {
		t.Fatalf("jwt-bearer grants at the mock: %d granted, %d refused; want %d, %d", g, f, wantGranted, wantRefused)
	}
}

func (r *credRig) add(t *testing.T, cred, endUser string) ConnectionInfo {
	t.Helper()
	info, err := r.h.AddCredential(t.Context(), CredentialInput{Source: SourceJWTBearer, Credential: cred + "\n", EndUser: endUser})
	r.keep(err)
	if err != nil {
		t.Fatalf("AddCredential: %v", err)
	}
	r.keep(info)
	return info
}

// answer runs the token function for account and keeps its answer.
func (r *credRig) answer(t *testing.T, account string) TokenResponse {
	t.Helper()
	resp, err := r.h.TokenFunction(t.Context(), json.RawMessage(`{"account_id":"`+account+`"}`))
	if err != nil {
		t.Fatalf("TokenFunction: %v", err)
	}
	r.keep(resp.String())
	r.keep(resp.ErrorDescription)
	return resp
}

// TestCredentialLife: a JWT credential added, served by the token function,
// refreshed by the sweep; its refresh token refused so the deployment
// grants again with the credential (one grant); the credential revoked so
// the connection becomes reauth_required with one event; rotated back to
// life. Nothing leaks the credential.
func TestCredentialLife(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newCredRig(t, newStore(t))
		jwt := r.rc.IssueJWT("1001", 0)

		info := r.add(t, jwt, "user-1")
		if info.AccountID != "1001" || info.Source != SourceJWTBearer || info.Status != StatusActive || info.EndUser != "user-1" || !info.HasRefreshToken {
			t.Fatalf("added: %+v", info)
		}
		r.grants(t, 1, 0)
		if infos, err := r.h.ConnectionsForUser(t.Context(), "user-1"); err != nil || len(infos) != 1 || infos[0].Source != "" {
			t.Fatalf("ConnectionsForUser: %+v, %v; want one, its source unknown (not in the user-index)", infos, err)
		}
		c, access, _ := r.get(t, "1001")
		if c.Credential == "" || strings.Contains(c.Credential, jwt) {
			t.Fatalf("stored credential: sealed %v", c.Credential != "")
		}
		sealer, _ := r.h.Secrets.Sealer(t.Context())
		if got, err := sealer.OpenField(c.Credential, c.Key(), attrCredential); err != nil || got != jwt {
			t.Fatalf("the credential opens with the field name as additional data: %v", err)
		}
		if _, err := sealer.OpenField(c.Credential, c.Key(), attrRefreshToken); err == nil {
			t.Fatal("the sealed credential opens as another field")
		}
		if got := r.eventsOf(connevent.Connected); len(got) != 1 || got[0].Detail.EndUser != "user-1" {
			t.Fatalf("Connected events: %+v", got)
		}

		// Served by the token function, no token call.
		calls := r.rc.Calls(mockrc.TokenPath)
		if resp := r.answer(t, "1001"); resp.Error != "" || resp.AccessToken != access {
			t.Fatalf("token function: %+v", resp.String())
		}
		if r.rc.Calls(mockrc.TokenPath) != calls {
			t.Fatal("a fresh token cost a token call")
		}

		// Refreshed by the sweep (keepalive: 48 h before the 7-day refresh token dies).
		r.clock.Advance(5*24*time.Hour + time.Minute)
		if sum := sweepOnce(t, r.h); sum.Refreshed != 1 || sum.Due != 1 {
			t.Fatalf("sweep: %+v", sum)
		}
		r.grants(t, 1, 0)

		// Its refresh token refused at the mock: one grant with the
		// credential, under the same lease, and the connection lives on.
		r.revokeSession(t, "1001")
		r.clock.Advance(5*24*time.Hour + time.Minute)
		calls = r.rc.Calls(mockrc.TokenPath)
		if sum := sweepOnce(t, r.h); sum.Refreshed != 1 || sum.ReauthRequired != 0 {
			t.Fatalf("sweep after the refresh token was refused: %+v", sum)
		}
		r.grants(t, 2, 0)
		if n := r.rc.Calls(mockrc.TokenPath) - calls; n != 2 {
			t.Fatalf("token calls: %d, want 2 (the refused refresh, one grant)", n)
		}
		c, access, _ = r.get(t, "1001")
		if c.Status != StatusActive || c.RefreshToken == "" || c.LastError != "" || c.Credential == "" {
			t.Fatalf("after the grant: %+v", c.Info())
		}
		if resp := r.answer(t, "1001"); resp.AccessToken != access {
			t.Fatal("the token function does not serve the granted token")
		}
		if n := len(r.eventsOf(connevent.ReauthRequired)); n != 0 {
			t.Fatalf("%d Reauth Required events for a connection that lived on", n)
		}
		noLeases(t, r.store)

		// The credential revoked: the next refused refresh ends in
		// reauth_required, credential_refused, one event, credential kept.
		r.rc.RevokeJWT(jwt)
		r.revokeSession(t, "1001")
		r.clock.Advance(5*24*time.Hour + time.Minute)
		if sum := sweepOnce(t, r.h); sum.ReauthRequired != 1 {
			t.Fatalf("sweep after the credential was revoked: %+v", sum)
		}
		r.grants(t, 2, 1)
		c, _, _ = r.get(t, "1001")
		if c.Status != StatusReauthRequired || c.LastError != FailCredentialRefused || c.Credential == "" || c.AccessToken != "" || c.RefreshToken != "" || !c.RefreshAt.IsZero() {
			t.Fatalf("after the credential was refused: %+v (credential kept: %v)", c.Info(), c.Credential != "")
		}
		evs := r.eventsOf(connevent.ReauthRequired)
		if len(evs) != 1 || evs[0].Detail.Reason != FailCredentialRefused {
			t.Fatalf("Reauth Required events: %+v", evs)
		}
		if !strings.Contains(r.logs.String(), "JWT credential") || !strings.Contains(r.logs.String(), "credential rotate") {
			t.Error("the log does not say the fix (a new JWT credential, credential rotate)")
		}
		if resp := r.answer(t, "1001"); resp.Error != TokenReauthRequired || !strings.Contains(resp.ErrorDescription, "credential rotate") {
			t.Fatalf("token function on a refused credential: %s", resp.String())
		}
		if _, err := r.h.TokenSource(t.Context(), "1001").Token(); !errors.Is(err, ErrReauthRequired) || !errors.Is(err, ErrCredentialRefused) {
			t.Fatalf("TokenSource on a refused credential: %v", err)
		}
		r.grants(t, 2, 1) // neither made a grant
		if sum := sweepOnce(t, r.h); sum.Due != 0 {
			t.Fatalf("a reauth_required connection is still due: %+v", sum)
		}

		// Rotate: a credential of another account is refused, nothing changes.
		other := r.rc.IssueJWT("1002", 0)
		_, err := r.h.RotateCredential(t.Context(), "", "1001", other)
		r.keep(err)
		if err == nil || !strings.Contains(err.Error(), "another account") {
			t.Fatalf("rotate with another account's credential: %v", err)
		}
		if r.rc.Sessions("1002") != 0 {
			t.Error("the other account's new session was not revoked")
		}
		if c2, _, _ := r.get(t, "1001"); c2.Credential != c.Credential || c2.Status != StatusReauthRequired {
			t.Fatal("a refused rotation changed the connection")
		}
		// A revoked one is refused with the provider's error and the fix.
		_, err = r.h.RotateCredential(t.Context(), "", "1001", jwt)
		r.keep(err)
		var ce *CredentialError
		if !errors.As(err, &ce) || !errors.Is(err, ErrCredentialRefused) || ce.ProviderID != "OAU-211" || !strings.Contains(err.Error(), "credential rotate") {
			t.Fatalf("rotate with the revoked credential: %v", err)
		}
		// A good one brings it back; not while the rate limit's next slot
		// is later than the lease allows (nothing sent, nothing changed).
		jwt2 := r.rc.IssueJWT("1001", 0)
		r.h.Config.TokenRatePerMin = 1
		if err := r.h.waitTokenCall(t.Context(), r.clock.Now()); err != nil { // the slot now: the next in a minute
			t.Fatal(err)
		}
		_, err = r.h.RotateCredential(t.Context(), "", "1001", jwt2)
		r.keep(err)
		if !errors.Is(err, ErrRateLimited) {
			t.Fatalf("rotate with no slot in the lease: %v", err)
		}
		r.grants(t, 3, 2) // (the other account's grant, revoked; the revoked credential's refusal)
		noLeases(t, r.store)
		r.h.Config.TokenRatePerMin = 0
		info, err = r.h.RotateCredential(t.Context(), "", "1001", jwt2)
		r.keep(err)
		if err != nil || info.Status != StatusActive || info.Source != SourceJWTBearer {
			t.Fatalf("rotate: %+v, %v", info, err)
		}
		r.keep(info)
		if resp := r.answer(t, "1001"); resp.Error != "" {
			t.Fatalf("token function after rotate: %s", resp.String())
		}
		c, _, _ = r.get(t, "1001")
		if got, _ := sealer.OpenField(c.Credential, c.Key(), attrCredential); got != jwt2 {
			t.Fatal("the rotated credential is not the one stored")
		}
		// And disconnect works as for any connection.
		if err := r.h.Disconnect(t.Context(), "1001"); err != nil {
			t.Fatal(err)
		}
		if r.rc.Sessions("1001") != 0 {
			t.Errorf("sessions left at the mock after disconnect: %d", r.rc.Sessions("1001"))
		}
		noLeases(t, r.store)
		r.noCredentialLeak(t, jwt, jwt2, other)
	})
}

// TestCredentialAddRefused: the provider's refusals reach the operator
// with the fix, nothing is stored, and the credential is in no error even
// when the provider echoes it.
func TestCredentialAddRefused(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newCredRig(t, newStore(t))
		jwt := r.rc.IssueJWT("1001", time.Hour)
		revoked := r.rc.IssueJWT("1002", 0)
		r.rc.RevokeJWT(revoked)
		unknown := strings.Replace(jwt, ".", ".x", 1)
		echo := `{"error":"invalid_grant","error_description":"bad assertion ` + jwt + `","errors":[{"errorCode":"OAU-213","message":"bad ` + jwt + `"}]}`

		for _, tc := range []struct {
			name, cred, kind, fix string
			before                func()
			is                    error
		}{
			{name: "JWT auth flow off", cred: jwt, kind: failUnauthorizedClient, fix: `"JWT auth flow"`, before: func() { r.rc.EnableJWT(false) }},
			{name: "revoked", cred: revoked, kind: failInvalidGrant, fix: "credential rotate", is: ErrCredentialRefused, before: func() { r.rc.EnableJWT(true) }},
			{name: "unknown", cred: unknown, kind: failInvalidGrant, fix: "credential rotate", is: ErrCredentialRefused},
			{name: "expired", cred: jwt, kind: failInvalidGrant, fix: "credential rotate", is: ErrCredentialRefused, before: func() { r.clock.Advance(2 * time.Hour) }},
			{name: "echoed by the provider", cred: jwt, kind: failInvalidGrant, is: ErrCredentialRefused, before: func() {
				r.script(mockrc.Fault{Status: http.StatusBadRequest, Body: echo})
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.before != nil {
					tc.before()
				}
				_, err := r.h.AddCredential(t.Context(), CredentialInput{Source: SourceJWTBearer, Credential: tc.cred})
				r.keep(err)
				var ce *CredentialError
				if !errors.As(err, &ce) || ce.Kind != tc.kind || (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.fix) {
					t.Fatalf("got %v, want a %s refusal with the fix %s", err, tc.kind, tc.fix)
				}
				if cs, _ := r.store.ListConnections(t.Context()); len(cs) != 0 {
					t.Fatalf("stored %d connections", len(cs))
				}
			})
		}
		if g, _ := r.rc.JWTGrants(); g != 0 {
			t.Fatalf("%d grants", g)
		}
		// A 429: refused as rate limited, and every token call pauses.
		r.script(mockrc.RateLimited("40"))
		_, err := r.h.AddCredential(t.Context(), CredentialInput{Source: SourceJWTBearer, Credential: jwt})
		r.keep(err)
		var ce *CredentialError
		if !errors.As(err, &ce) || ce.Kind != failRateLimited || !errors.Is(err, ErrRateLimited) {
			t.Fatalf("a 429: %v", err)
		}
		if p := r.h.localPause(); !p.Equal(r.clock.Now().Add(40 * time.Second)) {
			t.Fatalf("paused until %v, want 40 s from now", p)
		}
		for _, in := range []CredentialInput{
			{Source: SourceClientCredentials, Credential: jwt},
			{Source: "password", Credential: jwt},
			{Source: SourceJWTBearer, Credential: " \n"},
			{Source: SourceJWTBearer, Provider: "google", Credential: jwt},
		} {
			calls := r.rc.Calls(mockrc.TokenPath)
			_, err := r.h.AddCredential(t.Context(), in)
			r.keep(err)
			if err == nil || r.rc.Calls(mockrc.TokenPath) != calls {
				t.Errorf("%s/%s: got %v, want refused with nothing sent", in.Provider, in.Source, err)
			}
		}
		r.noCredentialLeak(t, jwt, revoked, unknown)
	})
}

// TestCredentialOneGrant: two token calls and a sweep at once on a
// connection whose access and refresh tokens have both expired make
// exactly one grant (under the lease), and all three get its token.
func TestCredentialOneGrant(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newCredRig(t, newStore(t))
		jwt := r.rc.IssueJWT("1001", 0)
		r.add(t, jwt, "")
		r.clock.Advance(8 * 24 * time.Hour) // both tokens dead; no sweep ran
		// Those waiting on the lease holder wake when the connection is
		// written (the grant stored), not on a timer.
		wakeOnWrite(r.h, r.clock)
		calls := r.rc.Calls(mockrc.TokenPath)
		tokens, sum := tokensAndASweep(t, r.h, "1001")
		r.grants(t, 2, 0) // the add, and one more
		if n := r.rc.Calls(mockrc.TokenPath) - calls; n != 1 {
			t.Fatalf("%d token calls, want 1 grant", n)
		}
		_, access, _ := r.get(t, "1001")
		if tokens[0] != access || tokens[1] != access {
			t.Fatal("the token calls did not get the granted token")
		}
		if sum.Refreshed+sum.SkippedLeased > 1 {
			t.Fatalf("sweep: %+v", sum)
		}
		noLeases(t, r.store)
		if r.rc.Sessions("1001") != 1 {
			t.Fatalf("live sessions: %d, want 1 (the add's expired, one grant)", r.rc.Sessions("1001"))
		}
	})
}

// TestCredentialRate: refreshes and the grants that follow refused refresh
// tokens share TOKEN_RATE_PER_MIN: never more token calls in a minute.
func TestCredentialRate(t *testing.T) {
	r := newCredRig(t, NewMemoryStore())
	const rate = 5
	accounts := []string{"1001", "1002", "1003"}
	for _, a := range accounts {
		r.add(t, r.rc.IssueJWT(a, 0), "")
		r.revokeSession(t, a) // each refresh refused: a refresh and a grant each
	}
	r.h.Config.TokenRatePerMin = rate
	r.h.Config.SweepConcurrency = 4
	var mu sync.Mutex
	var times []time.Time
	r.h.HTTPClient.Transport = roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.URL.Path == mockrc.TokenPath {
			mu.Lock()
			times = append(times, r.clock.Now())
			mu.Unlock()
		}
		return r.cut.RoundTrip(req)
	})
	r.clock.Advance(5*24*time.Hour + time.Minute)
	for i := 0; i < 5; i++ {
		ctx, cancel := context.WithDeadline(t.Context(), r.clock.Now().Add(10*time.Minute))
		_, err := r.h.Sweep(ctx, SweepInput{})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(time.Minute)
	}
	r.grants(t, len(accounts)*2, 0)
	for _, a := range accounts {
		if c, _, _ := r.get(t, a); c.Status != StatusActive || c.RefreshToken == "" {
			t.Fatalf("%s: %+v", a, c.Info())
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(times) != 2*len(accounts) {
		t.Fatalf("%d token calls, want %d (a refused refresh and a grant each)", len(times), 2*len(accounts))
	}
	if m := maxPerMinute(times); m > rate {
		t.Fatalf("%d token calls in one minute, want at most %d", m, rate)
	}
	noLeases(t, r.store)
}

// TestCredentialSeveralProviders: in a stack with several providers the
// credential names its provider (required; only a RingCentral one takes a
// JWT), the grant authenticates with that provider's own client, the
// connection lives under the provider's id and is served and kept alive by
// that provider's view; its rate limit (2 a minute) leaves no slot for the
// grant within the lease after a refused refresh, so the dead refresh token
// is dropped and the next sweep grants: one grant all the same.
func TestCredentialSeveralProviders(t *testing.T) {
	r := newMultiRig(t, NewMemoryStore(), threeProviders)
	crm := r.prov["crm"]
	crm.mock.EnableJWT(true)
	jwt := crm.mock.IssueJWT("1001", 0)
	ctx := t.Context()
	for _, in := range []CredentialInput{
		{Source: SourceJWTBearer, Credential: jwt},                   // no provider
		{Source: SourceJWTBearer, Credential: jwt, Provider: "code"}, // GitHub: no JWT grant
		{Source: SourceJWTBearer, Credential: jwt, Provider: "nope"},
	} {
		if _, err := r.h.AddCredential(ctx, in); err == nil || strings.Contains(err.Error(), jwt) {
			t.Errorf("provider %q: %v, want refused", in.Provider, err)
		}
	}
	for id, p := range r.prov {
		if n := p.mock.Calls(mockrc.TokenPath); n != 0 {
			t.Fatalf("%s: %d token calls for refused credentials", id, n)
		}
	}
	info, err := r.h.AddCredential(ctx, CredentialInput{Source: SourceJWTBearer, Credential: jwt, Provider: "crm"})
	if err != nil || info.Provider != "crm" || info.AccountID != "1001" {
		t.Fatalf("add: %+v, %v", info, err)
	}
	if _, err := r.store.GetConnection(ctx, "crm", "1001"); err != nil {
		t.Fatalf("stored under the provider's id: %v", err)
	}
	resp, err := r.h.TokenFunction(ctx, json.RawMessage(`{"provider":"crm","account_id":"1001"}`))
	if err != nil || resp.Error != "" || resp.AccessToken == "" {
		t.Fatalf("token function: %s, %v", resp.String(), err)
	}

	// The refresh token refused: revoke the session at crm's mock.
	v, _ := r.h.ForProvider("crm")
	_, _, refresh := getOpen(t, v, "1001")
	req, _ := http.NewRequest(http.MethodPost, crm.srv.URL+mockrc.RevokePath, strings.NewReader(url.Values{"token": {refresh}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(crm.clientID, crm.secret)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("revoke at the mock: %v", err)
	}
	r.clock.Advance(5*24*time.Hour + time.Minute)
	sum := sweepOnce(t, r.h)
	if sum.RateLimited != 1 || sum.ReauthRequired != 0 {
		t.Fatalf("first sweep: %+v", sum)
	}
	if c, _ := r.store.GetConnection(ctx, "crm", "1001"); c.Status != StatusActive || c.RefreshToken != "" || !dueAt(c, r.clock.Now()) {
		t.Fatalf("after no slot for the grant: %+v (refresh token kept: %v)", c.Info(), c.RefreshToken != "")
	}
	if g, _ := crm.mock.JWTGrants(); g != 1 {
		t.Fatalf("grants: %d, want the add's only", g)
	}
	r.clock.Advance(time.Minute)
	if sum := sweepOnce(t, r.h); sum.Refreshed != 1 {
		t.Fatalf("second sweep: %+v", sum)
	}
	if g, f := crm.mock.JWTGrants(); g != 2 || f != 0 {
		t.Fatalf("grants: %d granted, %d refused; want 2, 0", g, f)
	}
	if c, _ := r.store.GetConnection(ctx, "crm", "1001"); c.Status != StatusActive || c.RefreshToken == "" {
		t.Fatalf("after the grant: %+v", c.Info())
	}
	noLeases(t, r.store)
	if strings.Contains(r.logs.String(), jwt) {
		t.Error("the credential is in the logs")
	}
}

// wakeOnWrite makes h's waits on another holder's lease end when the store
// is written (the holder's grant stored), not on a timer; clock then moves
// on by the wait.
func wakeOnWrite(h *Handler, clock *fakeClock) {
	written := make(chan struct{})
	var once sync.Once
	h.Store = WatchStore(h.Store, clock.Now, func(events.DynamoDBEventRecord) { once.Do(func() { close(written) }) })
	h.Sleep = func(ctx context.Context, d time.Duration) error {
		select {
		case <-written:
		case <-ctx.Done():
			return ctx.Err()
		}
		clock.Advance(d)
		return nil
	}
}

// tokensAndASweep runs two TokenSource calls for account and a sweep at
// once, and returns the tokens and the sweep's summary.
func tokensAndASweep(t *testing.T, h *Handler, account string) ([]string, SweepSummary) {
	t.Helper()
	var wg sync.WaitGroup
	tokens := make([]string, 2)
	errs := make([]error, 2)
	var sum SweepSummary
	var sweepErr error
	for i := range 2 {
		wg.Go(func() {
			tok, err := h.TokenSource(t.Context(), account).Token()
			errs[i] = err
			if err == nil {
				tokens[i] = tok.AccessToken
			}
		})
	}
	wg.Go(func() { sum, sweepErr = h.Sweep(t.Context(), SweepInput{}) })
	wg.Wait()
	if sweepErr != nil || errs[0] != nil || errs[1] != nil {
		t.Fatalf("sweep %v, token calls %v, %v", sweepErr, errs[0], errs[1])
	}
	return tokens, sum
}
