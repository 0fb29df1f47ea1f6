package oauthtest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// testEndUser: end_user on pending authorizations and connections, the
// sparse user-index, and connect-token ids spent with the pending write.
func testEndUser(t *testing.T, newStore func(t *testing.T) oauth.Store) {
	withJTI := func(state, jti string) *oauth.PendingAuth {
		p := newPending(state)
		p.EndUser = "user-" + state
		p.JTI = jti
		p.JTIExpiresAt = at(15 * time.Minute)
		return p
	}
	accounts := func(t *testing.T, s oauth.Store, user string) string {
		t.Helper()
		cs, err := s.ConnectionsByEndUser(t.Context(), user)
		if err != nil {
			t.Fatalf("ConnectionsByEndUser(%s): %v", user, err)
		}
		out := ""
		for _, c := range cs {
			if c.AccessToken != "" || c.RefreshToken != "" {
				t.Errorf("ConnectionsByEndUser(%s) returned %s with tokens", user, c.AccountID)
			}
			if c.EndUser != user {
				t.Errorf("ConnectionsByEndUser(%s) returned %s of %q", user, c.AccountID, c.EndUser)
			}
			out += c.AccountID + " "
		}
		return out
	}
	tests := []struct {
		name string
		run  func(t *testing.T, s oauth.Store)
	}{
		{"pending authorizations are not connections", func(t *testing.T, s oauth.Store) {
			// In flight and consumed (DynamoStore keeps a consumed record
			// until its TTL): neither is one of the user's connections.
			inFlight, consumed := withJTI("s1", "jti-1"), withJTI("s2", "jti-2")
			consumed.EndUser = inFlight.EndUser
			mustPutPending(t, s, inFlight)
			mustPutPending(t, s, consumed)
			if _, err := s.ConsumePending(t.Context(), consumed.Key, []string{consumed.BindingHash}, at(0)); err != nil {
				t.Fatalf("ConsumePending: %v", err)
			}
			if got := accounts(t, s, inFlight.EndUser); got != "" {
				t.Errorf("ConnectionsByEndUser with only pending authorizations: %q, want none", got)
			}
		}},
		{"pending keeps its end user", func(t *testing.T, s oauth.Store) {
			p := withJTI("s1", "jti-1")
			mustPutPending(t, s, p)
			got, err := s.ConsumePending(t.Context(), p.Key, []string{p.BindingHash}, at(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if got.EndUser != "user-s1" || got.JTI != "" {
				t.Errorf("consumed pending: end user %q, jti %q; want user-s1 and no jti (not stored)", got.EndUser, got.JTI)
			}
		}},
		{"a spent jti refuses the next pending, which is not stored", func(t *testing.T, s oauth.Store) {
			mustPutPending(t, s, withJTI("s1", "jti-1"))
			p2 := withJTI("s2", "jti-1")
			wantErr(t, "PutPending with a spent jti", s.PutPending(t.Context(), p2), oauth.ErrReplayed)
			_, err := s.ConsumePending(t.Context(), p2.Key, []string{p2.BindingHash}, at(time.Minute))
			wantErr(t, "ConsumePending of the refused pending", err, oauth.ErrNotFound)
			// The jti stays spent after its pending authorization is consumed.
			p1 := newPending("s1")
			if _, err := s.ConsumePending(t.Context(), p1.Key, []string{p1.BindingHash}, at(time.Minute)); err != nil {
				t.Fatal(err)
			}
			wantErr(t, "PutPending after the first was consumed", s.PutPending(t.Context(), withJTI("s3", "jti-1")), oauth.ErrReplayed)
			// Other ids, and pending authorizations without one, are unaffected.
			mustPutPending(t, s, withJTI("s4", "jti-2"))
			mustPutPending(t, s, newPending("s5"))
		}},
		{"a spent jti stays spent after its expiry", func(t *testing.T, s oauth.Store) {
			// The record of a spent jti lasts at least until its
			// JTIExpiresAt, and after it for as long as the store keeps
			// the record (DynamoDB: until its TTL deletes it, hours
			// later; MemoryStore: a day): a store never accepts it again
			// the moment it expires. The token's exp refuses it by then
			// anyway; this is the second line, and both stores agree.
			mustPutPending(t, s, withJTI("s1", "jti-1"))
			for _, after := range []time.Duration{15 * time.Minute, 16 * time.Minute, 2 * time.Hour} {
				p := withJTI(fmt.Sprintf("late-%d", after/time.Minute), "jti-1")
				p.CreatedAt, p.ExpiresAt = at(after), at(after+10*time.Minute)
				wantErr(t, fmt.Sprintf("PutPending %v after the first", after), s.PutPending(t.Context(), p), oauth.ErrReplayed)
			}
		}},
		{"the very same put with its jti again succeeds (a retried request)", func(t *testing.T, s oauth.Store) {
			p := withJTI("s1", "jti-1")
			mustPutPending(t, s, p)
			again := *p
			if err := s.PutPending(t.Context(), &again); err != nil {
				t.Fatalf("PutPending of the same record and jti again: got %v, want success (its reply was lost)", err)
			}
			wantErr(t, "PutPending of another record with the jti", s.PutPending(t.Context(), withJTI("s2", "jti-1")), oauth.ErrReplayed)
		}},
		{"a pending conflict does not spend the jti", func(t *testing.T, s oauth.Store) {
			mustPutPending(t, s, newPending("s1"))
			wantErr(t, "PutPending on an existing key", s.PutPending(t.Context(), withJTI("s1", "jti-9")), oauth.ErrConflict)
			mustPutPending(t, s, withJTI("s2", "jti-9"))
		}},
		{"user-index is sparse and follows the end user", func(t *testing.T, s oauth.Store) {
			a, b, anon := newConnection("generic", "a1"), newConnection("generic", "b1"), newConnection("generic", "n1")
			a.EndUser, b.EndUser = "alice", "alice"
			for _, c := range []*oauth.Connection{a, b, anon} {
				mustPutConnection(t, s, c)
			}
			if got := mustGet(t, s, "generic", "a1"); got.EndUser != "alice" {
				t.Errorf("GetConnection end user = %q, want alice", got.EndUser)
			}
			if got := accounts(t, s, "alice"); got != "a1 b1 " {
				t.Errorf("alice's accounts = %q, want a1 b1", got)
			}
			moved := newConnection("generic", "a1")
			moved.EndUser = "bob"
			replaced, err := s.PutConnection(t.Context(), moved)
			if err != nil || replaced == nil || replaced.EndUser != "alice" {
				t.Fatalf("PutConnection moving a1: replaced %+v, %v; want alice's", replaced, err)
			}
			if got := accounts(t, s, "alice"); got != "b1 " {
				t.Errorf("alice's accounts after the move = %q, want b1", got)
			}
			if got := accounts(t, s, "bob"); got != "a1 " {
				t.Errorf("bob's accounts = %q, want a1", got)
			}
			if got := accounts(t, s, "nobody"); got != "" {
				t.Errorf("nobody's accounts = %q, want none", got)
			}
			if _, err := s.ConnectionsByEndUser(t.Context(), ""); err == nil {
				t.Errorf("ConnectionsByEndUser(\"\"): want an error")
			}
		}},
		{"user-index rows carry the non-secret fields", func(t *testing.T, s oauth.Store) {
			c := newConnection("generic", "a1")
			c.EndUser = "alice"
			mustPutConnection(t, s, c)
			cs, err := s.ConnectionsByEndUser(t.Context(), "alice")
			if err != nil || len(cs) != 1 {
				t.Fatalf("ConnectionsByEndUser = %v, %v", cs, err)
			}
			want := *c
			want.AccessToken, want.RefreshToken, want.KeyID, want.TTL = "", "", "", time.Time{}
			if d := diff(cs[0], &want); d != "" {
				t.Errorf("user-index row: %s", d)
			}
		}},
		{"concurrent PutPending with one jti has one winner", func(t *testing.T, s oauth.Store) {
			const n = 8
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { errs[i] = s.PutPending(t.Context(), withJTI(fmt.Sprintf("c%d", i), "jti-race")) })
			}
			wg.Wait()
			won := 0
			for i, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, oauth.ErrReplayed):
					t.Errorf("goroutine %d: %v, want ErrReplayed", i, err)
				}
			}
			if won != 1 {
				t.Errorf("%d goroutines stored a pending authorization with the same jti, want 1", won)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}
