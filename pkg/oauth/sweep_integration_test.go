package oauth

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"golang.org/x/oauth2"

	"github.com/oauthfn/oauthfn/internal/testenv"
)

// countingDynamo counts the items the sweep reads through the real client.
type countingDynamo struct {
	DynamoAPI
	mu      sync.Mutex
	queried int // items returned by Query
	scans   int
}

func (c *countingDynamo) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := c.DynamoAPI.Query(ctx, in, optFns...)
	if err == nil {
		c.mu.Lock()
		c.queried += len(out.Items)
		c.mu.Unlock()
	}
	return out, err
}

func (c *countingDynamo) Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	c.mu.Lock()
	c.scans++
	c.mu.Unlock()
	return c.DynamoAPI.Scan(ctx, in, optFns...)
}

func motoStore(t testing.TB) (*DynamoStore, *countingDynamo) {
	t.Helper()
	testenv.Moto(t)
	cfg, err := config.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	client := dynamodb.NewFromConfig(cfg)
	table := testenv.Name(t, "sweep")
	if err := CreateTable(t.Context(), client, table); err != nil {
		t.Fatal(err)
	}
	cd := &countingDynamo{DynamoAPI: client}
	return NewDynamoStore(cd, table), cd
}

// TestSweepDynamo runs the sweep on DynamoDB (serialised moto, the real
// SDK): the sharded index query reads only due items and no Scan; a shard
// range sweeps only its shards; two concurrent sweeps refresh each due
// connection once; the rate limiter item holds under concurrency.
func TestSweepDynamo(t *testing.T) {
	store, cd := motoStore(t)
	clock := newFakeClock()
	p := newCountingProvider(clock.Now)
	srv := httptest.NewServer(p)
	defer srv.Close()
	h, _, _, _ := newTestHandler(t, store, "rc", srv.URL, "", "client", "secret")
	h.Now, h.Sleep = clock.Now, clock.Sleep
	now := clock.Now()
	const total, due = 60, 24
	dueShards := map[int]int{}
	for i := range total {
		a := fmt.Sprintf("acct-%02d", i)
		refreshAt := now.Add(time.Duration(i+1) * time.Hour) // not due
		if i < due {
			refreshAt = now.Add(-time.Duration(i+1) * time.Minute)
			dueShards[ShardOf(ConnectionKey("rc", a))]++
		}
		seedConnection(t, h, a, now.Add(time.Hour), now.Add(3*24*time.Hour), refreshAt)
	}

	// First half of the shards only.
	wantFirst := 0
	for s := range 8 {
		wantFirst += dueShards[s]
	}
	lo, hi := 0, 7
	sum, err := h.Sweep(context.Background(), SweepInput{ShardFrom: &lo, ShardTo: &hi})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Due != wantFirst || sum.Refreshed != wantFirst {
		t.Errorf("shards 0-7: got %+v, want %d due and refreshed", sum, wantFirst)
	}

	// The rest, by two sweeps at once.
	cd.mu.Lock()
	cd.queried = 0
	cd.mu.Unlock()
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
	wg.Wait()
	if got := sums[0].Refreshed + sums[1].Refreshed; got != due-wantFirst {
		t.Errorf("concurrent sweeps refreshed %d, want %d (%+v, %+v)", got, due-wantFirst, sums[0], sums[1])
	}
	p.mu.Lock()
	for i := range due {
		if got := p.calls[fmt.Sprintf("acct-%02d", i)]; got != 1 {
			t.Errorf("acct-%02d: %d refreshes at the provider, want 1", i, got)
		}
	}
	if n := len(p.times); n != due {
		t.Errorf("provider refreshes: got %d, want %d", n, due)
	}
	p.mu.Unlock()
	cd.mu.Lock()
	if cd.scans != 0 {
		t.Errorf("Scan calls: got %d, want 0", cd.scans)
	}
	// Two sweeps each read at most the due items.
	if max := 2 * (due - wantFirst); cd.queried > max {
		t.Errorf("index items read: got %d, want at most %d", cd.queried, max)
	}
	cd.mu.Unlock()
	if got := sweepOnce(t, h); got.Due != 0 {
		t.Errorf("sweep after: got %+v, want nothing due", got)
	}
	noLeases(t, store)
}

// TestSweepOIDC connects an account through oidc-provider's real flow
// (refresh tokens rotate; a reused one revokes the grant), then sweeps
// twice in a row: the second refresh uses the rotated refresh token, which
// proves it was stored.
func TestSweepOIDC(t *testing.T) {
	redirect := "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) + "/callback"
	o := testenv.StartOIDC(t, testenv.OIDCOptions{
		RedirectURIs:          []string{redirect},
		RefreshTokenExpiresIn: true,
		AccountField:          "owner_id",
		AccessTokenTTL:        10 * time.Minute,
		RefreshTokenTTL:       7 * 24 * time.Hour,
	})
	h, _, logs, _ := newTestHandler(t, NewMemoryStore(), PresetGeneric, o.TokenURL, o.RevokeURL, o.ClientID, o.ClientSecret)
	h.Now, h.Sleep = time.Now, nil // oidc-provider keeps real time
	h.Config.Provider.Endpoint.AuthURL = o.AuthURL
	h.Config.Provider.AccountField = "owner_id"
	h.Config.KeepaliveMargin = 8 * 24 * time.Hour // always due: forces the refresh

	ctx := testenv.Context(t)
	secret, _ := h.Secrets.ClientSecret(ctx)
	conf := h.oauth2Config(redirect, secret)
	verifier := oauth2.GenerateVerifier()
	cb := o.Login(t, conf.AuthCodeURL("state-oidc", oauth2.S256ChallengeOption(verifier)), "grace")
	tok, err := conf.Exchange(h.clientContext(ctx), cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	now := h.Now()
	c := &Connection{Provider: PresetGeneric, AccountID: "grace", Status: StatusActive, Version: 1, CreatedAt: now, UpdatedAt: now}
	sealer, _ := h.Secrets.Sealer(ctx)
	if err := h.applyToken(c, sealer, tok, now); err != nil {
		t.Fatal(err)
	}
	if c.RefreshAt.IsZero() || c.RefreshAt.After(now) {
		t.Fatalf("refresh_at %v: want due now (refresh expiry %v)", c.RefreshAt, c.RefreshExpiresAt)
	}
	if _, err := h.Store.PutConnection(ctx, c); err != nil {
		t.Fatal(err)
	}

	var refreshTokens []string
	_, _, rt := getOpen(t, h, "grace")
	refreshTokens = append(refreshTokens, rt)
	for i := range 2 {
		sum, err := h.Sweep(ctx, SweepInput{})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Refreshed != 1 || sum.Failed+sum.ReauthRequired != 0 {
			t.Fatalf("sweep %d: got %+v, want one refreshed\n%s", i+1, sum, logs.String())
		}
		c, _, rt := getOpen(t, h, "grace")
		if c.Status != StatusActive || c.RefreshExpiresAt.IsZero() {
			t.Errorf("sweep %d: status %s refresh expiry %v", i+1, c.Status, c.RefreshExpiresAt)
		}
		refreshTokens = append(refreshTokens, rt)
	}
	if refreshTokens[0] == refreshTokens[1] || refreshTokens[1] == refreshTokens[2] {
		t.Errorf("refresh token not rotated at each sweep")
	}
	// The stored access token works at the provider's userinfo endpoint.
	client := oauth2.NewClient(ctx, h.TokenSource(ctx, "grace"))
	resp, err := client.Get(o.UserinfoURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("userinfo with the stored token: got %d, want 200", resp.StatusCode)
	}
}
