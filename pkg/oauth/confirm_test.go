package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"

	"github.com/oauthfn/oauthfn/internal/faultaws"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
	"github.com/oauthfn/oauthfn/pkg/oauth/connevent"
)

// confirmRig is a rig with confirmation on (the default), whose tests
// confirm pending results themselves.
func confirmRig(t *testing.T, newStore func(*testing.T) Store, extraEnv ...string) *testRig {
	r := newRig(t, newStore, append([]string{"REQUIRE_CONFIRM", "true"}, extraEnv...)...)
	r.manualConfirm = true
	return r
}

// finishAs runs the flow with a connect link minted for r.user, finished at
// the provider with account, and returns the pending result the app's
// return page receives.
func (r *testRig) finishAs(t *testing.T, account string) connect.Result {
	t.Helper()
	r.prov.mu.Lock()
	r.prov.account = account
	r.prov.mu.Unlock()
	resp, cookie := r.startRaw(t, r.connectQuery(t, "return_to="+url.QueryEscape(defaultReturnTo)))
	if resp.StatusCode != 302 {
		t.Fatalf("authorize = %d %s", resp.StatusCode, resp.Body)
	}
	cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie)
	res, ok := r.pendingResult(t, cb)
	if !ok {
		t.Fatalf("callback = %d %q, want a redirect with a pending result", cb.StatusCode, cb.Headers["Location"])
	}
	if res.User != r.user || res.AccountID != account || res.ID == "" {
		t.Fatalf("result = %+v, want pending %s for %s", res, account, r.user)
	}
	return res
}

// decide POSTs a confirm token for res as user with decision.
func (r *testRig) decide(t *testing.T, res connect.Result, user, decision string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	tok, err := r.keys().ConfirmToken(res.ID, user, decision)
	if err != nil {
		t.Fatal(err)
	}
	return r.confirmRaw(t, `{"confirm":"`+tok+`"}`)
}

func wantAnswer(t *testing.T, resp events.APIGatewayV2HTTPResponse, status int, field, value string) {
	t.Helper()
	var body map[string]string
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || resp.StatusCode != status || body[field] != value {
		t.Errorf("confirm = %d %s, want %d with %s %q", resp.StatusCode, resp.Body, status, field, value)
	}
}

// connectedAs connects account for user through confirmation and returns
// the stored connection.
func (r *testRig) connectedAs(t *testing.T, user, account string) *Connection {
	t.Helper()
	r.user = user
	res := r.finishAs(t, account)
	wantAnswer(t, r.decide(t, res, user, connect.DecisionAccept), 200, "status", "connected")
	c, err := r.h.Store.GetConnection(context.Background(), "generic", account)
	if err != nil || c.EndUser != user {
		t.Fatalf("connection after the accept: %+v, %v; want %s's", c, err, user)
	}
	return c
}

