package oauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/oauth2"
)

// Limits of the API proxy (docs-pending/bff-proxy.md).
const (
	// MaxAPIBody bounds a proxied request's body and the provider's
	// answer's body (decoded bytes): 4 MiB. The binding limit is Lambda's
	// 6 MB for a synchronous invocation's request and response payloads
	// (API Gateway HTTP APIs allow 10 MB): a binary body travels base64
	// encoded, 4/3 its size, so 4 MiB becomes 5.6 MB and leaves room for
	// the event's headers and other fields.
	MaxAPIBody = 4 << 20
	// APITimeout bounds one call to the provider's API: under API
	// Gateway's 30-second integration timeout.
	APITimeout = 25 * time.Second
	// apiAnswerMargin is the time kept, before the invocation's deadline,
	// for answering: a call still running then is cut, and the browser
	// gets a clean 504 rather than Lambda's timeout error (a slow call,
	// a 401, a refresh and a retry can outlast the function's timeout).
	apiAnswerMargin = 2 * time.Second
	// apiRefreshFloor is how recently an access token may have been
	// refreshed for an API 401 to refresh it again: a path that refuses
	// every token (a missing permission, not a dead token) makes at most
	// one token-endpoint call per account per floor, however often a page
	// calls it. Each such call takes a slot of the deployment-wide
	// TOKEN_RATE_PER_MIN (RingCentral: 5 a minute for all accounts), which
	// the sweep needs.
	apiRefreshFloor = time.Minute
	// maxAPIResponseJSON bounds the response's body as it sits in
	// Lambda's JSON answer: text is sent as base64 when JSON escaping
	// would make it larger.
	maxAPIResponseJSON = MaxAPIBody * 4 / 3
)

// apiRequestHeaders are the only request headers forwarded to the
// provider (canonical names). Never Cookie, Origin, Referer, the browser's
// Authorization, X-OAuthFn-CSRF, Sec-Fetch-*, or hop-by-hop headers.
var apiRequestHeaders = []string{
	"Accept", "Accept-Language", "Content-Type", "Content-Language",
	"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since",
}

// apiResponseHeaders are the provider's response headers passed back,
// besides Content-Type and the rate-limit families of apiRateHeader. Never
// Set-Cookie, Location, or hop-by-hop headers.
var apiResponseHeaders = []string{
	"Retry-After", "ETag", "Last-Modified", "Content-Language", "Content-Disposition",
}

// apiRateHeader reports whether a response header is a rate-limit header
// passed back: X-Rate-Limit-* (RingCentral), X-RateLimit-* (GitHub),
// RateLimit and RateLimit-* (the IETF draft).
func apiRateHeader(name string) bool {
	n := strings.ToLower(name)
	return strings.HasPrefix(n, "x-rate-limit-") || strings.HasPrefix(n, "x-ratelimit-") ||
		n == "ratelimit" || strings.HasPrefix(n, "ratelimit-")
}

