package oauth

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

const (
	testKeyA = Secret("key-A-0123456789abcdefghijklmnopqrstuvwxyz")
	testKeyB = Secret("key-B-0123456789abcdefghijklmnopqrstuvwxyz")
)

func mustSealer(t testing.TB, current Secret, previous ...Secret) *Sealer {
	t.Helper()
	s, err := NewSealer(current, previous...)
	if err != nil {
		t.Fatalf("NewSealer: %v", err)
	}
	return s
}

func TestSealRoundTrip(t *testing.T) {
	s := mustSealer(t, testKeyA)
	tests := []struct {
		name, plaintext, aad string
	}{
		{"access token", "U0pDMTFQMDFQQVMwMXxBQUF", "conn#ringcentral#12345"},
		{"empty aad", "refresh-token", ""},
		{"unicode", "tökén ✓", "conn#generic#ü"},
		{"long", strings.Repeat("x", 8192), "conn#p#1"},
		{"empty plaintext stays absent", "", "conn#p#1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := s.Seal(tt.plaintext, tt.aad)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if tt.plaintext == "" {
				if sealed != "" {
					t.Fatalf("Seal(\"\") = %q, want \"\"", sealed)
				}
			} else if want := "v2." + s.KeyID() + "."; !strings.HasPrefix(sealed, want) {
				t.Fatalf("sealed = %q, want prefix %q", sealed, want)
			}
			got, err := s.Open(sealed, tt.aad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if got != tt.plaintext {
				t.Errorf("Open = %q, want %q", got, tt.plaintext)
			}
		})
	}
}

func TestSealKeyID(t *testing.T) {
	a1, a2, b := mustSealer(t, testKeyA), mustSealer(t, testKeyA), mustSealer(t, testKeyB)
	if a1.KeyID() != a2.KeyID() {
		t.Errorf("key id not stable: %q and %q", a1.KeyID(), a2.KeyID())
	}
	if a1.KeyID() == b.KeyID() {
		t.Errorf("two keys share key id %q", a1.KeyID())
	}
	if got := len(a1.KeyID()); got != 16 {
		t.Errorf("len(KeyID) = %d, want 16", got)
	}
	if got, want := fmt.Sprintf("%v %+v %#v %s", a1, a1, a1, a1), a1.KeyID(); !strings.Contains(got, want) {
		t.Errorf("formatted Sealer = %q, want it to show key id %q", got, want)
	}
}

func TestOpenRejects(t *testing.T) {
	s := mustSealer(t, testKeyA)
	const aad = "conn#ringcentral#1"
	sealed, err := s.Seal("the-access-token", aad)
	if err != nil {
		t.Fatal(err)
	}
	version, rest, _ := strings.Cut(sealed, ".")
	kid, body, _ := strings.Cut(rest, ".")
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) string { // body with byte i flipped
		b := append([]byte(nil), raw...)
		b[i] ^= 0x01
		return version + "." + kid + "." + base64.RawURLEncoding.EncodeToString(b)
	}
	other := mustSealer(t, testKeyB)
	otherSealed, err := other.Seal("the-access-token", aad)
	if err != nil {
		t.Fatal(err)
	}
	// An unknown kid that is well formed: B's kid on A's body.
	unknownKID := version + "." + other.KeyID() + "." + body
	last := "0"
	if kid[len(kid)-1] == '0' {
		last = "1"
	}
	tamperedKID := kid[:len(kid)-1] + last

	tests := []struct {
		name, sealed, aad, wantErr string
	}{
		{"moved to another item", sealed, "conn#ringcentral#2", "authentication failed"},
		{"empty aad", sealed, "", "authentication failed"},
		{"tampered nonce", flip(0), aad, "authentication failed"},
		{"tampered ciphertext", flip(12), aad, "authentication failed"},
		{"tampered tag", flip(len(raw) - 1), aad, "authentication failed"},
		{"truncated body", version + "." + kid + "." + body[:20], aad, "malformed ciphertext"},
		{"body not base64url", version + "." + kid + "." + body + "!", aad, "malformed ciphertext"},
		{"tampered kid", version + "." + tamperedKID + "." + body, aad, "unknown key id"},
		{"unknown kid", unknownKID, aad, "unknown key id"},
		{"sealed by another key", otherSealed, aad, "unknown key id"},
		{"downgraded to v1", "v1." + kid + "." + body, aad, "authentication failed"},
		{"unknown version", "v3." + kid + "." + body, aad, "not a v1 or v2 sealed value"},
		{"no dots", "garbage", aad, "not a v1 or v2 sealed value"},
		{"plaintext as sealed", "the-access-token", aad, "not a v1 or v2 sealed value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.sealed == sealed && tt.aad == aad {
				t.Fatal("test case does not change anything")
			}
			got, err := s.Open(tt.sealed, tt.aad)
			if err == nil {
				t.Fatalf("Open = %q, nil; want error containing %q", got, tt.wantErr)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "oauth: open sealed value: ") || !strings.Contains(msg, tt.wantErr) {
				t.Errorf("error = %q, want prefix \"oauth: open sealed value: \" and %q", msg, tt.wantErr)
			}
			for _, leak := range []string{"the-access-token", testKeyA.Reveal(), aad, body} {
				if strings.Contains(msg, leak) {
					t.Errorf("error %q contains %q", msg, leak)
				}
			}
		})
	}
}

