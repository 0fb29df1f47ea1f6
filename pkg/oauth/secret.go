package oauth

import (
	"fmt"
	"io"
	"log/slog"
)

// Secret is a string that never prints: fmt, slog and encoding/json all show
// REDACTED. Reveal returns the value for the one place that needs it.
type Secret string

// MinTokenKeyLen is the shortest token-key secret accepted.
const MinTokenKeyLen = 32

func (Secret) String() string       { return "REDACTED" }
func (Secret) GoString() string     { return "REDACTED" }
func (Secret) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// MarshalText: slog's JSON handler marshals a struct holding a Secret with
// encoding/json, which does not call LogValue.
func (Secret) MarshalText() ([]byte, error) { return []byte("REDACTED"), nil }

// Format prints REDACTED for every verb (fmt calls String only for some).
func (Secret) Format(f fmt.State, verb rune) { io.WriteString(f, "REDACTED") }

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }
