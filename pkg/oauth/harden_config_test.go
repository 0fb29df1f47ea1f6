package oauth

import (
	"strings"
	"testing"
)

// Issue 10 item 6: TOKEN_RATE_PER_MIN and SWEEP_CONCURRENCY have upper
// bounds: a rate whose interval is under the limiter's millisecond would
// stop every refresh, and an unbounded worker count is a mistake.
func TestLoadConfigBounds(t *testing.T) {
	tests := []struct {
		name, variable, value string
		ok                    bool
	}{
		{"rate at the bound", "TOKEN_RATE_PER_MIN", "60000", true},
		{"rate above the bound", "TOKEN_RATE_PER_MIN", "60001", false},
		{"rate far above", "TOKEN_RATE_PER_MIN", "1000000000", false},
		{"rate unlimited", "TOKEN_RATE_PER_MIN", "0", true},
		{"concurrency at the bound", "SWEEP_CONCURRENCY", "256", true},
		{"concurrency above the bound", "SWEEP_CONCURRENCY", "257", false},
		{"concurrency huge", "SWEEP_CONCURRENCY", "99999999", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadConfig(env(with(baseEnv(), tt.variable, tt.value)))
			if tt.ok && err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			if !tt.ok && (err == nil || !strings.Contains(err.Error(), tt.variable) || !strings.Contains(err.Error(), "<=")) {
				t.Fatalf("LoadConfig error = %v, want one naming %s and its bound", err, tt.variable)
			}
		})
	}
}
