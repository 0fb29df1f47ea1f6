package oauthtest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// Pending authorizations: put, consume once, the causes of a refusal.

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
		{"a BFF sign-in keeps its mark, an app's has none", func(t *testing.T, s oauth.Store) {
			p := newPending("a")
			p.BFF = true
			mustPutPending(t, s, p)
			q := newPending("b")
			mustPutPending(t, s, q)
			for _, want := range []*oauth.PendingAuth{p, q} {
				got, err := s.ConsumePending(t.Context(), want.Key, []string{want.BindingHash}, at(time.Minute))
				if err != nil {
					t.Fatalf("ConsumePending: %v", err)
				}
				if d := diff(got, want); d != "" {
					t.Errorf("ConsumePending: %s", d)
				}
			}
		}},
		{"a retried BFF put is the same put", func(t *testing.T, s oauth.Store) {
			p := newPending("a")
			p.BFF = true
			mustPutPending(t, s, p)
			if err := s.PutPending(t.Context(), p); err != nil {
				t.Errorf("PutPending again: %v, want success (a retry)", err)
			}
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
		{"the very same put again succeeds (a retried request)", func(t *testing.T, s oauth.Store) {
			p := newPending("a")
			mustPutPending(t, s, p)
			again := *p
			if err := s.PutPending(t.Context(), &again); err != nil {
				t.Fatalf("PutPending of the same record again: got %v, want success (its reply was lost)", err)
			}
			if _, err := s.ConsumePending(t.Context(), p.Key, []string{p.BindingHash}, at(0)); err != nil {
				t.Fatalf("ConsumePending: %v", err)
			}
			_, err := s.ConsumePending(t.Context(), p.Key, []string{p.BindingHash}, at(0))
			wantErr(t, "second ConsumePending", err, oauth.ErrNotFound)
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
