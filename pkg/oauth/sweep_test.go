package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/internal/mockrc"
)

func TestBackoff(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	week := now.Add(7 * 24 * time.Hour)
	tests := []struct {
		name     string
		failures int
		expires  time.Time
		want     time.Time
	}{
		{"first failure", 1, week, now.Add(time.Minute)},
		{"second", 2, week, now.Add(2 * time.Minute)},
		{"fifth", 5, week, now.Add(16 * time.Minute)},
		{"capped", 6, week, now.Add(30 * time.Minute)},
		{"capped far out", 60, week, now.Add(30 * time.Minute)},
		{"unknown expiry", 3, time.Time{}, now.Add(4 * time.Minute)},
		{"never past expiry minus safety", 6, now.Add(20 * time.Minute), now.Add(10 * time.Minute)},
		{"expiry near: now", 1, now.Add(5 * time.Minute), now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := backoff(tt.failures, tt.expires, now); !got.Equal(tt.want) {
				t.Errorf("backoff(%d): got %v, want %v", tt.failures, got, tt.want)
			}
		})
	}
}

func TestSweepInputShards(t *testing.T) {
	n := func(i int) *int { return &i }
	event, err := os.ReadFile("../../events/refresh.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		json     string
		from, to int
		wantErr  bool
	}{
		{"scheduled event: all shards", `{"version":"0","id":"x","detail-type":"Scheduled Event","source":"aws.events","detail":{}}`, 0, 15, false},
		{"empty", `{}`, 0, 15, false},
		{"range", `{"shard_from":0,"shard_to":7}`, 0, 7, false},
		{"second half", `{"shard_from":8,"shard_to":15}`, 8, 15, false},
		{"one shard", `{"shard_from":3,"shard_to":3}`, 3, 3, false},
		{"from only", `{"shard_from":12}`, 12, 15, false},
		{"to only", `{"shard_to":2}`, 0, 2, false},
		{"reversed", `{"shard_from":9,"shard_to":8}`, 0, 0, true},
		{"negative", `{"shard_from":-1,"shard_to":8}`, 0, 0, true},
		{"past the last shard", `{"shard_from":0,"shard_to":16}`, 0, 0, true},
		{"events/refresh.json: EventBridge Scheduler, range in detail", string(event), 0, 15, false},
		{"range in detail", `{"source":"aws.scheduler","detail":{"shard_from":8,"shard_to":15}}`, 8, 15, false},
		{"top level wins over detail", `{"shard_from":1,"shard_to":1,"detail":{"shard_from":8}}`, 1, 1, false},
		{"bad range in detail", `{"detail":{"shard_from":3,"shard_to":16}}`, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in SweepInput
			if err := json.Unmarshal([]byte(tt.json), &in); err != nil {
				t.Fatalf("unmarshal: %v", err)
			}
			from, to, err := in.shards()
			if (err != nil) != tt.wantErr {
				t.Fatalf("shards: got error %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && (from != tt.from || to != tt.to) {
				t.Errorf("shards: got %d-%d, want %d-%d", from, to, tt.from, tt.to)
			}
		})
	}
	h, _, _, _ := newTestHandler(t, NewMemoryStore(), "rc", "http://127.0.0.1:1/token", "", "client", "secret")
	if _, err := h.Sweep(context.Background(), SweepInput{ShardFrom: n(5), ShardTo: n(4)}); err == nil {
		t.Error("Sweep with a reversed range: got nil error, want one")
	}
}

