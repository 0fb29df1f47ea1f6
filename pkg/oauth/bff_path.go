package oauth

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// How API Gateway hands the proxied path over (researched for issue 20):
// an HTTP API with payload format 2.0 fills rawPath, and the {proxy+} path
// parameter, with the path already percent-DECODED, despite its name: a
// request for /RSC/%40id%2Fassets%2Frsf0.js%23save.txt arrives as rawPath
// /RSC/@id/assets/rsf0.js#save.txt (honojs/hono#2156), /foo%2Fbar/ as
// /foo/bar/ (Worklytics/psoxy#827), and live captures show it even cut at
// a decoded "?" (middleapi/standard-server#93, citing hotsock/voker#8;
// REST APIs, function URLs and ALB keep the encoding). rawQueryString
// stays percent-encoded. The local dev server and the Lambda emulator's
// events, like a REST API, carry the path still encoded. So the proxy
// cannot know whether the path it sees was decoded once already, and
// refuses every form whose meaning would differ between the two readings:
// an escape of "/", "\", "%", "?", "#", "@" or ";" (a "%" surviving one
// decoding is double encoding), an escape of a character that never needs
// one (%2e, %41: a needless escape is only ever a disguise), and the same
// characters literally where they could be structure ("\", "@", "?", "#",
// ";"). What is left decodes to one path, which is checked (segments,
// allow-list, OAuth endpoints) and sent re-encoded by net/url: the path
// checked is the path the provider receives, and it holds no "%" for a
// provider that decodes twice.

// maxAPIPath bounds the proxied path (API Gateway allows 10240 bytes for
// the request line and headers together).
const maxAPIPath = 4096

// apiRefusal is why a proxied request was refused before anything was
// sent: its status and JSON error code.
type apiRefusal struct {
	status      int
	code        string
	description string
}

func badPath(desc string) *apiRefusal {
	return &apiRefusal{http.StatusBadRequest, "invalid_path", desc}
}

// apiTarget resolves the path after /bff/api/ (apiPath, as the request
// carried it) and the request's raw query to the provider's URL, or says
// why not: 400 invalid_path for a path that is malformed or ambiguous, 403
// api_not_allowed for one outside p.APIPrefixes or on the provider's OAuth
// endpoints. It makes no call.
func (p Provider) apiTarget(apiPath, rawQuery string) (*url.URL, *apiRefusal) {
	if len(p.APIPrefixes) == 0 {
		return nil, &apiRefusal{http.StatusForbidden, "api_not_allowed", "this provider has no API allow-list (OAUTH_API_PREFIXES or the api_prefixes setting)"}
	}
	path, refusal := decodeAPIPath(apiPath)
	if refusal != nil {
		return nil, refusal
	}
	if !validAPIQuery(rawQuery) {
		return nil, &apiRefusal{http.StatusBadRequest, "invalid_query", "the query is not a well-formed percent-encoded URL query"}
	}
	for _, base := range p.apiBases() {
		b, err := url.Parse(base)
		if err != nil {
			continue
		}
		u := &url.URL{Scheme: b.Scheme, Host: b.Host, Path: b.Path + path, RawQuery: rawQuery}
		if !p.apiAllowed(u) {
			continue
		}
		if p.apiDenied(u) {
			return nil, &apiRefusal{http.StatusForbidden, "api_not_allowed", "the provider's OAuth endpoints are never proxied"}
		}
		return u, nil
	}
	return nil, &apiRefusal{http.StatusForbidden, "api_not_allowed", "the path is outside the provider's API allow-list"}
}

// apiBases are the URLs a proxied path is resolved against, in order:
// APIBase, then each prefix's origin (first match wins).
func (p Provider) apiBases() []string {
	var out []string
	add := func(s string) {
		for _, o := range out {
			if o == s {
				return
			}
		}
		out = append(out, s)
	}
	if p.APIBase != "" {
		add(p.APIBase)
	}
	for _, pre := range p.APIPrefixes {
		if u, err := url.Parse(pre); err == nil {
			add(u.Scheme + "://" + strings.ToLower(u.Host) + "/")
		}
	}
	return out
}

// apiAllowed reports whether u (decoded path) falls under one of the
// prefixes: same scheme and host, path under the prefix's (case as
// written: a path is case-sensitive).
func (p Provider) apiAllowed(u *url.URL) bool {
	for _, pre := range p.APIPrefixes {
		a, err := url.Parse(pre)
		if err != nil {
			continue
		}
		if a.Scheme == u.Scheme && strings.EqualFold(a.Host, u.Host) && strings.HasPrefix(u.Path, a.Path) {
			return true
		}
	}
	return false
}

