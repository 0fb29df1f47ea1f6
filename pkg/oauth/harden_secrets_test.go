package oauth

import (
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/internal/testenv"
)

// Issue 10 item 12: after a token-key rotation, one execution environment
// (its cache refreshed) seals with the new key while another still holds
// the old one in its cache. The second one, meeting an unknown key id,
// fetches the key again once, bypassing its cache, and opens the value.
func TestUnknownKeyIDRefreshesTheTokenKey(t *testing.T) {
	client := smClient(t)
	ctx := testenv.Context(t)
	clientARN := createSecret(t, client, "client-secret", "s3cret")
	keyARN := createSecret(t, client, "token-key", testKeyA.Reveal())
	counting := &countingSM{SecretsManagerAPI: client}

	clockA, clockB := newClock(), newClock()
	envA := NewSecretsManager(client, clientARN, keyARN, time.Minute)
	envA.Now = clockA.Now
	envB := NewSecretsManager(counting, clientARN, keyARN, time.Minute)
	envB.Now = clockB.Now
	if _, err := envB.Sealer(ctx); err != nil { // warm, holding key A
		t.Fatal(err)
	}

	rotateSecret(t, client, keyARN, testKeyB.Reveal())
	sealerA, err := envA.Sealer(ctx) // a fresh environment: key B
	if err != nil {
		t.Fatal(err)
	}
	const pk = "conn#p#1"
	sealed, err := sealerA.SealField("fresh-token", pk, attrAccessToken)
	if err != nil {
		t.Fatal(err)
	}

	clockB.Advance(45 * time.Second) // still within envB's cache TTL
	h := &Handler{Secrets: envB}
	calls := counting.calls.Load()
	got, err := h.openSealed(ctx, sealed, pk, attrAccessToken)
	if err != nil || got != "fresh-token" {
		t.Fatalf("openSealed in the stale environment = %q, %v; want fresh-token", got, err)
	}
	if n := counting.calls.Load() - calls; n == 0 || n > 2 {
		t.Errorf("Secrets Manager calls for the refresh: %d, want 1 or 2 (AWSCURRENT, AWSPREVIOUS)", n)
	}

	// A value no fresh key opens does not make every call fetch again.
	other := mustSealer(t, Secret("an-unrelated-key-0123456789abcdefghijkl"))
	bad, _ := other.SealField("x", pk, attrAccessToken)
	calls = counting.calls.Load()
	for range 3 {
		if _, err := h.openSealed(ctx, bad, pk, attrAccessToken); err == nil {
			t.Fatal("a value sealed with an unknown key opened")
		}
	}
	if n := counting.calls.Load() - calls; n != 0 {
		t.Errorf("Secrets Manager calls for unopenable values right after a refresh: %d, want 0", n)
	}
}
