package oauth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/oauthfn/oauthfn/internal/mockrc"
)

// The API proxy (proxyAPI) on a stored connection at the mock provider;
// the session and CSRF checks before it are BFFRoutes' (bff.go).

// newProxyRig is an rcRig whose provider is the RingCentral preset on the
// mock (allow-list {server}/restapi/v1.0/, never /restapi/oauth/), with
// account 1001 connected.
func newProxyRig(t *testing.T, newStore func(*testing.T) Store) *rcRig {
	t.Helper()
	r := newRCRig(t, newStore(t), mockrc.Options{})
	p := RingCentral(r.srv.URL)
	p.Name = r.h.Config.Provider.Name
	p.AccountField = "owner_id"
	r.h.Config.Provider = p
	r.connect(t, "1001")
	return r
}

// apiEvent is a proxied request as BFFRoutes hands it over: the path after
// /bff/api/ and the event (lower-case header names, as API Gateway sends).
func apiEvent(method, apiPath, rawQuery string, headers map[string]string, body []byte, binary bool) events.APIGatewayV2HTTPRequest {
	req := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "ANY /bff/api/{proxy+}", RawPath: "/bff/api/" + apiPath, RawQueryString: rawQuery,
		Headers:        map[string]string{},
		PathParameters: map[string]string{"proxy": apiPath},
		RequestContext: events.APIGatewayV2HTTPRequestContext{DomainName: "abc123.execute-api.us-east-1.amazonaws.com", Stage: "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: "/bff/api/" + apiPath}},
	}
	for k, v := range headers {
		req.Headers[strings.ToLower(k)] = v
	}
	if binary {
		req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	} else {
		req.Body = string(body)
	}
	return req
}

func (r *rcRig) proxy(t *testing.T, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	apiPath := strings.TrimPrefix(req.RawPath, "/bff/api/")
	resp := r.h.proxyAPI(context.Background(), req, apiPath, "1001", nil)
	if resp.Headers["Cache-Control"] != "no-store" {
		t.Errorf("%s %s: Cache-Control %q, want no-store", req.RequestContext.HTTP.Method, apiPath, resp.Headers["Cache-Control"])
	}
	return resp
}

// apiBody is the response's body, decoded when base64.
func apiBody(t *testing.T, resp events.APIGatewayV2HTTPResponse) []byte {
	t.Helper()
	if !resp.IsBase64Encoded {
		return []byte(resp.Body)
	}
	b, err := base64.StdEncoding.DecodeString(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func errorCode(t *testing.T, resp events.APIGatewayV2HTTPResponse) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &e); err != nil || resp.Headers["Content-Type"] != "application/json" {
		t.Errorf("error answer %q (%s) is not JSON: %v", resp.Body, resp.Headers["Content-Type"], err)
	}
	return e.Error
}

// apiRequests counts the requests the mock received on paths other than
// the token endpoint's.
func apiRequests(rc *mockrc.Server) []mockrc.Request {
	var out []mockrc.Request
	for _, q := range rc.Requests() {
		if q.Path != mockrc.TokenPath && q.Path != mockrc.DecidePath {
			out = append(out, q)
		}
	}
	return out
}

// extensionOK calls the extension endpoint through the proxy and wants its
// 200 with account 1001's name.
func (r *rcRig) extensionOK(t *testing.T) {
	t.Helper()
	resp := r.proxy(t, apiEvent("GET", mockrc.ExtensionPath[1:], "", nil, nil, false))
	if resp.StatusCode != 200 || !strings.Contains(resp.Body, `"name":"Alice"`) {
		t.Fatalf("extension through the proxy: got %d %s, want 200 and Alice", resp.StatusCode, resp.Body)
	}
}

// wantTokenCalls wants want token-endpoint calls at the mock since it
// counted since.
func (r *rcRig) wantTokenCalls(t *testing.T, since, want int) {
	t.Helper()
	if got := r.rc.Calls(mockrc.TokenPath) - since; got != want {
		t.Errorf("token calls %d, want %d", got, want)
	}
}