// TestSweepRefreshes: keepalive mode refreshes connections whose refresh
// token is within KEEPALIVE_MARGIN of expiry, stores the rotated tokens and
// moves refresh_at to the new expiry − margin; the next sweep finds nothing.
func TestSweepRefreshes(t *testing.T) {
	r := newRCRig(t, NewMemoryStore(), mockrc.Options{})
	for _, a := range []string{"1001", "1002", "1003"} {
		r.connect(t, a)
	}
	if got := sweepOnce(t, r.h); got.Due != 0 || got.Refreshed != 0 {
		t.Fatalf("sweep right after connecting: got %+v, want nothing due", got)
	}
	_, oldAccess, oldRefresh := r.get(t, "1001")
	r.clock.Advance(5*24*time.Hour + time.Second) // 7 d − 48 h margin
	got := sweepOnce(t, r.h)
	if want := (SweepSummary{Due: 3, Refreshed: 3}); summaryWithoutDuration(got) != want {
		t.Errorf("sweep: got %+v, want %+v", got, want)
	}
	c, access, refresh := r.get(t, "1001")
	if access == oldAccess || refresh == oldRefresh {
		t.Errorf("tokens not rotated in the store")
	}
	now := r.clock.Now()
	if want := now.Add(7*24*time.Hour - 48*time.Hour); !c.RefreshAt.Equal(want) {
		t.Errorf("refresh_at: got %v, want %v", c.RefreshAt, want)
	}
	if want := now.Add(time.Hour); !c.AccessExpiresAt.Equal(want) {
		t.Errorf("access_expires_at: got %v, want %v", c.AccessExpiresAt, want)
	}
	if c.Version != 2 || c.Failures != 0 || !c.LastRefreshAt.Equal(now) || c.Status != StatusActive {
		t.Errorf("bookkeeping: version %d failures %d last refresh %v status %s", c.Version, c.Failures, c.LastRefreshAt, c.Status)
	}
	if got := r.rc.Calls(mockrc.TokenPath); got != 6 { // 3 exchanges + 3 refreshes
		t.Errorf("token calls: got %d, want 6", got)
	}
	if got := sweepOnce(t, r.h); got.Due != 0 {
		t.Errorf("second sweep: got %+v, want nothing due", got)
	}
	noLeases(t, r.store)
	if logs := r.logs.String() + r.metrics.String(); strings.Contains(logs, "mockrc_at_") || strings.Contains(logs, "mockrc_rt_") {
		t.Errorf("a token reached the logs or metrics")
	}
}

func TestSweepEagerMode(t *testing.T) {
	r := newRCRig(t, NewMemoryStore(), mockrc.Options{})
	r.h.Config.RefreshMode = ModeEager
	r.connect(t, "1001")
	r.clock.Advance(44 * time.Minute)
	if got := sweepOnce(t, r.h); got.Due != 0 {
		t.Fatalf("at 44 min: got %+v, want nothing due", got)
	}
	r.clock.Advance(time.Minute) // 1 h − 15 min window
	if got := sweepOnce(t, r.h); got.Refreshed != 1 {
		t.Fatalf("at 45 min: got %+v, want one refreshed", got)
	}
	c, _, _ := r.get(t, "1001")
	if want := r.clock.Now().Add(45 * time.Minute); !c.RefreshAt.Equal(want) {
		t.Errorf("refresh_at: got %v, want %v", c.RefreshAt, want)
	}
}