// The attack of issue 15: an attacker's unopened connect link, finished in
// the victim's browser with the victim's account. The app (whose user
// signed in there is the victim) confirms as the victim, or rejects: either
// way nothing is attached to the attacker, the new session is revoked, and
// the victim's connection of that account is untouched.
func TestForwardedConnectLink(t *testing.T) {
	for _, tc := range []struct {
		name   string
		decide func(t *testing.T, r *testRig, res connect.Result) events.APIGatewayV2HTTPResponse
		status int
		field  string
		value  string
		reason string
	}{
		{"the app confirms as its signed-in user", func(t *testing.T, r *testRig, res connect.Result) events.APIGatewayV2HTTPResponse {
			return r.decide(t, res, "victim", connect.DecisionAccept)
		}, 409, "error", "user_mismatch", ReasonUserMismatch},
		{"the app rejects", func(t *testing.T, r *testRig, res connect.Result) events.APIGatewayV2HTTPResponse {
			return r.decide(t, res, res.User, connect.DecisionReject)
		}, 200, "status", "rejected", ReasonAppRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
				r := confirmRig(t, newStore)
				var recs []events.DynamoDBEventRecord
				r.h.Store = WatchStore(r.h.Store, func() time.Time { return r.now }, func(rec events.DynamoDBEventRecord) { recs = append(recs, rec) })
				victims := r.connectedAs(t, "victim", "2002")
				issuedBefore := len(r.prov.issued)

				r.user = "attacker"
				res := r.finishAs(t, "2002") // the victim signs in with their own account
				newTokens := append([]string(nil), r.prov.issued[issuedBefore:]...)
				// Before the app decides: nothing attached, nothing moved.
				if got, _ := r.h.Store.GetConnection(context.Background(), "generic", "2002"); !reflect.DeepEqual(got, victims) {
					t.Fatalf("the pending connection changed the victim's connection:\n got %+v\nwant %+v", got, victims)
				}
				recs = nil
				resp := tc.decide(t, r, res)
				wantAnswer(t, resp, tc.status, tc.field, tc.value)

				if got, _ := r.h.Store.GetConnection(context.Background(), "generic", "2002"); !reflect.DeepEqual(got, victims) {
					t.Errorf("the victim's connection changed:\n got %+v\nwant %+v", got, victims)
				}
				if cs, err := r.h.Store.ConnectionsByEndUser(context.Background(), "attacker"); err != nil || len(cs) != 0 {
					t.Errorf("the attacker's connections: %v, %v; want none", cs, err)
				}
				if _, err := r.h.Store.GetPendingConnection(context.Background(), BindKey(res.ID)); !errors.Is(err, ErrNotFound) {
					t.Errorf("pending connection after the decision: %v, want deleted", err)
				}
				r.prov.mu.Lock()
				revoked := append([]string(nil), r.prov.revoked...)
				r.prov.mu.Unlock()
				if len(revoked) != 1 || !containsString(newTokens, revoked[0]) {
					t.Errorf("revoked %d tokens (the new session's: %v); want exactly the new session", len(revoked), len(revoked) == 1 && containsString(newTokens, revoked[0]))
				}
				var got []connevent.Event
				for _, rec := range recs {
					if ev, err := connevent.Transition(rec); err != nil {
						t.Fatal(err)
					} else if ev != nil {
						got = append(got, *ev)
					}
				}
				if len(got) != 1 || got[0].DetailType != connevent.Rejected || got[0].Detail.Reason != tc.reason ||
					got[0].Detail.EndUser != "attacker" || got[0].Detail.AccountID != "2002" {
					t.Errorf("events = %+v, want one Connection Rejected (%s) for the attacker's link", got, tc.reason)
				}
				// The decision is final: the same confirm again finds nothing.
				wantAnswer(t, r.decide(t, res, "attacker", connect.DecisionAccept), 404, "error", "not_found")
				if _, err := r.h.Store.GetConnection(context.Background(), "generic", "2002"); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// A pending connection is invisible until accepted: no connection, no
// user-index entry, the token function answers not_found.
func TestPendingConnectionInvisible(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := confirmRig(t, newStore)
		res := r.finishAs(t, "3003")
		ctx := context.Background()
		if _, err := r.h.Store.GetConnection(ctx, "generic", "3003"); !errors.Is(err, ErrNotFound) {
			t.Errorf("connection before the accept: %v, want not found", err)
		}
		if cs, _ := r.h.Store.ConnectionsByEndUser(ctx, r.user); len(cs) != 0 {
			t.Errorf("user-index lists %d connections, want none", len(cs))
		}
		if cs, _ := r.h.Store.ListConnections(ctx); len(cs) != 0 {
			t.Errorf("list shows %d connections, want none", len(cs))
		}
		if ans, err := r.h.TokenFunction(ctx, json.RawMessage(`{"account_id":"3003"}`)); err != nil || ans.Error != "not_found" {
			t.Errorf("token function = %+v, %v; want not_found", ans, err)
		}
		wantAnswer(t, r.decide(t, res, r.user, connect.DecisionAccept), 200, "status", "connected")
		if ans, err := r.h.TokenFunction(ctx, json.RawMessage(`{"account_id":"3003"}`)); err != nil || ans.AccessToken == "" || ans.EndUser != r.user {
			t.Errorf("token function after the accept = %+v, %v; want a token for %s", ans, err, r.user)
		}
		if cs, _ := r.h.Store.ConnectionsByEndUser(ctx, r.user); len(cs) != 1 {
			t.Errorf("user-index after the accept lists %d connections, want 1", len(cs))
		}
	})
}

// Every confirm token the contract refuses: its answer, and nothing
// changed: the pending connection still there, no connection, nothing
// revoked.
func TestConfirmTokenRejections(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	claims := func(mut func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"aud": connect.ConfirmAudience, "sub": "user-1", "iat": now.Unix(), "exp": now.Add(4 * time.Minute).Unix(), "decision": "accept"}
		mut(c)
		return c
	}
	signed := func(method jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	hs := func(c jwt.MapClaims) string { return signed(jwt.SigningMethodHS256, []byte(testAppKey), c) }
	tests := []struct {
		name   string
		body   func(id string) string
		status int
		code   string
	}{
		{"alg none", func(id string) string {
			return body(signed(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(func(c jwt.MapClaims) { c["jti"] = id })))
		}, 401, "invalid_confirm_token"},
		{"HS512", func(id string) string {
			return body(signed(jwt.SigningMethodHS512, []byte(testAppKey), claims(func(c jwt.MapClaims) { c["jti"] = id })))
		}, 401, "invalid_confirm_token"},
		{"RS256 header", func(id string) string {
			tok := hs(claims(func(c jwt.MapClaims) { c["jti"] = id }))
			parts := strings.SplitN(tok, ".", 2)
			return body("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." + parts[1])
		}, 401, "invalid_confirm_token"},
		{"wrong key", func(id string) string {
			return body(signed(jwt.SigningMethodHS256, []byte(strings.Repeat("w", 40)), claims(func(c jwt.MapClaims) { c["jti"] = id })))
		}, 401, "invalid_confirm_token"},
		{"a result's audience", func(id string) string {
			return body(hs(claims(func(c jwt.MapClaims) { c["jti"], c["aud"] = id, connect.ResultAudience })))
		}, 401, "invalid_confirm_token"},
		{"a connect token's audience", func(id string) string {
			return body(hs(claims(func(c jwt.MapClaims) { c["jti"], c["aud"] = id, connect.ConnectAudience })))
		}, 401, "invalid_confirm_token"},
		{"expired", func(id string) string {
			return body(hs(claims(func(c jwt.MapClaims) {
				c["jti"], c["iat"], c["exp"] = id, now.Add(-10*time.Minute).Unix(), now.Add(-6*time.Minute).Unix()
			})))
		}, 401, "invalid_confirm_token"},
		{"lifetime over 5 minutes", func(id string) string {
			return body(hs(claims(func(c jwt.MapClaims) { c["jti"], c["exp"] = id, now.Add(6*time.Minute).Unix() })))
		}, 401, "invalid_confirm_token"},
		{"iat in the future", func(id string) string {
			return body(hs(claims(func(c jwt.MapClaims) {
				c["jti"], c["iat"], c["exp"] = id, now.Add(2*time.Minute).Unix(), now.Add(5*time.Minute).Unix()
			})))
		}, 401, "invalid_confirm_token"},
		{"no exp", func(id string) string {
			return body(hs(claims(func(c jwt.MapClaims) { c["jti"] = id; delete(c, "exp") })))
		}, 401, "invalid_confirm_token"},
		{"no jti", func(id string) string { return body(hs(claims(func(jwt.MapClaims) {}))) }, 401, "invalid_confirm_token"},
		{"no sub", func(id string) string {
			return body(hs(claims(func(c jwt.MapClaims) { c["jti"] = id; delete(c, "sub") })))
		}, 401, "invalid_confirm_token"},
		{"decision maybe", func(id string) string {
			return body(hs(claims(func(c jwt.MapClaims) { c["jti"], c["decision"] = id, "maybe" })))
		}, 401, "invalid_confirm_token"},
		{"decision missing", func(id string) string {
			return body(hs(claims(func(c jwt.MapClaims) { c["jti"] = id; delete(c, "decision") })))
		}, 401, "invalid_confirm_token"},
		{"a jti that names nothing", func(id string) string {
			return body(hs(claims(func(c jwt.MapClaims) { c["jti"] = "not-a-result" })))
		}, 404, "not_found"},
		{"not JSON", func(string) string { return "confirm=x" }, 400, "invalid_request"},
		{"another key", func(id string) string { return `{"token":"x"}` }, 400, "invalid_request"},
		{"key in another case", func(id string) string {
			return `{"Confirm":"` + hs(claims(func(c jwt.MapClaims) { c["jti"] = id })) + `"}`
		}, 400, "invalid_request"},
		{"duplicate key", func(id string) string {
			tok := hs(claims(func(c jwt.MapClaims) { c["jti"] = id }))
			return `{"confirm":"x","confirm":"` + tok + `"}`
		}, 400, "invalid_request"},
		{"trailing data", func(id string) string {
			return body(hs(claims(func(c jwt.MapClaims) { c["jti"] = id }))) + "{}"
		}, 400, "invalid_request"},
		{"oversized", func(string) string { return `{"confirm":"` + strings.Repeat("a", maxConfirmBody) + `"}` }, 400, "invalid_request"},
	}
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := confirmRig(t, newStore)
				r.now = now
				res := r.finishAs(t, "4004")
				resp := r.confirmRaw(t, tt.body(res.ID))
				wantAnswer(t, resp, tt.status, "error", tt.code)
				p, err := r.h.Store.GetPendingConnection(context.Background(), BindKey(res.ID))
				if err != nil || p.Status != StatusPending {
					t.Errorf("pending connection after a refused confirm: %+v, %v; want it pending", p, err)
				}
				if _, err := r.h.Store.GetConnection(context.Background(), "generic", "4004"); !errors.Is(err, ErrNotFound) {
					t.Errorf("a refused confirm attached the account: %v", err)
				}
				if n := r.prov.revokeCalls.Load(); n != 0 {
					t.Errorf("revocations = %d, want 0", n)
				}
				if strings.Contains(r.logs.String(), res.ID) {
					t.Errorf("the result's jti reached the logs")
				}
			})
		}
	})
}

