package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// rawRequest sends a request line and headers verbatim to addr (no client
// cleans or re-encodes the target) and returns the response.
func rawRequest(t *testing.T, addr, method, target string, headers []string, body string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	if body != "" {
		b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	b.WriteString("\r\n" + body)
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	return resp, string(got)
}

// TestBFFRouting: the dev server hands /bff/* to the bff function's handler
// as API Gateway would, with the route's routeKey and pathParameters and
// rawPath as sent (ServeMux never cleans or redirects a /bff/ path first);
// a path no route matches gets API Gateway's own 404 and never reaches the
// handler; anything else goes on to the dev server's other pages.
func TestBFFRouting(t *testing.T) {
	evs := make(chan events.APIGatewayV2HTTPRequest, 1)
	fn := func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		evs <- ev
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusTeapot, Body: "bff",
			Headers: map[string]string{"Content-Type": "text/plain"}, Cookies: []string{"a=1", "b=2"}}, nil
	}
	other := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "other", http.StatusGone)
	})
	srv := httptest.NewServer(bffFirst(bffHandler(fn), other))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")

	tests := []struct {
		method, target string
		routeKey       string            // "" : not routed to the handler
		params         map[string]string // pathParameters
		status         int               // when not routed
	}{
		{"GET", "/bff/ringcentral/login?return_to=x", bffRouteLogin, map[string]string{"provider": "ringcentral"}, 0},
		{"GET", "/bff/ringcentral-eu/login", bffRouteLogin, map[string]string{"provider": "ringcentral-eu"}, 0},
		{"GET", "/bff/session", bffRouteSession, nil, 0},
		{"POST", "/bff/logout", bffRouteLogout, nil, 0},
		{"GET", "/bff/api/restapi/v1.0/account/~/extension/~", bffRouteAPI, map[string]string{"proxy": "restapi/v1.0/account/~/extension/~"}, 0},
		{"DELETE", "/bff/api/restapi/v1.0/x", bffRouteAPI, map[string]string{"proxy": "restapi/v1.0/x"}, 0},
		{"GET", "/bff/api/restapi/v1.0/../oauth/token", bffRouteAPI, map[string]string{"proxy": "restapi/v1.0/../oauth/token"}, 0},
		{"GET", "/bff/api/restapi%2Fv1.0%2F..%2Foauth", bffRouteAPI, map[string]string{"proxy": "restapi/v1.0/../oauth"}, 0},
		{"GET", "/bff/api//evil.example/x", bffRouteAPI, map[string]string{"proxy": "/evil.example/x"}, 0},
		{"GET", "/bff/api/https:%2F%2Fevil.example", bffRouteAPI, map[string]string{"proxy": "https://evil.example"}, 0},
		// net/http refuses a bad escape on the request line itself.
		{"GET", "/bff/api/%zz", "", nil, http.StatusBadRequest},
		{"POST", "/bff/session", "", nil, http.StatusNotFound},
		{"GET", "/bff/logout", "", nil, http.StatusNotFound},
		{"GET", "/bff/api/", "", nil, http.StatusNotFound},
		{"GET", "/bff/", "", nil, http.StatusNotFound},
		{"GET", "/bff/ringcentral/login/more", "", nil, http.StatusNotFound},
		{"GET", "/bff//login", "", nil, http.StatusNotFound},
		{"POST", "/bff/ringcentral/login", "", nil, http.StatusNotFound},
		{"GET", "/bffx", "", nil, http.StatusGone},
		{"GET", "/app/", "", nil, http.StatusGone},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			resp, body := rawRequest(t, addr, tt.method, tt.target, []string{
				"Cookie: __Host-oauthfn-session=abc", "Origin: " + srv.URL, "Sec-Fetch-Site: same-origin", "X-OAuthFn-CSRF: 1",
			}, "")
			if tt.routeKey == "" {
				select {
				case ev := <-evs:
					t.Fatalf("reached the handler as %q", ev.RouteKey)
				default:
				}
				if resp.StatusCode != tt.status {
					t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
				}
				if tt.status == http.StatusNotFound && body != gatewayNotFound {
					t.Errorf("body %q, want API Gateway's %s", body, gatewayNotFound)
				}
				return
			}
			if resp.StatusCode != http.StatusTeapot || body != "bff" {
				t.Fatalf("answer %d %q, want the handler's 418", resp.StatusCode, body)
			}
			if got := resp.Header.Values("Set-Cookie"); strings.Join(got, " ") != "a=1 b=2" {
				t.Errorf("Set-Cookie = %q, want each cookie as its own header", got)
			}
			ev := <-evs
			if ev.RouteKey != tt.routeKey || ev.RequestContext.RouteKey != tt.routeKey {
				t.Errorf("routeKey %q/%q, want %q", ev.RouteKey, ev.RequestContext.RouteKey, tt.routeKey)
			}
			if !maps.Equal(ev.PathParameters, tt.params) {
				t.Errorf("pathParameters %q, want %q", ev.PathParameters, tt.params)
			}
			if path, _, _ := strings.Cut(tt.target, "?"); ev.RawPath != path {
				t.Errorf("rawPath %q, want %q as sent", ev.RawPath, path)
			}
			if len(ev.Cookies) != 1 || ev.Cookies[0] != "__Host-oauthfn-session=abc" {
				t.Errorf("cookies %q", ev.Cookies)
			}
			for k, want := range map[string]string{"origin": srv.URL, "sec-fetch-site": "same-origin", "x-oauthfn-csrf": "1"} {
				if ev.Headers[k] != want {
					t.Errorf("header %s = %q, want %q", k, ev.Headers[k], want)
				}
			}
		})
	}

	t.Run("binary body", func(t *testing.T) {
		body := "\x89PNG\r\n\x1a\n\x00\xff"
		resp, _ := rawRequest(t, addr, "PUT", "/bff/api/restapi/v1.0/account/~/extension/~/profile-image",
			[]string{"Content-Type: image/png"}, body)
		if resp.StatusCode != http.StatusTeapot {
			t.Fatalf("status %d", resp.StatusCode)
		}
		ev := <-evs
		got, err := base64.StdEncoding.DecodeString(ev.Body)
		if !ev.IsBase64Encoded || err != nil || string(got) != body {
			t.Errorf("body %q (base64 %v), want the bytes base64-encoded", ev.Body, ev.IsBase64Encoded)
		}
	})
}

