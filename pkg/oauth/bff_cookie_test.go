package oauth

import "testing"

// TestClearSessionCookie: the constant that clears the session cookie is
// what sessionSetCookie renders for it.
func TestClearSessionCookie(t *testing.T) {
	if got := sessionSetCookie("", 0); got != clearSessionCookie {
		t.Errorf("sessionSetCookie(\"\", 0) = %q, clearSessionCookie = %q", got, clearSessionCookie)
	}
}
