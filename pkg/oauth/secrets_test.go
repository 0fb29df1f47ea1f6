package oauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/oauthfn/oauthfn/internal/testenv"
)

// smClient is the real Secrets Manager client, pointed at moto_server.
func smClient(t *testing.T) *secretsmanager.Client {
	t.Helper()
	testenv.Moto(t)
	cfg, err := config.LoadDefaultConfig(testenv.Context(t))
	if err != nil {
		t.Fatalf("load AWS config: %v", err)
	}
	return secretsmanager.NewFromConfig(cfg)
}

// createSecret creates a secret with a unique name and returns its ARN.
func createSecret(t *testing.T, c *secretsmanager.Client, prefix, value string) string {
	t.Helper()
	out, err := c.CreateSecret(testenv.Context(t), &secretsmanager.CreateSecretInput{
		Name:         aws.String(testenv.Name(t, prefix)),
		SecretString: aws.String(value),
	})
	if err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	return aws.ToString(out.ARN)
}

// rotateSecret stores a new AWSCURRENT value; the old one becomes AWSPREVIOUS.
func rotateSecret(t *testing.T, c *secretsmanager.Client, arn, value string) {
	t.Helper()
	_, err := c.PutSecretValue(testenv.Context(t), &secretsmanager.PutSecretValueInput{
		SecretId:     aws.String(arn),
		SecretString: aws.String(value),
	})
	if err != nil {
		t.Fatalf("PutSecretValue: %v", err)
	}
}

// countingSM counts GetSecretValue calls to the real client. When gate is
// set, each call first signals entered and waits for gate to close (or its
// context to end); when failIf returns an error, the call fails with it
// without reaching the client.
type countingSM struct {
	SecretsManagerAPI
	calls   atomic.Int64
	failIf  func(*secretsmanager.GetSecretValueInput) error
	entered chan struct{}
	gate    chan struct{}
}

