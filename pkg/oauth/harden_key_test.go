package oauth

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/internal/mockrc"
)

// managedTestSecrets stands for Secrets Manager: its token key can be
// fetched again (SealerRefresher); the refreshes are counted.
type managedTestSecrets struct {
	*sweepTestSecrets
	refreshes atomic.Int32
}

func (s *managedTestSecrets) RefreshSealer(context.Context) (*Sealer, error) {
	s.refreshes.Add(1)
	return s.sealer, nil
}

// Issue 10 item 21: a process whose local OAUTH_TOKEN_KEY is not the
// deployment's (an operator's CLI) cannot open the shared connection's
// tokens. That is the local key's fault, not the connection's: nothing is
// recorded on the item, and the message names OAUTH_TOKEN_KEY, not
// AWSCURRENT/AWSPREVIOUS.
func TestWrongLocalTokenKeyRecordsNothing(t *testing.T) {
	r := newRCRig(t, NewMemoryStore(), mockrc.Options{})
	r.connect(t, "1003")
	r.clock.Advance(2 * time.Hour) // the access token expired: a refresh is needed
	before, _ := r.store.GetConnection(context.Background(), PresetRingCentral, "1003")

	cli := &Handler{Config: r.h.Config, Store: r.h.Store, HTTPClient: r.h.HTTPClient, Log: r.h.Log, Now: r.h.Now, Sleep: r.h.Sleep,
		Secrets: newTestSecretsWithKey(t, "wrong-local-key-0123456789abcdefghijklmnop")}
	_, err := cli.TokenSource(context.Background(), "1003").Token()
	if err == nil || !strings.Contains(err.Error(), "OAUTH_TOKEN_KEY") {
		t.Fatalf("Token with the wrong local key: got %v, want an error naming OAUTH_TOKEN_KEY", err)
	}
	if strings.Contains(err.Error(), "AWSPREVIOUS") || strings.Contains(r.logs.String(), "AWSPREVIOUS") {
		t.Errorf("advice about AWSCURRENT/AWSPREVIOUS for a local key: %v", err)
	}
	after, _ := r.store.GetConnection(context.Background(), PresetRingCentral, "1003")
	if after.LastError != "" || after.Failures != 0 || after.Status != StatusActive || after.AccessToken != before.AccessToken || !after.RefreshAt.Equal(before.RefreshAt) {
		t.Errorf("connection changed: last_error %q, failures %d, status %s", after.LastError, after.Failures, after.Status)
	}
	noLeases(t, r.store)
}

func newTestSecretsWithKey(t testing.TB, key string) *sweepTestSecrets {
	t.Helper()
	sealer, err := NewSealer(Secret(key))
	if err != nil {
		t.Fatal(err)
	}
	return &sweepTestSecrets{client: mockrc.DefaultClientSecret, sealer: sealer}
}