func body(tok string) string { return `{"confirm":"` + tok + `"}` }

// failingAccept fails the accept's transaction, as DynamoDB would when it
// cancels one.
type failingAccept struct{ Store }

func (failingAccept) AcceptPending(context.Context, string, string, time.Time, *Connection, int64) error {
	return errors.New("TransactionCanceledException: injected")
}

// An accept that replaces an earlier session of the account revokes it only
// after the transaction committed: a failing transaction leaves the old
// connection working and unrevoked; the retried confirm then accepts and
// revokes it.
func TestAcceptRevokesReplacedAfterCommit(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := confirmRig(t, newStore)
		old := r.connectedAs(t, "user-1", "5005")
		res := r.finishAs(t, "5005")
		real := r.h.Store
		r.h.Store = failingAccept{real}
		wantAnswer(t, r.decide(t, res, "user-1", connect.DecisionAccept), 500, "error", "internal_error")
		if n := r.prov.revokeCalls.Load(); n != 0 {
			t.Errorf("revocations after a failed accept = %d, want 0", n)
		}
		r.h.Store = real
		if got, _ := real.GetConnection(context.Background(), "generic", "5005"); !reflect.DeepEqual(got, old) {
			t.Errorf("the old connection changed after a failed accept")
		}
		src := r.h.TokenSource(context.Background(), "5005")
		if tok, err := src.Token(); err != nil || tok.AccessToken == "" {
			t.Errorf("the old connection does not work after a failed accept: %v", err)
		}
		wantAnswer(t, r.decide(t, res, "user-1", connect.DecisionAccept), 200, "status", "connected")
		if n := r.prov.revokeCalls.Load(); n != 1 {
			t.Errorf("revocations after the accept = %d, want the replaced session's", n)
		}
		got, err := real.GetConnection(context.Background(), "generic", "5005")
		if err != nil || got.Version <= old.Version || got.AccessToken == old.AccessToken {
			t.Errorf("connection after the accept: %+v, %v; want the new session at a higher version", got, err)
		}
	})
}

