package oauth_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// BenchmarkMemoryStoreQueryDue measures one shard query of the dev server's
// sweep over 10,000 connections (MemoryStore has no index: it filters all).
func BenchmarkMemoryStoreQueryDue(b *testing.B) {
	s := oauth.NewMemoryStore()
	t0 := time.Unix(1_900_000_000, 0)
	for i := range 10_000 {
		c := &oauth.Connection{Provider: "rc", AccountID: fmt.Sprint(i), Status: oauth.StatusActive,
			RefreshAt: t0.Add(time.Duration(i) * time.Second)}
		if _, err := s.PutConnection(b.Context(), c); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if _, err := s.QueryDue(b.Context(), 3, t0.Add(time.Hour), 100); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMemoryStorePending measures a PutPending + ConsumePending pair,
// the store's share of one authorization.
func BenchmarkMemoryStorePending(b *testing.B) {
	s := oauth.NewMemoryStore()
	t0 := time.Unix(1_900_000_000, 0)
	i := 0
	for b.Loop() {
		i++
		p := &oauth.PendingAuth{Key: oauth.PendingKey(fmt.Sprint(i)), BindingHash: "bh", Verifier: "v", ExpiresAt: t0.Add(10 * time.Minute)}
		if err := s.PutPending(b.Context(), p); err != nil {
			b.Fatal(err)
		}
		if _, err := s.ConsumePending(b.Context(), p.Key, []string{"bh"}, t0); err != nil {
			b.Fatal(err)
		}
	}
}