// apiMethods are the methods proxied.
var apiMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// proxyAPI serves ANY /bff/api/{path+} for a browser whose session the
// caller (BFFRoutes) has already checked, CSRF header and site rules
// included: h is the session's provider's view and account its account.
// apiPath is the path after /bff/api/ exactly as the request carried it
// (without the query). It calls the provider's API with the account's
// access token (DESIGN.md, "Browser-only apps") and answers with the
// upstream's status, allowed headers and body, with Cache-Control:
// no-store. A path outside the allow-list, an ambiguous path or an
// oversized body is refused before any store or provider call. An
// upstream 401 retries once at most (apiRetryToken); redirects are never
// followed. read, when not nil, is the account's connection as the session
// check has just read it: the token comes from it without a second read.
func (h *Handler) proxyAPI(ctx context.Context, req events.APIGatewayV2HTTPRequest, apiPath, account string, read *Connection) events.APIGatewayV2HTTPResponse {
	target, refusal := h.Config.Provider.apiTarget(apiPath, req.RawQueryString)
	if refusal != nil {
		return apiError(refusal.status, refusal.code, refusal.description, "")
	}
	method := req.RequestContext.HTTP.Method
	if !slices.Contains(apiMethods, method) {
		return apiError(http.StatusMethodNotAllowed, "method_not_allowed", "the proxy forwards GET, HEAD, POST, PUT, PATCH and DELETE", "")
	}
	body, refusal := apiRequestBody(req)
	if refusal != nil {
		return apiError(refusal.status, refusal.code, refusal.description, "")
	}
	header, refusal := apiForwardHeaders(req)
	if refusal != nil {
		return apiError(refusal.status, refusal.code, refusal.description, "")
	}

	var used Connection
	tok, _, err := h.tokenAfter(ctx, account, "", read, &used)
	if err != nil {
		return h.apiTokenError(ctx, account, err)
	}
	ans, err := h.callAPI(ctx, method, target, header, body, tok.AccessToken)
	if err != nil {
		return h.apiCallError(ctx, method, target.Host, err)
	}
	if ans.status == http.StatusUnauthorized {
		tok2, err := h.apiRetryToken(ctx, account, &used)
		if err != nil {
			return h.apiTokenError(ctx, account, err)
		}
		if tok2 != nil && tok2.AccessToken != tok.AccessToken {
			h.Log.InfoContext(ctx, "API refused the access token; retrying once with a newer one",
				"provider", h.Config.Provider.Name, "account_id", account)
			if ans, err = h.callAPI(ctx, method, target, header, body, tok2.AccessToken); err != nil {
				return h.apiCallError(ctx, method, target.Host, err)
			}
		}
	}
	// The path and query may carry personal data (numbers, names): not
	// logged, nor the token.
	h.Log.DebugContext(ctx, "API call proxied", "provider", h.Config.Provider.Name, "account_id", account,
		"method", method, "host", target.Host, "status", ans.status, "bytes", len(ans.body))
	return ans.response()
}

// apiRetryToken is the access token to retry a proxied call with after
// the API refused (401) the token of used, the connection it came from, or
// nil: pass the 401 back. The token may have been refused although fresh
// by its expiry (revoked, rotated elsewhere, the provider's clock), or the
// path may refuse every token (a missing permission), so:
//   - the stored connection is no longer used (another holder refreshed
//     it, or the account signed in anew, which writes Version 1 again
//     with a new access token): its token, as stored, without a refresh
//     (unless its expiry calls for one, as for any call);
//   - it is still used, and its access token was last refreshed more than
//     apiRefreshFloor ago: a refresh under the lease (tokenAfter);
//   - it is still used and refreshed within the floor: nil. A token that
//     new is refused for the path, not for its age, and a refresh per
//     call would spend the deployment-wide token rate.
func (h *Handler) apiRetryToken(ctx context.Context, account string, used *Connection) (*oauth2.Token, error) {
	cur, err := h.Store.GetConnection(ctx, h.Config.Provider.Name, account)
	if err != nil {
		return nil, fmt.Errorf("oauth: token for %s: %w", account, err)
	}
	// The sealed access token tells a new sign-in (Version 1 again) from
	// the connection used: each sealing has a nonce of its own.
	same := cur.Version == used.Version && cur.AccessToken == used.AccessToken
	switch {
	case !same:
		tok, _, err := h.tokenAfter(ctx, account, "", cur, nil)
		return tok, err
	case h.Now().Sub(cur.LastRefreshAt) > apiRefreshFloor:
		tok, _, err := h.tokenAfter(ctx, account, used.AccessToken, cur, nil)
		return tok, err
	}
	h.Log.DebugContext(ctx, "API refused an access token refreshed moments ago; passing the 401 back",
		"provider", h.Config.Provider.Name, "account_id", account,
		"last_refresh_at", cur.LastRefreshAt.UTC().Format(time.RFC3339))
	return nil, nil
}

// apiAnswer is the provider's answer, read in full.
type apiAnswer struct {
	status int
	header http.Header
	body   []byte
}

// errAPITooLarge: the provider's answer exceeds MaxAPIBody.
var errAPITooLarge = errors.New("oauth: API answer larger than the proxy's limit")