// TestSweepFaults scripts the token endpoint for one due connection.
func TestSweepFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults []mockrc.Fault
		want   SweepSummary
		check  func(t *testing.T, r *rcRig, before *Connection)
	}{
		{"429 with Retry-After", []mockrc.Fault{mockrc.RateLimited("120")}, SweepSummary{Due: 1, RateLimited: 1},
			func(t *testing.T, r *rcRig, before *Connection) {
				healthy(t, r, before)
				if got, want := r.h.localPause(), r.clock.Now().Add(120*time.Second); !got.Equal(want) {
					t.Errorf("pause: got %v, want %v", got, want)
				}
				// No token call until Retry-After: a sweep with 60 s left
				// makes none.
				calls := r.rc.Calls(mockrc.TokenPath)
				ctx, cancel := context.WithDeadline(context.Background(), r.clock.Now().Add(60*time.Second))
				defer cancel()
				sum, err := r.h.Sweep(ctx, SweepInput{})
				if err != nil || sum.Refreshed != 0 || r.rc.Calls(mockrc.TokenPath) != calls {
					t.Errorf("sweep during the pause: got %+v, %v, %d token calls, want none", sum, err, r.rc.Calls(mockrc.TokenPath)-calls)
				}
				r.clock.Advance(120 * time.Second)
				if sum := sweepOnce(t, r.h); sum.Refreshed != 1 {
					t.Errorf("sweep after the pause: got %+v, want one refreshed", sum)
				}
			}},
		{"429 without Retry-After waits 30 s", []mockrc.Fault{mockrc.RateLimited("")}, SweepSummary{Due: 1, RateLimited: 1},
			func(t *testing.T, r *rcRig, before *Connection) {
				healthy(t, r, before)
				if got, want := r.h.localPause(), r.clock.Now().Add(30*time.Second); !got.Equal(want) {
					t.Errorf("pause: got %v, want %v", got, want)
				}
			}},
		{"500", []mockrc.Fault{{Status: 500, Body: `{"error":"server_error"}`}}, SweepSummary{Due: 1, Failed: 1},
			func(t *testing.T, r *rcRig, before *Connection) {
				backedOff(t, r, before, "provider_unavailable")
			}},
		{"hang past the timeout", []mockrc.Fault{{Delay: -1}}, SweepSummary{Due: 1, Failed: 1},
			func(t *testing.T, r *rcRig, before *Connection) {
				backedOff(t, r, before, "provider_unavailable")
			}},
		{"200 carrying an error", []mockrc.Fault{{Status: 200, Body: `{"error":"temporarily_unavailable"}`}}, SweepSummary{Due: 1, Failed: 1},
			func(t *testing.T, r *rcRig, before *Connection) {
				backedOff(t, r, before, "provider_bad_response")
			}},
		{"200 without access_token", []mockrc.Fault{{Status: 200, Body: `{"token_type":"bearer","expires_in":3600}`}}, SweepSummary{Due: 1, Failed: 1},
			func(t *testing.T, r *rcRig, before *Connection) {
				backedOff(t, r, before, "provider_bad_response")
			}},
		{"invalid_grant: dead refresh token", []mockrc.Fault{{Status: 400, Body: `{"error":"invalid_grant","errors":[{"errorCode":"OAU-211"}]}`}},
			SweepSummary{Due: 1, ReauthRequired: 1},
			func(t *testing.T, r *rcRig, before *Connection) {
				c, _, _ := r.get(t, "1001")
				if c.Status != StatusReauthRequired || c.AccessToken != "" || c.RefreshToken != "" || !c.RefreshAt.IsZero() || c.LastError != "invalid_grant" {
					t.Errorf("connection: got status %s, tokens %t/%t, refresh_at %v, last_error %q; want reauth_required without tokens, out of the index",
						c.Status, c.AccessToken != "", c.RefreshToken != "", c.RefreshAt, c.LastError)
				}
				for i := range DueShards {
					if e, _ := r.store.QueryDue(context.Background(), i, r.clock.Now().Add(1000*time.Hour), 10); len(e) != 0 {
						t.Errorf("shard %d still lists %v", i, e)
					}
				}
				if _, err := r.h.TokenSource(context.Background(), "1001").Token(); !errors.Is(err, ErrReauthRequired) {
					t.Errorf("Token: got %v, want ErrReauthRequired", err)
				}
			}},
		{"invalid_client stops the sweep", []mockrc.Fault{{Status: 401, Body: `{"error":"invalid_client"}`}}, SweepSummary{Due: 1, Failed: 1},
			func(t *testing.T, r *rcRig, before *Connection) {
				healthy(t, r, before)
				if !strings.Contains(r.logs.String(), `check OAUTH_CLIENT_ID`) {
					t.Errorf("logs: want an error naming the fix, got %s", r.logs.String())
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRCRig(t, NewMemoryStore(), mockrc.Options{})
			r.connect(t, "1001")
			r.clock.Advance(5*24*time.Hour + time.Second)
			before, _, _ := r.get(t, "1001")
			r.script(tt.faults...)
			got := sweepOnce(t, r.h)
			if summaryWithoutDuration(got) != tt.want {
				t.Errorf("sweep: got %+v, want %+v", got, tt.want)
			}
			noLeases(t, r.store)
			tt.check(t, r, before)
		})
	}
}

// healthy: the connection kept its tokens, refresh_at and a clean record.
func healthy(t *testing.T, r *rcRig, before *Connection) {
	t.Helper()
	c, _, _ := r.get(t, before.AccountID)
	if c.Status != StatusActive || c.Failures != 0 || c.RefreshToken != before.RefreshToken || !c.RefreshAt.Equal(before.RefreshAt) {
		t.Errorf("connection: got status %s, failures %d, refresh_at %v, same refresh token %t; want it unchanged",
			c.Status, c.Failures, c.RefreshAt, c.RefreshToken == before.RefreshToken)
	}
}

