package oauth

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/internal/mockrc"
)

func TestTokenSource(t *testing.T) {
	r := newRCRig(t, NewMemoryStore(), mockrc.Options{})
	r.connect(t, "1001")
	_, access, _ := r.get(t, "1001")
	ts := r.h.TokenSource(context.Background(), "1001")
	tok, err := ts.Token()
	if err != nil || tok.AccessToken != access || tok.RefreshToken != "" {
		t.Fatalf("Token: got %+v, %v; want the stored access token and no refresh token", tok, err)
	}
	calls := r.rc.Calls(mockrc.TokenPath)
	r.clock.Advance(59 * time.Minute) // within the 60 s skew of expiry
	tok, err = ts.Token()
	if err != nil || tok.AccessToken == access {
		t.Fatalf("Token near expiry: got %v, want a refreshed token", err)
	}
	if got := r.rc.Calls(mockrc.TokenPath) - calls; got != 1 {
		t.Errorf("token calls: got %d, want 1", got)
	}
	if _, a, _ := r.get(t, "1001"); a != tok.AccessToken {
		t.Errorf("refreshed token not stored")
	}
	useToken(t, r)

	if _, err := r.h.TokenSource(context.Background(), "404").Token(); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown account: got %v, want ErrNotFound", err)
	}
}

// TestTokenSourceWaitsForLease: another holder's lease makes TokenSource
// poll (on the clock) and then use the holder's result, or give up with
// ErrBusy.
func TestTokenSourceWaitsForLease(t *testing.T) {
	r := newRCRig(t, NewMemoryStore(), mockrc.Options{})
	c := r.connect(t, "1001")
	r.clock.Advance(time.Hour)
	now := r.clock.Now()
	if _, err := r.store.AcquireLease(context.Background(), c.Provider, "1001", c.Version, "other", now, now.Add(LeaseDuration)); err != nil {
		t.Fatal(err)
	}
	calls := r.rc.Calls(mockrc.TokenPath)
	if _, err := r.h.TokenSource(context.Background(), "1001").Token(); !errors.Is(err, ErrBusy) {
		t.Errorf("held lease: got %v, want ErrBusy", err)
	}
	if got := r.rc.Calls(mockrc.TokenPath) - calls; got != 0 {
		t.Errorf("token calls while leased: got %d, want 0", got)
	}
	if waited := r.clock.Now().Sub(now); waited < r.h.providerTimeout()+writeBudget {
		t.Errorf("waited %v on the clock, want at least %v", waited, r.h.providerTimeout()+writeBudget)
	}
	// The lease ends: the next call refreshes.
	r.clock.Advance(LeaseDuration)
	if _, err := r.h.TokenSource(context.Background(), "1001").Token(); err != nil {
		t.Errorf("after the lease: %v", err)
	}
	noLeases(t, r.store)
}

func TestConnectionInfo(t *testing.T) {
	r := newRCRig(t, NewMemoryStore(), mockrc.Options{})
	c := r.connect(t, "1002")
	got, err := r.h.Connection(context.Background(), "1002")
	if err != nil {
		t.Fatal(err)
	}
	want := ConnectionInfo{Provider: PresetRingCentral, AccountID: "1002", Status: StatusActive, Scope: mockrc.DefaultScope, Source: SourceBrowser,
		AccessExpiresAt: c.AccessExpiresAt, RefreshExpiresAt: c.RefreshExpiresAt, HasRefreshToken: true,
		LastRefreshAt: c.LastRefreshAt, NextRefreshAt: c.RefreshAt, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) { // times as the store keeps them
		t.Errorf("Connection: got %+v, want %+v", got, want)
	}
	if _, err := r.h.Connection(context.Background(), "404"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown: got %v, want ErrNotFound", err)
	}
}

func TestDisconnect(t *testing.T) {
	tests := []struct {
		name      string
		fault     *mockrc.Fault
		wantErr   error
		wantLive  int
		revokeURL bool
	}{
		{"revoked and deleted", nil, nil, 0, true},
		{"revocation fails: kept as revoked, error reported", &mockrc.Fault{Status: 500}, ErrRevocationPending, 1, true},
		{"no revocation endpoint: deleted", nil, nil, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRCRig(t, NewMemoryStore(), mockrc.Options{})
			r.connect(t, "1003")
			if !tt.revokeURL {
				r.h.Config.Provider.RevokeURL = ""
			}
			if tt.fault != nil {
				r.rc.Script(mockrc.RevokePath, *tt.fault)
			}
			err := r.h.Disconnect(context.Background(), "1003")
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("Disconnect: got %v, want %v", err, tt.wantErr)
			}
			c, err := r.store.GetConnection(context.Background(), PresetRingCentral, "1003")
			if tt.wantErr == nil && !errors.Is(err, ErrNotFound) {
				t.Errorf("connection after Disconnect: got %v, want ErrNotFound", err)
			}
			if tt.wantErr != nil && (err != nil || c.Status != StatusRevoked) {
				t.Errorf("connection after a failed revocation: got %v, %v; want it kept as revoked", c, err)
			}
			if got := r.rc.Sessions("1003"); got != tt.wantLive {
				t.Errorf("live sessions at the provider: got %d, want %d", got, tt.wantLive)
			}
			// Again: a kept connection is revoked now (the fault was used
			// up); a deleted one is not found.
			err = r.h.Disconnect(context.Background(), "1003")
			if tt.wantErr == nil && !errors.Is(err, ErrNotFound) {
				t.Errorf("second Disconnect: %v, want ErrNotFound", err)
			}
			if tt.wantErr != nil && (err != nil || r.rc.Sessions("1003") != 0) {
				t.Errorf("second Disconnect: %v, %d live sessions; want revoked and deleted", err, r.rc.Sessions("1003"))
			}
		})
	}
}
