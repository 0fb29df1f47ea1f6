package oauth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sealed values look like "v2.<kid>.<base64url(nonce||ciphertext)>". The
// additional data of v2 binds the header, the item's pk and the field the
// value belongs to; v1 (written before) bound the header and the pk only,
// and still opens.
const (
	sealVersion   = "v2"
	sealVersionV1 = "v1"
	sealKeyInfo   = "oauthfn token key v1"    // HKDF info for the AES-256 key
	sealKIDInfo   = "oauthfn token key id v1" // HKDF info for the key id
	sealKIDLen    = 8                         // bytes; 16 hex characters
)

// Sealer encrypts token values at rest with AES-256-GCM. The key is derived
// from the token-key secret with HKDF-SHA256; a fresh random 12-byte nonce is
// drawn for every value; the caller's additional data (the item's pk) is
// authenticated, so a value moved to another item does not open. Each sealed
// value names its key id, so values sealed with a previous key (AWSPREVIOUS)
// still open after a rotation while new values use the current key.
//
// A Sealer is safe for concurrent use.
type Sealer struct {
	current string                 // key id used by Seal
	keys    map[string]cipher.AEAD // every key Open accepts, by key id
}

// NewSealer returns a Sealer that seals with current and opens values sealed
// with current or any of previous. Each secret must have at least
// MinTokenKeyLen characters.
func NewSealer(current Secret, previous ...Secret) (*Sealer, error) {
	s := &Sealer{keys: make(map[string]cipher.AEAD, 1+len(previous))}
	for i, secret := range append([]Secret{current}, previous...) {
		name := "token key"
		if i > 0 {
			name = fmt.Sprintf("previous token key %d", i)
		}
		if len(secret) < MinTokenKeyLen {
			return nil, fmt.Errorf("oauth: %s too short: want at least %d characters", name, MinTokenKeyLen)
		}
		kid, aead, err := deriveSealKey(secret)
		if err != nil {
			return nil, fmt.Errorf("oauth: %s: %w", name, err)
		}
		if i == 0 {
			s.current = kid
		}
		if _, dup := s.keys[kid]; !dup {
			s.keys[kid] = aead
		}
	}
	return s, nil
}

// deriveSealKey derives the AES-256-GCM key and its key id from secret. The
// id comes from a separate HKDF output, so it reveals nothing about the key.
func deriveSealKey(secret Secret) (kid string, aead cipher.AEAD, err error) {
	key, err := hkdf.Key(sha256.New, []byte(secret.Reveal()), nil, sealKeyInfo, 32)
	if err != nil {
		return "", nil, fmt.Errorf("derive key: %w", err)
	}
	id, err := hkdf.Key(sha256.New, []byte(secret.Reveal()), nil, sealKIDInfo, sealKIDLen)
	if err != nil {
		return "", nil, fmt.Errorf("derive key id: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", nil, err
	}
	aead, err = cipher.NewGCM(block)
	if err != nil {
		return "", nil, err
	}
	return hex.EncodeToString(id), aead, nil
}

// KeyID is the id of the current key: the key id Seal writes.
func (s *Sealer) KeyID() string { return s.current }

// String shows the key ids only.
func (s *Sealer) String() string {
	return fmt.Sprintf("oauth.Sealer{KeyID: %s, keys: %d}", s.current, len(s.keys))
}

// GoString shows the key ids only.
func (s *Sealer) GoString() string { return s.String() }

// ErrUnknownKeyID: a sealed value names a key id this Sealer does not hold
// (sealed with a key that is neither its current nor a previous one).
var ErrUnknownKeyID = errors.New("oauth: open sealed value: unknown key id")

// Seal encrypts plaintext with the current key, authenticating aad (the
// item's pk) with it. An empty plaintext seals to "", so an absent token
// stays absent (and Open("") returns ""). It is SealField with no field.
func (s *Sealer) Seal(plaintext, aad string) (string, error) {
	return s.SealField(plaintext, aad, "")
}

// Open decrypts a value made by Seal with the same aad. It is OpenField
// with no field.
func (s *Sealer) Open(sealed, aad string) (string, error) {
	return s.OpenField(sealed, aad, "")
}

// Knows reports whether the Sealer holds the key with id kid.
func (s *Sealer) Knows(kid string) bool {
	_, ok := s.keys[kid]
	return ok
}

// SealField encrypts plaintext with the current key, authenticating the
// item's pk and the field (attribute) the value is stored in: a value moved
// to another item, or to another field of the same item (an access token
// swapped with the refresh token), does not open.
func (s *Sealer) SealField(plaintext, pk, field string) (string, error) {
	if plaintext == "" {
		return "", nil
	}
	aead := s.keys[s.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("oauth: seal value: nonce: %w", err)
	}
	header := sealVersion + "." + s.current + "."
	out := aead.Seal(nonce, nonce, []byte(plaintext), sealAAD(header, pk, field))
	return header + base64.RawURLEncoding.EncodeToString(out), nil
}

// OpenField decrypts a value made by SealField with the same pk and field,
// using the key its key id names (current or previous). A value in the
// older v1 format (sealed before field binding) opens with its pk alone.
// "" opens to "". A value moved to another item or field, altered in any
// part, or sealed with an unknown key (ErrUnknownKeyID) is an error; errors
// never contain the value, the pk or the key.
func (s *Sealer) OpenField(sealed, pk, field string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	version, rest, ok1 := strings.Cut(sealed, ".")
	kid, body, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || (version != sealVersion && version != sealVersionV1) {
		return "", errors.New("oauth: open sealed value: not a v1 or v2 sealed value")
	}
	aead, ok := s.keys[kid]
	if !ok {
		return "", fmt.Errorf("%w %q (sealed with a key this environment does not hold)", ErrUnknownKeyID, truncate(kid, 2*sealKIDLen))
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return "", errors.New("oauth: open sealed value: malformed ciphertext")
	}
	header := sealed[:len(version)+1+len(kid)+1]
	nonce, ciphertext := raw[:aead.NonceSize()], raw[aead.NonceSize():]
	ad := sealAAD(header, pk, field)
	if version == sealVersionV1 {
		ad = []byte(header + pk)
	}
	plain, err := aead.Open(nil, nonce, ciphertext, ad)
	if err != nil {
		return "", errors.New("oauth: open sealed value: authentication failed (tampered, or sealed for another item)")
	}
	return string(plain), nil
}

// sealAAD binds the header (version and key id), the pk and the field. The
// header has a fixed shape ending in "."; the field is length-prefixed and
// comes before the pk, so the encoding is unambiguous.
func sealAAD(header, pk, field string) []byte {
	return []byte(header + strconv.Itoa(len(field)) + ":" + field + pk)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