// apiDenied reports whether u is one of the provider's OAuth endpoints
// (authorize, token, revoke) or under one of APIDenied. An endpoint is
// refused as a prefix: its exact path, and the path followed by "/" or
// "." (/oauth/token/, /oauth/token.json: servers that route a format
// suffix or a trailing segment to the same handler). The userinfo
// endpoint is an API call like any other (a bearer token in, the user's
// profile out: what a browser app asks first), so it is not refused.
// Paths compare without regard to case, so a case-insensitive server
// cannot be reached around the rule.
func (p Provider) apiDenied(u *url.URL) bool {
	path := strings.ToLower(u.Path)
	same := func(d *url.URL) bool { return d.Scheme == u.Scheme && strings.EqualFold(d.Host, u.Host) }
	for _, e := range []string{p.Endpoint.AuthURL, p.Endpoint.TokenURL, p.RevokeURL} {
		d, err := url.Parse(e)
		if e == "" || err != nil || !same(d) {
			continue
		}
		ep := strings.ToLower(strings.TrimSuffix(d.Path, "/"))
		if path == ep || ep != "" && (strings.HasPrefix(path, ep+"/") || strings.HasPrefix(path, ep+".")) {
			return true // ep "": an endpoint at the host's root refuses only "/"
		}
	}
	for _, e := range p.APIDenied {
		d, err := url.Parse(e)
		if err == nil && same(d) && strings.HasPrefix(path, strings.ToLower(d.Path)) {
			return true
		}
	}
	return false
}

// decodeAPIPath decodes apiPath once and checks the result (see the note at
// the top of this file): no ambiguous escape or character, no empty, "."
// or ".." segment, no scheme, valid UTF-8.
func decodeAPIPath(apiPath string) (string, *apiRefusal) {
	if apiPath == "" {
		return "", &apiRefusal{http.StatusForbidden, "api_not_allowed", "the path is outside the provider's API allow-list"}
	}
	if len(apiPath) > maxAPIPath {
		return "", badPath("the path is too long")
	}
	var b strings.Builder
	for i := 0; i < len(apiPath); i++ {
		c := apiPath[i]
		if c == '%' {
			if i+2 >= len(apiPath) || !isHex(apiPath[i+1]) || !isHex(apiPath[i+2]) {
				return "", badPath("a malformed percent-encoding")
			}
			d := unhex(apiPath[i+1])<<4 | unhex(apiPath[i+2])
			switch {
			case isUnreserved(d):
				return "", badPath("a needless percent-encoding (such as %2e)")
			case d == '/' || d == '\\':
				return "", badPath("an encoded slash or backslash")
			case d == '%':
				return "", badPath("double percent-encoding (%25)")
			case d < 0x20 || d == 0x7f || strings.IndexByte("?#@;", d) >= 0:
				return "", badPath("an encoded control character, ?, #, @ or ;")
			}
			b.WriteByte(d)
			i += 2
			continue
		}
		switch {
		case c < 0x20 || c == 0x7f:
			return "", badPath("a control character")
		case c == '\\':
			return "", badPath("a backslash")
		case c == '@':
			return "", badPath("an @ (user info)")
		case c == '?' || c == '#' || c == ';':
			return "", badPath("a ?, # or ; in the path")
		}
		b.WriteByte(c)
	}
	path := b.String()
	if !utf8.ValidString(path) {
		return "", badPath("not UTF-8")
	}
	segs := strings.Split(path, "/")
	if strings.Contains(segs[0], ":") {
		return "", badPath("an absolute URL or scheme")
	}
	for i, s := range segs {
		switch {
		case s == "" && i < len(segs)-1:
			return "", badPath("an empty path segment (//)")
		case s == "." || s == "..":
			return "", badPath("a . or .. path segment")
		}
	}
	return path, nil
}

// validAPIQuery reports whether q is a well-formed raw query: RFC 3986
// query characters and complete percent-encodings only.
func validAPIQuery(q string) bool {
	if len(q) > maxAPIPath {
		return false
	}
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '%':
			if i+2 >= len(q) || !isHex(q[i+1]) || !isHex(q[i+2]) {
				return false
			}
			i += 2
		case isUnreserved(c) || strings.IndexByte("!$&'()*+,;=:@/?", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isUnreserved: RFC 3986 unreserved characters (never need an escape).
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
