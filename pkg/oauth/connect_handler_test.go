package oauth

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"

	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect/connecttest"
)

// Every connect token the contract refuses: 401 invalid_connect_token, and
// nothing stored, no cookie, no redirect, nothing sent to the provider.
func TestConnectTokenRejections(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r0 := newRig(t, newStore)
		tests := connecttest.BadConnectTokens(testAppKey, r0.now)
		tests = append(tests,
			connecttest.BadToken{Name: "missing token", Token: "", Check: "connect_required"},
			connecttest.BadToken{Name: "empty token", Token: "connect=", Check: "connect_required"},
		)
		for _, bt := range tests {
			t.Run(bt.Name, func(t *testing.T) {
				r := newRig(t, newStore)
				query, status, code := "connect="+url.QueryEscape(bt.Token), 401, "invalid_connect_token"
				if bt.Check == "connect_required" {
					query, code = bt.Token, "connect_required"
				}
				resp, _ := r.startRaw(t, query)
				if resp.StatusCode != status || !strings.Contains(resp.Body, "Error code: "+code) {
					t.Errorf("authorize = %d, want %d %s; body:\n%s", resp.StatusCode, status, code, resp.Body)
				}
				r.wantNothingStarted(t, resp)
				if bt.Check != "connect_required" && !strings.Contains(r.logs.String(), `"check":"`+bt.Check+`"`) {
					t.Errorf("log does not name the failed check %q:\n%s", bt.Check, r.logs)
				}
				if bt.Token != "" && strings.Contains(r.logs.String(), bt.Token) {
					t.Errorf("the connect token reached the logs")
				}
			})
		}
	})
}

// wantNothingStarted checks an /authorize answer started nothing: no
// pending authorization stored, no cookie, no redirect, no provider call.
func (r *testRig) wantNothingStarted(t *testing.T, resp events.APIGatewayV2HTTPResponse) {
	t.Helper()
	if n := r.store.stored.Load(); n != 0 {
		t.Errorf("pending authorizations stored = %d, want 0", n)
	}
	if resp.Headers["Location"] != "" || len(resp.Cookies) != 0 {
		t.Errorf("refusal redirects to %q with cookies %v; want neither", resp.Headers["Location"], resp.Cookies)
	}
	if n := r.prov.tokenCalls.Load(); n != 0 {
		t.Errorf("token calls = %d, want 0", n)
	}
}

func TestConnectTokenParameters(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		tests := []struct {
			name   string
			opts   connect.Options
			extra  string
			status int
			code   string
		}{
			{"plain return_to next to a token", connect.Options{}, "&return_to=" + url.QueryEscape("https://app.example/done"), 400, "invalid_request"},
			{"plain app_state next to a token", connect.Options{}, "&app_state=x", 400, "invalid_request"},
			{"plain login_hint next to a token", connect.Options{}, "&login_hint=a%40b", 400, "invalid_request"},
			{"forbidden return_to inside the token", connect.Options{ReturnTo: "https://evil.example/steal"}, "", 400, "return_to_not_allowed"},
			{"repeated connect", connect.Options{}, "&connect=x", 400, "invalid_request"},
			{"oversized token", connect.Options{}, "", 400, "invalid_request"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := newRig(t, newStore)
				tok, err := r.keys().Token(r.user, tt.opts)
				if err != nil {
					t.Fatal(err)
				}
				if tt.name == "oversized token" {
					tok += strings.Repeat("A", 4097)
				}
				resp, _ := r.startRaw(t, "connect="+tok+tt.extra)
				if resp.StatusCode != tt.status || !strings.Contains(resp.Body, "Error code: "+tt.code) {
					t.Errorf("authorize = %d, want %d %s; body:\n%s", resp.StatusCode, tt.status, tt.code, resp.Body)
				}
				r.wantNothingStarted(t, resp)
			})
		}
	})
}

// A connect token is good for one /authorize: the second is 401 and stores
// nothing, and so is a later one after the first authorization finished
// (the spent jti outlives the pending authorization).
func TestConnectTokenSingleUse(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newRig(t, newStore)
		query := r.connectQuery(t, "return_to="+url.QueryEscape("https://app.example/done"))
		first, cookie := r.startRaw(t, query)
		if first.StatusCode != 302 {
			t.Fatalf("first authorize = %d %s", first.StatusCode, first.Body)
		}
		again, _ := r.startRaw(t, query)
		if again.StatusCode != 401 || !strings.Contains(again.Body, "Error code: invalid_connect_token") || len(again.Cookies) != 0 {
			t.Errorf("replayed token: %d, cookies %v; want 401 invalid_connect_token", again.StatusCode, again.Cookies)
		}
		if n := r.store.stored.Load(); n != 1 {
			t.Errorf("pending authorizations stored = %d, want only the first", n)
		}
		if cb := r.callback(t, r.prov.approve(t, first.Headers["Location"]), cookie); cb.StatusCode != 302 {
			t.Fatalf("callback = %d", cb.StatusCode)
		}
		r.now = r.now.Add(9 * time.Minute) // the token is still unexpired
		late, _ := r.startRaw(t, query)
		if late.StatusCode != 401 || r.store.stored.Load() != 1 {
			t.Errorf("token replayed after its authorization finished: %d, stored %d; want 401, 1", late.StatusCode, r.store.stored.Load())
		}
		// Another token of the same user, with another jti, works.
		if next, _ := r.start(t, ""); next.StatusCode != 302 {
			t.Errorf("a fresh token: %d, want 302", next.StatusCode)
		}
	})
}

