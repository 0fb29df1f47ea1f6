package oauth

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Issue 10 item 19: TokenSource's freshness margin scales with the token's
// lifetime. With 60-s access tokens, three calls a few seconds apart (three
// `oauthfn token` runs, each with a new TokenSource) make no rotation, where
// a fixed one-minute margin refreshed every time.
func TestTokenSourceMarginScalesWithLifetime(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		h, clock, _, _ := newTestHandler(t, newStore(t), "p", "", "", "client", "secret")
		prov := newCountingProvider(clock.Now)
		prov.expiresIn = 60
		srv := httptest.NewServer(prov)
		defer srv.Close()
		h.Config.Provider.Endpoint.TokenURL = srv.URL
		now := clock.Now()
		c := seedConnection(t, h, "a1", now.Add(60*time.Second), now.Add(48*time.Hour), time.Time{})
		c.LastRefreshAt = now
		if _, err := h.Store.PutConnection(context.Background(), c); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			clock.Advance(5 * time.Second)
			tok, err := h.TokenSource(context.Background(), "a1").Token()
			if err != nil || tok.AccessToken != "at.a1.0" {
				t.Fatalf("call %d: %v, %v; want the stored token", i, tok, err)
			}
		}
		if n := prov.refreshCount(); n != 0 {
			t.Errorf("refreshes for three calls within the token's first 15 s: %d, want 0", n)
		}
		// Near its end (the last quarter of its life) it is refreshed.
		clock.Advance(35 * time.Second)
		tok, err := h.TokenSource(context.Background(), "a1").Token()
		if err != nil || tok.AccessToken != "at.a1.1" || prov.refreshCount() != 1 {
			t.Fatalf("near expiry: %v, %v, %d refreshes; want one refresh", tok, err, prov.refreshCount())
		}
	})
}

// A still-valid access token without a refresh token is handed out until
// it expires (nothing better can be had), not refused in its last minute.
func TestTokenSourceWithoutRefreshTokenServesUntilExpiry(t *testing.T) {
	h, clock, _, _ := newTestHandler(t, NewMemoryStore(), "p", "http://127.0.0.1:1/token", "", "client", "secret")
	now := clock.Now()
	c := seedConnection(t, h, "a1", now.Add(30*time.Second), time.Time{}, time.Time{})
	c.RefreshToken = ""
	if _, err := h.Store.PutConnection(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if tok, err := h.TokenSource(context.Background(), "a1").Token(); err != nil || tok.AccessToken != "at.a1.0" {
		t.Fatalf("Token 30 s before expiry: %v, %v; want the stored token", tok, err)
	}
	clock.Advance(31 * time.Second)
	if _, err := h.TokenSource(context.Background(), "a1").Token(); err == nil {
		t.Fatal("Token after expiry without a refresh token: want an error")
	}
}

// Connecting an account whose access tokens are too short-lived to be
// useful says so at connect.
func TestWarnShortAccessLifetime(t *testing.T) {
	r := newRig(t, memoryStore)
	r.prov.expiresIn = 60
	resp, cookie := r.start(t, "")
	if cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie); cb.StatusCode != 200 {
		t.Fatalf("callback = %d", cb.StatusCode)
	}
	if !strings.Contains(r.logs.String(), "access tokens live only 60 s") {
		t.Errorf("no warning for 60-s access tokens:\n%s", r.logs)
	}
}

// Issue 10 item 22: an on-demand refresh is logged (no token in the line).
func TestOnDemandRefreshIsLogged(t *testing.T) {
	h, clock, logs, _ := newTestHandler(t, NewMemoryStore(), "p", "", "", "client", "secret")
	prov := newCountingProvider(clock.Now)
	srv := httptest.NewServer(prov)
	defer srv.Close()
	h.Config.Provider.Endpoint.TokenURL = srv.URL
	now := clock.Now()
	seedConnection(t, h, "a1", now.Add(-time.Second), now.Add(48*time.Hour), time.Time{})
	if _, err := h.TokenSource(context.Background(), "a1").Token(); err != nil {
		t.Fatal(err)
	}
	line := ""
	for l := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(l, "refreshed on demand") {
			line = l
		}
	}
	if line == "" || !strings.Contains(line, `"account_id":"a1"`) {
		t.Fatalf("no log line for the on-demand refresh:\n%s", logs)
	}
	if strings.Contains(logs.String(), "at.a1.") || strings.Contains(logs.String(), "rt.a1.") {
		t.Errorf("a token reached the logs")
	}
}

// refreshCount is how many refreshes the provider granted.
func (p *countingProvider) refreshCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.times)
}
