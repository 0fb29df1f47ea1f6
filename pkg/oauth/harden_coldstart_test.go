package oauth

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/golang-jwt/jwt/v5"

	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect/connecttest"
)

// smCall is one Secrets Manager call as the recording transport saw it.
type smCall struct {
	op, secret, stage string
	together          bool // held at a barrier until all its calls were in flight
}

// smRecorder is the HTTP transport of a real Secrets Manager client (to
// moto_server): it records every call and, after expect(n), holds each of
// the next n calls until all n are in flight. Calls made one after another
// cannot all be in flight: the first waits 5 s (less than the 10 s a
// shared fetch may take), then goes on marked not together.
type smRecorder struct {
	next http.RoundTripper

	mu      sync.Mutex
	calls   []smCall
	waiting int           // calls still to arrive at the barrier
	all     chan struct{} // closed when they have
}

func (r *smRecorder) expect(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waiting, r.all = n, make(chan struct{})
}

func (r *smRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	var in struct{ SecretId, VersionStage string }
	json.Unmarshal(body, &in)
	call := smCall{op: strings.TrimPrefix(req.Header.Get("X-Amz-Target"), "secretsmanager."), secret: in.SecretId, stage: in.VersionStage}

	r.mu.Lock()
	all := r.all
	held := r.waiting > 0
	if held {
		r.waiting--
		if r.waiting == 0 {
			close(all)
		}
	}
	r.mu.Unlock()
	if held {
		select {
		case <-all:
			call.together = true
		case <-time.After(5 * time.Second): // only a failing test waits this out
		}
	}
	r.mu.Lock()
	r.calls = append(r.calls, call)
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

// take returns the calls recorded since the last take.
func (r *smRecorder) take() []smCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

// recordedSM is a real Secrets Manager client to moto_server through an
// smRecorder.
func recordedSM(t *testing.T) (*secretsmanager.Client, *smRecorder) {
	t.Helper()
	testenv.Moto(t)
	cfg, err := config.LoadDefaultConfig(testenv.Context(t))
	if err != nil {
		t.Fatal(err)
	}
	rec := &smRecorder{next: http.DefaultTransport.(*http.Transport).Clone()}
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) { o.HTTPClient = &http.Client{Transport: rec} }), rec
}

// keySecrets are the ARNs of a deployment's three secrets in moto_server.
type keySecrets struct{ client, tokenKey, appKey string }

func createKeySecrets(t *testing.T, c *secretsmanager.Client, tokenKey, appKey string) keySecrets {
	return keySecrets{
		client:   createSecret(t, c, "client-secret", testClientSecret),
		tokenKey: createSecret(t, c, "token-key", tokenKey),
		appKey:   createSecret(t, c, "app-key", appKey),
	}
}

// environment is a fresh execution environment's SecretsManager on the
// rig's clock, logging to log.
func (k keySecrets) environment(c SecretsManagerAPI, r *testRig, log io.Writer) *SecretsManager {
	m := NewSecretsManager(c, k.client, k.tokenKey, 0)
	m.AppKeyARN = k.appKey
	m.Now = func() time.Time { return r.now }
	m.Log = slog.New(slog.NewJSONHandler(log, nil))
	return m
}

// checkTogether: calls are n GetSecretValue calls of AWSCURRENT versions,
// all in flight at once (one round trip), one for each of secrets.
func checkTogether(t *testing.T, what string, calls []smCall, secrets ...string) {
	t.Helper()
	if len(calls) != len(secrets) {
		t.Fatalf("%s: %d Secrets Manager calls, want %d (%v)", what, len(calls), len(secrets), calls)
	}
	seen := map[string]bool{}
	for _, c := range calls {
		if c.op != "GetSecretValue" || (c.stage != "" && c.stage != "AWSCURRENT") {
			t.Errorf("%s: call %+v, want GetSecretValue of AWSCURRENT", what, c)
		}
		if !c.together {
			t.Errorf("%s: call for %s was not in flight with the others: one round trip after another", what, c.secret)
		}
		seen[c.secret] = true
	}
	for _, s := range secrets {
		if !seen[s] {
			t.Errorf("%s: no call for %s", what, s)
		}
	}
}

