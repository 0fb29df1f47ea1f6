package oauth

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/internal/mockrc"
)

// Issue 10 item 20: a connection whose refresh-token lifetime is unknown,
// made in keepalive mode, is still in the due-index (re-checked once a day
// without a refresh), so switching REFRESH_MODE to eager reaches it.
func TestModeSwitchReachesUnknownLifetime(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		h, clock, _, _ := newTestHandler(t, newStore(t), "p", "", "", "client", "secret")
		prov := newCountingProvider(clock.Now)
		srv := httptest.NewServer(prov)
		defer srv.Close()
		h.Config.Provider.Endpoint.TokenURL = srv.URL
		now := clock.Now()
		c := &Connection{Provider: "p", AccountID: "a1", Status: StatusActive, Version: 1, CreatedAt: now, UpdatedAt: now, LastRefreshAt: now}
		sealer, _ := h.Secrets.Sealer(context.Background())
		tok := tokenWith("at.a1.0", "rt.a1.0", 3600).WithExtra(map[string]any{"refresh_token": "rt.a1.0"}) // no refresh_token_expires_in
		if err := h.applyToken(c, sealer, tok, now); err != nil {
			t.Fatal(err)
		}
		if !c.RefreshExpiresAt.IsZero() || c.RefreshAt.IsZero() {
			t.Fatalf("keepalive, unknown lifetime: refresh_expires_at %v, refresh_at %v; want unknown and in the index", c.RefreshExpiresAt, c.RefreshAt)
		}
		if _, err := h.Store.PutConnection(context.Background(), c); err != nil {
			t.Fatal(err)
		}

		// Keepalive: a day later it is looked at, not refreshed, and parked again.
		clock.Advance(24*time.Hour + time.Second)
		sweepOnce(t, h)
		if n := prov.refreshCount(); n != 0 {
			t.Fatalf("keepalive refreshed a connection of unknown lifetime %d times", n)
		}
		parked, _ := h.Store.GetConnection(context.Background(), "p", "a1")
		if !parked.RefreshAt.After(clock.Now()) || parked.LeaseOwner != "" {
			t.Fatalf("after the keepalive check: refresh_at %v, lease %q; want parked in the future", parked.RefreshAt, parked.LeaseOwner)
		}

		// Switch to eager: within a day the sweep reaches and refreshes it.
		h.Config.RefreshMode = ModeEager
		clock.Advance(24*time.Hour + time.Second)
		if sum := sweepOnce(t, h); sum.Refreshed != 1 {
			t.Fatalf("eager sweep: %+v, want the connection refreshed", sum)
		}
		after, _ := h.Store.GetConnection(context.Background(), "p", "a1")
		if want := after.AccessExpiresAt.Add(-h.Config.RefreshWindow); !after.RefreshAt.Equal(want) {
			t.Errorf("eager refresh_at %v, want %v", after.RefreshAt, want)
		}
	})
}

// `list` and the console tell "no refresh token" from "unknown lifetime".
func TestRefreshState(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name string
		c    Connection
		want string
	}{
		{"no refresh token", Connection{}, RefreshNone},
		{"unknown lifetime", Connection{RefreshToken: "x"}, RefreshUnknown},
		{"known", Connection{RefreshToken: "x", RefreshExpiresAt: now}, RefreshKnown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Info().RefreshState(); got != tt.want {
				t.Errorf("RefreshState = %q, want %q", got, tt.want)
			}
		})
	}
}

// The sweep stopped on invalid_client is visible: the connection it was
// refreshing records the refusal as its last_error, and the summary says
// why the sweep stopped.
func TestSweepStopVisible(t *testing.T) {
	r := newRCRig(t, NewMemoryStore(), mockrc.Options{})
	r.connect(t, "1001")
	r.clock.Advance(5*24*time.Hour + time.Second)
	r.rc.Script(mockrc.TokenPath, mockrc.Fault{Status: 401, Body: `{"error":"invalid_client"}`})
	sum := sweepOnce(t, r.h)
	if !strings.Contains(sum.Stopped, "invalid_client") {
		t.Errorf("summary stopped = %q, want it to name invalid_client", sum.Stopped)
	}
	c, _, _ := r.get(t, "1001")
	if c.LastError != failInvalidClient || c.Status != StatusActive || c.Failures != 0 || c.LeaseOwner != "" {
		t.Errorf("connection: last_error %q, status %s, failures %d, lease %q; want invalid_client recorded, still active and due",
			c.LastError, c.Status, c.Failures, c.LeaseOwner)
	}
	if !c.RefreshAt.After(r.clock.Now().Add(-time.Hour)) || c.RefreshAt.After(r.clock.Now()) {
		t.Errorf("refresh_at %v: want it still due", c.RefreshAt)
	}
}