// CONFIRM_TTL passes with no decision: the sweep revokes and deletes the
// pending connection (one Connection Rejected, reason expired); a late
// confirm finds nothing.
func TestPendingConnectionExpires(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := confirmRig(t, newStore, "CONFIRM_TTL", "2m")
		var recs []events.DynamoDBEventRecord
		r.h.Store = WatchStore(r.h.Store, func() time.Time { return r.now }, func(rec events.DynamoDBEventRecord) { recs = append(recs, rec) })
		res := r.finishAs(t, "6006")

		r.now = r.now.Add(time.Minute) // not yet
		sum, err := r.h.Sweep(context.Background(), SweepInput{})
		if err != nil || sum.PendingExpired != 0 || r.prov.revokeCalls.Load() != 0 {
			t.Fatalf("sweep before CONFIRM_TTL: %+v, %v, %d revocations; want nothing expired", sum, err, r.prov.revokeCalls.Load())
		}
		r.now = r.now.Add(time.Minute + time.Second)
		sum, err = r.h.Sweep(context.Background(), SweepInput{})
		if err != nil || sum.PendingExpired != 1 || sum.Due != 1 {
			t.Fatalf("sweep after CONFIRM_TTL: %+v, %v; want one pending connection expired", sum, err)
		}
		if n := r.prov.revokeCalls.Load(); n != 1 {
			t.Errorf("revocations = %d, want 1", n)
		}
		if _, err := r.h.Store.GetPendingConnection(context.Background(), BindKey(res.ID)); !errors.Is(err, ErrNotFound) {
			t.Errorf("pending connection after expiry: %v, want deleted", err)
		}
		var rejected int
		for _, rec := range recs {
			ev, err := connevent.Transition(rec)
			if err != nil {
				t.Fatal(err)
			}
			if ev != nil && ev.DetailType == connevent.Rejected && ev.Detail.Reason == ReasonExpired {
				rejected++
			}
		}
		if rejected != 1 {
			t.Errorf("Connection Rejected (expired) events = %d, want 1", rejected)
		}
		wantAnswer(t, r.decide(t, res, r.user, connect.DecisionAccept), 404, "error", "not_found")
		if sum, _ := r.h.Sweep(context.Background(), SweepInput{}); sum.Due != 0 {
			t.Errorf("the next sweep found %d due, want 0", sum.Due)
		}
	})
}

