package oauth

import (
	"encoding/base64"
	"errors"
	"strings"

	"context"
	"golang.org/x/oauth2"
	"testing"
	"time"
)

// Issue 10 item 13: the access and refresh tokens of one item are sealed
// for their own field, so someone who can write the table cannot swap them
// (the app would be handed the refresh token as its access token). Values
// sealed before (format v1, the item's pk only) still open.
func TestSealedFieldsCannotBeSwapped(t *testing.T) {
	h, clock, _, _ := newTestHandler(t, NewMemoryStore(), "p", "http://127.0.0.1:1/token", "", "client", "secret")
	now := clock.Now()
	sealer, _ := h.Secrets.Sealer(context.Background())
	c := &Connection{Provider: "p", AccountID: "a1", Status: StatusActive, Version: 1, CreatedAt: now, UpdatedAt: now}
	if err := h.applyToken(c, sealer, tokenWith("the-access", "the-refresh", 3600), now); err != nil {
		t.Fatal(err)
	}
	c.AccessToken, c.RefreshToken = c.RefreshToken, c.AccessToken
	if _, err := h.Store.PutConnection(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	tok, err := h.TokenSource(context.Background(), "a1").Token()
	if err == nil {
		t.Fatalf("swapped item: got access token %q, want an error", tok.AccessToken)
	}

	// A connection sealed in the old format (v1: aad = pk) still works.
	legacy := &Connection{Provider: "p", AccountID: "a2", Status: StatusActive, Version: 1, CreatedAt: now, UpdatedAt: now,
		AccessExpiresAt: now.Add(time.Hour), RefreshExpiresAt: now.Add(48 * time.Hour)}
	legacy.AccessToken = sealV1(t, sealer, "legacy-access", legacy.Key())
	legacy.RefreshToken = sealV1(t, sealer, "legacy-refresh", legacy.Key())
	if _, err := h.Store.PutConnection(context.Background(), legacy); err != nil {
		t.Fatal(err)
	}
	tok, err = h.TokenSource(context.Background(), "a2").Token()
	if err != nil || tok.AccessToken != "legacy-access" {
		t.Fatalf("v1 item: got %v, %v; want legacy-access", tok, err)
	}
}

// sealV1 seals plaintext in the format written before field binding:
// "v1.<kid>.<nonce||ciphertext>", aad = header + pk.
func sealV1(t testing.TB, s *Sealer, plaintext, pk string) string {
	t.Helper()
	aead := s.keys[s.current]
	nonce := make([]byte, aead.NonceSize())
	header := "v1." + s.current + "."
	out := aead.Seal(nonce, nonce, []byte(plaintext), []byte(header+pk))
	return header + base64.RawURLEncoding.EncodeToString(out)
}

// tokenWith is a token response with the given tokens and lifetime.
func tokenWith(access, refresh string, expiresIn int64) *oauth2.Token {
	tok := &oauth2.Token{AccessToken: access, RefreshToken: refresh, TokenType: "Bearer", ExpiresIn: expiresIn}
	return tok.WithExtra(map[string]any{"refresh_token": refresh, "refresh_token_expires_in": float64(7 * 24 * 3600)})
}
func TestSealFieldFormat(t *testing.T) {
	s := mustSealer(t, testKeyA)
	const pk = "conn#p#1"
	access, err := s.SealField("at", pk, "access_token")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(access, "v2."+s.KeyID()+".") {
		t.Errorf("sealed = %q, want the v2 format", access)
	}
	tests := []struct {
		name, pk, field string
		ok              bool
	}{
		{"same field", pk, "access_token", true},
		{"other field", pk, "refresh_token", false},
		{"no field", pk, "", false},
		{"other item", "conn#p#2", "access_token", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.OpenField(access, tt.pk, tt.field)
			if (err == nil) != tt.ok || (tt.ok && got != "at") {
				t.Errorf("OpenField = %q, %v; want ok=%v", got, err, tt.ok)
			}
		})
	}
	legacy := sealV1(t, s, "old", pk)
	if got, err := s.OpenField(legacy, pk, "refresh_token"); err != nil || got != "old" {
		t.Errorf("OpenField(v1) = %q, %v; want old", got, err)
	}
	if _, err := s.OpenField(legacy, "conn#p#2", "refresh_token"); err == nil {
		t.Error("v1 value opened for another item")
	}
	if _, err := mustSealer(t, testKeyB).OpenField(access, pk, "access_token"); !errors.Is(err, ErrUnknownKeyID) {
		t.Errorf("unknown key: got %v, want ErrUnknownKeyID", err)
	}
}