// TestDevServerBFF: the dev server's /bff/ routes reach Handler.BFFRoutes
// (its answers, with the handler's security headers and API Gateway's
// request id), before the dev server's own 404 page and the mux's path
// cleaning: without a session, GET /bff/session says so and an API call
// (even to a path the mux would have cleaned and redirected) is 401.
func TestDevServerBFF(t *testing.T) {
	ds, _ := startDev(t, devOptions{Provider: providerMock, Store: storeMemory, Now: fixedClock})
	addr := strings.TrimPrefix(ds.BaseURL, "http://")
	for _, tt := range []struct {
		target string
		status int
		body   string
	}{
		{"/bff/session", http.StatusOK, `{"authenticated":false}`},
		{"/bff/api/restapi/v1.0/../oauth/token", http.StatusUnauthorized, `"error":"session_ended"`},
		{"/bff/api//restapi/v1.0/x", http.StatusUnauthorized, `"error":"session_ended"`},
	} {
		resp, body := rawRequest(t, addr, "GET", tt.target, []string{"X-OAuthFn-CSRF: 1"}, "")
		if resp.StatusCode != tt.status || !strings.Contains(body, tt.body) || resp.Header.Get("Apigw-Requestid") == "" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: %d %q, headers %v: want the BFF handler's %d %s", tt.target, resp.StatusCode, body, resp.Header, tt.status, tt.body)
		}
	}
	resp, body := rawRequest(t, addr, "GET", "/bff/nowhere", nil, "")
	if resp.StatusCode != http.StatusNotFound || body != gatewayNotFound {
		t.Errorf("GET /bff/nowhere: %d %q, want API Gateway's 404", resp.StatusCode, body)
	}
}