func (c *countingSM) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.calls.Add(1)
	if c.gate != nil {
		select {
		case c.entered <- struct{}{}:
		default:
		}
		select {
		case <-c.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if c.failIf != nil {
		if err := c.failIf(in); err != nil {
			return nil, err
		}
	}
	return c.SecretsManagerAPI.GetSecretValue(ctx, in, opts...)
}

// waitBlockedIn waits (up to 30 s) until at least n goroutines are blocked
// in a select inside the function fn (as a goroutine dump names it).
func waitBlockedIn(t *testing.T, fn string, n int) {
	t.Helper()
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := 0
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "[select") && strings.Contains(g, fn) {
				got++
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines blocked in %s after 30 s, want %d", got, fn, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// testClock is a settable clock for the Now field.
type testClock struct{ t time.Time }

func (c *testClock) Now() time.Time          { return c.t }
func (c *testClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func newClock() *testClock { return &testClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func TestSecretsManagerClientSecret(t *testing.T) {
	client := smClient(t)
	keyARN := createSecret(t, client, "token-key", testKeyA.Reveal())
	tests := []struct {
		name    string
		value   string
		want    Secret
		wantErr string
	}{
		{name: "plain string", value: "plain-s3cret", want: "plain-s3cret"},
		{name: "plain string with newline", value: "plain-s3cret\n", want: "plain-s3cret"},
		{name: "JSON object", value: `{"client_secret":"json-s3cret","client_id":"abc"}`, want: "json-s3cret"},
		{name: "JSON string is plain", value: `"quoted-s3cret"`, want: `"quoted-s3cret"`},
		{name: "JSON array is plain", value: `["s3cret"]`, want: `["s3cret"]`},
		{name: "JSON without the key", value: `{"clientSecret":"wrong-key-s3cret"}`, wantErr: `"client_secret"`},
		{name: "JSON with empty key", value: `{"client_secret":""}`, wantErr: `"client_secret"`},
		{name: "JSON with an object", value: `{"client_secret":{"v":"nested-s3cret"}}`, wantErr: `"client_secret"`},
		{name: "only white space", value: "  \n", wantErr: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arn := createSecret(t, client, "client-secret", tt.value)
			m := NewSecretsManager(client, arn, keyARN, 0)
			got, err := m.ClientSecret(testenv.Context(t))
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ClientSecret = %q, nil; want error containing %s", got.Reveal(), tt.wantErr)
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, "oauth: client secret ") || !strings.Contains(msg, tt.wantErr) || !strings.Contains(msg, arn) {
					t.Errorf("error = %q, want prefix \"oauth: client secret\", %s and the ARN", msg, tt.wantErr)
				}
				if strings.Contains(msg, "s3cret") {
					t.Errorf("error %q contains the secret value", msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("ClientSecret: %v", err)
			}
			if got != tt.want {
				t.Errorf("ClientSecret = %q, want %q", got.Reveal(), tt.want.Reveal())
			}
		})
	}
}

func TestSecretsManagerTokenKeyRotation(t *testing.T) {
	client := smClient(t)
	ctx := testenv.Context(t)
	clientARN := createSecret(t, client, "client-secret", "s3cret")
	keyARN := createSecret(t, client, "token-key", testKeyA.Reveal())
	clock := newClock()
	m := NewSecretsManager(client, clientARN, keyARN, time.Minute)
	m.Now = clock.Now

	// Never rotated: no AWSPREVIOUS, which is normal.
	before, err := m.Sealer(ctx)
	if err != nil {
		t.Fatalf("Sealer before rotation: %v", err)
	}
	if want := mustSealer(t, testKeyA).KeyID(); before.KeyID() != want {
		t.Errorf("KeyID = %q, want %q (the key of AWSCURRENT)", before.KeyID(), want)
	}
	const aad = "conn#ringcentral#42"
	sealedOld, err := before.Seal("token-before-rotation", aad)
	if err != nil {
		t.Fatal(err)
	}

	rotateSecret(t, client, keyARN, testKeyB.Reveal())
	// Within the TTL the cached sealer is still served.
	if s, err := m.Sealer(ctx); err != nil || s.KeyID() != before.KeyID() {
		t.Fatalf("Sealer within TTL = %v, %v; want the cached one", s, err)
	}

	clock.Advance(time.Minute)
	after, err := m.Sealer(ctx)
	if err != nil {
		t.Fatalf("Sealer after rotation: %v", err)
	}
	if want := mustSealer(t, testKeyB).KeyID(); after.KeyID() != want {
		t.Errorf("KeyID after rotation = %q, want %q (the new AWSCURRENT)", after.KeyID(), want)
	}
	// AWSPREVIOUS is fetched only once a value needs it (issue 16 item 8):
	// the key id of the value sealed before the rotation is unknown until
	// RefreshSealer (which openSealed calls on ErrUnknownKeyID).
	if _, err := after.Open(sealedOld, aad); !errors.Is(err, ErrUnknownKeyID) {
		t.Errorf("Open(value sealed before rotation) with AWSCURRENT only: %v, want ErrUnknownKeyID", err)
	}
	refreshed, err := m.RefreshSealer(ctx)
	if err != nil {
		t.Fatalf("RefreshSealer: %v", err)
	}
	if got, err := refreshed.Open(sealedOld, aad); err != nil || got != "token-before-rotation" {
		t.Errorf("Open(value sealed before rotation) = %q, %v; want %q, nil", got, err, "token-before-rotation")
	}
	after = refreshed
	sealedNew, err := after.Seal("token-after-rotation", aad)
	if err != nil {
		t.Fatal(err)
	}
	if want := "v2." + after.KeyID() + "."; !strings.HasPrefix(sealedNew, want) {
		t.Errorf("new value = %q, want prefix %q", sealedNew, want)
	}
}

func TestSecretsManagerCache(t *testing.T) {
	real := smClient(t)
	ctx := testenv.Context(t)
	clientARN := createSecret(t, real, "client-secret", "first-s3cret")
	keyARN := createSecret(t, real, "token-key", testKeyA.Reveal())
	counter := &countingSM{SecretsManagerAPI: real}
	clock := newClock()
	const ttl = 5 * time.Minute
	m := NewSecretsManager(counter, clientARN, keyARN, ttl)
	m.Now = clock.Now

	fetch := func(t *testing.T) (Secret, *Sealer) {
		t.Helper()
		cs, err := m.ClientSecret(ctx)
		if err != nil {
			t.Fatalf("ClientSecret: %v", err)
		}
		s, err := m.Sealer(ctx)
		if err != nil {
			t.Fatalf("Sealer: %v", err)
		}
		return cs, s
	}
	steps := []struct {
		name      string
		advance   time.Duration
		rotate    string // new client secret value, set before the step
		wantCalls int64  // GetSecretValue calls made by this step
		want      Secret
	}{
		{name: "cold", wantCalls: 2, want: "first-s3cret"}, // client secret, AWSCURRENT (AWSPREVIOUS only once needed)
		{name: "warm", wantCalls: 0, want: "first-s3cret"},
		{name: "warm just before TTL", advance: ttl - time.Nanosecond, rotate: "second-s3cret", wantCalls: 0, want: "first-s3cret"},
		{name: "at TTL refetches", advance: time.Nanosecond, wantCalls: 2, want: "second-s3cret"},
		{name: "warm again", advance: time.Second, wantCalls: 0, want: "second-s3cret"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.rotate != "" {
				rotateSecret(t, real, clientARN, st.rotate)
			}
			clock.Advance(st.advance)
			before := counter.calls.Load()
			cs, _ := fetch(t)
			if got := counter.calls.Load() - before; got != st.wantCalls {
				t.Errorf("GetSecretValue calls = %d, want %d", got, st.wantCalls)
			}
			if cs != st.want {
				t.Errorf("ClientSecret = %q, want %q", cs.Reveal(), st.want.Reveal())
			}
		})
	}

	outage := errors.New("simulated outage")
	failures := []struct {
		name      string
		previous  bool // AWSPREVIOUS was needed before: every fetch reads it too
		failIf    func(*secretsmanager.GetSecretValueInput) error
		wantCSErr bool  // ClientSecret fails too
		wantCalls int64 // during the outage and the retry after it
	}{
		{
			name:      "every call fails",
			failIf:    func(*secretsmanager.GetSecretValueInput) error { return outage },
			wantCSErr: true,
			wantCalls: 2 + 2, // client secret, AWSCURRENT; then both again
		},
		{
			name:     "AWSPREVIOUS fails with another error than not found",
			previous: true,
			failIf: func(in *secretsmanager.GetSecretValueInput) error {
				if aws.ToString(in.VersionStage) == "AWSPREVIOUS" {
					return outage
				}
				return nil
			},
			wantCalls: 3 + 2, // all three; then AWSCURRENT, AWSPREVIOUS again
		},
	}
	for _, f := range failures {
		t.Run("failed refresh returns the error and the next call retries: "+f.name, func(t *testing.T) {
			clock.Advance(ttl)
			m.sealerPrevious.Store(f.previous)
			counter.failIf = f.failIf
			before := counter.calls.Load()
			_, csErr := m.ClientSecret(ctx)
			_, sealerErr := m.Sealer(ctx)
			if !errors.Is(sealerErr, outage) {
				t.Errorf("Sealer during outage: %v; want the outage error", sealerErr)
			}
			if (csErr != nil) != f.wantCSErr {
				t.Errorf("ClientSecret during outage: %v; want error %v", csErr, f.wantCSErr)
			}
			counter.failIf = nil
			cs, _ := fetch(t)
			if cs != "second-s3cret" {
				t.Errorf("ClientSecret after outage = %q, want %q", cs.Reveal(), "second-s3cret")
			}
			if got := counter.calls.Load() - before; got != f.wantCalls {
				t.Errorf("GetSecretValue calls = %d, want %d", got, f.wantCalls)
			}
		})
	}
}

func TestSecretsManagerSharedFetch(t *testing.T) {
	real := smClient(t)
	clientARN := createSecret(t, real, "client-secret", "shared-s3cret")
	keyARN := createSecret(t, real, "token-key", testKeyA.Reveal())
	counter := &countingSM{SecretsManagerAPI: real, entered: make(chan struct{}, 1), gate: make(chan struct{})}
	m := NewSecretsManager(counter, clientARN, keyARN, time.Minute)
	ctx := testenv.Context(t)

	const n = 8
	results := make(chan error, n+1)
	go func() { // the leader: blocks inside GetSecretValue until gate closes
		_, err := m.ClientSecret(ctx)
		results <- err
	}()
	<-counter.entered

	// A waiter whose context ends stops waiting with the context's error.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.ClientSecret(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("ClientSecret with a cancelled context while a fetch runs: %v, want context.Canceled", err)
	}

	for range n {
		go func() {
			cs, err := m.ClientSecret(ctx)
			if err == nil && cs != "shared-s3cret" {
				err = fmt.Errorf("got a different secret")
			}
			results <- err
		}()
	}
	// Every waiter is waiting on the leader's fetch before it ends (a
	// waiter that came later would read the cache, and one call would
	// prove nothing about sharing).
	waitBlockedIn(t, "pkg/oauth.(*cache[...]).get(", n+1)
	close(counter.gate)
	for range n + 1 {
		if err := <-results; err != nil {
			t.Errorf("ClientSecret: %v", err)
		}
	}
	if got := counter.calls.Load(); got != 1 {
		t.Errorf("GetSecretValue calls = %d, want 1 shared fetch", got)
	}
}

func TestSecretsManagerErrors(t *testing.T) {
	client := smClient(t)
	goodClient := createSecret(t, client, "client-secret", "s3cret")
	goodKey := createSecret(t, client, "token-key", testKeyA.Reveal())
	shortKey := createSecret(t, client, "token-key", "short-k3y")
	missing := "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-" + testenv.Name(t, "x")
	tests := []struct {
		name              string
		clientARN, keyARN string
		call              func(*SecretsManager) error
		wantErr           []string
		wantNotFound      bool
	}{
		{
			name: "missing client secret", clientARN: missing, keyARN: goodKey,
			call:    func(m *SecretsManager) error { _, err := m.ClientSecret(context.Background()); return err },
			wantErr: []string{"oauth: client secret: get secret value", missing}, wantNotFound: true,
		},
		{
			name: "missing token key", clientARN: goodClient, keyARN: missing,
			call:    func(m *SecretsManager) error { _, err := m.Sealer(context.Background()); return err },
			wantErr: []string{"oauth: token key: get secret value", missing, "AWSCURRENT"}, wantNotFound: true,
		},
		{
			name: "short token key", clientARN: goodClient, keyARN: shortKey,
			call:    func(m *SecretsManager) error { _, err := m.Sealer(context.Background()); return err },
			wantErr: []string{"oauth: token key too short", shortKey},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(NewSecretsManager(client, tt.clientARN, tt.keyARN, 0))
			if err == nil {
				t.Fatal("got nil error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error = %q, want it to contain %q", err, want)
				}
			}
			var nf *types.ResourceNotFoundException
			if got := errors.As(err, &nf); got != tt.wantNotFound {
				t.Errorf("errors.As(ResourceNotFoundException) = %v, want %v", got, tt.wantNotFound)
			}
			for _, leak := range []string{"s3cret", "short-k3y", testKeyA.Reveal()} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q contains a secret value", err)
				}
			}
		})
	}
}

