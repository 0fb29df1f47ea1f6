// Package oauthtest holds test helpers for pkg/oauth: the Store conformance
// suite every Store implementation passes.
package oauthtest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// t0 is the suite's clock: every time is a fixed offset from it, never the
// wall clock. Whole seconds, as the table stores.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// RunStoreTests runs the Store conformance suite. newStore returns a new,
// empty store for each subtest (for DynamoStore: a store on a new table).
func RunStoreTests(t *testing.T, newStore func(t *testing.T) oauth.Store) {
	t.Run("Pending", func(t *testing.T) { testPending(t, newStore) })
	t.Run("Connection", func(t *testing.T) { testConnection(t, newStore) })
	t.Run("Lease", func(t *testing.T) { testLease(t, newStore) })
	t.Run("Due", func(t *testing.T) { testDue(t, newStore) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, newStore) })
	t.Run("Rate", func(t *testing.T) { testRate(t, newStore) })
	t.Run("EndUser", func(t *testing.T) { testEndUser(t, newStore) })
}

func newPending(state string) *oauth.PendingAuth {
	return &oauth.PendingAuth{
		Key:         oauth.PendingKey(state),
		BindingHash: "binding-" + state,
		Verifier:    "sealed-verifier-" + state,
		ReturnTo:    "https://app.example.com/done",
		AppState:    "app-state-" + state,
		CreatedAt:   at(0),
		ExpiresAt:   at(10 * time.Minute),
	}
}

func newConnection(provider, account string) *oauth.Connection {
	return &oauth.Connection{
		Provider:         provider,
		AccountID:        account,
		AccessToken:      "sealed-access-" + account,
		RefreshToken:     "sealed-refresh-" + account,
		KeyID:            "k1",
		TokenType:        "bearer",
		Scope:            "ReadAccounts ReadMessages",
		AccessExpiresAt:  at(time.Hour),
		RefreshExpiresAt: at(7 * 24 * time.Hour),
		Status:           oauth.StatusActive,
		Version:          1,
		CreatedAt:        at(0),
		UpdatedAt:        at(0),
		LastRefreshAt:    at(0),
		RefreshAt:        at(5 * 24 * time.Hour),
		TTL:              at(14 * 24 * time.Hour),
	}
}

