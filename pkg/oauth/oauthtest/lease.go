package oauthtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// Leases: acquire on an unchanged version, complete only while held.

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
		{"the very same acquire again returns the lease (a retried request)", func(t *testing.T, s oauth.Store) {
			c := newConnection("rc", "1")
			mustPutConnection(t, s, c)
			first, err := s.AcquireLease(t.Context(), "rc", "1", c.Version, "sweep-1", at(0), at(time.Minute))
			if err != nil {
				t.Fatalf("AcquireLease: %v", err)
			}
			again, err := s.AcquireLease(t.Context(), "rc", "1", c.Version, "sweep-1", at(time.Second), at(time.Minute))
			if err != nil {
				t.Fatalf("AcquireLease again with the same version, owner and end: got %v, want the lease (its reply was lost)", err)
			}
			if d := diff(again, first); d != "" {
				t.Errorf("second AcquireLease: %s", d)
			}
			// Another end, or another owner, is another request: refused.
			_, err = s.AcquireLease(t.Context(), "rc", "1", c.Version, "sweep-1", at(time.Second), at(time.Minute+time.Second))
			wantErr(t, "AcquireLease by the holder with another end", err, oauth.ErrConflict)
			_, err = s.AcquireLease(t.Context(), "rc", "1", c.Version, "sweep-2", at(time.Second), at(time.Minute))
			wantErr(t, "AcquireLease by another owner with the same end", err, oauth.ErrConflict)
		}},
		{"the very same completion again succeeds once (a retried request)", func(t *testing.T, s oauth.Store) {
			c := newConnection("rc", "1")
			mustPutConnection(t, s, c)
			leased, err := s.AcquireLease(t.Context(), "rc", "1", c.Version, "sweep-1", at(0), at(time.Minute))
			if err != nil {
				t.Fatalf("AcquireLease: %v", err)
			}
			next := *leased
			next.AccessToken, next.RefreshToken, next.UpdatedAt = "sealed-access-2", "sealed-refresh-2", at(10*time.Second)
			retry, other := next, next
			if err := s.CompleteLease(t.Context(), &next, "sweep-1"); err != nil {
				t.Fatalf("CompleteLease: %v", err)
			}
			// The same write by another owner is not ours: refused.
			wantErr(t, "the same completion by another owner", s.CompleteLease(t.Context(), &other, "sweep-2"), oauth.ErrConflict)
			if err := s.CompleteLease(t.Context(), &retry, "sweep-1"); err != nil {
				t.Fatalf("the same CompleteLease again: got %v, want success (its reply was lost)", err)
			}
			if retry.Version != c.Version+1 || retry.LeaseOwner != "" {
				t.Errorf("retried CompleteLease's argument: version %d, lease %q; want version %d and no lease", retry.Version, retry.LeaseOwner, c.Version+1)
			}
			if got := mustGet(t, s, "rc", "1"); got.Version != c.Version+1 || got.AccessToken != "sealed-access-2" {
				t.Errorf("after the retried completion: version %d, access %q; want version %d written once", got.Version, got.AccessToken, c.Version+1)
			}
			// A completion already applied and then leased by another
			// holder is still recognised; a different write is not.
			if _, err := s.AcquireLease(t.Context(), "rc", "1", c.Version+1, "sweep-3", at(20*time.Second), at(time.Minute)); err != nil {
				t.Fatalf("AcquireLease of the new version: %v", err)
			}
			retry2 := *leased
			retry2.AccessToken, retry2.RefreshToken, retry2.UpdatedAt = "sealed-access-2", "sealed-refresh-2", at(10*time.Second)
			if err := s.CompleteLease(t.Context(), &retry2, "sweep-1"); err != nil {
				t.Errorf("the same CompleteLease after another holder leased: got %v, want success", err)
			}
			changed := *leased
			changed.AccessToken, changed.RefreshToken, changed.UpdatedAt = "sealed-access-3", "sealed-refresh-2", at(10*time.Second)
			wantErr(t, "a different completion by the same owner", s.CompleteLease(t.Context(), &changed, "sweep-1"), oauth.ErrConflict)
			if got := mustGet(t, s, "rc", "1"); got.LeaseOwner != "sweep-3" {
				t.Errorf("lease after the retries: %q, want sweep-3's untouched", got.LeaseOwner)
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
