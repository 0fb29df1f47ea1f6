package oauth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
)

// BindingCookie binds an authorization to the browser that started it. Its
// value is one or more random nonces (32 bytes each, base64url, joined with
// "."), never derived from state; only a nonce's hash is stored with the
// pending authorization. Several nonces let a person start authorizations in
// two tabs one after the other and finish both; the newest maxBindings are
// kept.
const BindingCookie = "__Host-oauthfn"

const (
	maxBindings   = 4
	nonceLen      = 43 // base64url of 32 bytes, unpadded
	bindingMaxAge = 600
)

// newNonce returns 32 random bytes, base64url without padding.
func newNonce() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// bindingHash is what the pending record keeps of a nonce.
func bindingHash(nonce string) string {
	sum := sha256.Sum256([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// wellFormedNonce reports whether s looks like a newNonce or newState value.
func wellFormedNonce(s string) bool {
	if len(s) != nonceLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// readBindings returns the well-formed nonces of the binding cookie found in
// API Gateway's cookies array (or a Cookie header, as some local tools send),
// oldest first. Malformed values are dropped, not echoed.
func readBindings(cookies []string, header string) []string {
	var nonces []string
	for _, v := range cookieValues(cookies, header, BindingCookie) {
		for n := range strings.SplitSeq(v, ".") {
			if wellFormedNonce(n) {
				nonces = append(nonces, n)
			}
		}
	}
	if len(nonces) > maxBindings {
		nonces = nonces[len(nonces)-maxBindings:]
	}
	return nonces
}

// cookieValues returns the values of every cookie named name in API
// Gateway's cookies array and a Cookie header (as some local tools send),
// in that order; lines that do not parse are skipped.
func cookieValues(cookies []string, header, name string) []string {
	lines := cookies
	if header != "" {
		lines = append(slices.Clip(cookies), header)
	}
	var values []string
	for _, line := range lines {
		parsed, err := http.ParseCookie(line)
		if err != nil {
			continue
		}
		for _, c := range parsed {
			if c.Name == name {
				values = append(values, c.Value)
			}
		}
	}
	return values
}

// bindingSetCookie renders the Set-Cookie value holding nonces; with none it
// clears the cookie.
func bindingSetCookie(nonces []string) string {
	c := &http.Cookie{
		Name:     BindingCookie,
		Value:    strings.Join(nonces, "."),
		Path:     "/",
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
		MaxAge:   bindingMaxAge,
	}
	if len(nonces) == 0 {
		c.MaxAge = -1 // Max-Age=0: delete now
	}
	return c.String()
}

// without returns nonces minus the one whose hash is h.
func without(nonces []string, h string) []string {
	out := make([]string, 0, len(nonces))
	for _, n := range nonces {
		if bindingHash(n) != h {
			out = append(out, n)
		}
	}
	return out
}