// A confirm that arrives after CONFIRM_TTL but before the sweep: 404, and
// the pending connection is revoked and deleted on the spot.
func TestLateConfirmRevokes(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := confirmRig(t, newStore)
		res := r.finishAs(t, "7007")
		r.now = r.now.Add(DefaultConfirmTTL)
		wantAnswer(t, r.decide(t, res, r.user, connect.DecisionAccept), 404, "error", "not_found")
		if n := r.prov.revokeCalls.Load(); n != 1 {
			t.Errorf("revocations = %d, want 1", n)
		}
		if _, err := r.h.Store.GetPendingConnection(context.Background(), BindKey(res.ID)); !errors.Is(err, ErrNotFound) {
			t.Errorf("pending connection: %v, want deleted", err)
		}
		if _, err := r.h.Store.GetConnection(context.Background(), "generic", "7007"); !errors.Is(err, ErrNotFound) {
			t.Errorf("a late confirm attached the account: %v", err)
		}
	})
}

// With confirmation required, a connect token without return_to is refused
// at /authorize: nothing stored, nothing sent.
func TestReturnToRequired(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := confirmRig(t, newStore)
		tok, err := r.keys().Token(r.user, connect.Options{})
		if err != nil {
			t.Fatal(err)
		}
		resp, _ := r.startRaw(t, "connect="+tok)
		if resp.StatusCode != 400 || !strings.Contains(resp.Body, "Error code: return_to_required") {
			t.Errorf("authorize = %d, want 400 return_to_required; body:\n%s", resp.StatusCode, resp.Body)
		}
		r.wantNothingStarted(t, resp)
	})
}

// An anonymous connect (REQUIRE_CONNECT_TOKEN=false) attaches at the
// callback, but never changes a connection's end user.
func TestAnonymousConnectKeepsEndUser(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := confirmRig(t, newStore, "REQUIRE_CONNECT_TOKEN", "false")
		r.connectedAs(t, "owner", "8008")
		var recs []events.DynamoDBEventRecord
		r.h.Store = WatchStore(r.h.Store, func() time.Time { return r.now }, func(rec events.DynamoDBEventRecord) { recs = append(recs, rec) })
		resp, cookie := r.startRaw(t, "return_to="+url.QueryEscape(defaultReturnTo))
		cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie)
		loc, _ := url.Parse(cb.Headers["Location"])
		res, err := r.keys().VerifyResult(loc.Query().Get("result"))
		if err != nil || res.Status != connect.StatusConnected || res.User != "" {
			t.Fatalf("anonymous result = %+v, %v; want connected with no user", res, err)
		}
		c, err := r.h.Store.GetConnection(context.Background(), "generic", "8008")
		if err != nil || c.EndUser != "owner" {
			t.Errorf("after an anonymous re-connect: %+v, %v; want the end user kept (owner)", c, err)
		}
		if cs, _ := r.h.Store.ConnectionsByEndUser(context.Background(), "owner"); len(cs) != 1 {
			t.Errorf("owner's connections = %d, want 1", len(cs))
		}
		// The event says the end user was kept.
		var got []connevent.Event
		for _, rec := range recs {
			if ev, _ := connevent.Transition(rec); ev != nil {
				got = append(got, *ev)
			}
		}
		if len(got) != 1 || got[0].DetailType != connevent.Connected || got[0].Detail.EndUser != "owner" ||
			got[0].Detail.Reason != connevent.ReasonAnonymousKeptEndUser || got[0].Detail.PreviousEndUser != "" {
			t.Errorf("events = %+v, want one Connected for owner, reason %s", got, connevent.ReasonAnonymousKeptEndUser)
		}
	})
}