// TestProxyRefusals: every escape is refused with its status, before any
// call: nothing reaches the mock (API or token endpoint) and the
// connection is not written, although its access token has expired (so
// that a refusal checked after the token would have made a refresh).
func TestProxyRefusals(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newProxyRig(t, newStore)
		r.clock.Advance(2 * time.Hour)
		before, _, _ := r.get(t, "1001")
		requests := len(r.rc.Requests())
		big := bytes.Repeat([]byte("a"), MaxAPIBody+1)
		for _, tc := range []struct {
			name        string
			req         events.APIGatewayV2HTTPRequest
			status      int
			code, apiAt string
		}{
			{"dot-dot", apiEvent("GET", "restapi/v1.0/../oauth/token", "", nil, nil, false), 400, "invalid_path", ""},
			{"encoded dot-dot", apiEvent("GET", "restapi/v1.0/%2e%2e/oauth/token", "", nil, nil, false), 400, "invalid_path", ""},
			{"encoded slash", apiEvent("GET", "restapi/v1.0/account%2F~", "", nil, nil, false), 400, "invalid_path", ""},
			{"encoded backslash", apiEvent("GET", "restapi/v1.0/account%5C~", "", nil, nil, false), 400, "invalid_path", ""},
			{"double slash", apiEvent("GET", "restapi//v1.0/account/~", "", nil, nil, false), 400, "invalid_path", ""},
			{"at", apiEvent("GET", "restapi/v1.0/@evil.example/x", "", nil, nil, false), 400, "invalid_path", ""},
			{"absolute URL", apiEvent("GET", "https://evil.example/restapi/v1.0/x", "", nil, nil, false), 400, "invalid_path", ""},
			{"double encoding", apiEvent("GET", "restapi/v1.0/%252e%252e/oauth/token", "", nil, nil, false), 400, "invalid_path", ""},
			{"control character", apiEvent("GET", "restapi/v1.0/x%0d%0aHost:evil", "", nil, nil, false), 400, "invalid_path", ""},
			{"token endpoint", apiEvent("POST", "restapi/oauth/token", "", nil, []byte("grant_type=refresh_token"), false), 403, "api_not_allowed", ""},
			{"revoke endpoint", apiEvent("POST", "restapi/oauth/revoke", "", nil, nil, false), 403, "api_not_allowed", ""},
			{"outside the prefix", apiEvent("GET", "restapi/v2.0/x", "", nil, nil, false), 403, "api_not_allowed", ""},
			{"other host", apiEvent("GET", "evil.example/restapi/v1.0/x", "", nil, nil, false), 403, "api_not_allowed", ""},
			{"bad query", apiEvent("GET", "restapi/v1.0/x", "a=b c", nil, nil, false), 400, "invalid_query", ""},
			{"method", apiEvent("TRACE", mockrc.EchoPath[1:], "", nil, nil, false), 405, "method_not_allowed", ""},
			{"body too large", apiEvent("POST", mockrc.EchoPath[1:], "", nil, big, false), 413, "body_too_large", ""},
			{"binary body too large", apiEvent("POST", mockrc.EchoPath[1:], "", nil, big, true), 413, "body_too_large", ""},
			{"bad base64", func() events.APIGatewayV2HTTPRequest {
				q := apiEvent("POST", mockrc.EchoPath[1:], "", nil, nil, false)
				q.Body, q.IsBase64Encoded = "%%%", true
				return q
			}(), 400, "invalid_body", ""},
			{"header with a control character", apiEvent("GET", mockrc.EchoPath[1:], "", map[string]string{"Accept": "a\x00b"}, nil, false), 400, "invalid_header", ""},
		} {
			resp := r.proxy(t, tc.req)
			if resp.StatusCode != tc.status || errorCode(t, resp) != tc.code {
				t.Errorf("%s: got %d %s, want %d %s", tc.name, resp.StatusCode, resp.Body, tc.status, tc.code)
			}
		}
		if got := r.rc.Requests(); len(got) != requests {
			t.Errorf("refused requests reached the mock: %+v", got[requests:])
		}
		if after, _, _ := r.get(t, "1001"); after.Version != before.Version {
			t.Errorf("connection written by refused requests: version %d -> %d", before.Version, after.Version)
		}
	})
}