func TestSecretsFromConfig(t *testing.T) {
	client := smClient(t)
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:x"
	tests := []struct {
		name    string
		cfg     Config
		client  SecretsManagerAPI
		want    string // type of the result
		wantErr string
	}{
		{name: "ARNs", cfg: Config{ClientSecretARN: arn, TokenKeyARN: arn, AppKeyARN: arn}, client: client, want: "*oauth.SecretsManager"},
		{name: "plain values", cfg: Config{ClientSecret: "s3cret", TokenKey: testKeyA, AppKey: testAppKey}, want: "*oauth.StaticSecrets"},
		{name: "ARNs without a client", cfg: Config{ClientSecretARN: arn, TokenKeyARN: arn, AppKeyARN: arn}, wantErr: "need a Secrets Manager client"},
		{name: "one ARN and one value", cfg: Config{ClientSecretARN: arn, TokenKey: testKeyA, AppKey: testAppKey}, client: client, wantErr: "all of"},
		{name: "app key value next to ARNs", cfg: Config{ClientSecretARN: arn, TokenKeyARN: arn, AppKey: testAppKey}, client: client, wantErr: "all of"},
		{name: "short plain key", cfg: Config{ClientSecret: "s3cret", TokenKey: "short-k3y", AppKey: testAppKey}, wantErr: "oauth: token key too short"},
		{name: "short plain app key", cfg: Config{ClientSecret: "s3cret", TokenKey: testKeyA, AppKey: "short-k3y"}, wantErr: "oauth: app key is shorter"},
		{name: "empty plain client secret", cfg: Config{TokenKey: testKeyA, AppKey: testAppKey}, wantErr: "oauth: client secret is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := SecretsFromConfig(tt.cfg, tt.client)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("SecretsFromConfig error = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "short-k3y") {
					t.Errorf("error %q contains the key", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("SecretsFromConfig: %v", err)
			}
			if got := fmt.Sprintf("%T", s); got != tt.want {
				t.Errorf("SecretsFromConfig = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestStaticSecrets(t *testing.T) {
	s, err := NewStaticSecrets("local-s3cret", testKeyA, testAppKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if cs, err := s.ClientSecret(ctx); err != nil || cs != "local-s3cret" {
		t.Errorf("ClientSecret = %q, %v; want %q", cs.Reveal(), err, "local-s3cret")
	}
	s1, err1 := s.Sealer(ctx)
	s2, err2 := s.Sealer(ctx)
	if err1 != nil || err2 != nil || s1 != s2 {
		t.Fatalf("Sealer = %p, %v then %p, %v; want one sealer built once", s1, err1, s2, err2)
	}
	if want := mustSealer(t, testKeyA).KeyID(); s1.KeyID() != want {
		t.Errorf("KeyID = %q, want %q", s1.KeyID(), want)
	}
}

// TestSecretsNeverPrinted formats everything that holds a secret the ways a
// careless caller might, and checks no secret value comes out.
func TestSecretsNeverPrinted(t *testing.T) {
	client := smClient(t)
	const clientSecret, tokenKey, appKey = "cs-VALUE-1234", "tk-VALUE-0123456789abcdefghijklmnopqrstuv", "ak-VALUE-0123456789abcdefghijklmnopqrstuv"
	m := NewSecretsManager(client,
		createSecret(t, client, "client-secret", clientSecret),
		createSecret(t, client, "token-key", tokenKey), 0)
	m.AppKeyARN = createSecret(t, client, "app-key", appKey)
	ctx := testenv.Context(t)
	if _, err := m.ClientSecret(ctx); err != nil { // warm the cache
		t.Fatal(err)
	}
	if _, err := m.Sealer(ctx); err != nil {
		t.Fatal(err)
	}
	keys, err := m.AppKeys(ctx)
	if err != nil || keys.Current != appKey {
		t.Fatalf("AppKeys: %v", err)
	}
	static, err := NewStaticSecrets(clientSecret, tokenKey, appKey)
	if err != nil {
		t.Fatal(err)
	}
	sealer, _ := static.Sealer(ctx)
	// Exported fields only: fmt cannot call String on an unexported field
	// and prints its raw string, so this package's own types keep secrets
	// behind pointers (checked below with SecretsManager and StaticSecrets).
	type holder struct {
		Exported Secret
		Config   Config
		Ptr      *Secret
		List     []Secret
		Map      map[string]Secret
	}
	cs := Secret(clientSecret)
	h := holder{
		Exported: cs, Ptr: &cs,
		Config: Config{ClientSecret: cs, TokenKey: tokenKey, AppKey: appKey},
		List:   []Secret{cs}, Map: map[string]Secret{"k": cs},
	}
	values := map[string]any{
		"holder": h, "*holder": &h, "SecretsManager": m, "StaticSecrets": static,
		"*StaticSecrets value": *static, "Sealer": sealer, "Sealer value": *sealer, "app keys": keys,
		"struct holding them": struct {
			M *SecretsManager
			S *StaticSecrets
			I Secrets
		}{m, static, m},
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			var outs []string
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
				outs = append(outs, verb+": "+fmt.Sprintf(verb, v))
			}
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "v", v, "s", cs)
			slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "v", v, "s", cs)
			outs = append(outs, "slog: "+buf.String())
			for _, out := range outs {
				for _, leak := range []string{"VALUE"} {
					if strings.Contains(out, leak) {
						t.Errorf("output contains a secret:\n%s", out)
					}
				}
			}
		})
	}
}

