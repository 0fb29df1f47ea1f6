package oauthtest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// Connections: put (returning the replaced one), get, delete, list.

func testConnection(t *testing.T, newStore func(t *testing.T) oauth.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s oauth.Store)
	}{
		{"get missing", func(t *testing.T, s oauth.Store) {
			_, err := s.GetConnection(t.Context(), "rc", "404")
			wantErr(t, "GetConnection", err, oauth.ErrNotFound)
		}},
		{"put new returns nil and get returns it", func(t *testing.T, s oauth.Store) {
			c := newConnection("rc", "1")
			replaced, err := s.PutConnection(t.Context(), c)
			if err != nil {
				t.Fatalf("PutConnection: %v", err)
			}
			if replaced != nil {
				t.Errorf("PutConnection: got replaced %+v, want nil", replaced)
			}
			if d := diff(mustGet(t, s, "rc", "1"), c); d != "" {
				t.Errorf("GetConnection: %s", d)
			}
		}},
		{"put returns the replaced connection", func(t *testing.T, s oauth.Store) {
			first := newConnection("rc", "1")
			first.LeaseOwner, first.LeaseUntil = "sweep-1", at(time.Minute)
			first.Failures, first.LastError = 2, "timeout"
			mustPutConnection(t, s, first)
			second := newConnection("rc", "1")
			second.AccessToken, second.RefreshToken, second.Version = "sealed-access-2", "sealed-refresh-2", 7
			replaced, err := s.PutConnection(t.Context(), second)
			if err != nil {
				t.Fatalf("PutConnection: %v", err)
			}
			if d := diff(replaced, first); d != "" {
				t.Errorf("replaced: %s", d)
			}
			if d := diff(mustGet(t, s, "rc", "1"), second); d != "" {
				t.Errorf("GetConnection: %s", d)
			}
		}},
		{"the very same put again replaces nothing (a retried request)", func(t *testing.T, s oauth.Store) {
			c := newConnection("rc", "1")
			mustPutConnection(t, s, c)
			again := *c
			old, err := s.PutConnection(t.Context(), &again)
			if err != nil || old != nil {
				t.Fatalf("PutConnection of the same connection again: got %+v, %v; want nil, nil (not itself as replaced)", old, err)
			}
			if d := diff(mustGet(t, s, "rc", "1"), c); d != "" {
				t.Errorf("GetConnection: %s", d)
			}
		}},
		{"optional fields empty", func(t *testing.T, s oauth.Store) {
			c := &oauth.Connection{Provider: "rc", AccountID: "1", AccessToken: "sealed", Status: oauth.StatusActive}
			mustPutConnection(t, s, c)
			if d := diff(mustGet(t, s, "rc", "1"), c); d != "" {
				t.Errorf("GetConnection: %s", d)
			}
		}},
		{"times are kept to the second", func(t *testing.T, s oauth.Store) {
			c := newConnection("rc", "1")
			c.AccessExpiresAt = at(time.Hour + 999*time.Millisecond)
			c.RefreshAt = at(time.Hour + time.Nanosecond)
			mustPutConnection(t, s, c)
			want := *c
			want.AccessExpiresAt, want.RefreshAt = at(time.Hour), at(time.Hour)
			if d := diff(mustGet(t, s, "rc", "1"), &want); d != "" {
				t.Errorf("GetConnection: %s", d)
			}
		}},
		{"providers and accounts are distinct keys", func(t *testing.T, s oauth.Store) {
			a, b, c := newConnection("rc", "1"), newConnection("rc", "2"), newConnection("other", "1")
			b.Scope, c.Scope = "b", "c"
			for _, x := range []*oauth.Connection{a, b, c} {
				mustPutConnection(t, s, x)
			}
			for _, x := range []*oauth.Connection{a, b, c} {
				if d := diff(mustGet(t, s, x.Provider, x.AccountID), x); d != "" {
					t.Errorf("GetConnection(%s): %s", x.Key(), d)
				}
			}
		}},
		{"delete", func(t *testing.T, s oauth.Store) {
			mustPutConnection(t, s, newConnection("rc", "1"))
			mustPutConnection(t, s, newConnection("rc", "2"))
			if err := s.DeleteConnection(t.Context(), "rc", "1"); err != nil {
				t.Fatalf("DeleteConnection: %v", err)
			}
			_, err := s.GetConnection(t.Context(), "rc", "1")
			wantErr(t, "GetConnection after delete", err, oauth.ErrNotFound)
			mustGet(t, s, "rc", "2")
			if err := s.DeleteConnection(t.Context(), "rc", "1"); err != nil {
				t.Errorf("DeleteConnection of a missing connection: got %v, want nil", err)
			}
		}},
		{"list empty", func(t *testing.T, s oauth.Store) {
			got, err := s.ListConnections(t.Context())
			if err != nil {
				t.Fatalf("ListConnections: %v", err)
			}
			if len(got) != 0 {
				t.Errorf("ListConnections: got %d connections, want 0", len(got))
			}
		}},
		{"list returns connections only, by key", func(t *testing.T, s oauth.Store) {
			want := []*oauth.Connection{newConnection("a", "2"), newConnection("b", "1"), newConnection("rc", "1")}
			for _, i := range []int{2, 0, 1} {
				mustPutConnection(t, s, want[i])
			}
			mustPutPending(t, s, newPending("not a connection"))
			got, err := s.ListConnections(t.Context())
			if err != nil {
				t.Fatalf("ListConnections: %v", err)
			}
			if len(got) != len(want) {
				t.Fatalf("ListConnections: got %d connections, want %d", len(got), len(want))
			}
			for i := range want {
				if d := diff(got[i], want[i]); d != "" {
					t.Errorf("ListConnections[%d]: %s", i, d)
				}
			}
		}},
		{"list pages through many", func(t *testing.T, s oauth.Store) {
			// Large tokens make the table bigger than one 1 MB Scan page.
			big := strings.Repeat("x", 100<<10)
			const n = 15
			for i := range n {
				c := newConnection("rc", fmt.Sprintf("%03d", i))
				c.AccessToken, c.RefreshToken = big, big
				mustPutConnection(t, s, c)
			}
			got, err := s.ListConnections(t.Context())
			if err != nil {
				t.Fatalf("ListConnections: %v", err)
			}
			if len(got) != n {
				t.Fatalf("ListConnections: got %d connections, want %d", len(got), n)
			}
			for i, c := range got {
				if want := fmt.Sprintf("%03d", i); c.AccountID != want || c.AccessToken != big {
					t.Errorf("ListConnections[%d]: got account %q (token %d bytes), want %q", i, c.AccountID, len(c.AccessToken), want)
				}
			}
		}},
		{"invalid connections are refused", func(t *testing.T, s oauth.Store) {
			for _, c := range []*oauth.Connection{newConnection("", "1"), newConnection("rc", "")} {
				if _, err := s.PutConnection(t.Context(), c); err == nil {
					t.Errorf("PutConnection(%q, %q): got nil error, want one", c.Provider, c.AccountID)
				}
			}
		}},
		{"no aliasing", func(t *testing.T, s oauth.Store) {
			c := newConnection("rc", "1")
			want := *c
			mustPutConnection(t, s, c)
			c.AccessToken, c.Version = "changed", 99
			got := mustGet(t, s, "rc", "1")
			got.AccessToken, got.Status = "changed again", oauth.StatusRevoked
			list, err := s.ListConnections(t.Context())
			if err != nil {
				t.Fatalf("ListConnections: %v", err)
			}
			list[0].RefreshToken = "changed too"
			next := newConnection("rc", "1")
			next.AccessToken = "sealed-access-2" // not the same put again
			replaced, err := s.PutConnection(t.Context(), next)
			if err != nil {
				t.Fatalf("PutConnection: %v", err)
			}
			if d := diff(replaced, &want); d != "" {
				t.Errorf("after changing the caller's copies: %s", d)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}
