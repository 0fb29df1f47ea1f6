package oauth

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestConcurrentSweepsAndTokenSources: two sweeps and eight TokenSource
// callers at once over 200 due connections whose access tokens have
// expired. The provider refuses a reused refresh token, and counts: each
// connection is refreshed exactly once.
func TestConcurrentSweepsAndTokenSources(t *testing.T) {
	clock := newFakeClock()
	p := newCountingProvider(clock.Now)
	srv := httptest.NewServer(p)
	defer srv.Close()
	h, _, _, _ := newTestHandler(t, NewMemoryStore(), "rc", srv.URL, "", "client", "secret")
	h.Now = clock.Now // fixed: leases never expire during the test
	// The provider's answers are slow only when the machine is (-race, two
	// cores, other tests running): a 10 s client timeout could then cut a
	// refresh the provider already applied, and the retry with the rotated
	// token would read as a dead connection. This test is about leases, not
	// timeouts: give the provider 40 s (still under LeaseDuration minus the
	// write budget, so refreshes are started).
	h.HTTPClient = &http.Client{Timeout: 40 * time.Second}
	// A caller that finds the lease held polls every pollInterval, at most
	// maxPolls times (the clock stays put, so only the count ends its
	// wait). Each wait is the real pollInterval, as in production: the
	// holder gets maxPolls × 100 ms ≈ 45 s of real time to finish, which a
	// loaded machine does not exhaust (1 ms waits gave it half a second).
	h.Sleep = func(ctx context.Context, d time.Duration) error {
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	h.Config.SweepConcurrency = 8
	now := clock.Now()
	const n = 200
	accounts := make([]string, n)
	for i := range n {
		accounts[i] = fmt.Sprintf("acct-%03d", i)
		seedConnection(t, h, accounts[i], now.Add(-time.Minute), now.Add(24*time.Hour), now.Add(-time.Minute))
	}

	var wg sync.WaitGroup
	sums := make([]SweepSummary, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if sums[i], err = h.Sweep(context.Background(), SweepInput{}); err != nil {
				t.Errorf("sweep %d: %v", i, err)
			}
		}()
	}
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range n {
				a := accounts[(k*7+c*25)%n] // each caller in its own order
				tok, err := h.TokenSource(context.Background(), a).Token()
				if err != nil {
					t.Errorf("caller %d: Token(%s): %v", c, a, err)
					continue
				}
				if tok.AccessToken != "at."+a+".1" {
					t.Errorf("caller %d: Token(%s): got %q, want at.%s.1", c, a, tok.AccessToken, a)
				}
			}
		}()
	}
	wg.Wait()

	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range accounts {
		if got := p.calls[a]; got != 1 {
			t.Errorf("%s: refreshed %d times at the provider, want 1", a, got)
		}
	}
	if p.refused != 0 {
		t.Errorf("provider refused %d reused refresh tokens, want 0", p.refused)
	}
	refreshed := sums[0].Refreshed + sums[1].Refreshed
	if sums[0].Failed+sums[1].Failed+sums[0].ReauthRequired+sums[1].ReauthRequired != 0 {
		t.Errorf("sweeps: got %+v and %+v, want no failures", sums[0], sums[1])
	}
	t.Logf("sweeps refreshed %d, skipped %d; TokenSource refreshed %d", refreshed,
		sums[0].SkippedLeased+sums[1].SkippedLeased, n-refreshed)
	for _, a := range accounts {
		c, _, refresh := getOpen(t, h, a)
		if refresh != "rt."+a+".1" || c.Version != 2 || c.LeaseOwner != "" {
			t.Errorf("%s: refresh %q version %d lease %q; want rt.%s.1, 2, none", a, refresh, c.Version, c.LeaseOwner, a)
		}
	}
}