// diff lists the fields of two structs of the same type that differ; times
// compare with Equal.
func diff(got, want any) string {
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	if gv.Kind() == reflect.Pointer {
		if gv.IsNil() || wv.IsNil() {
			if gv.IsNil() == wv.IsNil() {
				return ""
			}
			return fmt.Sprintf("got %v, want %v", got, want)
		}
		gv, wv = gv.Elem(), wv.Elem()
	}
	var out []string
	for i := range gv.NumField() {
		name := gv.Type().Field(i).Name
		g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
		if gt, ok := g.(time.Time); ok {
			if wt := w.(time.Time); !gt.Equal(wt) || gt.IsZero() != wt.IsZero() {
				out = append(out, fmt.Sprintf("%s: got %v, want %v", name, gt, wt))
			}
			continue
		}
		if !reflect.DeepEqual(g, w) {
			out = append(out, fmt.Sprintf("%s: got %#v, want %#v", name, g, w))
		}
	}
	return strings.Join(out, "; ")
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func mustPutPending(t *testing.T, s oauth.Store, p *oauth.PendingAuth) {
	t.Helper()
	if err := s.PutPending(t.Context(), p); err != nil {
		t.Fatalf("PutPending(%s): %v", p.Key, err)
	}
}

func mustPutConnection(t *testing.T, s oauth.Store, c *oauth.Connection) {
	t.Helper()
	if _, err := s.PutConnection(t.Context(), c); err != nil {
		t.Fatalf("PutConnection(%s): %v", c.Key(), err)
	}
}

func mustGet(t *testing.T, s oauth.Store, provider, account string) *oauth.Connection {
	t.Helper()
	c, err := s.GetConnection(t.Context(), provider, account)
	if err != nil {
		t.Fatalf("GetConnection(%s, %s): %v", provider, account, err)
	}
	return c
}

func testPending(t *testing.T, newStore func(t *testing.T) oauth.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s oauth.Store)
	}{
		{"consume returns the record once", func(t *testing.T, s oauth.Store) {
			p := newPending("a")
			mustPutPending(t, s, p)
			got, err := s.ConsumePending(t.Context(), p.Key, []string{p.BindingHash}, at(time.Minute))
			if err != nil {
				t.Fatalf("ConsumePending: %v", err)
			}
			if d := diff(got, p); d != "" {
				t.Errorf("ConsumePending: %s", d)
			}
			_, err = s.ConsumePending(t.Context(), p.Key, []string{p.BindingHash}, at(time.Minute))
			wantErr(t, "replayed ConsumePending", err, oauth.ErrNotFound)
		}},
		{"consume one second before expiry", func(t *testing.T, s oauth.Store) {
			p := newPending("a")
			mustPutPending(t, s, p)
			if _, err := s.ConsumePending(t.Context(), p.Key, []string{p.BindingHash}, p.ExpiresAt.Add(-time.Second)); err != nil {
				t.Fatalf("ConsumePending: got %v, want success", err)
			}
		}},
		{"missing key", func(t *testing.T, s oauth.Store) {
			_, err := s.ConsumePending(t.Context(), oauth.PendingKey("never"), []string{"b"}, at(0))
			wantErr(t, "ConsumePending", err, oauth.ErrNotFound)
		}},
		{"expired is kept and stays expired", func(t *testing.T, s oauth.Store) {
			p := newPending("a")
			mustPutPending(t, s, p)
			for _, c := range []struct {
				now     time.Time
				binding string
			}{
				{p.ExpiresAt, p.BindingHash},                // at expiry: expired
				{p.ExpiresAt.Add(time.Hour), p.BindingHash}, // after: expired
				{p.ExpiresAt.Add(time.Hour), "other"},       // expiry is told before the binding
				{p.ExpiresAt, p.BindingHash},                // still there, still expired
			} {
				_, err := s.ConsumePending(t.Context(), p.Key, []string{c.binding}, c.now)
				wantErr(t, fmt.Sprintf("ConsumePending(now=%v, binding=%q)", c.now, c.binding), err, oauth.ErrPendingExpired)
			}
			// The record was never deleted: before its expiry it is consumable.
			got, err := s.ConsumePending(t.Context(), p.Key, []string{p.BindingHash}, at(0))
			if err != nil {
				t.Fatalf("ConsumePending before expiry: %v", err)
			}
			if d := diff(got, p); d != "" {
				t.Errorf("ConsumePending: %s", d)
			}
		}},
		{"binding mismatch keeps the record", func(t *testing.T, s oauth.Store) {
			p := newPending("a")
			mustPutPending(t, s, p)
			for _, b := range []string{"other", "", p.BindingHash + "x", strings.ToUpper(p.BindingHash)} {
				_, err := s.ConsumePending(t.Context(), p.Key, []string{b}, at(time.Minute))
				wantErr(t, fmt.Sprintf("ConsumePending(binding=%q)", b), err, oauth.ErrBindingMismatch)
			}
			got, err := s.ConsumePending(t.Context(), p.Key, []string{p.BindingHash}, at(time.Minute))
			if err != nil {
				t.Fatalf("ConsumePending with the right binding: %v", err)
			}
			if d := diff(got, p); d != "" {
				t.Errorf("ConsumePending: %s", d)
			}
			_, err = s.ConsumePending(t.Context(), p.Key, []string{p.BindingHash}, at(time.Minute))
			wantErr(t, "replayed ConsumePending", err, oauth.ErrNotFound)
		}},
		{"one of several bindings matches", func(t *testing.T, s oauth.Store) {
			p := newPending("a")
			mustPutPending(t, s, p)
			_, err := s.ConsumePending(t.Context(), p.Key, []string{"x", "y", "z"}, at(time.Minute))
			wantErr(t, "ConsumePending(no binding of three)", err, oauth.ErrBindingMismatch)
			got, err := s.ConsumePending(t.Context(), p.Key, []string{"x", p.BindingHash, "z"}, at(time.Minute))
			if err != nil {
				t.Fatalf("ConsumePending with the binding second of three: %v", err)
			}
			if got.BindingHash != p.BindingHash {
				t.Errorf("BindingHash = %q, want the matching %q", got.BindingHash, p.BindingHash)
			}
		}},
		{"duplicate put conflicts and keeps the first", func(t *testing.T, s oauth.Store) {
			p := newPending("a")
			mustPutPending(t, s, p)
			dup := newPending("a")
			dup.BindingHash, dup.Verifier = "attacker", "attacker-verifier"
			wantErr(t, "second PutPending", s.PutPending(t.Context(), dup), oauth.ErrConflict)
			got, err := s.ConsumePending(t.Context(), p.Key, []string{p.BindingHash}, at(time.Minute))
			if err != nil {
				t.Fatalf("ConsumePending: %v", err)
			}
			if d := diff(got, p); d != "" {
				t.Errorf("ConsumePending: %s", d)
			}
		}},
		{"put after consume", func(t *testing.T, s oauth.Store) {
			p := newPending("a")
			mustPutPending(t, s, p)
			if _, err := s.ConsumePending(t.Context(), p.Key, []string{p.BindingHash}, at(0)); err != nil {
				t.Fatalf("ConsumePending: %v", err)
			}
			mustPutPending(t, s, p)
		}},
		{"optional fields empty", func(t *testing.T, s oauth.Store) {
			p := newPending("a")
			p.ReturnTo, p.AppState, p.CreatedAt = "", "", time.Time{}
			mustPutPending(t, s, p)
			got, err := s.ConsumePending(t.Context(), p.Key, []string{p.BindingHash}, at(0))
			if err != nil {
				t.Fatalf("ConsumePending: %v", err)
			}
			if d := diff(got, p); d != "" {
				t.Errorf("ConsumePending: %s", d)
			}
		}},
		{"times are kept to the second", func(t *testing.T, s oauth.Store) {
			p := newPending("a")
			p.CreatedAt = at(900 * time.Millisecond)
			p.ExpiresAt = at(10*time.Minute + 900*time.Millisecond)
			mustPutPending(t, s, p)
			// Expired at the whole second: 10:00.9 is stored as 10:00.
			_, err := s.ConsumePending(t.Context(), p.Key, []string{p.BindingHash}, at(10*time.Minute))
			wantErr(t, "ConsumePending at the truncated expiry", err, oauth.ErrPendingExpired)
			got, err := s.ConsumePending(t.Context(), p.Key, []string{p.BindingHash}, at(0))
			if err != nil {
				t.Fatalf("ConsumePending: %v", err)
			}
			want := *p
			want.CreatedAt, want.ExpiresAt = at(0), at(10*time.Minute)
			if d := diff(got, &want); d != "" {
				t.Errorf("ConsumePending: %s", d)
			}
		}},
		{"distinct keys are independent", func(t *testing.T, s oauth.Store) {
			a, b := newPending("a"), newPending("b")
			mustPutPending(t, s, a)
			mustPutPending(t, s, b)
			_, err := s.ConsumePending(t.Context(), a.Key, []string{b.BindingHash}, at(0))
			wantErr(t, "ConsumePending(a, b's binding)", err, oauth.ErrBindingMismatch)
			for _, p := range []*oauth.PendingAuth{b, a} {
				got, err := s.ConsumePending(t.Context(), p.Key, []string{p.BindingHash}, at(0))
				if err != nil {
					t.Fatalf("ConsumePending(%s): %v", p.Key, err)
				}
				if d := diff(got, p); d != "" {
					t.Errorf("ConsumePending(%s): %s", p.Key, d)
				}
			}
		}},
		{"invalid records are refused", func(t *testing.T, s oauth.Store) {
			for _, mutate := range []func(p *oauth.PendingAuth){
				func(p *oauth.PendingAuth) { p.Key = "" },
				func(p *oauth.PendingAuth) { p.BindingHash = "" },
				func(p *oauth.PendingAuth) { p.ExpiresAt = time.Time{} },
			} {
				p := newPending("a")
				mutate(p)
				if err := s.PutPending(t.Context(), p); err == nil {
					t.Errorf("PutPending(%+v): got nil error, want one", p)
				}
			}
			_, err := s.ConsumePending(t.Context(), newPending("a").Key, []string{"b"}, at(0))
			wantErr(t, "ConsumePending after refused puts", err, oauth.ErrNotFound)
		}},
		{"no aliasing", func(t *testing.T, s oauth.Store) {
			p := newPending("a")
			want := *p
			mustPutPending(t, s, p)
			p.Verifier, p.BindingHash = "changed", "changed"
			got, err := s.ConsumePending(t.Context(), want.Key, []string{want.BindingHash}, at(0))
			if err != nil {
				t.Fatalf("ConsumePending: %v", err)
			}
			if d := diff(got, &want); d != "" {
				t.Errorf("ConsumePending after changing the caller's copy: %s", d)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}

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
			replaced, err := s.PutConnection(t.Context(), newConnection("rc", "1"))
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

func testLease(t *testing.T, newStore func(t *testing.T) oauth.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s oauth.Store)
	}{
		{"acquire sets the lease and returns the connection", func(t *testing.T, s oauth.Store) {
			c := newConnection("rc", "1")
			mustPutConnection(t, s, c)
			got, err := s.AcquireLease(t.Context(), "rc", "1", c.Version, "sweep-1", at(0), at(time.Minute))
			if err != nil {
				t.Fatalf("AcquireLease: %v", err)
			}
			want := *c
			want.LeaseOwner, want.LeaseUntil = "sweep-1", at(time.Minute)
			if d := diff(got, &want); d != "" {
				t.Errorf("AcquireLease: %s", d)
			}
			if d := diff(mustGet(t, s, "rc", "1"), &want); d != "" {
				t.Errorf("GetConnection: %s", d)
			}
		}},
		{"stale version conflicts", func(t *testing.T, s oauth.Store) {
			c := newConnection("rc", "1")
			mustPutConnection(t, s, c)
			for _, v := range []int64{c.Version - 1, c.Version + 1} {
				_, err := s.AcquireLease(t.Context(), "rc", "1", v, "sweep-1", at(0), at(time.Minute))
				wantErr(t, fmt.Sprintf("AcquireLease(version %d)", v), err, oauth.ErrConflict)
			}
			if d := diff(mustGet(t, s, "rc", "1"), c); d != "" {
				t.Errorf("GetConnection after lost leases: %s", d)
			}
		}},
		{"missing connection", func(t *testing.T, s oauth.Store) {
			_, err := s.AcquireLease(t.Context(), "rc", "404", 1, "sweep-1", at(0), at(time.Minute))
			wantErr(t, "AcquireLease", err, oauth.ErrNotFound)
			_, err = s.GetConnection(t.Context(), "rc", "404")
			wantErr(t, "GetConnection after AcquireLease", err, oauth.ErrNotFound)
		}},
		{"deleted connection", func(t *testing.T, s oauth.Store) {
			c := newConnection("rc", "1")
			mustPutConnection(t, s, c)
			if err := s.DeleteConnection(t.Context(), "rc", "1"); err != nil {
				t.Fatal(err)
			}
			_, err := s.AcquireLease(t.Context(), "rc", "1", c.Version, "sweep-1", at(0), at(time.Minute))
			wantErr(t, "AcquireLease", err, oauth.ErrNotFound)
		}},
		{"live lease blocks everyone until it ends", func(t *testing.T, s oauth.Store) {
			c := newConnection("rc", "1")
			mustPutConnection(t, s, c)
			if _, err := s.AcquireLease(t.Context(), "rc", "1", c.Version, "sweep-1", at(0), at(time.Minute)); err != nil {
				t.Fatalf("AcquireLease: %v", err)
			}
			for _, x := range []struct {
				owner string
				now   time.Time
			}{
				{"sweep-2", at(0)},
				{"sweep-2", at(59 * time.Second)},
				{"sweep-1", at(30 * time.Second)}, // not re-entrant
			} {
				_, err := s.AcquireLease(t.Context(), "rc", "1", c.Version, x.owner, x.now, x.now.Add(time.Minute))
				wantErr(t, fmt.Sprintf("AcquireLease(%s at %v)", x.owner, x.now), err, oauth.ErrConflict)
			}
			if got := mustGet(t, s, "rc", "1"); got.LeaseOwner != "sweep-1" || !got.LeaseUntil.Equal(at(time.Minute)) {
				t.Errorf("lease: got %q until %v, want sweep-1 until %v", got.LeaseOwner, got.LeaseUntil, at(time.Minute))
			}
		}},
		{"expired lease is taken over", func(t *testing.T, s oauth.Store) {
			for _, now := range []time.Time{at(time.Minute), at(time.Hour)} {
				t.Run(now.Format(time.TimeOnly), func(t *testing.T) {
					s := newStore(t)
					c := newConnection("rc", "1")
					mustPutConnection(t, s, c)
					if _, err := s.AcquireLease(t.Context(), "rc", "1", c.Version, "sweep-1", at(0), at(time.Minute)); err != nil {
						t.Fatalf("AcquireLease: %v", err)
					}
					got, err := s.AcquireLease(t.Context(), "rc", "1", c.Version, "sweep-2", now, now.Add(time.Minute))
					if err != nil {
						t.Fatalf("AcquireLease after the lease ended: %v", err)
					}
					if got.LeaseOwner != "sweep-2" || !got.LeaseUntil.Equal(now.Add(time.Minute)) {
						t.Errorf("lease: got %q until %v, want sweep-2 until %v", got.LeaseOwner, got.LeaseUntil, now.Add(time.Minute))
					}
					// The first owner can no longer complete.
					wantErr(t, "CompleteLease by the old owner", s.CompleteLease(t.Context(), got, "sweep-1"), oauth.ErrConflict)
				})
			}
		}},
		{"complete writes, bumps version and clears the lease", func(t *testing.T, s oauth.Store) {
			c := newConnection("rc", "1")
			c.Failures, c.LastError = 3, "timeout"
			mustPutConnection(t, s, c)
			leased, err := s.AcquireLease(t.Context(), "rc", "1", c.Version, "sweep-1", at(0), at(time.Minute))
			if err != nil {
				t.Fatalf("AcquireLease: %v", err)
			}
			next := *leased
			next.AccessToken, next.RefreshToken, next.KeyID = "sealed-access-2", "sealed-refresh-2", "k2"
			next.TokenType, next.Scope = "Bearer", "ReadAccounts"
			next.AccessExpiresAt, next.RefreshExpiresAt = at(2*time.Hour), at(8*24*time.Hour)
			next.Failures, next.LastError = 0, ""
			next.UpdatedAt, next.LastRefreshAt = at(10*time.Second), at(10*time.Second)
			next.RefreshAt, next.TTL = at(6*24*time.Hour), at(15*24*time.Hour)
			next.CreatedAt = at(time.Hour) // not a mutable field: ignored
			if err := s.CompleteLease(t.Context(), &next, "sweep-1"); err != nil {
				t.Fatalf("CompleteLease: %v", err)
			}
			if next.Version != c.Version+1 || next.LeaseOwner != "" || !next.LeaseUntil.IsZero() {
				t.Errorf("CompleteLease's argument: got version %d, lease %q until %v; want version %d and no lease",
					next.Version, next.LeaseOwner, next.LeaseUntil, c.Version+1)
			}
			want := next
			want.CreatedAt = c.CreatedAt
			if d := diff(mustGet(t, s, "rc", "1"), &want); d != "" {
				t.Errorf("GetConnection: %s", d)
			}
			wantErr(t, "second CompleteLease", s.CompleteLease(t.Context(), &next, "sweep-1"), oauth.ErrConflict)
			_, err = s.AcquireLease(t.Context(), "rc", "1", c.Version, "sweep-2", at(20*time.Second), at(time.Minute))
			wantErr(t, "AcquireLease with the old version", err, oauth.ErrConflict)
			if _, err := s.AcquireLease(t.Context(), "rc", "1", c.Version+1, "sweep-2", at(20*time.Second), at(time.Minute)); err != nil {
				t.Errorf("AcquireLease with the new version: %v", err)
			}
		}},
		{"complete by another owner conflicts", func(t *testing.T, s oauth.Store) {
			c := newConnection("rc", "1")
			mustPutConnection(t, s, c)
			leased, err := s.AcquireLease(t.Context(), "rc", "1", c.Version, "sweep-1", at(0), at(time.Minute))
			if err != nil {
				t.Fatalf("AcquireLease: %v", err)
			}
			next := *leased
			next.AccessToken = "sealed-by-intruder"
			wantErr(t, "CompleteLease", s.CompleteLease(t.Context(), &next, "sweep-2"), oauth.ErrConflict)
			if next.Version != c.Version {
				t.Errorf("failed CompleteLease changed its argument's version: got %d, want %d", next.Version, c.Version)
			}
			if d := diff(mustGet(t, s, "rc", "1"), leased); d != "" {
				t.Errorf("GetConnection after the failed complete: %s", d)
			}
		}},
		{"complete without a lease conflicts", func(t *testing.T, s oauth.Store) {
			c := newConnection("rc", "1")
			mustPutConnection(t, s, c)
			next := *c
			next.AccessToken = "sealed-2"
			wantErr(t, "CompleteLease", s.CompleteLease(t.Context(), &next, "sweep-1"), oauth.ErrConflict)
			if d := diff(mustGet(t, s, "rc", "1"), c); d != "" {
				t.Errorf("GetConnection: %s", d)
			}
		}},
		{"complete on a missing connection conflicts and creates nothing", func(t *testing.T, s oauth.Store) {
			c := newConnection("rc", "404")
			wantErr(t, "CompleteLease", s.CompleteLease(t.Context(), c, "sweep-1"), oauth.ErrConflict)
			_, err := s.GetConnection(t.Context(), "rc", "404")
			wantErr(t, "GetConnection", err, oauth.ErrNotFound)
		}},
		{"reauth removes tokens and leaves the index", func(t *testing.T, s oauth.Store) {
			c := newConnection("rc", "1")
			mustPutConnection(t, s, c)
			leased, err := s.AcquireLease(t.Context(), "rc", "1", c.Version, "sweep-1", at(0), at(time.Minute))
			if err != nil {
				t.Fatalf("AcquireLease: %v", err)
			}
			next := *leased
			next.Status, next.LastError = oauth.StatusReauthRequired, "invalid_grant"
			next.AccessToken, next.RefreshToken, next.KeyID = "", "", ""
			next.AccessExpiresAt, next.RefreshExpiresAt, next.RefreshAt = time.Time{}, time.Time{}, time.Time{}
			if err := s.CompleteLease(t.Context(), &next, "sweep-1"); err != nil {
				t.Fatalf("CompleteLease: %v", err)
			}
			got := mustGet(t, s, "rc", "1")
			if d := diff(got, &next); d != "" {
				t.Errorf("GetConnection: %s", d)
			}
			if got.AccessToken != "" || got.RefreshToken != "" {
				t.Errorf("tokens after reauth_required: got %q, %q, want none", got.AccessToken, got.RefreshToken)
			}
			if e := queryAll(t, s, oauth.ShardOf(c.Key()), at(1000*24*time.Hour)); len(e) != 0 {
				t.Errorf("QueryDue after reauth_required: got %+v, want nothing", e)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}

// accountsInShard returns n account ids of provider whose connections land
// in shard.
func accountsInShard(provider string, shard, n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		a := fmt.Sprintf("acct-%d", i)
		if oauth.ShardOf(oauth.ConnectionKey(provider, a)) == shard {
			out = append(out, a)
		}
	}
	return out
}

func queryAll(t *testing.T, s oauth.Store, shard int, before time.Time) []oauth.DueEntry {
	t.Helper()
	e, err := s.QueryDue(t.Context(), shard, before, 1000)
	if err != nil {
		t.Fatalf("QueryDue(%d): %v", shard, err)
	}
	return e
}

// dueAccounts is QueryDue as a list of account ids.
func dueAccounts(t *testing.T, s oauth.Store, shard int, before time.Time, limit int) []string {
	t.Helper()
	e, err := s.QueryDue(t.Context(), shard, before, limit)
	if err != nil {
		t.Fatalf("QueryDue(%d, %v, %d): %v", shard, before, limit, err)
	}
	out := []string{}
	for _, x := range e {
		out = append(out, x.AccountID)
	}
	return out
}

func testDue(t *testing.T, newStore func(t *testing.T) oauth.Store) {
	const shard = 3
	acct := accountsInShard("rc", shard, 5)
	put := func(t *testing.T, s oauth.Store, account string, refreshAt time.Time) *oauth.Connection {
		t.Helper()
		c := newConnection("rc", account)
		c.RefreshAt = refreshAt
		mustPutConnection(t, s, c)
		return c
	}
	far := at(1000 * 24 * time.Hour)
	tests := []struct {
		name string
		run  func(t *testing.T, s oauth.Store)
	}{
		{"entry fields", func(t *testing.T, s oauth.Store) {
			c := put(t, s, acct[0], at(time.Hour))
			got := queryAll(t, s, shard, far)
			want := oauth.DueEntry{Key: c.Key(), Provider: "rc", AccountID: acct[0], RefreshAt: at(time.Hour),
				RefreshExpiresAt: c.RefreshExpiresAt, Version: c.Version}
			if len(got) != 1 {
				t.Fatalf("QueryDue: got %+v, want [%+v]", got, want)
			}
			if d := diff(got[0], want); d != "" {
				t.Errorf("QueryDue: %s", d)
			}
		}},
		{"zero RefreshAt is not in the index", func(t *testing.T, s oauth.Store) {
			put(t, s, acct[0], time.Time{})
			put(t, s, acct[1], at(time.Hour))
			for i := range oauth.DueShards {
				got := dueAccounts(t, s, i, far, 100)
				want := []string{}
				if i == shard {
					want = []string{acct[1]}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("QueryDue(shard %d): got %v, want %v", i, got, want)
				}
			}
		}},
		{"each connection is in its own shard only", func(t *testing.T, s oauth.Store) {
			want := map[int][]string{}
			for i := range 40 {
				a := fmt.Sprintf("spread-%02d", i)
				put(t, s, a, at(time.Duration(i)*time.Minute))
				sh := oauth.ShardOf(oauth.ConnectionKey("rc", a))
				want[sh] = append(want[sh], a)
			}
			for i := range oauth.DueShards {
				got := dueAccounts(t, s, i, far, 100)
				w := want[i]
				if w == nil {
					w = []string{}
				}
				if !reflect.DeepEqual(got, w) {
					t.Errorf("QueryDue(shard %d): got %v, want %v", i, got, w)
				}
			}
		}},
		{"earliest first", func(t *testing.T, s oauth.Store) {
			put(t, s, acct[0], at(3*time.Hour))
			put(t, s, acct[1], at(1*time.Hour))
			put(t, s, acct[2], at(5*time.Hour))
			put(t, s, acct[3], at(2*time.Hour))
			got := dueAccounts(t, s, shard, far, 100)
			if want := []string{acct[1], acct[3], acct[0], acct[2]}; !reflect.DeepEqual(got, want) {
				t.Errorf("QueryDue: got %v, want %v", got, want)
			}
		}},
		{"limit", func(t *testing.T, s oauth.Store) {
			for i, a := range acct {
				put(t, s, a, at(time.Duration(5-i)*time.Hour))
			}
			for _, x := range []struct {
				limit int
				want  []string
			}{
				{1, []string{acct[4]}},
				{2, []string{acct[4], acct[3]}},
				{5, []string{acct[4], acct[3], acct[2], acct[1], acct[0]}},
				{6, []string{acct[4], acct[3], acct[2], acct[1], acct[0]}},
			} {
				if got := dueAccounts(t, s, shard, far, x.limit); !reflect.DeepEqual(got, x.want) {
					t.Errorf("QueryDue(limit %d): got %v, want %v", x.limit, got, x.want)
				}
			}
		}},
		{"before bound is inclusive", func(t *testing.T, s oauth.Store) {
			put(t, s, acct[0], at(time.Hour))
			put(t, s, acct[1], at(2*time.Hour))
			for _, x := range []struct {
				before time.Time
				want   []string
			}{
				{at(time.Hour - time.Second), []string{}},
				{at(time.Hour), []string{acct[0]}},
				{at(time.Hour + 999*time.Millisecond), []string{acct[0]}},
				{at(2*time.Hour - time.Second), []string{acct[0]}},
				{at(2 * time.Hour), []string{acct[0], acct[1]}},
			} {
				if got := dueAccounts(t, s, shard, x.before, 100); !reflect.DeepEqual(got, x.want) {
					t.Errorf("QueryDue(before %v): got %v, want %v", x.before, got, x.want)
				}
			}
		}},
		{"moving RefreshAt through CompleteLease", func(t *testing.T, s oauth.Store) {
			put(t, s, acct[0], at(time.Hour))
			b := put(t, s, acct[1], at(2*time.Hour))
			complete := func(refreshAt time.Time) {
				t.Helper()
				leased, err := s.AcquireLease(t.Context(), "rc", b.AccountID, b.Version, "sweep", at(0), at(time.Minute))
				if err != nil {
					t.Fatalf("AcquireLease: %v", err)
				}
				leased.RefreshAt = refreshAt
				if err := s.CompleteLease(t.Context(), leased, "sweep"); err != nil {
					t.Fatalf("CompleteLease: %v", err)
				}
				b = leased
			}
			complete(at(30 * time.Minute)) // earlier
			if got, want := dueAccounts(t, s, shard, far, 100), []string{acct[1], acct[0]}; !reflect.DeepEqual(got, want) {
				t.Errorf("after moving earlier: got %v, want %v", got, want)
			}
			complete(at(3 * time.Hour)) // later
			if got, want := dueAccounts(t, s, shard, at(2*time.Hour), 100), []string{acct[0]}; !reflect.DeepEqual(got, want) {
				t.Errorf("after moving later: got %v, want %v", got, want)
			}
			complete(time.Time{}) // out
			if got, want := dueAccounts(t, s, shard, far, 100), []string{acct[0]}; !reflect.DeepEqual(got, want) {
				t.Errorf("after clearing: got %v, want %v", got, want)
			}
			complete(at(time.Minute)) // back in
			if got, want := dueAccounts(t, s, shard, far, 100), []string{acct[1], acct[0]}; !reflect.DeepEqual(got, want) {
				t.Errorf("after setting again: got %v, want %v", got, want)
			}
		}},
		{"moving RefreshAt through PutConnection", func(t *testing.T, s oauth.Store) {
			put(t, s, acct[0], at(time.Hour))
			put(t, s, acct[1], at(2*time.Hour))
			put(t, s, acct[1], at(30*time.Minute))
			if got, want := dueAccounts(t, s, shard, far, 100), []string{acct[1], acct[0]}; !reflect.DeepEqual(got, want) {
				t.Errorf("after moving earlier: got %v, want %v", got, want)
			}
			put(t, s, acct[1], time.Time{})
			if got, want := dueAccounts(t, s, shard, far, 100), []string{acct[0]}; !reflect.DeepEqual(got, want) {
				t.Errorf("after clearing: got %v, want %v", got, want)
			}
		}},
		{"deleted connections leave the index", func(t *testing.T, s oauth.Store) {
			put(t, s, acct[0], at(time.Hour))
			if err := s.DeleteConnection(t.Context(), "rc", acct[0]); err != nil {
				t.Fatal(err)
			}
			if got := dueAccounts(t, s, shard, far, 100); len(got) != 0 {
				t.Errorf("QueryDue after delete: got %v, want nothing", got)
			}
		}},
		{"pending records are not in the index", func(t *testing.T, s oauth.Store) {
			mustPutPending(t, s, newPending("a"))
			for i := range oauth.DueShards {
				if got := dueAccounts(t, s, i, far, 100); len(got) != 0 {
					t.Errorf("QueryDue(shard %d): got %v, want nothing", i, got)
				}
			}
		}},
		{"invalid arguments", func(t *testing.T, s oauth.Store) {
			for _, x := range []struct{ shard, limit int }{{-1, 10}, {oauth.DueShards, 10}, {0, 0}, {0, -1}} {
				if _, err := s.QueryDue(t.Context(), x.shard, far, x.limit); err == nil {
					t.Errorf("QueryDue(shard %d, limit %d): got nil error, want one", x.shard, x.limit)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}

func testConcurrency(t *testing.T, newStore func(t *testing.T) oauth.Store) {
	const n = 16
	// race runs f in n goroutines released together and returns their errors.
	race := func(f func(i int) error) []error {
		errs := make([]error, n)
		var ready, done sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			ready.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				ready.Done()
				<-start
				errs[i] = f(i)
			}()
		}
		ready.Wait()
		close(start)
		done.Wait()
		return errs
	}
	// oneWinner checks that exactly one call succeeded and every other lost
	// with loss, and returns the winner.
	oneWinner := func(t *testing.T, errs []error, loss error) int {
		t.Helper()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("goroutines %d and %d both won", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, loss):
				t.Errorf("goroutine %d: got error %v, want %v", i, err, loss)
			}
		}
		if winner < 0 {
			t.Fatalf("no goroutine won")
		}
		return winner
	}

	t.Run("ConsumePending has one winner", func(t *testing.T) {
		s := newStore(t)
		for round := range 3 {
			p := newPending(fmt.Sprintf("race-%d", round))
			mustPutPending(t, s, p)
			got := make([]*oauth.PendingAuth, n)
			errs := race(func(i int) error {
				var err error
				got[i], err = s.ConsumePending(t.Context(), p.Key, []string{p.BindingHash}, at(0))
				return err
			})
			w := oneWinner(t, errs, oauth.ErrNotFound)
			if d := diff(got[w], p); d != "" {
				t.Errorf("winner's record: %s", d)
			}
		}
	})
	t.Run("PutPending has one winner", func(t *testing.T) {
		s := newStore(t)
		errs := race(func(i int) error {
			p := newPending("race")
			p.BindingHash = fmt.Sprintf("binding-%d", i)
			return s.PutPending(t.Context(), p)
		})
		w := oneWinner(t, errs, oauth.ErrConflict)
		p := newPending("race")
		if _, err := s.ConsumePending(t.Context(), p.Key, []string{fmt.Sprintf("binding-%d", w)}, at(0)); err != nil {
			t.Errorf("ConsumePending with the winner's binding: %v", err)
		}
	})
	t.Run("AcquireLease has one winner", func(t *testing.T) {
		s := newStore(t)
		c := newConnection("rc", "1")
		mustPutConnection(t, s, c)
		for round := range 3 {
			owner := func(i int) string { return fmt.Sprintf("sweep-%d-%d", round, i) }
			errs := race(func(i int) error {
				_, err := s.AcquireLease(t.Context(), "rc", "1", c.Version, owner(i), at(0), at(time.Minute))
				return err
			})
			w := oneWinner(t, errs, oauth.ErrConflict)
			got := mustGet(t, s, "rc", "1")
			if got.LeaseOwner != owner(w) {
				t.Errorf("lease owner: got %q, want the winner %q", got.LeaseOwner, owner(w))
			}
			// Everyone then tries to complete; only the winner can.
			errs = race(func(i int) error {
				next := *got
				return s.CompleteLease(t.Context(), &next, owner(i))
			})
			if cw := oneWinner(t, errs, oauth.ErrConflict); cw != w {
				t.Errorf("CompleteLease won by %d, want the lease holder %d", cw, w)
			}
			c = mustGet(t, s, "rc", "1")
		}
		if c.Version != 4 {
			t.Errorf("version after 3 rounds: got %d, want 4", c.Version)
		}
	})
}

func testRate(t *testing.T, newStore func(t *testing.T) oauth.Store) {
	const interval = 12 * time.Second
	reserve := func(t *testing.T, s oauth.Store, provider string, now time.Time) time.Time {
		t.Helper()
		retry, err := s.ReserveTokenCall(t.Context(), provider, now, interval)
		if err != nil {
			t.Fatalf("ReserveTokenCall(%s, %v): %v", provider, now, err)
		}
		return retry
	}
	tests := []struct {
		name string
		run  func(t *testing.T, s oauth.Store)
	}{
		{"slots are interval apart", func(t *testing.T, s oauth.Store) {
			for _, x := range []struct {
				now  time.Duration
				want time.Time // zero: go
			}{
				{0, time.Time{}},
				{0, at(interval)},
				{11*time.Second + 999*time.Millisecond, at(interval)},
				{interval, time.Time{}},
				{interval + time.Second, at(2*interval + 0)},
				{time.Hour, time.Time{}}, // idle time builds no burst
				{time.Hour + time.Millisecond, at(time.Hour + interval)},
			} {
				if got := reserve(t, s, "rc", at(x.now)); !got.Equal(x.want) {
					t.Errorf("ReserveTokenCall at +%v: got %v, want %v", x.now, got, x.want)
				}
			}
		}},
		{"providers are independent", func(t *testing.T, s oauth.Store) {
			if got := reserve(t, s, "rc", at(0)); !got.IsZero() {
				t.Fatalf("rc: got %v, want go", got)
			}
			if got := reserve(t, s, "generic", at(0)); !got.IsZero() {
				t.Errorf("generic after rc: got %v, want go", got)
			}
		}},
		{"pause holds every reserver and only extends", func(t *testing.T, s oauth.Store) {
			if err := s.PauseTokenCalls(t.Context(), "rc", at(time.Minute)); err != nil {
				t.Fatalf("PauseTokenCalls: %v", err)
			}
			if err := s.PauseTokenCalls(t.Context(), "rc", at(30*time.Second)); err != nil {
				t.Fatalf("PauseTokenCalls (shorter): %v", err)
			}
			for _, now := range []time.Duration{0, 59 * time.Second} {
				if got := reserve(t, s, "rc", at(now)); !got.Equal(at(time.Minute)) {
					t.Errorf("ReserveTokenCall at +%v: got %v, want %v", now, got, at(time.Minute))
				}
			}
			if got := reserve(t, s, "rc", at(time.Minute)); !got.IsZero() {
				t.Errorf("ReserveTokenCall when the pause ends: got %v, want go", got)
			}
		}},
		{"milliseconds", func(t *testing.T, s oauth.Store) {
			now := at(1500 * time.Millisecond)
			if _, err := s.ReserveTokenCall(t.Context(), "rc", now, 250*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			got, err := s.ReserveTokenCall(t.Context(), "rc", now, 250*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if want := at(1750 * time.Millisecond); !got.Equal(want) {
				t.Errorf("retry: got %v, want %v", got, want)
			}
		}},
		{"rate items are not connections", func(t *testing.T, s oauth.Store) {
			reserve(t, s, "rc", at(0))
			if err := s.PauseTokenCalls(t.Context(), "rc", at(time.Minute)); err != nil {
				t.Fatal(err)
			}
			cs, err := s.ListConnections(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) != 0 {
				t.Errorf("ListConnections: got %d connections, want none", len(cs))
			}
		}},
		{"invalid arguments", func(t *testing.T, s oauth.Store) {
			if _, err := s.ReserveTokenCall(t.Context(), "", at(0), interval); err == nil {
				t.Error("ReserveTokenCall with empty provider: got nil error")
			}
			if _, err := s.ReserveTokenCall(t.Context(), "rc", at(0), 0); err == nil {
				t.Error("ReserveTokenCall with zero interval: got nil error")
			}
			if err := s.PauseTokenCalls(t.Context(), "", at(0)); err == nil {
				t.Error("PauseTokenCalls with empty provider: got nil error")
			}
		}},
		{"one winner per slot", func(t *testing.T, s oauth.Store) {
			const n = 16
			for round := range 3 {
				now := at(time.Duration(round) * interval)
				var wg sync.WaitGroup
				got := make([]time.Time, n)
				errs := make([]error, n)
				start := make(chan struct{})
				for i := range n {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						got[i], errs[i] = s.ReserveTokenCall(t.Context(), "rc", now, interval)
					}()
				}
				close(start)
				wg.Wait()
				winners := 0
				for i := range n {
					switch {
					case errs[i] != nil:
						t.Errorf("round %d, reserver %d: %v", round, i, errs[i])
					case got[i].IsZero():
						winners++
					case !got[i].Equal(now.Add(interval)):
						t.Errorf("round %d, reserver %d: retry at %v, want %v", round, i, got[i], now.Add(interval))
					}
				}
				if winners != 1 {
					t.Errorf("round %d: %d reservers won the slot, want 1", round, winners)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}
