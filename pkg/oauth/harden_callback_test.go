package oauth

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// Issue 10 item 11: everything the callback can fail at on its own (here:
// no request domain to derive the redirect URI from) is worked out before
// the pending authorization is consumed, so such a failure does not burn
// the state: nothing consumed, nothing sent, and the same callback works
// once the cause is gone.
func TestCallbackLocalFailureKeepsState(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newRig(t, newStore)
		resp, cookie := r.start(t, "")
		query := r.prov.approve(t, resp.Headers["Location"])
		req := apiRequest("/callback", query, cookie)
		req.RequestContext.DomainName = ""
		cb, err := r.h.Callback(context.Background(), req)
		if err != nil || cb.StatusCode != 500 {
			t.Fatalf("callback without a domain = %d, %v; want 500", cb.StatusCode, err)
		}
		if r.store.consumed.Load() != 0 || r.prov.tokenCalls.Load() != 0 {
			t.Fatalf("consumed %d, token calls %d; want none", r.store.consumed.Load(), r.prov.tokenCalls.Load())
		}
		if cb := r.callback(t, query, cookie); cb.StatusCode != 200 {
			t.Errorf("the same callback with a domain = %d, want 200", cb.StatusCode)
		}
	})
}

// failingPuts refuses every connection write.
type failingPuts struct{ Store }

func (failingPuts) PutConnection(context.Context, *Connection) (*Connection, error) {
	return nil, errors.New("dynamodb: throttled")
}

// Issue 10 item 7: when the connection cannot be stored after a successful
// code exchange, the new session is revoked at the provider (bounded in
// time) rather than left alive with nothing to revoke it later, and the
// outcome is logged.
func TestCallbackWriteFailureRevokesNewSession(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newRig(t, newStore)
		r.h.Store = failingPuts{r.store}
		resp, cookie := r.start(t, "")
		cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie)
		if cb.StatusCode != 500 {
			t.Fatalf("callback = %d, want 500", cb.StatusCode)
		}
		r.prov.mu.Lock()
		issued, revoked := r.prov.issued, r.prov.revoked
		r.prov.mu.Unlock()
		if len(issued) != 3 || len(revoked) != 1 || revoked[0] != issued[2] {
			t.Errorf("revoked %d tokens, want the new refresh token", len(revoked))
		}
		if !strings.Contains(r.logs.String(), "new session revoked") {
			t.Errorf("outcome not logged:\n%s", r.logs)
		}
	})
}
