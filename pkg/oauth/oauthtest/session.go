package oauthtest

import (
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// testSession: browser sessions of the backend for the frontend (the
// SessionStore part of a Store): stored and read back to the second,
// touched only while they exist, deleted, kept past their expiry until
// deleted (expiry is the caller's to check), and never seen as
// connections, due entries or an end user's connections.
func testSession(t *testing.T, newStore func(t *testing.T) oauth.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s oauth.Store)
	}{
		{"put then get", func(t *testing.T, s oauth.Store) {
			sess := newSession("cookie-1", "7001")
			mustPutSession(t, s, sess)
			got, err := s.GetSession(t.Context(), sess.Key)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(got, sess); d != "" {
				t.Errorf("GetSession: %s", d)
			}
			_, err = s.GetSession(t.Context(), oauth.SessionKey("nothing"))
			wantErr(t, "GetSession of nothing", err, oauth.ErrNotFound)
		}},
		{"times are kept to the second", func(t *testing.T, s oauth.Store) {
			sess := newSession("cookie-1", "7001")
			sess.IdleUntil = sess.IdleUntil.Add(900 * time.Millisecond)
			mustPutSession(t, s, sess)
			got, err := s.GetSession(t.Context(), sess.Key)
			if err != nil {
				t.Fatal(err)
			}
			if !got.IdleUntil.Equal(sess.IdleUntil.Truncate(time.Second)) {
				t.Errorf("IdleUntil = %v, want %v", got.IdleUntil, sess.IdleUntil.Truncate(time.Second))
			}
		}},
		{"put refuses what is not a session", func(t *testing.T, s oauth.Store) {
			for name, mut := range map[string]func(*oauth.Session){
				"a connection's key": func(x *oauth.Session) { x.Key = "conn#generic#1" },
				"no key":             func(x *oauth.Session) { x.Key = "" },
				"no provider":        func(x *oauth.Session) { x.Provider = "" },
				"no account":         func(x *oauth.Session) { x.AccountID = "" },
				"no idle expiry":     func(x *oauth.Session) { x.IdleUntil = time.Time{} },
				"no absolute expiry": func(x *oauth.Session) { x.ExpiresAt = time.Time{} },
			} {
				sess := newSession("cookie-1", "7001")
				mut(sess)
				if err := s.PutSession(t.Context(), sess); err == nil {
					t.Errorf("PutSession with %s: no error", name)
				}
			}
			if _, err := s.GetConnection(t.Context(), "generic", "1"); err == nil {
				t.Error("a refused session was written as a connection")
			}
		}},
		{"touch moves the idle expiry only", func(t *testing.T, s oauth.Store) {
			sess := newSession("cookie-1", "7001")
			mustPutSession(t, s, sess)
			idle := at(20 * time.Hour)
			if err := s.TouchSession(t.Context(), sess.Key, idle); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetSession(t.Context(), sess.Key)
			if err != nil {
				t.Fatal(err)
			}
			want := *sess
			want.IdleUntil = idle
			if d := diff(got, &want); d != "" {
				t.Errorf("after TouchSession: %s", d)
			}
		}},
		{"touch never brings back a deleted session", func(t *testing.T, s oauth.Store) {
			sess := newSession("cookie-1", "7001")
			mustPutSession(t, s, sess)
			if err := s.DeleteSession(t.Context(), sess.Key); err != nil {
				t.Fatal(err)
			}
			err := s.TouchSession(t.Context(), sess.Key, at(20*time.Hour))
			wantErr(t, "TouchSession of a deleted session", err, oauth.ErrNotFound)
			_, err = s.GetSession(t.Context(), sess.Key)
			wantErr(t, "GetSession after a refused touch", err, oauth.ErrNotFound)
			err = s.TouchSession(t.Context(), oauth.SessionKey("never"), at(20*time.Hour))
			wantErr(t, "TouchSession of nothing", err, oauth.ErrNotFound)
		}},
		{"delete is per session and idempotent", func(t *testing.T, s oauth.Store) {
			a, b := newSession("cookie-a", "7001"), newSession("cookie-b", "7001")
			mustPutSession(t, s, a)
			mustPutSession(t, s, b)
			for range 2 {
				if err := s.DeleteSession(t.Context(), a.Key); err != nil {
					t.Fatalf("DeleteSession: %v", err)
				}
			}
			_, err := s.GetSession(t.Context(), a.Key)
			wantErr(t, "GetSession of the deleted session", err, oauth.ErrNotFound)
			if _, err := s.GetSession(t.Context(), b.Key); err != nil {
				t.Errorf("GetSession of the other browser's session: %v", err)
			}
		}},
		{"an expired session stays until deleted", func(t *testing.T, s oauth.Store) {
			sess := newSession("cookie-1", "7001")
			sess.IdleUntil, sess.ExpiresAt = at(-2*time.Hour), at(-time.Hour)
			mustPutSession(t, s, sess)
			got, err := s.GetSession(t.Context(), sess.Key)
			if err != nil {
				t.Fatalf("GetSession of an expired session: %v; want it returned (the caller checks expiry)", err)
			}
			if got.LiveAt(at(0)) {
				t.Errorf("LiveAt(after its expiry) = true")
			}
		}},
		{"a session is no connection, due entry or end user's connection", func(t *testing.T, s oauth.Store) {
			sess := newSession("cookie-1", "7001")
			mustPutSession(t, s, sess)
			_, err := s.GetConnection(t.Context(), sess.Provider, sess.AccountID)
			wantErr(t, "GetConnection of a session's account", err, oauth.ErrNotFound)
			if cs, err := s.ListConnections(t.Context()); err != nil || len(cs) != 0 {
				t.Errorf("ListConnections: %d connections, %v; want none", len(cs), err)
			}
			for shard := range oauth.DueShards {
				if got := dueKeys(t, s, shard, at(400*24*time.Hour)); len(got) != 0 {
					t.Errorf("due-index shard %d lists %v", shard, got)
				}
			}
			for _, user := range []string{sess.AccountID, sess.Provider} {
				if cs, err := s.ConnectionsByEndUser(t.Context(), user); err != nil || len(cs) != 0 {
					t.Errorf("ConnectionsByEndUser(%q): %d connections, %v; want none", user, len(cs), err)
				}
			}
		}},
		{"a connection's list skips sessions next to it", func(t *testing.T, s oauth.Store) {
			c := newConnection("generic", "7001")
			mustPutConnection(t, s, c)
			mustPutSession(t, s, newSession("cookie-1", "7001"))
			cs, err := s.ListConnections(t.Context())
			if err != nil || len(cs) != 1 || cs[0].Key() != c.Key() {
				t.Errorf("ListConnections: %d connections, %v; want only %s", len(cs), err, c.Key())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}

func newSession(cookie, account string) *oauth.Session {
	return &oauth.Session{
		Key:           oauth.SessionKey(cookie),
		Provider:      "generic",
		AccountID:     account,
		CreatedAt:     at(0),
		IdleUntil:     at(8 * time.Hour),
		ExpiresAt:     at(7 * 24 * time.Hour),
		ConnCreatedAt: at(-time.Hour),
	}
}

func mustPutSession(t *testing.T, s oauth.Store, sess *oauth.Session) {
	t.Helper()
	if err := s.PutSession(t.Context(), sess); err != nil {
		t.Fatalf("PutSession(%s): %v", sess.Key, err)
	}
}
