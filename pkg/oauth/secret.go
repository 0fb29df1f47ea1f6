package oauth

import "log/slog"

// Secret is a string that never prints: fmt and slog show REDACTED.
type Secret string

// MinTokenKeyLen is the shortest token-key secret accepted.
const MinTokenKeyLen = 32

func (Secret) String() string       { return "REDACTED" }
func (Secret) GoString() string     { return "REDACTED" }
func (Secret) LogValue() slog.Value { return slog.StringValue("REDACTED") }
func (s Secret) Reveal() string     { return string(s) }