// backedOff: failures+1, backoff, last_error, still active with its tokens.
func backedOff(t *testing.T, r *rcRig, before *Connection, lastError string) {
	t.Helper()
	c, _, _ := r.get(t, before.AccountID)
	want := r.clock.Now().Add(time.Minute)
	if c.Status != StatusActive || c.Failures != 1 || c.LastError != lastError || !c.RefreshAt.Equal(want) || c.RefreshToken != before.RefreshToken {
		t.Errorf("connection: got status %s, failures %d, last_error %q, refresh_at %v; want active, 1, %q, %v",
			c.Status, c.Failures, c.LastError, c.RefreshAt, lastError, want)
	}
}

// TestSweepInvalidClientStopsTakingWork: one refused call stops the sweep.
// With a rate limit the sweep stops before it reserves (and waits for) the
// next call's slot, however slowly the refusal is recorded: the store holds
// the write that records it until a second slot is reserved (or a while
// has passed), so a dispatcher that reserved on would be seen doing so.
func TestSweepInvalidClientStopsTakingWork(t *testing.T) {
	for _, rate := range []int{0, 5} {
		t.Run(fmt.Sprintf("rate %d a minute", rate), func(t *testing.T) {
			slow := &slowRefusalStore{Store: NewMemoryStore()}
			r := newRCRig(t, slow, mockrc.Options{})
			r.h.Config.SweepConcurrency = 1
			r.h.Config.TokenRatePerMin = rate
			for _, a := range []string{"1001", "1002", "1003"} {
				r.connect(t, a)
			}
			r.clock.Advance(5*24*time.Hour + time.Second)
			r.rc.Script(mockrc.TokenPath, mockrc.Fault{Status: 401, Body: `{"error":"invalid_client"}`})
			calls := r.rc.Calls(mockrc.TokenPath)
			start := r.clock.Now()
			if rate > 0 {
				slow.arm()
			}
			got := sweepOnce(t, r.h)
			if n := slow.reserves.Load(); rate > 0 && n != 1 {
				t.Errorf("the sweep reserved %d token-call slots; want 1 (none after the refusal)", n)
			}
			if want := (SweepSummary{Due: 3, Failed: 1}); summaryWithoutDuration(got) != want {
				t.Errorf("sweep: got %+v, want %+v", got, want)
			}
			if n := r.rc.Calls(mockrc.TokenPath) - calls; n != 1 {
				t.Errorf("token calls: got %d, want 1", n)
			}
			if n := strings.Count(r.logs.String(), "sweep stopped: the provider refused the client"); n != 1 {
				t.Errorf("error lines: got %d, want 1", n)
			}
			if waited := r.clock.Now().Sub(start); rate > 0 && waited >= time.Minute/time.Duration(rate) {
				t.Errorf("the sweep waited %v after the refusal: it reserved another call's slot", waited)
			}
			noLeases(t, r.store)
		})
	}
}

// slowRefusalStore holds CompleteLease, once armed, until a second
// ReserveTokenCall or half a second (the bound only ends a passing run).
type slowRefusalStore struct {
	Store
	armed    atomic.Bool
	reserves atomic.Int32
	second   chan struct{}
}

func (s *slowRefusalStore) arm() {
	s.second = make(chan struct{})
	s.reserves.Store(0)
	s.armed.Store(true)
}

func (s *slowRefusalStore) ReserveTokenCall(ctx context.Context, provider string, now time.Time, interval time.Duration) (time.Time, error) {
	if s.armed.Load() && s.reserves.Add(1) == 2 {
		close(s.second)
	}
	return s.Store.ReserveTokenCall(ctx, provider, now, interval)
}

func (s *slowRefusalStore) CompleteLease(ctx context.Context, c *Connection, owner string) error {
	if s.armed.Load() {
		select {
		case <-s.second:
		case <-time.After(500 * time.Millisecond):
		}
	}
	return s.Store.CompleteLease(ctx, c, owner)
}

