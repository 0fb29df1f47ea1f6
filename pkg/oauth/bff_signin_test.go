package oauth

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/internal/faultaws"
)

// A BFF sign-in keeps an active connection's CreatedAt in one conditional
// write (putBFFConnection, Store.ReplaceConnection): these tests hold it to
// that under a lost reply and a racing logout everywhere.

// lastRefresh is the refresh token the fake provider issued last.
func (r *bffRig) lastRefresh() string {
	r.prov.mu.Lock()
	defer r.prov.mu.Unlock()
	return r.prov.issued[len(r.prov.issued)-1]
}

// revokedTimes counts how often token was revoked at the provider.
func (r *bffRig) revokedTimes(token string) int {
	r.prov.mu.Lock()
	defer r.prov.mu.Unlock()
	n := 0
	for _, v := range r.prov.revoked {
		if v == token {
			n++
		}
	}
	return n
}

// TestBFFLostReplyKeepsOtherSessions: browser A is signed in; browser B
// signs in to the same account and the connection write's reply is lost
// after it was applied, so the write is sent again (the SDK's retry on
// DynamoDB; applied twice on the MemoryStore). The retry must be taken for
// what it is: A stays signed in (CreatedAt kept), B is signed in, and A's
// provider session, replaced, is revoked exactly once.
func TestBFFLostReplyKeepsOtherSessions(t *testing.T) {
	for _, tt := range []struct {
		name  string
		store func(t *testing.T, r **bffRig) (Store, func(), func())
	}{
		{"MemoryStore", func(t *testing.T, r **bffRig) (Store, func(), func()) {
			return NewMemoryStore(), func() { (*r).bs.dupWrites = true }, func() { (*r).bs.dupWrites = false }
		}},
		{"DynamoStore", func(t *testing.T, r **bffRig) (Store, func(), func()) {
			store, tr := faultDynamo(t)
			arm := func() {
				tr.Reset()
				tr.Script("PutItem", faultaws.LoseReply) // the callback's first PutItem: the connection
			}
			check := func() {
				reqs := lostOnce(t, tr, "PutItem")
				if n := len(reqs); n != 3 {
					t.Errorf("callback PutItem calls: %d, want 3 (the connection, its retry, the session)", n)
				}
			}
			return store, arm, check
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r *bffRig
			store, arm, after := tt.store(t, &r)
			r = newBFFRig(t, func(*testing.T) Store { return store })
			a := r.signIn(t, "1001")
			aRefresh := r.lastRefresh()
			aCreated := r.stored(t, a).ConnCreatedAt
			r.now = r.now.Add(time.Minute)
			r.beforeCallback = arm
			b := r.signIn(t, "1001")
			r.beforeCallback = nil
			after()
			if !r.authenticated(t, a) {
				t.Error("browser A was signed out by B's sign-in whose reply was lost")
			}
			if !r.authenticated(t, b) {
				t.Error("browser B is not signed in")
			}
			conn, err := r.store.GetConnection(context.Background(), "generic", "1001")
			if err != nil || !conn.CreatedAt.Equal(aCreated) || conn.Status != StatusActive {
				t.Fatalf("connection = %+v, %v; want active with A's CreatedAt %v", conn, err, aCreated)
			}
			if n := r.revokedTimes(aRefresh); n != 1 {
				t.Errorf("A's replaced provider session revoked %d times, want exactly 1", n)
			}
			if n := r.prov.revokeCalls.Load(); n != 1 {
				t.Errorf("revocations: %d, want 1 (A's replaced session only)", n)
			}
			if n := r.revokedTimes(r.lastRefresh()); n != 0 {
				t.Error("B's new provider session, the one stored, was revoked")
			}
		})
	}
}

