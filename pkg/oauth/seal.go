package oauth

// Sealer encrypts token values at rest (AES-256-GCM, HKDF-SHA256 key, key id
// in the ciphertext, the item's pk as additional data). Placeholder: the
// implementation lands with the secrets work.
type Sealer struct{}

func (s *Sealer) Seal(plaintext, aad string) (string, error) { panic("placeholder") }
func (s *Sealer) Open(sealed, aad string) (string, error)    { panic("placeholder") }
func (s *Sealer) KeyID() string                              { panic("placeholder") }
