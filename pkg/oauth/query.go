package oauth

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// maxRawQuery bounds a query string before anything is parsed or looked up.
const maxRawQuery = 8192

// queryLimits bounds each parameter the handlers read; other parameters are
// ignored (providers add their own, such as iss or session_state) but still
// may not repeat. A slice of constants, not a map: the linker lays it out,
// nothing runs at start-up.
type queryLimits []queryLimit

type queryLimit struct {
	name string
	max  int
}

var (
	authorizeLimits = queryLimits{{"return_to", connect.MaxReturnToLen}, {"login_hint", connect.MaxLoginHintLen},
		{"app_state", connect.MaxAppStateLen}, {"connect", connect.MaxTokenLen}}
	callbackLimits = queryLimits{{"code", 4096}, {"state", 128}, {"error", 128}, {"error_description", 1024}, {"error_uri", 1024}, {"iss", 2048}}
)

// get returns the bound of the parameter name, and whether it is one the
// handler reads.
func (l queryLimits) get(name string) (int, bool) {
	for _, q := range l {
		if q.name == name {
			return q.max, true
		}
	}
	return 0, false
}

// queryError says which parameter was refused and why; it never carries the
// value.
type queryError struct{ param, reason string }

func (e *queryError) Error() string {
	if e.param == "" {
		return "oauth: query " + e.reason
	}
	return fmt.Sprintf("oauth: query parameter %q %s", e.param, e.reason)
}

// parseQuery reads API Gateway's rawQueryString strictly: a repeated
// parameter is refused (API Gateway would join repeats with commas in
// queryStringParameters), an empty value counts as absent, and sizes are
// checked before values are used.
func parseQuery(raw string, limits queryLimits) (map[string]string, error) {
	if len(raw) > maxRawQuery {
		return nil, &queryError{reason: "too long"}
	}
	out := make(map[string]string)
	seen := make(map[string]bool)
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, &queryError{reason: "has a malformed parameter name"}
		}
		if len(key) > 64 {
			return nil, &queryError{reason: "has an overlong parameter name"}
		}
		if seen[key] {
			if _, known := limits.get(key); known {
				return nil, &queryError{param: key, reason: "is repeated"}
			}
			return nil, &queryError{reason: "repeats a parameter"}
		}
		seen[key] = true
		limit, known := limits.get(key)
		if !known {
			continue
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, &queryError{param: key, reason: "is not valid percent-encoding"}
		}
		if len(val) > limit {
			return nil, &queryError{param: key, reason: fmt.Sprintf("is longer than %d bytes", limit)}
		}
		if val != "" {
			out[key] = val
		}
	}
	return out, nil
}