// TestBFFLogoutEverywhereRacingSignIn: browsers A and C are signed in;
// while browser B's callback is between reading the connection and
// writing its own, A logs out everywhere (the connection is revoked at
// the provider and deleted). No write of B's may bring back the
// connection those sessions were made with, not even for a moment: B's
// connection is made anew, A and C stay signed out, B is signed in, and
// nothing more is revoked (the disconnected session already was).
func TestBFFLogoutEverywhereRacingSignIn(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newBFFRig(t, newStore)
		a := r.signIn(t, "1001")
		aCreated := r.stored(t, a).ConnCreatedAt
		r.now = r.now.Add(time.Minute)
		c := r.signIn(t, "1001")
		cRefresh := r.lastRefresh()
		r.now = r.now.Add(time.Minute)
		revocations := r.prov.revokeCalls.Load() // C's sign-in revoked A's replaced session

		disconnected, resurrected := false, false
		r.bs.afterConnWrite = func() {
			if !disconnected {
				return
			}
			if conn, err := r.store.GetConnection(context.Background(), "generic", "1001"); err == nil && conn.CreatedAt.Unix() == aCreated.Unix() {
				resurrected = true
			}
		}
		r.beforeCallback = func() {
			r.bs.afterGetConnection = func() {
				r.bs.afterGetConnection = nil // B's read of the connection: once
				resp := r.serve(t, bffRequest("POST", "/bff/logout", `{"everywhere":true}`, a))
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("logout everywhere = %d %s", resp.StatusCode, resp.Body)
				}
				disconnected = true
			}
		}
		b := r.signIn(t, "1001")
		r.beforeCallback, r.bs.afterConnWrite = nil, nil
		if !disconnected {
			t.Fatal("the logout everywhere did not run between B's read and write")
		}
		if resurrected {
			t.Error("a connection write of B's brought back the CreatedAt of the sessions logout everywhere ended")
		}
		if r.authenticated(t, a) || r.authenticated(t, c) {
			t.Error("a session that logout everywhere ended came back")
		}
		if !r.authenticated(t, b) {
			t.Error("browser B is not signed in")
		}
		conn, err := r.store.GetConnection(context.Background(), "generic", "1001")
		if err != nil || conn.CreatedAt.Equal(aCreated) || !conn.CreatedAt.Equal(r.stored(t, b).ConnCreatedAt) {
			t.Fatalf("connection = %+v, %v; want B's own CreatedAt", conn, err)
		}
		if n := r.prov.revokeCalls.Load(); n != revocations+1 || r.revokedTimes(cRefresh) != 1 {
			t.Errorf("revocations: %d (C's session %d times), want %d: the logout everywhere's, once", n, r.revokedTimes(cRefresh), revocations+1)
		}
	})
}

