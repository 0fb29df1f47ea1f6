package oauth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/internal/mockrc"
)

// Issue 10 item 9: Disconnect never leaves a session alive at the provider
// without a record that lets oauthfn revoke it later. When the revocation
// fails, the connection stays as revoked (tokens still sealed, out of every
// token path) and the sweep retries the revocation until it succeeds or
// the refresh token expires. Disconnecting an unknown account is
// ErrNotFound.
func TestDisconnectKeepsRevokedUntilRevocationSucceeds(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newRCRig(t, newStore(t), mockrc.Options{})
		r.connect(t, "1003")
		r.rc.Script(mockrc.RevokePath, mockrc.Fault{Status: 500}, mockrc.Fault{Status: 401, Body: `{"error":"invalid_client"}`})
		err := r.h.Disconnect(context.Background(), "1003")
		if !errors.Is(err, ErrRevocationPending) {
			t.Fatalf("Disconnect with a failing revocation: %v, want ErrRevocationPending", err)
		}
		c, err := r.store.GetConnection(context.Background(), PresetRingCentral, "1003")
		if err != nil {
			t.Fatalf("connection deleted though its session is alive: %v", err)
		}
		if c.Status != StatusRevoked || c.RefreshToken == "" || c.RefreshAt.IsZero() || c.LeaseOwner != "" {
			t.Fatalf("kept connection: status %s, refresh token kept %t, retry at %v, lease %q", c.Status, c.RefreshToken != "", c.RefreshAt, c.LeaseOwner)
		}
		if r.rc.Sessions("1003") != 1 {
			t.Fatalf("live sessions: %d, want 1", r.rc.Sessions("1003"))
		}
		// Out of every token path.
		if _, err := r.h.TokenSource(context.Background(), "1003").Token(); !errors.Is(err, ErrNotFound) {
			t.Errorf("TokenSource of a revoked connection: %v, want ErrNotFound", err)
		}
		tokenCalls := r.rc.Calls(mockrc.TokenPath)

		// The sweep retries: first refused again (invalid_client), later done.
		r.clock.Advance(c.RefreshAt.Sub(r.clock.Now()) + time.Second)
		if sum := sweepOnce(t, r.h); sum.Failed != 1 || sum.Revoked != 0 {
			t.Fatalf("first retry: %+v, want one failed", sum)
		}
		c2, err := r.store.GetConnection(context.Background(), PresetRingCentral, "1003")
		if err != nil || c2.Status != StatusRevoked || !c2.RefreshAt.After(r.clock.Now()) || c2.Failures != 2 {
			t.Fatalf("after a failed retry: %+v, %v", c2, err)
		}
		r.clock.Advance(c2.RefreshAt.Sub(r.clock.Now()) + time.Second)
		if sum := sweepOnce(t, r.h); sum.Revoked != 1 {
			t.Fatalf("second retry: %+v, want one revoked", sum)
		}
		if _, err := r.store.GetConnection(context.Background(), PresetRingCentral, "1003"); !errors.Is(err, ErrNotFound) {
			t.Errorf("connection after the revocation: %v, want deleted", err)
		}
		if r.rc.Sessions("1003") != 0 {
			t.Errorf("live sessions: %d, want 0", r.rc.Sessions("1003"))
		}
		if n := r.rc.Calls(mockrc.TokenPath); n != tokenCalls {
			t.Errorf("token-endpoint calls for a revoked connection: %d", n-tokenCalls)
		}
		if err := r.h.Disconnect(context.Background(), "1003"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Disconnect of a missing account: %v, want ErrNotFound", err)
		}
	})
}

// A revocation that keeps failing is given up when the refresh token
// expires (the session ended on its own), and the item is deleted.
func TestRevocationRetryEndsAtRefreshExpiry(t *testing.T) {
	r := newRCRig(t, NewMemoryStore(), mockrc.Options{})
	c := r.connect(t, "1002")
	faults := make([]mockrc.Fault, 50)
	for i := range faults {
		faults[i] = mockrc.Fault{Status: 503}
	}
	r.rc.Script(mockrc.RevokePath, faults...)
	if err := r.h.Disconnect(context.Background(), "1002"); !errors.Is(err, ErrRevocationPending) {
		t.Fatalf("Disconnect: %v", err)
	}
	r.clock.Advance(c.RefreshExpiresAt.Sub(r.clock.Now()) + time.Second)
	if sum := sweepOnce(t, r.h); sum.Revoked != 1 {
		t.Fatalf("sweep after the refresh token expired: %+v, want it counted as revoked", sum)
	}
	if _, err := r.store.GetConnection(context.Background(), PresetRingCentral, "1002"); !errors.Is(err, ErrNotFound) {
		t.Errorf("connection after its refresh token expired: %v, want deleted", err)
	}
}
