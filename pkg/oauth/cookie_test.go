package oauth

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestNewNonce(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		n := newNonce()
		if !wellFormedNonce(n) {
			t.Fatalf("newNonce() = %q, not well formed", n)
		}
		if seen[n] {
			t.Fatalf("newNonce() repeated %q", n)
		}
		seen[n] = true
	}
}

func TestWellFormedNonce(t *testing.T) {
	good := newNonce()
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"fresh", good, true},
		{"empty", "", false},
		{"short", good[:42], false},
		{"long", good + "A", false},
		{"padding", good[:42] + "=", false},
		{"std alphabet", strings.Repeat("+", 43), false},
		{"dot", good[:42] + ".", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wellFormedNonce(tt.in); got != tt.want {
				t.Errorf("wellFormedNonce(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestReadBindings(t *testing.T) {
	a, b, c, d, e := newNonce(), newNonce(), newNonce(), newNonce(), newNonce()
	tests := []struct {
		name    string
		cookies []string
		header  string
		want    []string
	}{
		{name: "none"},
		{name: "one", cookies: []string{BindingCookie + "=" + a}, want: []string{a}},
		{name: "among others", cookies: []string{"x=1", BindingCookie + "=" + a, "y=2"}, want: []string{a}},
		{name: "several nonces", cookies: []string{BindingCookie + "=" + a + "." + b}, want: []string{a, b}},
		{name: "keeps newest four", cookies: []string{BindingCookie + "=" + strings.Join([]string{a, b, c, d, e}, ".")}, want: []string{b, c, d, e}},
		{name: "malformed dropped", cookies: []string{BindingCookie + "=junk." + a + ".<script>"}, want: []string{a}},
		{name: "cookie header", header: "x=1; " + BindingCookie + "=" + b, want: []string{b}},
		{name: "other name", cookies: []string{"oauthfn=" + a}},
		{name: "unparsable line", cookies: []string{"\x00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := readBindings(tt.cookies, tt.header); !slices.Equal(got, tt.want) {
				t.Errorf("readBindings = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBindingSetCookie(t *testing.T) {
	a, b := newNonce(), newNonce()
	set := bindingSetCookie([]string{a, b})
	c, err := http.ParseSetCookie(set)
	if err != nil {
		t.Fatalf("ParseSetCookie(%q): %v", set, err)
	}
	if c.Name != BindingCookie || c.Value != a+"."+b || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge != 600 || c.Domain != "" {
		t.Errorf("Set-Cookie %q: want __Host- rules (Secure, Path=/, no Domain), HttpOnly, SameSite=Lax, Max-Age=600", set)
	}
	cleared := bindingSetCookie(nil)
	if !strings.Contains(cleared, "Max-Age=0") || !strings.HasPrefix(cleared, BindingCookie+"=;") {
		t.Errorf("clearing Set-Cookie = %q, want an empty value with Max-Age=0", cleared)
	}
	if got := without([]string{a, b}, bindingHash(a)); !slices.Equal(got, []string{b}) {
		t.Errorf("without = %v, want [b]", got)
	}
}
