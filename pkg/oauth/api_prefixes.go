package oauth

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// The BFF proxy's allow-list (DESIGN.md, "Browser-only apps"): per provider,
// the absolute URL prefixes /bff/api/{path+} may reach. Set by
// OAUTH_API_PREFIXES (comma-separated) in a single-provider stack, by the
// api_prefixes setting (a JSON list) of an OAUTH_PROVIDERS entry, else the
// preset's (Provider.APIPrefixes). "none" (or the empty list []) turns the
// proxy off for the provider.

// apiPrefixesNone is the setting's value that allows no API at all.
const apiPrefixesNone = "none"

// parseAPIPrefixes checks the api_prefixes setting v (comma-separated
// absolute URLs; "" keeps preset, "none" allows nothing) and returns the
// provider's prefixes. Each problem is reported through bad under name.
func parseAPIPrefixes(v string, preset []string, name string, bad func(name, format string, args ...any)) []string {
	switch v = strings.TrimSpace(v); v {
	case "":
		return preset
	case apiPrefixesNone:
		return nil
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			bad(name, "an empty entry: want absolute https URL prefixes ending in /, comma-separated (or %s)", apiPrefixesNone)
			continue
		}
		p, err := checkAPIPrefix(s)
		if err != nil {
			bad(name, "%v", err)
			continue
		}
		out = append(out, p)
	}
	return out
}

// checkAPIPrefix accepts an absolute https URL (http for loopback only)
// whose path ends in "/", without query, fragment, user info or percent
// encoding, and without empty, "." or ".." segments. It returns it with the
// host in lower case.
func checkAPIPrefix(s string) (string, error) {
	if err := checkURL(s); err != nil {
		return "", err
	}
	u, _ := url.Parse(s)
	switch {
	case u.RawQuery != "" || u.ForceQuery:
		return "", fmt.Errorf("want a URL prefix without a query, got %q", u.Redacted())
	case strings.Contains(s, "%"):
		return "", fmt.Errorf("want a URL prefix without percent-encoding, got %q", u.Redacted())
	case !strings.HasSuffix(u.Path, "/"):
		return "", fmt.Errorf("want a URL prefix ending in / (a whole path segment), got %q", u.Redacted())
	}
	for _, seg := range strings.Split(strings.Trim(u.Path, "/"), "/") {
		if strings.Contains(u.Path, "//") || seg == "." || seg == ".." || strings.ContainsAny(seg, `\@;`) {
			return "", fmt.Errorf("want a URL prefix with a plain path (no //, ., .., \\, @ or ;), got %q", u.Redacted())
		}
	}
	u.Host = strings.ToLower(u.Host)
	return u.String(), nil
}

// apiPrefixesSetting reads an OAUTH_PROVIDERS entry's api_prefixes (a JSON
// list of strings) as the text parseAPIPrefixes takes; ok is false when it
// is not such a list (reported through bad).
func apiPrefixesSetting(raw json.RawMessage, name string, bad func(name, format string, args ...any)) (string, bool) {
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil || list == nil {
		bad(name, "want a JSON list of absolute URL prefixes ending in / ([] for none)")
		return "", false
	}
	if len(list) == 0 {
		return apiPrefixesNone, true
	}
	for _, s := range list {
		if strings.Contains(s, ",") || strings.TrimSpace(s) == "" {
			bad(name, "want each entry an absolute URL prefix ending in / (no commas), got %q", s)
			return "", false
		}
	}
	return strings.Join(list, ","), true
}