// The caller that starts a shared fetch may give up (a short app deadline);
// the fetch goes on for the others, who get the value.
func TestSecretsManagerLeaderGivesUp(t *testing.T) {
	real := smClient(t)
	clientARN := createSecret(t, real, "client-secret", "leader-s3cret")
	keyARN := createSecret(t, real, "token-key", testKeyA.Reveal())
	counter := &countingSM{SecretsManagerAPI: real, entered: make(chan struct{}, 1), gate: make(chan struct{})}
	m := NewSecretsManager(counter, clientARN, keyARN, time.Minute)
	ctx := testenv.Context(t)

	leaderCtx, cancelLeader := context.WithCancel(ctx)
	leader := make(chan error, 1)
	go func() {
		_, err := m.ClientSecret(leaderCtx)
		leader <- err
	}()
	<-counter.entered // the leader's fetch is inside GetSecretValue
	waiter := make(chan error, 1)
	go func() {
		cs, err := m.ClientSecret(ctx)
		if err == nil && cs != "leader-s3cret" {
			err = errors.New("got a different secret")
		}
		waiter <- err
	}()
	waitBlockedIn(t, "pkg/oauth.(*cache[...]).get(", 2) // the waiter waits on the leader's fetch
	cancelLeader()
	if err := <-leader; !errors.Is(err, context.Canceled) {
		t.Errorf("leader: %v, want context.Canceled", err)
	}
	close(counter.gate)
	if err := <-waiter; err != nil {
		t.Errorf("waiter after the leader gave up: %v, want the secret", err)
	}
	// One fetch served both: the leader's giving up did not end it.
	if got := counter.calls.Load(); got != 1 {
		t.Errorf("GetSecretValue calls = %d, want 1", got)
	}
}