// TestBFFSignInWaitsForLease: a connection held by a lease (a refresh or a
// Disconnect in flight) is not written over: the sign-in waits for the
// lease to end, then keeps the connection's CreatedAt. A lease that stays
// past the wait fails the sign-in: no session, the connection untouched,
// and the sign-in's own new provider session revoked.
func TestBFFSignInWaitsForLease(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newBFFRig(t, newStore)
		slept := time.Duration(0)
		r.h.Sleep = func(ctx context.Context, d time.Duration) error {
			slept += d
			r.now = r.now.Add(d)
			return nil
		}
		a := r.signIn(t, "1001")
		ctx := context.Background()
		lease := func(d time.Duration) *Connection {
			t.Helper()
			cur, err := r.store.GetConnection(ctx, "generic", "1001")
			if err != nil {
				t.Fatal(err)
			}
			leased, err := r.store.AcquireLease(ctx, "generic", "1001", cur.Version, "sweep-test", r.now, r.now.Add(d))
			if err != nil {
				t.Fatal(err)
			}
			return leased
		}

		r.now = r.now.Add(time.Minute)
		lease(2 * time.Second)
		b := r.signIn(t, "1001")
		if slept < 2*time.Second {
			t.Errorf("the sign-in waited %v, want the lease's 2s", slept)
		}
		if !r.authenticated(t, a) || !r.authenticated(t, b) {
			t.Error("after waiting for the lease: A and B are not both signed in")
		}

		r.now = r.now.Add(time.Minute)
		held := lease(time.Hour)
		revocations := r.prov.revokeCalls.Load()
		resp := r.login(t, "return_to="+url.QueryEscape(bffApp))
		binding, _ := http.ParseSetCookie(resp.Cookies[0])
		cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), binding.Name+"="+binding.Value)
		newRefresh := r.lastRefresh()
		if cb.StatusCode != http.StatusInternalServerError {
			t.Errorf("callback with the connection leased throughout = %d, want 500", cb.StatusCode)
		}
		for _, c := range cb.Cookies {
			if strings.HasPrefix(c, SessionCookie+"=") && !strings.Contains(c, "Max-Age=0") {
				t.Errorf("a failed sign-in set a session cookie")
			}
		}
		if cur, err := r.store.GetConnection(ctx, "generic", "1001"); err != nil || cur.AccessToken != held.AccessToken || cur.LeaseOwner != "sweep-test" {
			t.Errorf("the leased connection was written over: %+v, %v", cur, err)
		}
		if n := r.prov.revokeCalls.Load(); n != revocations+1 || r.revokedTimes(newRefresh) != 1 {
			t.Errorf("revocations %d (the failed sign-in's session %d times), want %d: its own new session, once", n, r.revokedTimes(newRefresh), revocations+1)
		}
		if !r.authenticated(t, a) {
			t.Error("a failed sign-in ended A's session")
		}
	})
}

// TestBFFSignInConnectionKeepsChanging: a connection that changes after
// every read of the sign-in's is read again bffPutAttempts times, then the
// sign-in fails cleanly: no session, the connection as the last writer
// left it, and the sign-in's own new provider session revoked.
func TestBFFSignInConnectionKeepsChanging(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newBFFRig(t, newStore)
		a := r.signIn(t, "1001")
		ctx := context.Background()
		r.now = r.now.Add(time.Minute)
		reads := 0
		var last *Connection
		revocations := r.prov.revokeCalls.Load()
		resp := r.login(t, "return_to="+url.QueryEscape(bffApp))
		binding, _ := http.ParseSetCookie(resp.Cookies[0])
		r.bs.afterGetConnection = func() {
			reads++
			cur, err := r.store.GetConnection(ctx, "generic", "1001")
			if err != nil {
				t.Fatal(err)
			}
			cur.Version++ // a refresh meanwhile
			cur.AccessToken = "sealed-access-changed-" + strconv.Itoa(reads)
			if _, err := r.store.PutConnection(ctx, cur); err != nil {
				t.Fatal(err)
			}
			last = cur
		}
		cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), binding.Name+"="+binding.Value)
		r.bs.afterGetConnection = nil
		newRefresh := r.lastRefresh()
		if cb.StatusCode != http.StatusInternalServerError {
			t.Errorf("callback = %d, want 500", cb.StatusCode)
		}
		if reads != bffPutAttempts {
			t.Errorf("the sign-in read the connection %d times, want %d", reads, bffPutAttempts)
		}
		for _, c := range cb.Cookies {
			if strings.HasPrefix(c, SessionCookie+"=") && !strings.Contains(c, "Max-Age=0") {
				t.Errorf("a failed sign-in set a session cookie")
			}
		}
		if cur, err := r.store.GetConnection(ctx, "generic", "1001"); err != nil || cur.AccessToken != last.AccessToken {
			t.Errorf("connection = %+v, %v; want the last writer's", cur, err)
		}
		if n := r.prov.revokeCalls.Load(); n != revocations+1 || r.revokedTimes(newRefresh) != 1 {
			t.Errorf("revocations %d, want %d: the failed sign-in's own session, once", n, revocations+1)
		}
		if !r.authenticated(t, a) {
			t.Error("a failed sign-in ended A's session")
		}
	})
}
