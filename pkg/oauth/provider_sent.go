package oauth

import (
	"cmp"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
)

// sentValues are the secret values one call sent to the provider: the client
// secret (and the Basic credential built from it), the code and code
// verifier, the refresh token, the token being revoked, the access token
// presented to userinfo, the state. A provider may echo any of them in its
// error text, at any length; whatever it answers is cleaned of them (exactly,
// also URL-encoded) before the length heuristic of safeDescription, which
// stays as a second line for values this call did not send.
type sentValues []string

// redactedText replaces a sent value in provider text.
const redactedText = "[redacted]"

// sentBy returns the values of a call authenticated with the client secret
// (as x/oauth2 and revoke send it: the Basic credential of the URL-escaped
// client id and secret, or the secret itself in the form) that also sent
// values.
func (h *Handler) sentBy(secret Secret, values ...string) sentValues {
	s := secret.Reveal()
	basic := url.QueryEscape(h.Config.ClientID) + ":" + url.QueryEscape(s)
	return sentOnly(append(values, s, base64.StdEncoding.EncodeToString([]byte(basic)))...)
}

// sentOnly returns values (a call not authenticated with the client
// secret, e.g. userinfo with the access token), with their URL-encoded
// forms, longest first (so a value holding another is replaced whole), no
// empty value.
func sentOnly(values ...string) sentValues {
	var out sentValues
	for _, v := range values {
		if v == "" {
			continue
		}
		out = append(out, v, url.QueryEscape(v), url.PathEscape(v))
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	return slices.Compact(out)
}

// clean replaces every occurrence of a sent value in s.
func (v sentValues) clean(s string) string {
	for _, x := range v {
		if strings.Contains(s, x) {
			s = strings.ReplaceAll(s, x, redactedText)
		}
	}
	return s
}

// description is a provider's error_description (or message) for a log
// line: cleaned, then sanitised by safeDescription.
func (v sentValues) description(s string) string {
	return safeDescription(v.clean(s))
}

// code is a provider's error code for a log line: "" when there is none,
// "other" when it is not a protocol code or holds a sent value.
func (v sentValues) code(s string) string {
	if s == "" {
		return ""
	}
	return safeCode(v.clean(s))
}
