package oauthtest

import (
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// ReplaceConnection: a connection written only over the one read (its
// version and created_at, no live lease), or only where there is none; a
// retried write recognised as its own.

func testReplace(t *testing.T, newStore func(t *testing.T) oauth.Store) {
	// next is what a BFF sign-in writes over prev: new tokens, a skipped
	// version, prev's created_at kept.
	next := func(prev *oauth.Connection) *oauth.Connection {
		c := newConnection(prev.Provider, prev.AccountID)
		c.AccessToken, c.RefreshToken = "sealed-access-next", "sealed-refresh-next"
		c.Version, c.CreatedAt, c.UpdatedAt = prev.Version+2, prev.CreatedAt, at(time.Hour)
		return c
	}
	// conflict checks that c was refused with ErrConflict and that the
	// connection in place is still want (nil: none).
	conflict := func(t *testing.T, s oauth.Store, c, prev *oauth.Connection, now time.Time, want *oauth.Connection) {
		t.Helper()
		replaced, err := s.ReplaceConnection(t.Context(), c, prev, now)
		wantErr(t, "ReplaceConnection", err, oauth.ErrConflict)
		if replaced != nil {
			t.Errorf("ReplaceConnection refused: got replaced %+v, want nil", replaced)
		}
		if want == nil {
			_, err := s.GetConnection(t.Context(), c.Provider, c.AccountID)
			wantErr(t, "GetConnection after a refused replace", err, oauth.ErrNotFound)
			return
		}
		if d := diff(mustGet(t, s, c.Provider, c.AccountID), want); d != "" {
			t.Errorf("connection after a refused replace: %s", d)
		}
	}
	tests := []struct {
		name string
		run  func(t *testing.T, s oauth.Store)
	}{
		{"none read, none in place: written, nothing replaced", func(t *testing.T, s oauth.Store) {
			c := newConnection("rc", "1")
			replaced, err := s.ReplaceConnection(t.Context(), c, nil, at(0))
			if err != nil || replaced != nil {
				t.Fatalf("ReplaceConnection: got %+v, %v; want nil, nil", replaced, err)
			}
			if d := diff(mustGet(t, s, "rc", "1"), c); d != "" {
				t.Errorf("GetConnection: %s", d)
			}
		}},
		{"none read, one in place: ErrConflict", func(t *testing.T, s oauth.Store) {
			first := newConnection("rc", "1")
			mustPutConnection(t, s, first)
			conflict(t, s, next(first), nil, at(0), first)
		}},
		{"the one read in place: written, the stored one returned", func(t *testing.T, s oauth.Store) {
			first := newConnection("rc", "1")
			first.LeaseOwner, first.LeaseUntil = "sweep-1", at(time.Minute) // expired at now
			mustPutConnection(t, s, first)
			read := mustGet(t, s, "rc", "1")
			c := next(read)
			replaced, err := s.ReplaceConnection(t.Context(), c, read, at(time.Minute))
			if err != nil {
				t.Fatalf("ReplaceConnection: %v", err)
			}
			if d := diff(replaced, first); d != "" {
				t.Errorf("replaced: %s", d)
			}
			if d := diff(mustGet(t, s, "rc", "1"), c); d != "" {
				t.Errorf("GetConnection: %s", d)
			}
		}},
		{"version changed since the read: ErrConflict", func(t *testing.T, s oauth.Store) {
			first := newConnection("rc", "1")
			mustPutConnection(t, s, first)
			read := *first
			refreshed := *first
			refreshed.Version, refreshed.AccessToken = 2, "sealed-access-refreshed"
			mustPutConnection(t, s, &refreshed)
			conflict(t, s, next(&read), &read, at(0), &refreshed)
		}},
		{"created_at changed since the read: ErrConflict", func(t *testing.T, s oauth.Store) {
			first := newConnection("rc", "1")
			mustPutConnection(t, s, first)
			read := *first
			anew := newConnection("rc", "1")
			anew.CreatedAt, anew.AccessToken = at(time.Minute), "sealed-access-anew" // same version
			mustPutConnection(t, s, anew)
			conflict(t, s, next(&read), &read, at(time.Minute), anew)
		}},
		{"deleted since the read (a disconnect): ErrConflict, nothing written", func(t *testing.T, s oauth.Store) {
			first := newConnection("rc", "1")
			mustPutConnection(t, s, first)
			if err := s.DeleteConnection(t.Context(), "rc", "1"); err != nil {
				t.Fatal(err)
			}
			conflict(t, s, next(first), first, at(0), nil)
		}},
		{"a live lease (a refresh or a disconnect in flight): ErrConflict", func(t *testing.T, s oauth.Store) {
			first := newConnection("rc", "1")
			mustPutConnection(t, s, first)
			leased, err := s.AcquireLease(t.Context(), "rc", "1", first.Version, "disconnect-1", at(0), at(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			conflict(t, s, next(first), first, at(time.Minute-time.Second), leased)
		}},
		{"the very write again (a retried request) returns the connection read", func(t *testing.T, s oauth.Store) {
			first := newConnection("rc", "1")
			mustPutConnection(t, s, first)
			c := next(first)
			if _, err := s.ReplaceConnection(t.Context(), c, first, at(0)); err != nil {
				t.Fatal(err)
			}
			again := *c
			replaced, err := s.ReplaceConnection(t.Context(), &again, first, at(0))
			if err != nil {
				t.Fatalf("ReplaceConnection again: %v, want the retry recognised", err)
			}
			if d := diff(replaced, first); d != "" {
				t.Errorf("replaced on the retry: %s (want the connection read, never the write itself)", d)
			}
			if d := diff(mustGet(t, s, "rc", "1"), c); d != "" {
				t.Errorf("GetConnection: %s", d)
			}
		}},
		{"the very write again, its version the one read (its condition holds): the connection read", func(t *testing.T, s oauth.Store) {
			first := newConnection("rc", "1")
			mustPutConnection(t, s, first)
			c := next(first)
			c.Version = first.Version
			for i := range 2 {
				replaced, err := s.ReplaceConnection(t.Context(), c, first, at(0))
				if err != nil {
					t.Fatalf("ReplaceConnection #%d: %v", i+1, err)
				}
				if d := diff(replaced, first); d != "" {
					t.Errorf("replaced #%d: %s", i+1, d)
				}
			}
		}},
		{"the very first write again (none read) replaces nothing", func(t *testing.T, s oauth.Store) {
			c := newConnection("rc", "1")
			for i := range 2 {
				replaced, err := s.ReplaceConnection(t.Context(), c, nil, at(0))
				if err != nil || replaced != nil {
					t.Fatalf("ReplaceConnection #%d: got %+v, %v; want nil, nil", i+1, replaced, err)
				}
			}
		}},
		{"another write in place of the one read is no retry: ErrConflict", func(t *testing.T, s oauth.Store) {
			first := newConnection("rc", "1")
			mustPutConnection(t, s, first)
			other := next(first)
			other.AccessToken = "sealed-access-other"
			if _, err := s.ReplaceConnection(t.Context(), other, first, at(0)); err != nil {
				t.Fatal(err)
			}
			conflict(t, s, next(first), first, at(0), other)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}