// TestProxyNoAllowList: a provider without an allow-list (generic,
// salesforce) answers 403 api_not_allowed.
func TestProxyNoAllowList(t *testing.T) {
	r := newProxyRig(t, memoryStore)
	r.h.Config.Provider.APIPrefixes = nil
	requests := len(r.rc.Requests())
	resp := r.proxy(t, apiEvent("GET", mockrc.ExtensionPath[1:], "", nil, nil, false))
	if resp.StatusCode != 403 || errorCode(t, resp) != "api_not_allowed" || len(r.rc.Requests()) != requests {
		t.Errorf("got %d %s, want 403 api_not_allowed and no request", resp.StatusCode, resp.Body)
	}
}

// TestProxyHeaders: the request headers forwarded are exactly the
// allow-list plus the proxy's Authorization; the answer carries the
// status, Content-Type, ETag and rate-limit headers, never Set-Cookie.
func TestProxyHeaders(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newProxyRig(t, newStore)
		_, access, _ := r.get(t, "1001")
		browser := map[string]string{
			"Accept": "application/json", "Content-Type": "application/json", "Accept-Language": "fr",
			"If-None-Match": `"x"`, "If-Modified-Since": "Mon, 07 Dec 2026 10:00:00 GMT",
			"Cookie": "__Host-oauthfn-session=secret", "Origin": "https://app.example", "Referer": "https://app.example/page",
			"Authorization": "Bearer from-the-browser", "X-OAuthFn-CSRF": "1", "Connection": "keep-alive, X-Custom",
			"Keep-Alive": "timeout=5", "TE": "trailers", "Upgrade": "websocket", "Proxy-Authorization": "Basic eA==",
			"Sec-Fetch-Site": "same-origin", "X-Forwarded-For": "10.0.0.1", "X-Custom": "1", "Host": "evil.example",
			"User-Agent": "browser", "Transfer-Encoding": "chunked", "Content-Length": "999", "Forwarded": "for=1.2.3.4",
		}
		resp := r.proxy(t, apiEvent("POST", mockrc.EchoPath[1:], "q=1", browser, []byte(`{"a":"b"}`), false))
		if resp.StatusCode != 200 || string(apiBody(t, resp)) != `{"a":"b"}` || resp.IsBase64Encoded {
			t.Fatalf("echo: %d %q (base64 %v)", resp.StatusCode, resp.Body, resp.IsBase64Encoded)
		}
		got := apiRequests(r.rc)
		if len(got) != 1 || got[0].Path != mockrc.EchoPath || got[0].RawQuery != "q=1" || got[0].Method != "POST" {
			t.Fatalf("mock received %+v, want one POST echo?q=1", got)
		}
		h := got[0].Header
		// Added by Go's transport and the test rig, not forwarded.
		for _, k := range []string{"Accept-Encoding", "Content-Length", hangCutterHeader} {
			h.Del(k)
		}
		want := []string{"Accept", "Accept-Language", "Authorization", "Content-Type", "If-Modified-Since", "If-None-Match", "User-Agent"}
		if names := slices.Sorted(maps.Keys(h)); !slices.Equal(names, want) {
			t.Errorf("forwarded headers %v, want %v", names, want)
		}
		if h.Get("Authorization") != "Bearer "+access || h.Get("User-Agent") != "oauthfn-bff" || h.Get("Accept-Language") != "fr" {
			t.Errorf("forwarded values: %v", h)
		}
		for _, k := range []string{"Set-Cookie", "Location"} {
			if _, ok := resp.Headers[k]; ok {
				t.Errorf("answer carries %s", k)
			}
		}
		if len(resp.Cookies) != 0 {
			t.Errorf("answer sets cookies %v", resp.Cookies)
		}
		for k, v := range map[string]string{"Content-Type": "application/json", "ETag": `"mock-etag"`, "X-Rate-Limit-Remaining": "49",
			"X-Rate-Limit-Group": "light", "X-Content-Type-Options": "nosniff"} {
			if resp.Headers[k] != v {
				t.Errorf("answer header %s = %q, want %q", k, resp.Headers[k], v)
			}
		}
		if strings.Contains(resp.Body, access) || strings.Contains(r.logs.String(), access) {
			t.Errorf("the access token reached the answer or the logs")
		}
	})
}

