package oauthtest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// testBind: pending connections (the BindStore part of a Store): stored
// and read back, invisible as connections, due at their expiry, accepted
// or rejected once.
func testBind(t *testing.T, newStore func(t *testing.T) oauth.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s oauth.Store)
	}{
		{"put then get", func(t *testing.T, s oauth.Store) {
			p := newBind("r1", "7001", "user-1")
			mustPutBind(t, s, p)
			got, err := s.GetPendingConnection(t.Context(), p.Key)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffBind(got, p); d != "" {
				t.Errorf("GetPendingConnection: %s", d)
			}
			_, err = s.GetPendingConnection(t.Context(), oauth.BindKey("nothing"))
			wantErr(t, "GetPendingConnection of nothing", err, oauth.ErrNotFound)
		}},
		{"put refuses what is not a pending connection", func(t *testing.T, s oauth.Store) {
			for name, mut := range map[string]func(*oauth.PendingConnection){
				"a connection's key": func(p *oauth.PendingConnection) { p.Key = "conn#generic#1" },
				"no end user":        func(p *oauth.PendingConnection) { p.Conn.EndUser = "" },
				"no account":         func(p *oauth.PendingConnection) { p.Conn.AccountID = "" },
				"no expiry":          func(p *oauth.PendingConnection) { p.ExpiresAt = time.Time{} },
			} {
				p := newBind("r1", "7001", "user-1")
				mut(p)
				if err := s.PutPendingConnection(t.Context(), p); err == nil {
					t.Errorf("PutPendingConnection with %s: no error", name)
				}
			}
		}},
		{"a pending connection is no connection", func(t *testing.T, s oauth.Store) {
			mustPutBind(t, s, newBind("r1", "7001", "user-1"))
			_, err := s.GetConnection(t.Context(), "generic", "7001")
			wantErr(t, "GetConnection of a pending connection's account", err, oauth.ErrNotFound)
			if cs, err := s.ConnectionsByEndUser(t.Context(), "user-1"); err != nil || len(cs) != 0 {
				t.Errorf("ConnectionsByEndUser: %d connections, %v; want none", len(cs), err)
			}
			if cs, err := s.ListConnections(t.Context()); err != nil || len(cs) != 0 {
				t.Errorf("ListConnections: %d connections, %v; want none", len(cs), err)
			}
		}},
		{"due at its expiry, not before, and not once decided", func(t *testing.T, s oauth.Store) {
			p := newBind("r1", "7001", "user-1")
			mustPutBind(t, s, p)
			shard := oauth.ShardOf(p.Key)
			if got := dueKeys(t, s, shard, p.ExpiresAt.Add(-time.Second)); len(got) != 0 {
				t.Errorf("due before its expiry: %v", got)
			}
			got := dueKeys(t, s, shard, p.ExpiresAt)
			if len(got) != 1 || got[0] != p.Key {
				t.Fatalf("due at its expiry: %v, want %s", got, p.Key)
			}
			if _, err := s.RejectPending(t.Context(), p.Key, oauth.ReasonExpired, "d1", p.ExpiresAt); err != nil {
				t.Fatal(err)
			}
			if got := dueKeys(t, s, shard, p.ExpiresAt.Add(time.Hour)); len(got) != 0 {
				t.Errorf("due after its rejection: %v", got)
			}
		}},
		{"accept writes the connection and deletes the pending one", func(t *testing.T, s oauth.Store) {
			p := newBind("r1", "7001", "user-1")
			mustPutBind(t, s, p)
			c := acceptedConn(p, 1)
			if err := s.AcceptPending(t.Context(), p.Key, "user-1", at(time.Minute), c, 0); err != nil {
				t.Fatal(err)
			}
			if d := diff(mustGet(t, s, "generic", "7001"), c); d != "" {
				t.Errorf("accepted connection: %s", d)
			}
			_, err := s.GetPendingConnection(t.Context(), p.Key)
			wantErr(t, "GetPendingConnection after the accept", err, oauth.ErrNotFound)
			if got := dueKeys(t, s, oauth.ShardOf(p.Key), p.ExpiresAt.Add(time.Hour)); len(got) != 0 {
				t.Errorf("due after the accept: %v", got)
			}
			// Decided once: a second accept, a reject find nothing.
			err = s.AcceptPending(t.Context(), p.Key, "user-1", at(time.Minute), acceptedConn(p, 2), 1)
			wantErr(t, "second AcceptPending", err, oauth.ErrNotFound)
			_, err = s.RejectPending(t.Context(), p.Key, oauth.ReasonAppRejected, "d1", at(time.Minute))
			wantErr(t, "RejectPending after the accept", err, oauth.ErrNotFound)
			if d := diff(mustGet(t, s, "generic", "7001"), c); d != "" {
				t.Errorf("connection after the refused second decisions: %s", d)
			}
		}},
		{"accept refuses another user, an expired or a rejected one; nothing changes", func(t *testing.T, s oauth.Store) {
			p := newBind("r1", "7001", "user-1")
			mustPutBind(t, s, p)
			err := s.AcceptPending(t.Context(), p.Key, "user-2", at(time.Minute), acceptedConn(p, 1), 0)
			wantErr(t, "AcceptPending for another user", err, oauth.ErrNotFound)
			err = s.AcceptPending(t.Context(), p.Key, "user-1", p.ExpiresAt, acceptedConn(p, 1), 0)
			wantErr(t, "AcceptPending at its expiry", err, oauth.ErrNotFound)
			got, gerr := s.GetPendingConnection(t.Context(), p.Key)
			if gerr != nil || got.Status != oauth.StatusPending {
				t.Fatalf("pending connection after refused accepts: %+v, %v", got, gerr)
			}
			if _, err := s.RejectPending(t.Context(), p.Key, oauth.ReasonAppRejected, "d1", at(time.Minute)); err != nil {
				t.Fatal(err)
			}
			err = s.AcceptPending(t.Context(), p.Key, "user-1", at(time.Minute), acceptedConn(p, 1), 0)
			wantErr(t, "AcceptPending of a rejected one", err, oauth.ErrNotFound)
			_, err = s.GetConnection(t.Context(), "generic", "7001")
			wantErr(t, "GetConnection after refused accepts", err, oauth.ErrNotFound)
		}},
		{"accept is conditioned on the replaced connection's version", func(t *testing.T, s oauth.Store) {
			old := newConnection("generic", "7001")
			old.Version = 4
			mustPutConnection(t, s, old)
			p := newBind("r1", "7001", "user-1")
			mustPutBind(t, s, p)
			for _, v := range []int64{0, 3, 5} {
				err := s.AcceptPending(t.Context(), p.Key, "user-1", at(time.Minute), acceptedConn(p, v+1), v)
				wantErr(t, fmt.Sprintf("AcceptPending replacing version %d (it is 4)", v), err, oauth.ErrConflict)
			}
			if d := diff(mustGet(t, s, "generic", "7001"), old); d != "" {
				t.Errorf("connection after conflicting accepts: %s", d)
			}
			if got, err := s.GetPendingConnection(t.Context(), p.Key); err != nil || got.Status != oauth.StatusPending {
				t.Fatalf("pending connection after conflicting accepts: %+v, %v; want it pending", got, err)
			}
			c := acceptedConn(p, 5)
			if err := s.AcceptPending(t.Context(), p.Key, "user-1", at(time.Minute), c, 4); err != nil {
				t.Fatal(err)
			}
			if d := diff(mustGet(t, s, "generic", "7001"), c); d != "" {
				t.Errorf("accepted connection: %s", d)
			}
		}},
		{"accept does not replace a leased connection", func(t *testing.T, s oauth.Store) {
			old := newConnection("generic", "7001")
			mustPutConnection(t, s, old)
			if _, err := s.AcquireLease(t.Context(), "generic", "7001", old.Version, "disconnect-1", at(0), at(time.Minute)); err != nil {
				t.Fatal(err)
			}
			p := newBind("r1", "7001", "user-1")
			mustPutBind(t, s, p)
			err := s.AcceptPending(t.Context(), p.Key, "user-1", at(30*time.Second), acceptedConn(p, 3), old.Version)
			wantErr(t, "AcceptPending over a live lease", err, oauth.ErrConflict)
			if got := mustGet(t, s, "generic", "7001"); got.LeaseOwner != "disconnect-1" || got.AccessToken != old.AccessToken {
				t.Errorf("leased connection after the refused accept: %+v", got)
			}
			c := acceptedConn(p, 3)
			if err := s.AcceptPending(t.Context(), p.Key, "user-1", at(time.Minute), c, old.Version); err != nil {
				t.Fatalf("AcceptPending once the lease ended: %v", err)
			}
			if d := diff(mustGet(t, s, "generic", "7001"), c); d != "" {
				t.Errorf("accepted connection: %s", d)
			}
		}},
		{"reject marks it once, with its tokens; a retry of the same decision succeeds", func(t *testing.T, s oauth.Store) {
			p := newBind("r1", "7001", "user-1")
			mustPutBind(t, s, p)
			got, err := s.RejectPending(t.Context(), p.Key, oauth.ReasonUserMismatch, "d1", at(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			want := *p
			want.Status, want.Reason, want.DecisionID, want.UpdatedAt = oauth.StatusRejected, oauth.ReasonUserMismatch, "d1", at(time.Minute)
			if d := diffBind(got, &want); d != "" {
				t.Errorf("RejectPending: %s", d)
			}
			if again, err := s.RejectPending(t.Context(), p.Key, oauth.ReasonUserMismatch, "d1", at(time.Minute)); err != nil || again.Conn.RefreshToken != p.Conn.RefreshToken {
				t.Errorf("RejectPending retried by the same decision: %+v, %v; want it again", again, err)
			}
			_, err = s.RejectPending(t.Context(), p.Key, oauth.ReasonExpired, "d2", at(time.Hour))
			wantErr(t, "RejectPending by another decision", err, oauth.ErrNotFound)
			if got, err := s.GetPendingConnection(t.Context(), p.Key); err != nil || got.Reason != oauth.ReasonUserMismatch {
				t.Errorf("after a second reject: %+v, %v; want the first reason kept", got, err)
			}
			if err := s.DeletePendingConnection(t.Context(), p.Key); err != nil {
				t.Fatal(err)
			}
			if err := s.DeletePendingConnection(t.Context(), p.Key); err != nil {
				t.Errorf("DeletePendingConnection of a missing one: %v", err)
			}
			_, err = s.RejectPending(t.Context(), p.Key, oauth.ReasonUserMismatch, "d1", at(time.Minute))
			wantErr(t, "RejectPending after the delete", err, oauth.ErrNotFound)
			_, err = s.RejectPending(t.Context(), oauth.BindKey("nothing"), oauth.ReasonAppRejected, "d3", at(time.Minute))
			wantErr(t, "RejectPending of nothing", err, oauth.ErrNotFound)
			if _, err := s.RejectPending(t.Context(), p.Key, "", "d4", at(time.Minute)); err == nil || errors.Is(err, oauth.ErrNotFound) {
				t.Errorf("RejectPending without a reason: %v, want a usage error", err)
			}
		}},
		{"concurrent decisions: one winner", func(t *testing.T, s oauth.Store) {
			const n = 8
			for round := range 3 {
				p := newBind(fmt.Sprintf("r%d", round), fmt.Sprintf("80%02d", round), "user-1")
				mustPutBind(t, s, p)
				errs := make([]error, n)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						if i%2 == 0 {
							errs[i] = s.AcceptPending(t.Context(), p.Key, "user-1", at(time.Minute), acceptedConn(p, 1), 0)
						} else {
							_, errs[i] = s.RejectPending(t.Context(), p.Key, oauth.ReasonAppRejected, fmt.Sprintf("d%d", i), at(time.Minute))
						}
					}()
				}
				close(start)
				wg.Wait()
				winners := 0
				for i, err := range errs {
					switch {
					case err == nil:
						winners++
					case !errors.Is(err, oauth.ErrNotFound) && !errors.Is(err, oauth.ErrConflict):
						t.Errorf("decision %d: %v", i, err)
					}
				}
				if winners != 1 {
					t.Errorf("round %d: %d decisions won, want exactly 1 (%v)", round, winners, errs)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}

// newBind is a pending connection of account for user, for the result r,
// live for ten minutes from at(0).
func newBind(r, account, user string) *oauth.PendingConnection {
	return &oauth.PendingConnection{
		Key: oauth.BindKey(r),
		Conn: oauth.Connection{
			Provider:         "generic",
			AccountID:        account,
			EndUser:          user,
			AccessToken:      "sealed-access-" + r,
			RefreshToken:     "sealed-refresh-" + r,
			KeyID:            "k1",
			TokenType:        "Bearer",
			Scope:            "ReadAccounts",
			AccessExpiresAt:  at(time.Hour),
			RefreshExpiresAt: at(7 * 24 * time.Hour),
			CreatedAt:        at(0),
		},
		AppState:  "app-state-" + r,
		ExpiresAt: at(10 * time.Minute),
		Status:    oauth.StatusPending,
		UpdatedAt: at(0),
	}
}

// acceptedConn is the connection p becomes, at version.
func acceptedConn(p *oauth.PendingConnection, version int64) *oauth.Connection {
	c := newConnection(p.Conn.Provider, p.Conn.AccountID)
	c.EndUser = p.Conn.EndUser
	c.AccessToken = fmt.Sprintf("sealed-access-accepted-%d", version)
	c.Version = version
	c.CreatedAt, c.UpdatedAt, c.LastRefreshAt = p.Conn.CreatedAt, at(time.Minute), p.Conn.CreatedAt
	return c
}

func mustPutBind(t *testing.T, s oauth.Store, p *oauth.PendingConnection) {
	t.Helper()
	if err := s.PutPendingConnection(t.Context(), p); err != nil {
		t.Fatalf("PutPendingConnection(%s): %v", p.Key, err)
	}
}

func diffBind(got, want *oauth.PendingConnection) string {
	g, w := *got, *want
	d := diff(&g.Conn, &w.Conn)
	g.Conn, w.Conn = oauth.Connection{}, oauth.Connection{}
	if d2 := diff(&g, &w); d2 != "" {
		d += "; " + d2
	}
	return d
}

func dueKeys(t *testing.T, s oauth.Store, shard int, before time.Time) []string {
	t.Helper()
	es, err := s.QueryDue(t.Context(), shard, before, 100)
	if err != nil {
		t.Fatalf("QueryDue: %v", err)
	}
	var keys []string
	for _, e := range es {
		keys = append(keys, e.Key)
	}
	return keys
}