// TestSweepResponseWithoutRefreshToken: the old refresh token and its
// expiry are kept.
func TestSweepResponseWithoutRefreshToken(t *testing.T) {
	clock := newFakeClock()
	provider := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"at-new","token_type":"bearer","expires_in":3600}`)
	})
	srv := httptest.NewServer(provider)
	defer srv.Close()
	h, clk, _, _ := newTestHandler(t, NewMemoryStore(), "rc", srv.URL, "", "client", "secret")
	h.Config.RefreshMode = ModeEager
	_ = clock
	now := clk.Now()
	before := seedConnection(t, h, "a", now.Add(-time.Minute), now.Add(3*24*time.Hour), now.Add(-time.Minute))
	if got := sweepOnce(t, h); got.Refreshed != 1 {
		t.Fatalf("sweep: got %+v, want one refreshed", got)
	}
	c, access, refresh := getOpen(t, h, "a")
	if access != "at-new" || refresh != "rt.a.0" || !c.RefreshExpiresAt.Equal(before.RefreshExpiresAt) {
		t.Errorf("got access %q refresh %q refresh expiry %v; want at-new, the old refresh token, %v", access, refresh, c.RefreshExpiresAt, before.RefreshExpiresAt)
	}
	if want := now.Add(45 * time.Minute); !c.RefreshAt.Equal(want) {
		t.Errorf("refresh_at: got %v, want %v", c.RefreshAt, want)
	}
}

// TestSweepRotateThenHang: the provider rotates but the answer never
// arrives; the next sweep recovers with the stored token through
// RingCentral's grace window.
func TestSweepRotateThenHang(t *testing.T) {
	r := newRCRig(t, NewMemoryStore(), mockrc.Options{})
	r.connect(t, "1001")
	r.clock.Advance(5*24*time.Hour + time.Second)
	r.script(mockrc.Fault{AfterSuccess: true, Delay: -1})
	if got := sweepOnce(t, r.h); got.Failed != 1 {
		t.Fatalf("first sweep: got %+v, want one failed", got)
	}
	r.clock.Advance(2 * time.Minute)
	if got := sweepOnce(t, r.h); got.Refreshed != 1 {
		t.Fatalf("second sweep: got %+v, want one refreshed", got)
	}
	useToken(t, r)
}

// useToken calls the extension endpoint with TokenSource's token.
func useToken(t *testing.T, r *rcRig) {
	t.Helper()
	tok, err := r.h.TokenSource(context.Background(), "1001").Token()
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, r.srv.URL+mockrc.ExtensionPath, nil)
	tok.SetAuthHeader(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("extension with the stored token: got %d, want 200", resp.StatusCode)
	}
}

// flakyStore fails CompleteLease while fail > 0.
type flakyStore struct {
	Store
	fail     atomic.Int32
	attempts atomic.Int32
}

func (s *flakyStore) CompleteLease(ctx context.Context, c *Connection, owner string) error {
	s.attempts.Add(1)
	if s.fail.Add(-1) >= 0 {
		return errors.New("oauth: complete lease: injected store failure")
	}
	return s.Store.CompleteLease(ctx, c, owner)
}

func TestSweepWriteFailsAfterRotation(t *testing.T) {
	t.Run("retried within the budget", func(t *testing.T) {
		fs := &flakyStore{Store: NewMemoryStore()}
		r := newRCRig(t, fs, mockrc.Options{})
		r.connect(t, "1001")
		r.clock.Advance(5*24*time.Hour + time.Second)
		fs.fail.Store(2)
		if got := sweepOnce(t, r.h); got.Refreshed != 1 {
			t.Fatalf("sweep: got %+v, want one refreshed", got)
		}
		if got := fs.attempts.Load(); got != 3 {
			t.Errorf("CompleteLease attempts: got %d, want 3", got)
		}
		useToken(t, r)
	})
	t.Run("recovered by the next sweep through the grace window", func(t *testing.T) {
		fs := &flakyStore{Store: NewMemoryStore()}
		r := newRCRig(t, fs, mockrc.Options{})
		r.connect(t, "1001")
		r.clock.Advance(5*24*time.Hour + time.Second)
		_, _, oldRefresh := r.get(t, "1001")
		fs.fail.Store(1 << 20)
		if got := sweepOnce(t, r.h); got.Failed != 1 || got.Refreshed != 0 {
			t.Fatalf("first sweep: got %+v, want one failed", got)
		}
		if !strings.Contains(r.logs.String(), "new tokens could not be stored") {
			t.Errorf("logs: want an error about the lost write, got %s", r.logs.String())
		}
		if _, _, refresh := r.get(t, "1001"); refresh != oldRefresh {
			t.Errorf("refresh token changed though the write failed")
		}
		fs.fail.Store(0)
		r.clock.Advance(2 * time.Minute) // the lease has ended
		if got := sweepOnce(t, r.h); got.Refreshed != 1 {
			t.Fatalf("second sweep: got %+v, want one refreshed", got)
		}
		useToken(t, r)
		noLeases(t, r.store)
	})
}

// TestSweepInvalidGrantAfterAnotherWriter: while our refresh is in flight,
// our lease expires and another writer rotates the token; the provider then
// refuses ours (no grace). The re-read shows the new token: not an error.
func TestSweepInvalidGrantAfterAnotherWriter(t *testing.T) {
	r := newRCRig(t, NewMemoryStore(), mockrc.Options{GraceWindow: mockrc.NoGrace})
	r.connect(t, "1001")
	r.clock.Advance(5*24*time.Hour + time.Second)
	other := &Handler{Config: r.h.Config, Store: r.h.Store, Secrets: r.h.Secrets, Log: r.h.Log,
		HTTPClient: &http.Client{Timeout: answerTimeout}, Now: r.h.Now, Sleep: r.h.Sleep}
	var once atomic.Bool
	r.h.HTTPClient = &http.Client{Timeout: answerTimeout, Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if once.CompareAndSwap(false, true) {
			r.clock.Advance(LeaseDuration + time.Second)
			ctx := context.Background()
			c, err := other.Store.GetConnection(ctx, "ringcentral", "1001")
			if err != nil {
				t.Error(err)
			}
			c.AccessExpiresAt = r.clock.Now() // make the app refresh
			if _, _, err := other.token(ctx, "1001", nil); err != nil {
				t.Errorf("other writer: %v", err)
			}
		}
		return http.DefaultTransport.RoundTrip(req)
	})}
	got := sweepOnce(t, r.h)
	if want := (SweepSummary{Due: 1, SkippedLeased: 1}); summaryWithoutDuration(got) != want {
		t.Errorf("sweep: got %+v, want %+v", got, want)
	}
	c, _, _ := r.get(t, "1001")
	if c.Status != StatusActive || c.Version != 2 {
		t.Errorf("connection: got status %s version %d, want active 2 (the other writer's)", c.Status, c.Version)
	}
	useToken(t, r)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestSweepDeadline: with a provider taking 7 s (on the clock), the sweep
// takes work while its budget (provider timeout + 5 s write + 2 s margin)
// remains before the deadline, then stops cleanly.
func TestSweepDeadline(t *testing.T) {
	const step = 7 * time.Second // each provider call, on the clock
	clock := newAheadClock()
	p := newCountingProvider(clock.Now)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clock.Advance(step)
		p.ServeHTTP(w, r)
	}))
	defer srv.Close()
	h, _, _, _ := newTestHandler(t, NewMemoryStore(), "rc", srv.URL, "", "client", "secret")
	h.Now, h.Sleep = clock.Now, clock.Sleep
	h.Config.SweepConcurrency = 1
	now := clock.Now()
	for i := range 6 {
		seedConnection(t, h, fmt.Sprint("acct-", i), now.Add(time.Hour), now.Add(24*time.Hour+time.Duration(i)*time.Minute), now.Add(-time.Minute))
	}
	budget := h.providerTimeout() + writeBudget + stopMargin
	tests := []struct {
		name      string
		left      time.Duration
		refreshed int
	}{
		{"just under the budget: no work", budget - time.Second, 0},
		{"the budget and three and a half calls: four refreshes", budget + 3*step + step/2, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithDeadline(context.Background(), clock.Now().Add(tt.left))
			defer cancel()
			got, err := h.Sweep(ctx, SweepInput{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Refreshed != tt.refreshed || got.Failed != 0 {
				t.Errorf("sweep: got %+v, want %d refreshed", got, tt.refreshed)
			}
			noLeases(t, h.Store)
		})
	}
	// Served closest to losing the refresh token first.
	if want := []string{"acct-0", "acct-1", "acct-2", "acct-3"}; fmt.Sprint(p.order) != fmt.Sprint(want) {
		t.Errorf("order: got %v, want %v", p.order, want)
	}
}

// TestSweepRateLimit: with TOKEN_RATE_PER_MIN=5 the token calls (on the
// clock) never exceed 5 in any minute, and the most urgent go first.
func TestSweepRateLimit(t *testing.T) {
	clock := newAheadClock()
	p := newCountingProvider(clock.Now)
	srv := httptest.NewServer(p)
	defer srv.Close()
	h, _, _, _ := newTestHandler(t, NewMemoryStore(), "rc", srv.URL, "", "client", "secret")
	h.Now, h.Sleep = clock.Now, clock.Sleep
	h.Config.TokenRatePerMin = 5
	h.Config.SweepConcurrency = 16
	now := clock.Now()
	const n = 40
	for i := range n {
		// Expiry order is the reverse of account order.
		seedConnection(t, h, fmt.Sprintf("acct-%02d", i), now.Add(time.Hour), now.Add(48*time.Hour-time.Duration(i)*time.Minute), now.Add(-time.Minute))
	}
	const left = 5 * time.Minute
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(left))
	defer cancel()
	got, err := h.Sweep(ctx, SweepInput{})
	if err != nil {
		t.Fatal(err)
	}
	if max := maxPerMinute(p.times); max > 5 {
		t.Errorf("token calls in one minute: got %d, want at most 5", max)
	}
	// 5 min minus the stop budget (provider timeout + 5 s write + 2 s
	// margin) at one call per 12 s, the first at once.
	budget := h.providerTimeout() + writeBudget + stopMargin
	want := int((left-budget)/(12*time.Second)) + 1
	if got.Refreshed < want-1 || got.Refreshed > want {
		t.Errorf("refreshed: got %d, want %d or %d (%+v)", got.Refreshed, want-1, want, got)
	}
	for i, a := range p.order {
		if want := fmt.Sprintf("acct-%02d", n-1-i); a != want {
			t.Errorf("call %d: got %s, want %s (closest to expiry first)", i, a, want)
			break
		}
	}
	noLeases(t, h.Store)
}

// maxPerMinute is the most calls in any 60-second window.
func maxPerMinute(times []time.Time) int {
	best := 0
	for i := range times {
		n := 0
		for j := range times {
			if d := times[j].Sub(times[i]); d >= 0 && d < time.Minute {
				n++
			}
		}
		best = max(best, n)
	}
	return best
}

// TestSweepMetrics: the sweep writes one EMF line, dimensioned by
// Config.MetricsService (the stack's name in AWS), "oauthfn" when unset.
func TestSweepMetrics(t *testing.T) {
	for _, service := range []string{"", "oauthfn-staging"} {
		t.Run("service="+service, func(t *testing.T) { testSweepMetrics(t, service) })
	}
}

func testSweepMetrics(t *testing.T, service string) {
	want := service
	if want == "" {
		want = "oauthfn"
	}
	r := newRCRig(t, NewMemoryStore(), mockrc.Options{})
	r.h.Config.MetricsService = service
	r.connect(t, "1001")
	r.clock.Advance(5*24*time.Hour + time.Second)
	sweepOnce(t, r.h)
	var line struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Service        string
		Due, Refreshed int
		DurationMS     *int64 `json:"duration_ms"`
	}
	lines := strings.Split(strings.TrimSpace(r.metrics.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("metrics: got %d lines, want 1", len(lines))
	}
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatalf("metrics line: %v", err)
	}
	if line.Service != want || line.Due != 1 || line.Refreshed != 1 || line.DurationMS == nil || line.AWS.Timestamp != r.clock.Now().UnixMilli() {
		t.Errorf("metrics values: got %s", lines[0])
	}
	if len(line.AWS.CloudWatchMetrics) != 1 {
		t.Fatalf("directives: got %d, want 1", len(line.AWS.CloudWatchMetrics))
	}
	d := line.AWS.CloudWatchMetrics[0]
	var names []string
	for _, m := range d.Metrics {
		names = append(names, m.Name+":"+m.Unit)
	}
	wantNames := "due:Count refreshed:Count failed:Count reauth_required:Count rate_limited:Count skipped_leased:Count revoked:Count pending_expired:Count duration_ms:Milliseconds"
	if d.Namespace != "oauthfn" || fmt.Sprint(d.Dimensions) != "[[Service]]" || strings.Join(names, " ") != wantNames {
		t.Errorf("directive: got %s %v %v, want oauthfn [[Service]] %s", d.Namespace, d.Dimensions, names, wantNames)
	}
}
