package oauthtest

import (
	"sync"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// The token-call rate limiter: slots and pauses.

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