// scriptTag matches a script element; inline handlers are attributes
// named on....
var (
	scriptTag     = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)
	inlineHandler = regexp.MustCompile(`(?i)<[^>]+\son[a-z]+\s*=`)
)

// TestSPAServed: /app/ is the static SPA under a strict CSP (its own files
// only, no inline script or style; fetch to its own origin), with no inline
// script in the page; providers.json lists the stack's providers (one, or
// the picker's several); the SPA's return URL is allowed in every mode.
func TestSPAServed(t *testing.T) {
	ds, _ := startDev(t, devOptions{Provider: providerMock, Store: storeMemory, Now: fixedClock})
	b := newBrowser(t, ds.BaseURL)
	resp, page := b.get(ds.BaseURL + "/app/")
	wantStatus(t, "GET /app/", resp, page, http.StatusOK)
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q allows unsafe sources", csp)
	}
	for _, m := range scriptTag.FindAllStringSubmatch(page, -1) {
		if !strings.Contains(m[1], "src=") || strings.TrimSpace(m[2]) != "" {
			t.Errorf("inline script in /app/: %q", m[0])
		}
	}
	if inlineHandler.MatchString(page) || strings.Contains(page, "<style") || strings.Contains(page, "style=") {
		t.Errorf("/app/ has inline handlers or styles")
	}
	for path, typ := range map[string]string{"/app/app.js": "text/javascript", "/app/app.css": "text/css"} {
		resp, body := b.get(ds.BaseURL + path)
		wantStatus(t, "GET "+path, resp, body, http.StatusOK)
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), typ) || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: Content-Type %q, nosniff %q", path, resp.Header.Get("Content-Type"), resp.Header.Get("X-Content-Type-Options"))
		}
	}
	_, js := b.get(ds.BaseURL + "/app/app.js")
	for _, want := range []string{`"X-OAuthFn-CSRF": "1"`, `"/bff/api/restapi/v1.0/account/~/extension/~"`, `"/bff/session"`, `"/bff/logout"`, `encodeURIComponent(returnTo)`} {
		if !strings.Contains(js, want) {
			t.Errorf("app.js lacks %s", want)
		}
	}

	providers := func(ds *devServer) string {
		_, body := newBrowser(t, ds.BaseURL).get(ds.BaseURL + "/app/providers.json")
		return body
	}
	if got, want := providers(ds), `{"providers":[{"id":"ringcentral","preset":"ringcentral"}]}`; got != want {
		t.Errorf("providers.json = %s, want %s", got, want)
	}
	multi, _ := startDev(t, devOptions{Provider: providerMock, Providers: []string{"ringcentral", "ringcentral-eu"}, Store: storeMemory, Now: fixedClock})
	if got, want := providers(multi), `{"providers":[{"id":"ringcentral","preset":"ringcentral"},{"id":"ringcentral-eu","preset":"ringcentral"}]}`; got != want {
		t.Errorf("providers.json with -providers = %s, want %s", got, want)
	}

	env := func(extra map[string]string) *devServer {
		m := map[string]string{"OAUTH_PROVIDER": "ringcentral", "OAUTH_SERVER_URL": "https://platform.ringcentral.com",
			"OAUTH_CLIENT_ID": "id", "OAUTH_CLIENT_SECRET": "secret"}
		maps.Copy(m, extra)
		ds, err := newDevServer(context.Background(), devOptions{Addr: "127.0.0.1:8080", Provider: providerEnv, Store: storeMemory, Getenv: envMap(m)})
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	for name, ds := range map[string]*devServer{
		"mock": ds, "mock, -providers": multi,
		"env":                          env(nil),
		"env with ALLOWED_RETURN_URLS": env(map[string]string{"ALLOWED_RETURN_URLS": "https://app.example/done"}),
	} {
		if !ds.OAuth.Config.ReturnAllowed(ds.BaseURL + "/app/") {
			t.Errorf("%s: the SPA's return URL %s/app/ is not allowed", name, ds.BaseURL)
		}
	}
}