// callAPI makes one call to the provider's API with the access token,
// without following redirects, and reads the answer (at most MaxAPIBody).
func (h *Handler) callAPI(ctx context.Context, method string, target *url.URL, header http.Header, body []byte, access string) (*apiAnswer, error) {
	ctx, cancel := apiCallContext(ctx)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("oauth: API request: %w", withoutURL(err))
	}
	req.Header = header.Clone()
	req.Header.Set("Authorization", "Bearer "+access)
	req.Header.Set("User-Agent", "oauthfn-bff")
	resp, err := h.apiClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("oauth: API call: %w", withoutURL(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxAPIBody+1))
	if err != nil {
		return nil, fmt.Errorf("oauth: API answer: %w", withoutURL(err))
	}
	if len(b) > MaxAPIBody {
		return nil, errAPITooLarge
	}
	return &apiAnswer{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// withoutURL is err without net/http's *url.Error, whose text holds the
// whole URL (the proxied path and query may carry personal data: a name,
// a phone number): the error underneath, which still tells a timeout.
func withoutURL(err error) error {
	for {
		var ue *url.Error
		if !errors.As(err, &ue) {
			return err
		}
		err = ue.Err
	}
}

// apiCallContext bounds an API call to end apiAnswerMargin before ctx's
// deadline (the Lambda invocation's), when it has one.
func apiCallContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, dl.Add(-apiAnswerMargin))
	}
	return context.WithCancel(ctx)
}

