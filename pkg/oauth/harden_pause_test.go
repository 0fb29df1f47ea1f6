package oauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Issue 10 item 5: Retry-After is capped at MaxRetryAfter, whatever form
// it takes.
func TestParseRetryAfterIsCapped(t *testing.T) {
	tests := []struct {
		name, value string
		want        time.Duration
	}{
		{"seconds", "120", 120 * time.Second},
		{"a year of seconds", "31536000", MaxRetryAfter},
		{"overflows int64", "99999999999999999999999", MaxRetryAfter},
		{"overflows a Duration", "9223372036854", MaxRetryAfter},
		{"far-future date", "Fri, 31 Dec 9999 23:59:59 GMT", MaxRetryAfter},
		{"negative", "-5", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseRetryAfter(tt.value, time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)); got != tt.want {
				t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.value, got, tt.want)
			}
		})
	}
}

// A 429 never pauses token calls past the earliest refresh-token expiry it
// would kill: the pause ends early enough for one more attempt.
func TestPauseNeverOutlivesTheRefreshToken(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "31536000")
			w.WriteHeader(http.StatusTooManyRequests)
		}))
		defer srv.Close()
		h, clock, _, _ := newTestHandler(t, newStore(t), "p", srv.URL, "", "client", "secret")
		h.Config.TokenRatePerMin = 5
		now := clock.Now()
		refreshExp := now.Add(3 * time.Minute)
		seedConnection(t, h, "a1", now.Add(-time.Minute), refreshExp, now)
		sum := sweepOnce(t, h)
		if sum.RateLimited != 1 {
			t.Fatalf("summary %+v, want one rate limited", sum)
		}
		p := h.localPause()
		if latest := refreshExp.Add(-h.providerTimeout() - writeBudget); p.After(latest) || !p.After(now) {
			t.Errorf("paused until %v; want after now and no later than %v (refresh token expires %v)", p, latest, refreshExp)
		}
		// The shared pause (rate item) agrees: a reservation after it goes.
		retry, err := h.Store.ReserveTokenCall(context.Background(), "p", p, time.Second)
		if err != nil || !retry.IsZero() {
			t.Errorf("ReserveTokenCall when the pause ends: %v, %v; want go", retry, err)
		}
	})
}

// A pause stored before the cap (a year) heals: the next caller sees it is
// beyond any pause this version makes and shortens it.
func TestStoredOverlongPauseHeals(t *testing.T) {
	h, clock, logs, _ := newTestHandler(t, NewMemoryStore(), "p", "http://127.0.0.1:1/token", "", "client", "secret")
	h.Config.TokenRatePerMin = 5
	now := clock.Now()
	if err := h.Store.PauseTokenCalls(context.Background(), "p", now.Add(365*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := h.waitTokenCall(context.Background(), now.Add(10*time.Minute)); err != nil {
		t.Fatalf("waitTokenCall with a year-long stored pause: %v", err)
	}
	if clock.Now().After(now.Add(MaxRetryAfter + time.Minute)) {
		t.Errorf("waited until %v", clock.Now())
	}
	if !strings.Contains(logs.String(), "pause") {
		t.Errorf("healing not logged:\n%s", logs)
	}
}