// Issue 16 item 8: the first /authorize (with a connect token) of a fresh
// execution environment fetches the token key and the app key together,
// AWSCURRENT only: one round trip. The first /callback of another fresh
// environment fetches the client secret, the token key and the app key
// together, and signing the result makes no further call.
func TestColdStartOneSecretsRoundTrip(t *testing.T) {
	client, rec := recordedSM(t)
	r := newRig(t, memoryStore)
	k := createKeySecrets(t, client, testKeyA.Reveal(), testAppKey)
	var logs bytes.Buffer
	rec.take() // the creations

	r.h.Secrets = k.environment(client, r, &logs)
	rec.expect(2)
	resp, cookie := r.start(t, "return_to=https://app.example/done")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %d %s", resp.StatusCode, resp.Body)
	}
	checkTogether(t, "cold /authorize", rec.take(), k.tokenKey, k.appKey)

	r.h.Secrets = k.environment(client, r, &logs)
	rec.expect(3)
	cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie)
	if cb.StatusCode != http.StatusFound || !strings.Contains(cb.Headers["Location"], "result=") {
		t.Fatalf("callback: %d %s %s", cb.StatusCode, cb.Headers["Location"], cb.Body)
	}
	checkTogether(t, "cold /callback", rec.take(), k.client, k.tokenKey, k.appKey)

	// Warm: no call at all.
	resp, _ = r.start(t, "return_to=https://app.example/done")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("warm authorize: %d", resp.StatusCode)
	}
	if calls := rec.take(); len(calls) != 0 {
		t.Errorf("warm /authorize: %d Secrets Manager calls, want 0", len(calls))
	}
}

// Issue 16 item 3: a token key whose AWSPREVIOUS version is too short
// (nothing was ever sealed with it) does not stop sealing: /authorize
// answers 302 when the previous version is fetched, the short version is
// never used, and it is logged once, without its value.
func TestShortPreviousTokenKeySkipped(t *testing.T) {
	client, _ := recordedSM(t)
	r := newRig(t, memoryStore)
	const short = "short-k3y-VALUE"
	k := createKeySecrets(t, client, short, testAppKey)
	rotateSecret(t, client, k.tokenKey, testKeyA.Reveal())
	var logs bytes.Buffer
	m := k.environment(client, r, &logs)
	r.h.Secrets = m
	m.sealerPrevious.Store(true) // AWSPREVIOUS was needed (as after an unknown key id): every fetch reads it

	for i := range 3 {
		if i > 0 {
			r.now = r.now.Add(time.Minute)
			if _, err := m.RefreshSealer(testenv.Context(t)); err != nil {
				t.Fatalf("RefreshSealer with a short AWSPREVIOUS: %v", err)
			}
		}
		resp, _ := r.start(t, "")
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("authorize #%d with a short AWSPREVIOUS token key: %d, want 302", i+1, resp.StatusCode)
		}
	}
	s, err := m.Sealer(testenv.Context(t))
	if err != nil || s.KeyID() != mustSealer(t, testKeyA).KeyID() || len(s.keys) != 1 {
		t.Errorf("sealer: %v; want AWSCURRENT's key alone", err)
	}
	if n := strings.Count(logs.String(), "too short and is ignored"); n != 1 {
		t.Errorf("the short previous version was logged %d times, want once:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "VALUE") {
		t.Errorf("the log shows the key: %s", logs.String())
	}
}

