package oauthtest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// The due-index: shards, order, limits, who is in and out of it.

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