// TestProxyBinary: a binary body survives the trip both ways byte for
// byte (base64 in the events), and text stays text.
func TestProxyBinary(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newProxyRig(t, newStore)
		var blob []byte
		for i := range 3000 {
			blob = append(blob, byte(i*7), byte(i))
		}
		blob = append(blob, 0xff, 0xfe, 0x00, 0xc3) // never valid UTF-8
		resp := r.proxy(t, apiEvent("PUT", mockrc.EchoPath[1:], "", map[string]string{"Content-Type": "image/png"}, blob, true))
		if resp.StatusCode != 200 || !resp.IsBase64Encoded || !bytes.Equal(apiBody(t, resp), blob) || resp.Headers["Content-Type"] != "image/png" {
			t.Errorf("binary round trip: %d base64 %v, %d bytes back, want %d", resp.StatusCode, resp.IsBase64Encoded, len(apiBody(t, resp)), len(blob))
		}
		// Invalid UTF-8 declared as text travels as base64 too.
		bad := []byte("caf\xe9 \x00 \"quoted\"")
		resp = r.proxy(t, apiEvent("POST", mockrc.EchoPath[1:], "", map[string]string{"Content-Type": "text/plain"}, bad, true))
		if !resp.IsBase64Encoded || !bytes.Equal(apiBody(t, resp), bad) {
			t.Errorf("latin-1 text: base64 %v, %q", resp.IsBase64Encoded, apiBody(t, resp))
		}
		text := `{"name":"Ålice \"A\""}`
		resp = r.proxy(t, apiEvent("POST", mockrc.EchoPath[1:], "", map[string]string{"Content-Type": "application/json; charset=utf-8"}, []byte(text), false))
		if resp.IsBase64Encoded || resp.Body != text {
			t.Errorf("JSON: base64 %v, %q", resp.IsBase64Encoded, resp.Body)
		}
	})
}

// TestProxyExpiredToken: an expired access token is refreshed once before
// the call, and the call succeeds.
func TestProxyExpiredToken(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newProxyRig(t, newStore)
		r.clock.Advance(2 * time.Hour)
		calls := r.rc.Calls(mockrc.TokenPath)
		r.extensionOK(t)
		r.wantTokenCalls(t, calls, 1)
		if got := r.rc.Calls(mockrc.ExtensionPath); got != 1 {
			t.Errorf("API calls %d, want 1", got)
		}
		noLeases(t, r.store)
	})
}

