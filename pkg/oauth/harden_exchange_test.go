package oauth

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Issue 10 item 4: a code exchange honours an active 429 pause (the callback
// answers "provider busy, try again in N s" and sends nothing), and
// exchanges have a budget of their own, so a flood of callbacks neither
// keeps the provider rate limited nor takes the refreshes' slots.
func TestExchangeHonoursPause(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		// pause is made by another execution environment on the same
		// store when shared, else by this one.
		shared bool
	}{
		{"unlimited, local pause", nil, false},
		{"limiter on, pause shared by another environment", []string{"TOKEN_RATE_PER_MIN", "5"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
				r := newRig(t, newStore, tt.env...)
				pauser := r.h
				if tt.shared {
					pauser = NewHandler(r.h.Config, r.store.Store, r.h.Secrets)
					pauser.Now = r.h.Now
				}
				pauser.pause(context.Background(), r.now.Add(40*time.Second), time.Time{})
				for i := range 20 {
					resp, cookie := r.start(t, "")
					cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie)
					if cb.StatusCode != 503 || !strings.Contains(cb.Body, "try again in 40") || cb.Headers["Retry-After"] != "40" {
						t.Fatalf("callback %d during the pause = %d, Retry-After %q:\n%s", i, cb.StatusCode, cb.Headers["Retry-After"], cb.Body)
					}
				}
				if n := r.prov.tokenCalls.Load(); n != 0 {
					t.Errorf("token calls during the pause: %d, want 0", n)
				}
				if n := r.store.conns.Load(); n != 0 {
					t.Errorf("connections written: %d", n)
				}
				// Once the pause is over, sign-in works.
				r.now = r.now.Add(41 * time.Second)
				resp, cookie := r.start(t, "")
				if cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie); cb.StatusCode != 200 {
					t.Errorf("callback after the pause = %d, want 200", cb.StatusCode)
				}
			})
		})
	}
}

func TestExchangeBudget(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newRig(t, newStore, "TOKEN_RATE_PER_MIN", "5")
		busy := 0
		for range 20 {
			resp, cookie := r.start(t, "")
			if cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie); cb.StatusCode == 503 {
				busy++
			}
		}
		if n := r.prov.tokenCalls.Load(); n != exchangeBuckets || busy != 20-exchangeBuckets {
			t.Errorf("20 callbacks within a second: %d token calls, %d busy; want %d calls (the exchange budget's burst), the rest busy", n, busy, exchangeBuckets)
		}
		// The refreshes' slots were not taken.
		if err := r.h.waitTokenCall(context.Background(), r.now); err != nil {
			t.Errorf("refresh slot after the exchanges: %v, want one free now", err)
		}
		// The budget refills at half of TOKEN_RATE_PER_MIN: 5 every 2 minutes.
		r.now = r.now.Add(119 * time.Second)
		resp, cookie := r.start(t, "")
		if cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie); cb.StatusCode != 503 {
			t.Errorf("callback 119 s later = %d, want 503", cb.StatusCode)
		}
		r.now = r.now.Add(time.Second)
		resp, cookie = r.start(t, "")
		if cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie); cb.StatusCode != 200 {
			t.Errorf("callback 120 s later = %d, want 200", cb.StatusCode)
		}
	})
}
