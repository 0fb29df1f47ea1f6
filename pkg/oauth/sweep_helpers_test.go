package oauth

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/oauthfn/oauthfn/internal/testenv"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// Test helpers of the sweep and TokenSource tests: a fake clock, static
// secrets, a locked log buffer, a counting provider and a mockrc rig.

const testTokenKey = Secret("0123456789abcdef0123456789abcdef-sweep-tests")

// answerTimeout is the client timeout of the test handlers: a bound a real
// answer from a stand-in never reaches, even on a loaded 2-core machine
// under -race (where a loopback answer can take seconds). Only an endpoint
// scripted to hang gets a short timeout, and only for that request.
const answerTimeout = 30 * time.Second

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

// newFakeClock starts at the wall clock's second (so context deadlines
// relative to it are meaningful) and only moves when told.
func newFakeClock() *fakeClock { return &fakeClock{t: time.Now().Truncate(time.Second)} }

// newAheadClock starts an hour ahead of the wall clock: a context deadline
// set a few minutes from it is what the sweep plans against (on this clock)
// and never expires in real time while the test runs, however loaded the
// machine.
func newAheadClock() *fakeClock {
	return &fakeClock{t: time.Now().Add(time.Hour).Truncate(time.Second)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Sleep advances the clock instead of waiting.
func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}

type sweepTestSecrets struct {
	client Secret
	sealer *Sealer
}

func (s *sweepTestSecrets) ClientSecret(context.Context) (Secret, error) { return s.client, nil }
func (s *sweepTestSecrets) Sealer(context.Context) (*Sealer, error)      { return s.sealer, nil }
func (s *sweepTestSecrets) AppKeys(context.Context) (connect.Keys, error) {
	return connect.Keys{Current: testAppKey}, nil
}

func newTestSecrets(t testing.TB, client string) *sweepTestSecrets {
	t.Helper()
	sealer, err := NewSealer(testTokenKey)
	if err != nil {
		t.Fatal(err)
	}
	return &sweepTestSecrets{client: Secret(client), sealer: sealer}
}

// newTestHandler builds a Handler on store for a provider at tokenURL with
// a fake clock, answerTimeout as the provider timeout and captured logs and
// metrics.
func newTestHandler(t testing.TB, store Store, providerName, tokenURL, revokeURL, clientID, clientSecret string) (*Handler, *fakeClock, *testenv.Buffer, *testenv.Buffer) {
	t.Helper()
	clock := newFakeClock()
	logs, metrics := &testenv.Buffer{}, &testenv.Buffer{}
	h := &Handler{
		Config: Config{
			Provider: Provider{
				Name:      providerName,
				Endpoint:  oauth2.Endpoint{AuthURL: tokenURL + "/authorize", TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInHeader},
				RevokeURL: revokeURL,
			},
			ClientID:         clientID,
			RefreshMode:      ModeKeepalive,
			RefreshWindow:    15 * time.Minute,
			KeepaliveMargin:  48 * time.Hour,
			SweepConcurrency: 4,
		},
		Store:      store,
		Secrets:    newTestSecrets(t, clientSecret),
		HTTPClient: &http.Client{Timeout: answerTimeout},
		Log:        slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:        clock.Now,
		Sleep:      clock.Sleep,
		Metrics:    metrics,
	}
	return h, clock, logs, metrics
}

// ---- counting provider: strict rotation, one generation per account ----

// countingProvider is a token endpoint for refresh grants only. Refresh
// tokens are "rt.<account>.<generation>"; only the current generation is
// accepted (no grace), so a second refresh with the same token fails with
// invalid_grant. It counts refreshes per account and records when (on the
// clock) each happened.
type countingProvider struct {
	clock     func() time.Time
	latency   time.Duration // real delay before answering (benchmarks)
	expiresIn int           // access-token lifetime in seconds; 0 means 3600

	mu      sync.Mutex
	gen     map[string]int
	calls   map[string]int
	times   []time.Time
	order   []string
	refused int
}

func newCountingProvider(clock func() time.Time) *countingProvider {
	return &countingProvider{clock: clock, gen: map[string]int{}, calls: map[string]int{}}
}

func (p *countingProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.latency > 0 {
		time.Sleep(p.latency)
	}
	id, secret, ok := r.BasicAuth()
	if !ok || id != "client" || secret != "secret" || r.PostFormValue("client_secret") != "" {
		writeTokenError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	if r.PostFormValue("grant_type") != "refresh_token" {
		writeTokenError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	parts := strings.Split(r.PostFormValue("refresh_token"), ".")
	if len(parts) != 3 || parts[0] != "rt" {
		writeTokenError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	account := parts[1]
	g, _ := strconv.Atoi(parts[2])
	p.mu.Lock()
	if g != p.gen[account] {
		p.refused++
		p.mu.Unlock()
		writeTokenError(w, http.StatusBadRequest, "invalid_grant")
		return
	}
	p.gen[account]++
	g = p.gen[account]
	p.calls[account]++
	p.times = append(p.times, p.clock())
	p.order = append(p.order, account)
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token":             fmt.Sprintf("at.%s.%d", account, g),
		"refresh_token":            fmt.Sprintf("rt.%s.%d", account, g),
		"token_type":               "bearer",
		"expires_in":               cmp.Or(p.expiresIn, 3600),
		"refresh_token_expires_in": 7 * 24 * 3600,
	})
}

func writeTokenError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"error":%q}`, code)
}

// seedConnection stores a connection whose tokens are generation 0 of
// account at the counting provider, with the given expiries and refresh_at.
func seedConnection(t testing.TB, h *Handler, account string, accessExp, refreshExp, refreshAt time.Time) *Connection {
	t.Helper()
	sealer, _ := h.Secrets.Sealer(context.Background())
	c := &Connection{Provider: h.Config.Provider.Name, AccountID: account, TokenType: "Bearer",
		Status: StatusActive, Version: 1, AccessExpiresAt: accessExp, RefreshExpiresAt: refreshExp,
		RefreshAt: refreshAt, CreatedAt: h.Now(), UpdatedAt: h.Now(), KeyID: sealer.KeyID()}
	var err error
	if c.AccessToken, err = sealer.SealField("at."+account+".0", c.Key(), attrAccessToken); err != nil {
		t.Fatal(err)
	}
	if c.RefreshToken, err = sealer.SealField("rt."+account+".0", c.Key(), attrRefreshToken); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Store.PutConnection(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

// ---- mockrc rig ----

type rcRig struct {
	cut     *hangCutter
	h       *Handler
	rc      *mockrc.Server
	srv     *httptest.Server
	clock   *fakeClock
	logs    *testenv.Buffer
	metrics *testenv.Buffer
	store   Store
}

func newRCRig(t testing.TB, store Store, opts mockrc.Options) *rcRig {
	t.Helper()
	r := &rcRig{store: store}
	var clk *fakeClock
	opts.Now = func() time.Time { return clk.Now() }
	r.rc = mockrc.New(opts)
	// Read the body before mockrc sees it: net/http notices a client that
	// gave up (and ends the request's context, which mockrc's Delay:-1
	// waits for) only once the body has been read to its end.
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
		r.rc.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	h, clock, logs, metrics := newTestHandler(t, store, PresetRingCentral, r.srv.URL+mockrc.TokenPath,
		r.srv.URL+mockrc.RevokePath, mockrc.DefaultClientID, mockrc.DefaultClientSecret)
	clk = clock
	h.Config.Provider.AccountField = "owner_id"
	// Every answer gets answerTimeout, so a loaded machine cannot turn a
	// real answer into a timeout; a scripted hang is cut by r.cut instead.
	r.cut = &hangCutter{cancels: map[string]context.CancelCauseFunc{}}
	h.HTTPClient = &http.Client{Timeout: answerTimeout, Transport: r.cut}
	r.h, r.clock, r.logs, r.metrics = h, clock, logs, metrics
	return r
}

// script scripts mockrc's token endpoint. A hang (Delay < 0) ends as a
// client timeout does, at the moment mockrc starts hanging (after the
// rotation, for AfterSuccess): neither a timeout that load can fire before
// the request arrives nor one that cuts the real answers after it.
func (r *rcRig) script(faults ...mockrc.Fault) {
	for i := range faults {
		if faults[i].Delay < 0 {
			faults[i].Hung = r.cut.cut
		}
	}
	r.rc.Script(mockrc.TokenPath, faults...)
}

// hangCutter is the rig's HTTP transport: it tags each request so that
// mockrc's Fault.Hung can end that one request with errProviderHung, as
// the client's timeout would end a hanging provider's.
type hangCutter struct {
	mu      sync.Mutex
	seq     int
	cancels map[string]context.CancelCauseFunc
}

const hangCutterHeader = "X-Test-Request"

// errProviderHung is what a cut request fails with: a net.Error that is a
// timeout, like http.Client's own "Client.Timeout exceeded".
var errProviderHung error = providerHung{}

type providerHung struct{}

func (providerHung) Error() string {
	return "test: the provider hangs (given up as a client timeout would)"
}
func (providerHung) Timeout() bool   { return true }
func (providerHung) Temporary() bool { return true }

func (c *hangCutter) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	c.mu.Lock()
	c.seq++
	id := strconv.Itoa(c.seq)
	c.cancels[id] = cancel
	c.mu.Unlock()
	req = req.Clone(ctx)
	req.Header.Set(hangCutterHeader, id)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil && errors.Is(context.Cause(ctx), errProviderHung) {
		return nil, errProviderHung
	}
	return resp, err
}

// cut ends the request r (as mockrc received it) with errProviderHung.
func (c *hangCutter) cut(r *http.Request) {
	c.mu.Lock()
	cancel := c.cancels[r.Header.Get(hangCutterHeader)]
	c.mu.Unlock()
	if cancel != nil {
		cancel(errProviderHung)
	}
}

// connect runs the authorization code flow at mockrc for account (the
// login page's form, then the code exchange with PKCE) and stores the
// connection as the callback does.
func (r *rcRig) connect(t testing.TB, account string) *Connection {
	t.Helper()
	ctx := context.Background()
	const redirect = "http://127.0.0.1/callback"
	verifier := oauth2.GenerateVerifier()
	form := url.Values{
		"client_id": {mockrc.DefaultClientID}, "redirect_uri": {redirect}, "state": {"state-" + account},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"},
		"account": {account},
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(r.srv.URL+mockrc.DecidePath, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("decide: got %d %q, want a redirect with a code", resp.StatusCode, resp.Header.Get("Location"))
	}
	secret, _ := r.h.Secrets.ClientSecret(ctx)
	tok, err := r.h.oauth2Config(redirect, secret).Exchange(r.h.clientContext(ctx), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	now := r.h.Now()
	c := &Connection{Provider: r.h.Config.Provider.Name, AccountID: account, TokenType: "Bearer", Scope: extraString(tok, "scope"),
		Status: StatusActive, Version: 1, CreatedAt: now, UpdatedAt: now, LastRefreshAt: now}
	sealer, _ := r.h.Secrets.Sealer(ctx)
	if err := r.h.applyToken(c, sealer, tok, now); err != nil {
		t.Fatal(err)
	}
	if _, err := r.store.PutConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	return c
}

// get reads a connection and opens its tokens.
func (r *rcRig) get(t testing.TB, account string) (c *Connection, access, refresh string) {
	t.Helper()
	return getOpen(t, r.h, account)
}

func getOpen(t testing.TB, h *Handler, account string) (c *Connection, access, refresh string) {
	t.Helper()
	c, err := h.Store.GetConnection(context.Background(), h.Config.Provider.Name, account)
	if err != nil {
		t.Fatalf("GetConnection(%s): %v", account, err)
	}
	sealer, _ := h.Secrets.Sealer(context.Background())
	if c.AccessToken != "" {
		if access, err = sealer.OpenField(c.AccessToken, c.Key(), attrAccessToken); err != nil {
			t.Fatal(err)
		}
	}
	if c.RefreshToken != "" {
		if refresh, err = sealer.OpenField(c.RefreshToken, c.Key(), attrRefreshToken); err != nil {
			t.Fatal(err)
		}
	}
	return c, access, refresh
}

// sweep runs one sweep with no deadline and fails the test on error.
func sweepOnce(t testing.TB, h *Handler) SweepSummary {
	t.Helper()
	sum, err := h.Sweep(context.Background(), SweepInput{})
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	return sum
}

// noLeases fails if any connection still holds a lease.
func noLeases(t testing.TB, s Store) {
	t.Helper()
	cs, err := s.ListConnections(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.LeaseOwner != "" || !c.LeaseUntil.IsZero() {
			t.Errorf("%s: lease left behind: %q until %v", c.AccountID, c.LeaseOwner, c.LeaseUntil)
		}
	}
}

// summaryWithoutDuration zeroes DurationMS (and the stop reason, checked
// where it matters) for comparisons of the counts.
func summaryWithoutDuration(s SweepSummary) SweepSummary {
	s.DurationMS = 0
	s.Stopped = ""
	return s
}