// TestProxyRefusedToken: an API 401 on a token fresh by its expiry, last
// refreshed more than apiRefreshFloor ago, makes one refresh and one
// retry; a second 401 is passed back, no loop.
func TestProxyRefusedToken(t *testing.T) {
	unauthorized := mockrc.Fault{Status: 401, Body: `{"errorCode":"TokenInvalid","message":"Token not found"}`}
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newProxyRig(t, newStore)
		_, access, _ := r.get(t, "1001")
		r.clock.Advance(apiRefreshFloor + time.Second)
		r.rc.Script(mockrc.ExtensionPath, unauthorized)
		calls := r.rc.Calls(mockrc.TokenPath)
		r.extensionOK(t)
		r.wantTokenCalls(t, calls, 1)
		api := apiRequests(r.rc)
		if len(api) != 2 || api[0].Header.Get("Authorization") != "Bearer "+access || api[1].Header.Get("Authorization") == "Bearer "+access {
			t.Errorf("API calls %d, want the refused token then a new one", len(api))
		}

		r.clock.Advance(apiRefreshFloor + time.Second)
		r.rc.Script(mockrc.ExtensionPath, unauthorized, unauthorized)
		calls = r.rc.Calls(mockrc.TokenPath)
		resp := r.proxy(t, apiEvent("GET", mockrc.ExtensionPath[1:], "", nil, nil, false))
		if resp.StatusCode != 401 || !strings.Contains(resp.Body, "TokenInvalid") {
			t.Errorf("two 401s: got %d %s, want the second 401 passed back", resp.StatusCode, resp.Body)
		}
		r.wantTokenCalls(t, calls, 1)
		if got := len(apiRequests(r.rc)); got != 4 {
			t.Errorf("API calls %d in all, want 4", got)
		}
		noLeases(t, r.store)
	})
}