// Issue 15 item 6: an AWSPREVIOUS app key shorter than connect.MinKeyLen
// verifies nothing: a connect token signed with it is refused (401
// invalid_connect_token, nothing stored), fetched as it is on the failed
// signature, and logged once.
func TestShortPreviousAppKeyVerifiesNothing(t *testing.T) {
	client, _ := recordedSM(t)
	r := newRig(t, memoryStore)
	const short = "short-app-VALUE"
	k := createKeySecrets(t, client, testKeyA.Reveal(), short)
	rotateSecret(t, client, k.appKey, testAppKey)
	var logs bytes.Buffer
	r.h.Secrets = k.environment(client, r, &logs)

	for i := range 2 {
		tok := connecttest.Sign(jwt.SigningMethodHS256, []byte(short), connecttest.ConnectClaims(r.user, newNonce(), r.now))
		resp, err := r.h.Authorize(testenv.Context(t), apiRequest("/authorize", "connect="+url.QueryEscape(tok)))
		if err != nil || resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Body, "expired or was already used") {
			t.Fatalf("token signed with the short previous app key #%d: %d, %v; want 401 invalid_connect_token", i+1, resp.StatusCode, err)
		}
		r.now = r.now.Add(time.Minute) // past the bound on forced fetches
	}
	if n := r.store.puts.Load(); n != 0 {
		t.Errorf("%d pending authorizations written, want none", n)
	}
	if !strings.Contains(r.logs.String(), `"check":"signature"`) {
		t.Errorf("the refusal does not name the signature check:\n%s", r.logs.String())
	}
	if n := strings.Count(logs.String(), "too short and is ignored"); n != 1 {
		t.Errorf("the short previous app key was logged %d times, want once:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "VALUE") || strings.Contains(r.logs.String(), "VALUE") {
		t.Error("a log shows the key")
	}
	// The current key still works.
	if resp, _ := r.start(t, ""); resp.StatusCode != http.StatusFound {
		t.Errorf("token signed with the current app key: %d, want 302", resp.StatusCode)
	}
}

// Issue 16 item 8: the app key's AWSPREVIOUS is fetched only when a
// signature does not verify with the cached key, and such fetches are
// bounded (at once when the cached key lacks AWSPREVIOUS, then at most once
// per 30 s): a token signed with the previous version verifies in a cold
// environment, a token signed with a version rotated in after this
// environment cached the key verifies too, and a stream of bad signatures
// makes no call until 30 s have passed.
func TestAppKeyFetchedAgainOnBadSignature(t *testing.T) {
	client, rec := recordedSM(t)
	r := newRig(t, memoryStore)
	const old = "the app key before its rotation, 48 characters!"
	k := createKeySecrets(t, client, testKeyA.Reveal(), old)
	rotateSecret(t, client, k.appKey, testAppKey)
	var logs bytes.Buffer
	m := k.environment(client, r, &logs)
	r.h.Secrets = m
	authorize := func(key string) int {
		t.Helper()
		tok := connecttest.Sign(jwt.SigningMethodHS256, []byte(key), connecttest.ConnectClaims(r.user, newNonce(), r.now))
		resp, err := r.h.Authorize(testenv.Context(t), apiRequest("/authorize", "connect="+url.QueryEscape(tok)))
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}
	stages := func(calls []smCall) (s []string) {
		for _, c := range calls {
			if c.secret == k.appKey {
				s = append(s, c.stage)
			}
		}
		return s
	}
	rec.take()

	// A cold environment, a token signed with AWSPREVIOUS.
	if got := authorize(old); got != http.StatusFound {
		t.Fatalf("token signed with AWSPREVIOUS: %d, want 302", got)
	}
	if got := stages(rec.take()); len(got) != 3 { // AWSCURRENT (prefetch), then AWSCURRENT and AWSPREVIOUS
		t.Errorf("app key calls %v, want AWSCURRENT, then AWSCURRENT and AWSPREVIOUS once the signature failed", got)
	}

	// Bad signatures: no call within 30 s, each refused.
	for range 5 {
		if got := authorize(strings.Repeat("w", 48)); got != http.StatusUnauthorized {
			t.Fatalf("bad signature: %d, want 401", got)
		}
	}
	if got := stages(rec.take()); len(got) != 0 {
		t.Errorf("bad signatures right after a forced fetch made app key calls %v, want none", got)
	}
	r.now = r.now.Add(minForcedRefresh)
	if got := authorize(strings.Repeat("w", 48)); got != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d, want 401", got)
	}
	if got := stages(rec.take()); len(got) != 2 {
		t.Errorf("a bad signature 30 s later made app key calls %v, want AWSCURRENT and AWSPREVIOUS", got)
	}

	// A rotation this environment has not seen: the app signs with the new
	// key; the failed signature fetches it (30 s after the last fetch).
	const next = "the app key after a second rotation, 48 chars.."
	rotateSecret(t, client, k.appKey, next)
	r.now = r.now.Add(minForcedRefresh)
	if got := authorize(next); got != http.StatusFound {
		t.Fatalf("token signed with a key rotated in since the cache: %d, want 302", got)
	}
	if n := r.store.puts.Load(); n != 2 {
		t.Errorf("%d pending authorizations written, want 2 (the refused tokens wrote nothing)", n)
	}
}
