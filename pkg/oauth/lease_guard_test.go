package oauth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/internal/mockrc"
)

// A token call is never started on a lease that might lapse during the call
// and the write: the connection is handed back untouched, still due, and
// nothing is sent to the provider.
func TestRefreshNeverOutlivesTheLease(t *testing.T) {
	r := newRCRig(t, NewMemoryStore(), mockrc.Options{})
	c := r.connect(t, "1001")
	before := r.rc.Calls(mockrc.TokenPath)
	now := r.clock.Now()
	leased, err := r.store.AcquireLease(context.Background(), c.Provider, c.AccountID, c.Version, "owner-1", now, now.Add(r.h.providerTimeout()+writeBudget-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	res := r.h.refreshLeased(context.Background(), leased, "owner-1", nil)
	if res.outcome != outSkipped || !errors.Is(res.err, errLeaseTooShort) {
		t.Errorf("outcome %v, err %v; want skipped with errLeaseTooShort", res.outcome, res.err)
	}
	if got := r.rc.Calls(mockrc.TokenPath); got != before {
		t.Errorf("token calls: %d after, %d before; want none", got, before)
	}
	after, err := r.store.GetConnection(context.Background(), c.Provider, c.AccountID)
	if err != nil || after.LeaseOwner != "" || after.RefreshToken != c.RefreshToken || !after.RefreshAt.Equal(c.RefreshAt) {
		t.Errorf("connection after: %+v, %v; want it released and unchanged", after, err)
	}
}

// A stored refresh token that no longer opens (the token key rotated twice)
// is recorded on the connection, with backoff, and logged with the fix; no
// token call is made.
func TestSweepUnopenableRefreshToken(t *testing.T) {
	r := newRCRig(t, NewMemoryStore(), mockrc.Options{})
	r.h.Secrets = &managedTestSecrets{sweepTestSecrets: r.h.Secrets.(*sweepTestSecrets)}
	c := r.connect(t, "1002")
	other, err := NewSealer(Secret(strings.Repeat("z", 40)))
	if err != nil {
		t.Fatal(err)
	}
	c.RefreshToken, _ = other.SealField("rt-sealed-with-a-lost-key", c.Key(), attrRefreshToken)
	if _, err := r.store.PutConnection(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	before := r.rc.Calls(mockrc.TokenPath)
	r.clock.Advance(5*24*time.Hour + time.Second)
	sum := sweepOnce(t, r.h)
	if sum.Failed != 1 || sum.Refreshed != 0 {
		t.Errorf("summary %+v, want one failed", sum)
	}
	if got := r.rc.Calls(mockrc.TokenPath); got != before {
		t.Errorf("token calls: %d after, %d before; want none", got, before)
	}
	after, _ := r.store.GetConnection(context.Background(), c.Provider, c.AccountID)
	if after.Failures != 1 || after.LastError != failTokenKey || !after.RefreshAt.After(r.clock.Now()) || after.LeaseOwner != "" {
		t.Errorf("connection after: failures %d, last_error %q, refresh_at %v, lease %q", after.Failures, after.LastError, after.RefreshAt, after.LeaseOwner)
	}
	if !strings.Contains(r.logs.String(), "rotated twice") {
		t.Errorf("no log line naming the cause:\n%s", r.logs)
	}
}