// The app key is cached with the other secrets: a cold AppKeys reads
// AWSCURRENT (AWSPREVIOUS only once needed), a warm one reads nothing, and
// after the TTL a rotation is picked up; RefreshAppKeys adds the old value
// as Previous. A value shorter than connect.MinKeyLen is refused, naming
// the secret, never the value.
func TestSecretsManagerAppKeys(t *testing.T) {
	real := smClient(t)
	const first, second = "app-key-one-0123456789abcdefghijklmnop", "app-key-two-0123456789abcdefghijklmnop"
	arn := createSecret(t, real, "app-key", first)
	counter := &countingSM{SecretsManagerAPI: real}
	now := time.Unix(1_800_000_000, 0)
	m := NewSecretsManager(counter, "unused", "unused", time.Minute)
	m.AppKeyARN = arn
	m.Now = func() time.Time { return now }
	ctx := testenv.Context(t)
	for i, want := range []int64{1, 1} {
		k, err := m.AppKeys(ctx)
		if err != nil || k.Current != first || len(k.Previous) != 0 || counter.calls.Load() != want {
			t.Fatalf("AppKeys #%d: %v, %v, %d calls; want the first key, no previous, %d calls", i+1, k, err, counter.calls.Load(), want)
		}
	}
	rotateSecret(t, real, arn, second)
	now = now.Add(2 * time.Minute)
	k, err := m.AppKeys(ctx)
	if err != nil || k.Current != second || len(k.Previous) != 0 || counter.calls.Load() != 2 {
		t.Errorf("AppKeys after rotation and TTL: %v, %v, %d calls; want current second, no previous, 2 calls", k, err, counter.calls.Load())
	}
	k, err = m.RefreshAppKeys(ctx)
	if err != nil || k.Current != second || len(k.Previous) != 1 || k.Previous[0] != first || counter.calls.Load() != 4 {
		t.Errorf("RefreshAppKeys: %v, %v, %d calls; want current second, previous first, 4 calls", k, err, counter.calls.Load())
	}

	short := NewSecretsManager(real, "unused", "unused", 0)
	short.AppKeyARN = createSecret(t, real, "short-app-key", "short-VALUE")
	if _, err := short.AppKeys(ctx); err == nil || !strings.Contains(err.Error(), "shorter than 32") || strings.Contains(err.Error(), "VALUE") {
		t.Errorf("short app key: %v, want an error naming the length, not the value", err)
	}
}