func TestSealRotation(t *testing.T) {
	const aad = "conn#ringcentral#7"
	old := mustSealer(t, testKeyA)
	sealedOld, err := old.Seal("old-token", aad)
	if err != nil {
		t.Fatal(err)
	}
	rotated := mustSealer(t, testKeyB, testKeyA)
	if rotated.KeyID() == old.KeyID() {
		t.Fatalf("rotated key id %q equals the old one", rotated.KeyID())
	}
	got, err := rotated.Open(sealedOld, aad)
	if err != nil || got != "old-token" {
		t.Fatalf("rotated.Open(old value) = %q, %v; want %q, nil", got, err, "old-token")
	}
	sealedNew, err := rotated.Seal("new-token", aad)
	if err != nil {
		t.Fatal(err)
	}
	if want := "v2." + rotated.KeyID() + "."; !strings.HasPrefix(sealedNew, want) {
		t.Errorf("new value %q, want prefix %q (the current key)", sealedNew, want)
	}
	// The old key alone cannot open a value sealed with the new one.
	if _, err := old.Open(sealedNew, aad); err == nil || !strings.Contains(err.Error(), "unknown key id") {
		t.Errorf("old.Open(new value) error = %v, want unknown key id", err)
	}
	// After the old key is dropped, old values no longer open.
	if _, err := mustSealer(t, testKeyB).Open(sealedOld, aad); err == nil {
		t.Error("Open of an old value without the previous key succeeded")
	}
	// The same secret as current and previous (no rotation yet) is fine.
	same := mustSealer(t, testKeyA, testKeyA)
	if got, err := same.Open(sealedOld, aad); err != nil || got != "old-token" {
		t.Errorf("same.Open = %q, %v; want %q, nil", got, err, "old-token")
	}
}

func TestSealNonceUnique(t *testing.T) {
	s := mustSealer(t, testKeyA)
	const n = 1000
	seen := make(map[string]bool, n)
	nonces := make(map[string]bool, n)
	for range n {
		sealed, err := s.Seal("same-token", "same#pk")
		if err != nil {
			t.Fatal(err)
		}
		if seen[sealed] {
			t.Fatalf("Seal repeated output %q", sealed)
		}
		seen[sealed] = true
		raw, err := base64.RawURLEncoding.DecodeString(sealed[strings.LastIndex(sealed, ".")+1:])
		if err != nil {
			t.Fatal(err)
		}
		nonce := string(raw[:12])
		if nonces[nonce] {
			t.Fatalf("nonce %x repeated", nonce)
		}
		nonces[nonce] = true
	}
}

func TestNewSealerRejectsShortKeys(t *testing.T) {
	short := Secret(strings.Repeat("s", MinTokenKeyLen-1))
	tests := []struct {
		name     string
		current  Secret
		previous []Secret
		wantErr  string
	}{
		{"short current", short, nil, "oauth: token key too short"},
		{"empty current", "", nil, "oauth: token key too short"},
		{"short previous", testKeyA, []Secret{short}, "oauth: previous token key 1 too short"},
		{"second previous short", testKeyA, []Secret{testKeyB, ""}, "oauth: previous token key 2 too short"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSealer(tt.current, tt.previous...)
			if err == nil {
				t.Fatalf("NewSealer = %v, nil; want error", s)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %q, want %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), short.Reveal()) {
				t.Errorf("error %q contains the key", err)
			}
		})
	}
	if _, err := NewSealer(Secret(strings.Repeat("k", MinTokenKeyLen))); err != nil {
		t.Errorf("NewSealer with exactly %d characters: %v", MinTokenKeyLen, err)
	}
}

func TestSealOutputHidesKeyAndPlaintext(t *testing.T) {
	s := mustSealer(t, testKeyA)
	plain := "plaintext-token-value"
	sealed, err := s.Seal(plain, "conn#p#1")
	if err != nil {
		t.Fatal(err)
	}
	formatted := fmt.Sprintf("%v|%+v|%#v", s, s, *s)
	for _, out := range []string{sealed, formatted} {
		for _, leak := range []string{plain, testKeyA.Reveal(), "key-A"} {
			if strings.Contains(out, leak) {
				t.Errorf("output %q contains %q", out, leak)
			}
		}
	}
}

func BenchmarkSeal(b *testing.B) {
	s := mustSealer(b, testKeyA)
	token := strings.Repeat("t", 1200) // about a RingCentral access token
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Seal(token, "conn#ringcentral#123456789"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	s := mustSealer(b, testKeyA)
	sealed, err := s.Seal(strings.Repeat("t", 1200), "conn#ringcentral#123456789")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Open(sealed, "conn#ringcentral#123456789"); err != nil {
			b.Fatal(err)
		}
	}
}
