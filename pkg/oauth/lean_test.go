package oauth

import (
	"regexp"
	"strings"
	"testing"
)

// TestNoBindingConstant holds the constant to what it stands for.
func TestNoBindingConstant(t *testing.T) {
	if got := bindingHash(""); got != noBinding {
		t.Errorf("bindingHash(\"\"): got %q, noBinding is %q", got, noBinding)
	}
}

// TestIsCode checks the hand-written loop against the pattern it replaced.
func TestIsCode(t *testing.T) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,64}$`)
	tests := []string{
		"", "invalid_grant", "OAU-251", "a.b", "x", strings.Repeat("a", 64), strings.Repeat("a", 65),
		"has space", "semi;colon", "new\nline", "é", "a/b", "<script>", "tab\t", "[", "`", "@", "{", "~", "Z9_-.",
	}
	for c := 0; c < 256; c++ {
		tests = append(tests, string([]byte{byte(c)}))
	}
	for _, s := range tests {
		if got, want := isCode(s), pattern.MatchString(s); got != want {
			t.Errorf("isCode(%q): got %v, want %v", s, got, want)
		}
	}
	if got := safeCode("bad code"); got != "other" {
		t.Errorf("safeCode(%q): got %q, want other", "bad code", got)
	}
}

func TestQueryLimitsGet(t *testing.T) {
	tests := []struct {
		name  string
		limit int
		known bool
	}{
		{"code", 4096, true},
		{"state", 128, true},
		{"error_uri", 1024, true},
		{"iss", 2048, true},
		{"session_state", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		limit, known := callbackLimits.get(tt.name)
		if limit != tt.limit || known != tt.known {
			t.Errorf("callbackLimits.get(%q): got %d, %v, want %d, %v", tt.name, limit, known, tt.limit, tt.known)
		}
	}
}