// Each DynamoDB write of the confirmation loses its reply once after it was
// applied (faultaws on moto); the SDK retries it and the decision still
// answers as it should: the pending connection's PutItem at the callback,
// the accept's transaction (retried with the same ClientRequestToken), the
// reject's UpdateItem and its DeleteItem.
func TestLostReplyConfirm(t *testing.T) {
	for _, tt := range []struct {
		name     string
		op       string
		decision string
		atCB     bool // the fault is at the callback, not at /confirm
	}{
		{"callback PutItem (the pending connection)", "PutItem", connect.DecisionAccept, true},
		{"confirm TransactWriteItems (accept)", "TransactWriteItems", connect.DecisionAccept, false},
		{"confirm UpdateItem (reject)", "UpdateItem", connect.DecisionReject, false},
		{"confirm DeleteItem (the rejected pending connection)", "DeleteItem", connect.DecisionReject, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store, tr := faultDynamo(t)
			r := confirmRig(t, func(*testing.T) Store { return store })
			if tt.atCB {
				r.prov.mu.Lock()
				r.prov.account = "9009"
				r.prov.mu.Unlock()
				resp, cookie := r.startRaw(t, r.connectQuery(t, "return_to="+url.QueryEscape(defaultReturnTo)))
				tr.Script(tt.op, faultaws.LoseReply)
				cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie)
				res, ok := r.pendingResult(t, cb)
				if !ok {
					t.Fatalf("callback = %d, want a pending result", cb.StatusCode)
				}
				lostOnce(t, tr, tt.op)
				wantAnswer(t, r.decide(t, res, r.user, connect.DecisionAccept), 200, "status", "connected")
				return
			}
			res := r.finishAs(t, "9009")
			tr.Script(tt.op, faultaws.LoseReply)
			resp := r.decide(t, res, r.user, tt.decision)
			reqs := lostOnce(t, tr, tt.op)
			if tt.decision == connect.DecisionAccept {
				wantAnswer(t, resp, 200, "status", "connected")
				var tokens []string
				for _, req := range reqs[1:] { // the first is /authorize's (the connect token's jti)
					var in struct{ ClientRequestToken string }
					if err := json.Unmarshal(req.Body, &in); err != nil {
						t.Fatal(err)
					}
					tokens = append(tokens, in.ClientRequestToken)
				}
				if len(tokens) != 2 || tokens[0] == "" || tokens[0] != tokens[1] {
					t.Errorf("ClientRequestToken of the accept and its retry: %q, want one token twice", tokens)
				}
				if n := r.prov.revokeCalls.Load(); n != 0 {
					t.Errorf("revocations = %d, want 0", n)
				}
				src := r.h.TokenSource(context.Background(), "9009")
				if tok, err := src.Token(); err != nil || tok.AccessToken == "" {
					t.Errorf("the accepted connection does not work: %v", err)
				}
				return
			}
			wantAnswer(t, resp, 200, "status", "rejected")
			if n := r.prov.revokeCalls.Load(); n != 1 {
				t.Errorf("revocations = %d, want 1", n)
			}
			if _, err := store.GetPendingConnection(context.Background(), BindKey(res.ID)); !errors.Is(err, ErrNotFound) {
				t.Errorf("pending connection after the reject: %v, want deleted", err)
			}
		})
	}
}