// Two /authorize calls racing with the same token: exactly one starts (on
// DynamoDB, the jti and the pending authorization are one transaction).
func TestConnectTokenConcurrentReplay(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newRig(t, newStore)
		query := r.connectQuery(t, "")
		const n = 6
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				resp, err := r.h.Authorize(context.Background(), apiRequest("/authorize", query))
				if err != nil {
					t.Errorf("Authorize: %v", err)
				}
				statuses[i] = resp.StatusCode
			})
		}
		wg.Wait()
		won := 0
		for _, s := range statuses {
			switch s {
			case 302:
				won++
			case 401:
			default:
				t.Errorf("status %d, want 302 or 401", s)
			}
		}
		if won != 1 || r.store.stored.Load() != 1 {
			t.Errorf("statuses %v, stored %d; want exactly one 302 and one pending authorization", statuses, r.store.stored.Load())
		}
	})
}

// REQUIRE_CONNECT_TOKEN=false keeps anonymous /authorize (no end user, a
// result without sub); a token is still verified when one is given.
func TestConnectTokenOptional(t *testing.T) {
	r := newRig(t, memoryStore, "REQUIRE_CONNECT_TOKEN", "false")
	resp, cookie := r.startRaw(t, "return_to="+url.QueryEscape("https://app.example/done")+"&app_state=a1")
	if resp.StatusCode != 302 {
		t.Fatalf("anonymous authorize = %d", resp.StatusCode)
	}
	cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie)
	back, _ := url.Parse(cb.Headers["Location"])
	res, err := r.keys().VerifyResult(back.Query().Get("result"))
	if err != nil || res.User != "" || res.AccountID != "1001" || res.AppState != "a1" || back.Query().Has("account_id") {
		t.Errorf("anonymous result = %+v, %v (location %s)", res, err, back)
	}
	if c, _ := r.h.Store.GetConnection(context.Background(), "generic", "1001"); c == nil || c.EndUser != "" {
		t.Errorf("anonymous connection = %+v, want no end user", c)
	}
	bad, _ := r.startRaw(t, "connect="+connecttest.BadConnectTokens(testAppKey, r.now)[3].Token)
	if bad.StatusCode != 401 {
		t.Errorf("bad token with REQUIRE_CONNECT_TOKEN=false = %d, want 401", bad.StatusCode)
	}
}

// An account connected by one end user and re-connected by another moves
// to the second: the connection, the user-index and the result say so.
func TestConnectMovesAccount(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newRig(t, newStore)
		for _, user := range []string{"alice", "bob"} {
			r.user = user
			resp, cookie := r.start(t, "return_to="+url.QueryEscape("https://app.example/done"))
			cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie)
			back, _ := url.Parse(cb.Headers["Location"])
			if res, err := r.keys().VerifyResult(back.Query().Get("result")); err != nil || res.User != user || res.AccountID != "1001" {
				t.Fatalf("%s's result = %+v, %v", user, res, err)
			}
		}
		ctx := context.Background()
		c, err := r.h.Store.GetConnection(ctx, "generic", "1001")
		if err != nil || c.EndUser != "bob" {
			t.Fatalf("connection = %+v, %v; want bob's", c, err)
		}
		bob, err := r.h.ConnectionsForUser(ctx, "bob")
		if err != nil || len(bob) != 1 || bob[0].AccountID != "1001" || bob[0].EndUser != "bob" {
			t.Errorf("ConnectionsForUser(bob) = %+v, %v", bob, err)
		}
		if alice, err := r.h.ConnectionsForUser(ctx, "alice"); err != nil || len(alice) != 0 {
			t.Errorf("ConnectionsForUser(alice) = %+v, %v; want none", alice, err)
		}
		if !strings.Contains(r.logs.String(), `"previous_end_user":"alice"`) {
			t.Errorf("no log line for the move")
		}
	})
}

// The app key from Secrets Manager: a token signed with AWSPREVIOUS (the
// app's backend has not picked up a rotation yet) is accepted, results are
// signed with AWSCURRENT, and a key that was never a version is refused.
func TestConnectAppKeyRotation(t *testing.T) {
	sm := smClient(t)
	const oldKey, newKey = "app key version one, at least thirty-two chars", "app key version two, at least thirty-two chars"
	arn := createSecret(t, sm, "app-key", oldKey)
	rotateSecret(t, sm, arn, newKey)
	r := newRig(t, memoryStore)
	m := NewSecretsManager(sm, createSecret(t, sm, "client", testClientSecret), createSecret(t, sm, "token-key", strings.Repeat("k", 40)), 0)
	m.AppKeyARN = arn
	r.h.Secrets = m
	at := func() time.Time { return r.now }

	for name, key := range map[string]string{"AWSPREVIOUS": oldKey, "AWSCURRENT": newKey} {
		tok, err := connect.Keys{Current: key, Now: at}.Token("user-1", connect.Options{ReturnTo: "https://app.example/done"})
		if err != nil {
			t.Fatal(err)
		}
		resp, cookie := r.startRaw(t, "connect="+tok)
		if resp.StatusCode != 302 {
			t.Fatalf("token signed with %s: %d, want 302", name, resp.StatusCode)
		}
		cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie)
		back, _ := url.Parse(cb.Headers["Location"])
		if _, err := (connect.Keys{Current: newKey, Now: at}).VerifyResult(back.Query().Get("result")); err != nil {
			t.Errorf("result not signed with AWSCURRENT: %v", err)
		}
		if _, err := (connect.Keys{Current: oldKey, Now: at}).VerifyResult(back.Query().Get("result")); err == nil {
			t.Errorf("result signed with AWSPREVIOUS")
		}
	}
	other := connecttest.Sign(jwt.SigningMethodHS256, []byte("a third key that was never a version of it"), connecttest.ConnectClaims("u", "j-other", r.now))
	if resp, _ := r.startRaw(t, "connect="+other); resp.StatusCode != 401 {
		t.Errorf("token signed with another key: %d, want 401", resp.StatusCode)
	}
}