// refusingAPI is an API server that answers every call 401 (a path the
// account's token is not good for, whatever the token); the rig's
// provider allows it.
func refusingAPI(t *testing.T, r *rcRig) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"errorCode":"InsufficientPermissions"}`))
	}))
	t.Cleanup(srv.Close)
	r.h.Config.Provider.APIPrefixes = append(r.h.Config.Provider.APIPrefixes, srv.URL+"/refusing/")
}

// TestProxyRefusedTokenCap: a path that answers 401 to any token makes
// at most one refresh per apiRefreshFloor, however often the page calls
// it (each refresh takes a slot of the deployment-wide token rate): the
// first call refreshes and retries, the next seven pass the 401 back with
// no token call and no retry.
func TestProxyRefusedTokenCap(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newProxyRig(t, newStore)
		refusingAPI(t, r)
		r.clock.Advance(apiRefreshFloor + time.Second)
		calls := r.rc.Calls(mockrc.TokenPath)
		for i := range 8 {
			resp := r.proxy(t, apiEvent("GET", "refusing/x", "", nil, nil, false))
			if resp.StatusCode != 401 || !strings.Contains(resp.Body, "InsufficientPermissions") {
				t.Errorf("call %d: %d %s, want the API's 401 passed back", i, resp.StatusCode, resp.Body)
			}
			r.clock.Advance(time.Second)
		}
		r.wantTokenCalls(t, calls, 1)
		noLeases(t, r.store)

		// Past the floor again: one more refresh, no more.
		r.clock.Advance(apiRefreshFloor)
		calls = r.rc.Calls(mockrc.TokenPath)
		for range 3 {
			r.proxy(t, apiEvent("GET", "refusing/x", "", nil, nil, false))
		}
		r.wantTokenCalls(t, calls, 1)
	})
}

// TestProxyRefusedFreshToken: a 401 on an access token refreshed seconds
// ago is passed back as it is: no token call, no retry, nothing written.
func TestProxyRefusedFreshToken(t *testing.T) {
	unauthorized := mockrc.Fault{Status: 401, Body: `{"errorCode":"InsufficientPermissions"}`}
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newProxyRig(t, newStore)
		r.clock.Advance(5 * time.Second) // connected (refreshed) 5 s ago
		before, _, _ := r.get(t, "1001")
		r.rc.Script(mockrc.ExtensionPath, unauthorized)
		calls := r.rc.Calls(mockrc.TokenPath)
		resp := r.proxy(t, apiEvent("GET", mockrc.ExtensionPath[1:], "", nil, nil, false))
		if resp.StatusCode != 401 || !strings.Contains(resp.Body, "InsufficientPermissions") {
			t.Errorf("got %d %s, want the API's 401 passed back", resp.StatusCode, resp.Body)
		}
		r.wantTokenCalls(t, calls, 0)
		if got := len(apiRequests(r.rc)); got != 1 {
			t.Errorf("API calls %d, want 1 (no retry)", got)
		}
		if after, _, _ := r.get(t, "1001"); after.Version != before.Version || after.AccessToken != before.AccessToken {
			t.Errorf("connection written: version %d -> %d", before.Version, after.Version)
		}
	})
}

// TestProxyRefusedTokenNewSignIn: a call in flight with the token of a
// connection that was replaced meanwhile (disconnected, then signed in
// anew: Version 1 again) gets a 401 for the old token; it is retried once
// with the new connection's token, and that brand-new token is not
// refreshed.
func TestProxyRefusedTokenNewSignIn(t *testing.T) {
	unauthorized := mockrc.Fault{Status: 401, Body: `{"errorCode":"TokenInvalid"}`}
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newProxyRig(t, newStore)
		_, oldAccess, _ := r.get(t, "1001")
		r.clock.Advance(apiRefreshFloor + time.Second)
		var once sync.Once
		var afterSignIn int
		r.h.HTTPClient = &http.Client{Timeout: answerTimeout, Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if req.URL.Path == mockrc.ExtensionPath {
				once.Do(func() {
					if err := r.store.DeleteConnection(req.Context(), r.h.Config.Provider.Name, "1001"); err != nil {
						t.Error(err)
					}
					if c := r.connect(t, "1001"); c.Version != 1 {
						t.Errorf("new sign-in: version %d, want 1", c.Version)
					}
					afterSignIn = r.rc.Calls(mockrc.TokenPath)
				})
			}
			return r.cut.RoundTrip(req)
		})}
		r.rc.Script(mockrc.ExtensionPath, unauthorized)
		r.extensionOK(t)
		r.wantTokenCalls(t, afterSignIn, 0)
		_, newAccess, _ := r.get(t, "1001")
		api := apiRequests(r.rc)
		if len(api) != 2 || api[0].Header.Get("Authorization") != "Bearer "+oldAccess || api[1].Header.Get("Authorization") != "Bearer "+newAccess {
			t.Errorf("API calls %d, want the old token then the new sign-in's", len(api))
		}
		noLeases(t, r.store)
	})
}

// TestProxyConcurrentRefresh: two proxied calls on an expired token make
// one refresh between them (the lease): the refresh is held at the mock
// until the other call has found the lease taken and waits.
func TestProxyConcurrentRefresh(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newProxyRig(t, newStore)
		r.clock.Advance(2 * time.Hour)
		waiting := make(chan struct{})
		var once sync.Once
		r.h.Sleep = func(ctx context.Context, d time.Duration) error {
			once.Do(func() { close(waiting) })
			select { // a real wait: the clock stays put, only the poll count ends it
			case <-time.After(d):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		r.h.HTTPClient = &http.Client{Timeout: answerTimeout, Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if req.URL.Path == mockrc.TokenPath {
				select {
				case <-waiting:
				case <-req.Context().Done():
					return nil, req.Context().Err()
				}
			}
			return r.cut.RoundTrip(req)
		})}
		calls := r.rc.Calls(mockrc.TokenPath)
		var wg sync.WaitGroup
		resps := make([]events.APIGatewayV2HTTPResponse, 2)
		for i := range resps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resps[i] = r.h.proxyAPI(context.Background(), apiEvent("GET", mockrc.ExtensionPath[1:], "", nil, nil, false), mockrc.ExtensionPath[1:], "1001", nil)
			}()
		}
		wg.Wait()
		for i, resp := range resps {
			if resp.StatusCode != 200 {
				t.Errorf("call %d: %d %s", i, resp.StatusCode, resp.Body)
			}
		}
		r.wantTokenCalls(t, calls, 1)
		if r.rc.StaleRefreshes() != 0 {
			t.Errorf("a refresh token was spent twice")
		}
		noLeases(t, r.store)
	})
}

// TestProxyRateLimits: the API's 429 and Retry-After pass through (no
// refresh); the token endpoint's 429 during a refresh pauses token calls
// and answers 429 with Retry-After, and the next call waits for the pause
// without a token call; a refused refresh token answers reauth_required.
func TestProxyRateLimits(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newProxyRig(t, newStore)
		calls := r.rc.Calls(mockrc.TokenPath)
		r.rc.Script(mockrc.ExtensionPath, mockrc.RateLimited("7"))
		resp := r.proxy(t, apiEvent("GET", mockrc.ExtensionPath[1:], "", nil, nil, false))
		if resp.StatusCode != 429 || resp.Headers["Retry-After"] != "7" || !strings.Contains(resp.Body, "CMN-301") {
			t.Errorf("API 429: %d %v %s", resp.StatusCode, resp.Headers, resp.Body)
		}
		if r.rc.Calls(mockrc.TokenPath) != calls {
			t.Errorf("an API 429 made a token call")
		}

		r.clock.Advance(2 * time.Hour)
		r.script(mockrc.RateLimited("120"))
		api := len(apiRequests(r.rc))
		for i := range 2 {
			resp = r.proxy(t, apiEvent("GET", mockrc.ExtensionPath[1:], "", nil, nil, false))
			if resp.StatusCode != 429 || errorCode(t, resp) != "rate_limited" || resp.Headers["Retry-After"] != "120" {
				t.Errorf("token endpoint 429, call %d: %d %v %s", i, resp.StatusCode, resp.Headers["Retry-After"], resp.Body)
			}
		}
		if got := r.rc.Calls(mockrc.TokenPath) - calls; got != 1 {
			t.Errorf("token calls %d, want 1 (the second call waits for the pause)", got)
		}
		if len(apiRequests(r.rc)) != api {
			t.Errorf("the API was called without a token")
		}

		r.clock.Advance(3 * time.Minute)
		r.script(mockrc.Fault{Status: 400, Body: `{"error":"invalid_grant","errors":[{"errorCode":"OAU-211"}]}`})
		resp = r.proxy(t, apiEvent("GET", mockrc.ExtensionPath[1:], "", nil, nil, false))
		if resp.StatusCode != 401 || errorCode(t, resp) != "reauth_required" {
			t.Errorf("dead refresh token: %d %s", resp.StatusCode, resp.Body)
		}
		noLeases(t, r.store)
	})
}

// TestProxyCallErrorLog: an API call the provider did not answer (the
// connection reset, a timeout) is logged with the method, the host and
// the underlying error, never the path or the query (personal data: a
// name, a phone number), which net/http's *url.Error text holds.
func TestProxyCallErrorLog(t *testing.T) {
	const path, query = "/secret-person-name", "phoneNumber=%2B15551234567"
	for _, tc := range []struct {
		name, code string
		status     int
		err        error
	}{
		{"reset", "provider_unavailable", 502, errors.New("connection reset by peer")},
		{"timeout", "provider_timeout", 504, &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newProxyRig(t, memoryStore)
			r.h.HTTPClient = &http.Client{Timeout: answerTimeout, Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
				if req.URL.Path != mockrc.TokenPath {
					return nil, tc.err
				}
				return r.cut.RoundTrip(req)
			})}
			resp := r.proxy(t, apiEvent("GET", mockrc.ExtensionPath[1:]+path, query, nil, nil, false))
			if resp.StatusCode != tc.status || errorCode(t, resp) != tc.code {
				t.Errorf("got %d %s, want %d %s", resp.StatusCode, resp.Body, tc.status, tc.code)
			}
			logs := r.logs.String()
			for _, secret := range []string{path, mockrc.ExtensionPath, "phoneNumber", "15551234567", "%2B"} {
				if strings.Contains(logs, secret) {
					t.Errorf("the logs hold %q:\n%s", secret, logs)
				}
			}
			host := strings.TrimPrefix(r.srv.URL, "http://")
			if !strings.Contains(logs, tc.err.Error()) || !strings.Contains(logs, `"host":"`+host+`"`) || !strings.Contains(logs, `"method":"GET"`) {
				t.Errorf("the logs lack the error, the host %s or the method:\n%s", host, logs)
			}
		})
	}
}

// TestProxyRedirect: a redirect is passed back without its Location and
// never followed.
func TestProxyRedirect(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := newProxyRig(t, newStore)
		resp := r.proxy(t, apiEvent("GET", mockrc.RedirectPath[1:], "", nil, nil, false))
		if resp.StatusCode != 302 || resp.Headers["Location"] != "" {
			t.Errorf("redirect: %d %v", resp.StatusCode, resp.Headers)
		}
		if got := apiRequests(r.rc); len(got) != 1 || got[0].Path != mockrc.RedirectPath {
			t.Errorf("mock received %+v, want only the redirect", got)
		}
	})
}

// TestProxyLargeAnswer: an answer larger than MaxAPIBody is refused with
// 502 response_too_large; one of exactly MaxAPIBody passes, and its
// Lambda answer stays under Lambda's 6 MB.
func TestProxyLargeAnswer(t *testing.T) {
	r := newProxyRig(t, memoryStore)
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := MaxAPIBody
		if req.URL.Path == "/big/over" {
			n++
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(bytes.Repeat([]byte{0xff}, n))
	}))
	t.Cleanup(big.Close)
	r.h.Config.Provider.APIPrefixes = []string{big.URL + "/big/"}
	resp := r.proxy(t, apiEvent("GET", "big/over", "", nil, nil, false))
	if resp.StatusCode != 502 || errorCode(t, resp) != "response_too_large" {
		t.Errorf("over the limit: %d %s", resp.StatusCode, resp.Body)
	}
	resp = r.proxy(t, apiEvent("GET", "big/at", "", nil, nil, false))
	out, _ := json.Marshal(resp)
	if resp.StatusCode != 200 || len(apiBody(t, resp)) != MaxAPIBody || len(out) >= 6_000_000 {
		t.Errorf("at the limit: %d, %d bytes, %d bytes of JSON", resp.StatusCode, len(apiBody(t, resp)), len(out))
	}
}

// TestProxyInvocationDeadline: an API call that would outlast the
// invocation is cut apiAnswerMargin before its deadline, and the browser
// gets 504 provider_timeout, not Lambda's timeout error. The provider
// never answers; the invocation's deadline leaves the call a moment.
func TestProxyInvocationDeadline(t *testing.T) {
	r := newProxyRig(t, memoryStore)
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-req.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release); hang.Close() })
	r.h.Config.Provider.APIPrefixes = []string{hang.URL + "/slow/"}
	ctx, cancel := context.WithTimeout(context.Background(), apiAnswerMargin+100*time.Millisecond)
	defer cancel()
	req := apiEvent("GET", "slow/call", "", nil, nil, false)
	resp := r.h.proxyAPI(ctx, req, "slow/call", "1001", nil)
	if resp.StatusCode != http.StatusGatewayTimeout || errorCode(t, resp) != "provider_timeout" {
		t.Errorf("a call outlasting the invocation: %d %s, want 504 provider_timeout", resp.StatusCode, resp.Body)
	}
	call, cancelCall := apiCallContext(ctx)
	defer cancelCall()
	parent, _ := ctx.Deadline()
	if dl, ok := call.Deadline(); !ok || !dl.Equal(parent.Add(-apiAnswerMargin)) {
		t.Errorf("the call's deadline is %v, want %v (the invocation's less the margin)", dl, parent.Add(-apiAnswerMargin))
	}
}