// apiClient is the handler's HTTP client (its transport) with no redirect
// followed, no cookie jar and APITimeout (or the client's own, if longer).
func (h *Handler) apiClient() *http.Client {
	c := http.Client{Timeout: APITimeout}
	if h.HTTPClient != nil {
		c.Transport = h.HTTPClient.Transport
		c.Timeout = max(h.HTTPClient.Timeout, APITimeout)
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// response turns the provider's answer into the browser's: status, the
// allowed headers, the body (base64 unless it is text that JSON carries
// compactly), Cache-Control: no-store. A redirect is passed back without
// its Location: the browser never follows it anywhere.
func (a *apiAnswer) response() events.APIGatewayV2HTTPResponse {
	ct := a.header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	headers := apiSecurityHeaders(ct)
	for _, k := range apiResponseHeaders {
		if v := a.header.Values(k); len(v) > 0 {
			headers[k] = strings.Join(v, ", ")
		}
	}
	for k, v := range a.header {
		if apiRateHeader(k) {
			headers[k] = strings.Join(v, ", ")
		}
	}
	resp := events.APIGatewayV2HTTPResponse{StatusCode: a.status, Headers: headers}
	if textual(ct) && utf8.Valid(a.body) && jsonLen(a.body) <= maxAPIResponseJSON {
		resp.Body = string(a.body)
	} else {
		resp.Body, resp.IsBase64Encoded = base64.StdEncoding.EncodeToString(a.body), true
	}
	return resp
}

// apiSecurityHeaders are a proxied answer's fixed headers: no caching, no
// sniffing, and a sandbox should the answer ever be opened as a page.
func apiSecurityHeaders(ct string) map[string]string {
	h := securityHeaders(ct)
	h["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'; sandbox"
	return h
}

// textual reports whether a content type is text that travels as a JSON
// string: text/*, JSON, XML, JavaScript, form data.
func textual(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"), strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	return slices.Contains([]string{"application/json", "application/xml", "application/javascript", "application/x-www-form-urlencoded"}, mt)
}

// jsonLen is how long b becomes as a JSON string.
func jsonLen(b []byte) int {
	out, _ := json.Marshal(string(b))
	return len(out)
}

// apiRequestBody is the request's body as bytes (nil: none): decoded from
// base64 when API Gateway encoded it, at most MaxAPIBody.
func apiRequestBody(req events.APIGatewayV2HTTPRequest) ([]byte, *apiRefusal) {
	tooLarge := &apiRefusal{http.StatusRequestEntityTooLarge, "body_too_large",
		fmt.Sprintf("the request body is larger than the proxy's limit of %d bytes", MaxAPIBody)}
	if req.Body == "" {
		return nil, nil
	}
	if !req.IsBase64Encoded {
		if len(req.Body) > MaxAPIBody {
			return nil, tooLarge
		}
		return []byte(req.Body), nil
	}
	if base64.StdEncoding.DecodedLen(len(req.Body)) > MaxAPIBody+3 {
		return nil, tooLarge
	}
	b, err := base64.StdEncoding.DecodeString(req.Body)
	if err != nil {
		return nil, &apiRefusal{http.StatusBadRequest, "invalid_body", "the request body is not valid base64"}
	}
	if len(b) > MaxAPIBody {
		return nil, tooLarge
	}
	return b, nil
}

// apiForwardHeaders picks the forwarded request headers (apiRequestHeaders)
// from the event's. A value with a control character is refused.
func apiForwardHeaders(req events.APIGatewayV2HTTPRequest) (http.Header, *apiRefusal) {
	out := http.Header{}
	for k, v := range req.Headers {
		name := http.CanonicalHeaderKey(k)
		if !slices.Contains(apiRequestHeaders, name) {
			continue
		}
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			return nil, &apiRefusal{http.StatusBadRequest, "invalid_header", "the " + name + " header holds a control character"}
		}
		out.Set(name, v)
	}
	return out, nil
}

// apiTokenError answers a proxied call whose access token could not be had.
func (h *Handler) apiTokenError(ctx context.Context, account string, err error) events.APIGatewayV2HTTPResponse {
	var wait *rateWaitError
	switch {
	case errors.Is(err, ErrNotFound):
		return apiError(http.StatusUnauthorized, "session_ended", "the account's connection has ended", "")
	case errors.Is(err, ErrReauthRequired), errors.Is(err, ErrCredentialRefused):
		return apiError(http.StatusUnauthorized, "reauth_required", "the account's authorization ended: sign in again", "")
	case errors.As(err, &wait):
		return apiError(http.StatusTooManyRequests, "rate_limited", "the provider's token endpoint is rate limited",
			strconv.Itoa(retryAfterS(wait.until.Sub(h.Now()))))
	case errors.Is(err, ErrRateLimited):
		return apiError(http.StatusTooManyRequests, "rate_limited", "the provider's token endpoint is rate limited",
			strconv.Itoa(retryAfterS(defaultRetryAfter)))
	case errors.Is(err, ErrBusy):
		return apiError(http.StatusServiceUnavailable, "busy", "the connection is being refreshed; try again", strconv.Itoa(busyRetryAfter))
	}
	h.Log.ErrorContext(ctx, "API proxy: no access token", "provider", h.Config.Provider.Name, "account_id", account, "err", err)
	return apiError(http.StatusBadGateway, "provider_unavailable", "the access token could not be refreshed; try again", "")
}

// apiCallError answers a proxied call the provider did not answer usably.
// It logs the method, the host and err, which callAPI has stripped of the
// URL (withoutURL): never the path or the query.
func (h *Handler) apiCallError(ctx context.Context, method, host string, err error) events.APIGatewayV2HTTPResponse {
	if errors.Is(err, errAPITooLarge) {
		return apiError(http.StatusBadGateway, "response_too_large",
			fmt.Sprintf("the provider's answer is larger than the proxy's limit of %d bytes", MaxAPIBody), "")
	}
	h.Log.WarnContext(ctx, "API proxy: the provider's API did not answer", "provider", h.Config.Provider.Name,
		"method", method, "host", host, "err", err)
	if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		return apiError(http.StatusGatewayTimeout, "provider_timeout", "the provider's API did not answer in time", "")
	}
	return apiError(http.StatusBadGateway, "provider_unavailable", "the provider's API could not be reached", "")
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// apiError is a JSON error answer of the proxy, with Retry-After when
// retryAfter is set.
func apiError(status int, code, desc, retryAfter string) events.APIGatewayV2HTTPResponse {
	resp := bffError(status, code, desc)
	if retryAfter != "" {
		resp.Headers["Retry-After"] = retryAfter
	}
	return resp
}
