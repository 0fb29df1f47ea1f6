package apigw_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/oauthfn/oauthfn/pkg/oauth/apigw"
)

// capture serves a handler that records the event it gets and answers 204.
func capture(t *testing.T) (*httptest.Server, <-chan events.APIGatewayV2HTTPRequest) {
	t.Helper()
	got := make(chan events.APIGatewayV2HTTPRequest, 1)
	srv := httptest.NewServer(apigw.Handler(func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		lc, ok := lambdacontext.FromContext(ctx)
		if !ok || lc.AwsRequestID != ev.RequestContext.RequestID {
			t.Errorf("lambda context: got %+v, %v; want AwsRequestID %q", lc, ok, ev.RequestContext.RequestID)
		}
		got <- ev
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusNoContent}, nil
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func TestEventRequest(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		target      string // path and query, sent verbatim
		header      http.Header
		contentType string
		body        string

		wantRawPath  string
		wantPath     string
		wantRawQuery string
		wantQuery    map[string]string
		wantCookies  []string
		wantHeaders  map[string]string // a subset
		wantBody     string
		wantBase64   bool
	}{
		{
			name:         "repeated parameters are comma-joined",
			method:       "GET",
			target:       "/authorize?a=1&b=x&a=2",
			wantRawPath:  "/authorize",
			wantPath:     "/authorize",
			wantRawQuery: "a=1&b=x&a=2",
			wantQuery:    map[string]string{"a": "1,2", "b": "x"},
		},
		{
			name:         "encoded query is decoded in parameters and verbatim in rawQueryString",
			method:       "GET",
			target:       "/callback?return_to=https%3A%2F%2Fapp.example%2Fx%3Fy%3D1&s=a+b%20c&empty=&flag",
			wantRawPath:  "/callback",
			wantPath:     "/callback",
			wantRawQuery: "return_to=https%3A%2F%2Fapp.example%2Fx%3Fy%3D1&s=a+b%20c&empty=&flag",
			wantQuery:    map[string]string{"return_to": "https://app.example/x?y=1", "s": "a b c", "empty": "", "flag": ""},
		},
		{
			name:        "no query: no parameters",
			method:      "GET",
			target:      "/a%20b/c",
			wantRawPath: "/a%20b/c",
			wantPath:    "/a b/c",
		},
		{
			name:   "cookies move to the cookies array",
			method: "GET",
			target: "/callback",
			header: http.Header{
				"Cookie": {"__Host-oauthfn=abc; other=1", "third=3"},
			},
			wantRawPath: "/callback",
			wantPath:    "/callback",
			wantCookies: []string{"__Host-oauthfn=abc", "other=1", "third=3"},
		},
		{
			name:   "headers lower-cased, repeats comma-joined",
			method: "GET",
			target: "/",
			header: http.Header{
				"Accept":  {"application/json"},
				"X-Multi": {"one", "two"},
			},
			wantRawPath: "/",
			wantPath:    "/",
			wantHeaders: map[string]string{"accept": "application/json", "x-multi": "one,two", "x-forwarded-proto": "http"},
		},
		{
			name:        "JSON body passed as text",
			method:      "POST",
			target:      "/p",
			contentType: "application/json; charset=utf-8",
			body:        `{"a":1}`,
			wantRawPath: "/p",
			wantPath:    "/p",
			wantHeaders: map[string]string{"content-length": "7"},
			wantBody:    `{"a":1}`,
		},
		{
			name:        "form body base64-encoded",
			method:      "POST",
			target:      "/p",
			contentType: "application/x-www-form-urlencoded",
			body:        "a=1&b=2",
			wantRawPath: "/p",
			wantPath:    "/p",
			wantBody:    base64.StdEncoding.EncodeToString([]byte("a=1&b=2")),
			wantBase64:  true,
		},
		{
			name:        "binary body base64-encoded",
			method:      "PUT",
			target:      "/p",
			contentType: "application/octet-stream",
			body:        "\x00\xff\x10",
			wantRawPath: "/p",
			wantPath:    "/p",
			wantBody:    base64.StdEncoding.EncodeToString([]byte("\x00\xff\x10")),
			wantBase64:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, evs := capture(t)
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req, err := http.NewRequest(tt.method, srv.URL+tt.target, body)
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range tt.header {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			req.Header.Set("User-Agent", "apigw-test/1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("status: got %d, want 204", resp.StatusCode)
			}
			ev := <-evs

			host := strings.TrimPrefix(srv.URL, "http://")
			if ev.Version != "2.0" || ev.RouteKey != "$default" || ev.RequestContext.RouteKey != "$default" {
				t.Errorf("version/routeKey: got %q/%q/%q, want 2.0/$default/$default", ev.Version, ev.RouteKey, ev.RequestContext.RouteKey)
			}
			if ev.RawPath != tt.wantRawPath {
				t.Errorf("rawPath: got %q, want %q", ev.RawPath, tt.wantRawPath)
			}
			if ev.RequestContext.HTTP.Path != tt.wantPath {
				t.Errorf("http.path: got %q, want %q", ev.RequestContext.HTTP.Path, tt.wantPath)
			}
			if ev.RawQueryString != tt.wantRawQuery {
				t.Errorf("rawQueryString: got %q, want %q", ev.RawQueryString, tt.wantRawQuery)
			}
			if !reflect.DeepEqual(ev.QueryStringParameters, tt.wantQuery) {
				t.Errorf("queryStringParameters: got %#v, want %#v", ev.QueryStringParameters, tt.wantQuery)
			}
			if !slices.Equal(ev.Cookies, tt.wantCookies) {
				t.Errorf("cookies: got %q, want %q", ev.Cookies, tt.wantCookies)
			}
			if v, ok := ev.Headers["cookie"]; ok {
				t.Errorf("cookie header: got %q, want it removed", v)
			}
			for k, want := range tt.wantHeaders {
				if got := ev.Headers[k]; got != want {
					t.Errorf("header %q: got %q, want %q", k, got, want)
				}
			}
			for k := range ev.Headers {
				if k != strings.ToLower(k) {
					t.Errorf("header name %q not lower-case", k)
				}
			}
			if got := ev.Headers["host"]; got != host {
				t.Errorf("host header: got %q, want %q", got, host)
			}
			if got := ev.Headers["x-forwarded-for"]; got != "127.0.0.1" {
				t.Errorf("x-forwarded-for: got %q, want 127.0.0.1", got)
			}
			if ev.Body != tt.wantBody || ev.IsBase64Encoded != tt.wantBase64 {
				t.Errorf("body: got %q (base64 %v), want %q (base64 %v)", ev.Body, ev.IsBase64Encoded, tt.wantBody, tt.wantBase64)
			}

			rc := ev.RequestContext
			if rc.Stage != "$default" || rc.DomainName != host || rc.RequestID == "" {
				t.Errorf("requestContext: got stage %q domain %q id %q, want $default, %q, an id", rc.Stage, rc.DomainName, rc.RequestID, host)
			}
			want := events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: tt.method, Path: tt.wantPath, Protocol: "HTTP/1.1", SourceIP: "127.0.0.1", UserAgent: "apigw-test/1",
			}
			if rc.HTTP != want {
				t.Errorf("requestContext.http: got %+v, want %+v", rc.HTTP, want)
			}
			ts, err := time.Parse("02/Jan/2006:15:04:05 -0700", rc.Time)
			if err != nil {
				t.Fatalf("requestContext.time %q: %v", rc.Time, err)
			}
			if got := time.UnixMilli(rc.TimeEpoch).Truncate(time.Second); !got.Equal(ts) {
				t.Errorf("time and timeEpoch disagree: %q vs %d", rc.Time, rc.TimeEpoch)
			}
		})
	}
}

// TestRawPathAsSent: rawPath is the path exactly as the client wrote it on
// the request line (what the BFF's API proxy checks), where net/http's
// EscapedPath would re-encode it: encoded slashes and dots, lower-case
// hex, and characters Go escapes ('|', '"', '{') stay as sent; the
// decoded path goes to requestContext.http.path. The binary body of the
// same request is base64 with the flag set, and the BFF's request headers
// (Origin, Sec-Fetch-Site, the CSRF header, cookies) are passed on.
func TestRawPathAsSent(t *testing.T) {
	srv, evs := capture(t)
	const target = `/bff/api/a%2Fb/%7e/%2E%2E/x|y"z{}?q=%2F`
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := "\x00\x01\xfe\xff"
	req := "POST " + target + " HTTP/1.1\r\nHost: " + strings.TrimPrefix(srv.URL, "http://") +
		"\r\nContent-Type: image/png\r\nContent-Length: 4\r\nCookie: __Host-oauthfn-session=abc; other=1" +
		"\r\nOrigin: http://localhost:1\r\nSec-Fetch-Site: same-origin\r\nX-OAuthFn-CSRF: 1\r\nConnection: close\r\n\r\n" + body
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d, want 204", resp.StatusCode)
	}
	ev := <-evs
	if want := `/bff/api/a%2Fb/%7e/%2E%2E/x|y"z{}`; ev.RawPath != want {
		t.Errorf("rawPath = %q, want %q (as sent)", ev.RawPath, want)
	}
	if want := `/bff/api/a/b/~/../x|y"z{}`; ev.RequestContext.HTTP.Path != want {
		t.Errorf("requestContext.http.path = %q, want %q (decoded)", ev.RequestContext.HTTP.Path, want)
	}
	if ev.RawQueryString != "q=%2F" {
		t.Errorf("rawQueryString = %q, want q=%%2F", ev.RawQueryString)
	}
	if !ev.IsBase64Encoded || ev.Body != base64.StdEncoding.EncodeToString([]byte(body)) {
		t.Errorf("body = %q (base64 %v), want the 4 bytes base64-encoded", ev.Body, ev.IsBase64Encoded)
	}
	if !slices.Equal(ev.Cookies, []string{"__Host-oauthfn-session=abc", "other=1"}) {
		t.Errorf("cookies = %q", ev.Cookies)
	}
	for k, want := range map[string]string{"origin": "http://localhost:1", "sec-fetch-site": "same-origin", "x-oauthfn-csrf": "1"} {
		if got := ev.Headers[k]; got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
}

// TestRawPathInProcess: a request made in process (no request line) falls
// back to the URL's escaped path.
func TestRawPathInProcess(t *testing.T) {
	r := httptest.NewRequest("GET", "/bff/api/a%2Fb", nil)
	r.RequestURI = ""
	if got := apigw.RawPath(r); got != "/bff/api/a%2Fb" {
		t.Errorf("RawPath = %q, want /bff/api/a%%2Fb", got)
	}
}

func TestRequestIDsDiffer(t *testing.T) {
	srv, evs := capture(t)
	ids := map[string]bool{}
	for range 3 {
		resp, err := http.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ev := <-evs
		if got := resp.Header.Get("Apigw-Requestid"); got != ev.RequestContext.RequestID {
			t.Errorf("apigw-requestid: got %q, want %q", got, ev.RequestContext.RequestID)
		}
		ids[ev.RequestContext.RequestID] = true
	}
	if len(ids) != 3 {
		t.Errorf("request ids: got %d distinct of 3", len(ids))
	}
}

func TestBodyTooLarge(t *testing.T) {
	called := false
	srv := httptest.NewServer(apigw.Handler(func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		called = true
		return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
	}))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/", "text/plain", strings.NewReader(strings.Repeat("x", apigw.MaxBodyBytes+1)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || called {
		t.Errorf("got status %d, handler called %v; want 413, not called", resp.StatusCode, called)
	}
}

func TestWriteResponse(t *testing.T) {
	const secret = "db password is hunter2"
	tests := []struct {
		name       string
		resp       events.APIGatewayV2HTTPResponse
		err        error
		panic      bool
		wantStatus int
		wantBody   string
		wantHeader map[string][]string // exact values; nil slice: absent
	}{
		{
			name: "status, headers and cookies",
			resp: events.APIGatewayV2HTTPResponse{
				StatusCode: http.StatusFound,
				Headers:    map[string]string{"Location": "https://provider.example/auth?x=1", "cache-control": "no-store"},
				Cookies:    []string{"__Host-oauthfn=v; Path=/; Secure; HttpOnly", "second=2; Max-Age=0"},
			},
			wantStatus: http.StatusFound,
			wantHeader: map[string][]string{
				"Location":      {"https://provider.example/auth?x=1"},
				"Cache-Control": {"no-store"},
				"Set-Cookie":    {"__Host-oauthfn=v; Path=/; Secure; HttpOnly", "second=2; Max-Age=0"},
				"Content-Type":  nil,
			},
		},
		{
			name: "base64 body decoded",
			resp: events.APIGatewayV2HTTPResponse{
				StatusCode:      http.StatusOK,
				Headers:         map[string]string{"Content-Type": "image/png"},
				Body:            base64.StdEncoding.EncodeToString([]byte("\x89PNG\x00")),
				IsBase64Encoded: true,
			},
			wantStatus: http.StatusOK,
			wantBody:   "\x89PNG\x00",
			wantHeader: map[string][]string{"Content-Type": {"image/png"}},
		},
		{
			name: "text body as is",
			resp: events.APIGatewayV2HTTPResponse{
				StatusCode: http.StatusBadRequest,
				Headers:    map[string]string{"Content-Type": "text/html; charset=utf-8"},
				Body:       "<p>try again</p>",
			},
			wantStatus: http.StatusBadRequest,
			wantBody:   "<p>try again</p>",
		},
		{
			name: "multiValueHeaders ignored as in payload format 2.0",
			resp: events.APIGatewayV2HTTPResponse{
				StatusCode:        http.StatusOK,
				MultiValueHeaders: map[string][]string{"X-Ignored": {"a", "b"}, "Set-Cookie": {"c=1"}},
			},
			wantStatus: http.StatusOK,
			wantHeader: map[string][]string{"X-Ignored": nil, "Set-Cookie": nil},
		},
		{
			name:       "returned error: 502, error not echoed",
			err:        errors.New(secret),
			wantStatus: http.StatusBadGateway,
			wantBody:   `{"message":"Internal Server Error"}`,
			wantHeader: map[string][]string{"Content-Type": {"application/json"}},
		},
		{
			name:       "panic: 502",
			panic:      true,
			wantStatus: http.StatusBadGateway,
			wantBody:   `{"message":"Internal Server Error"}`,
		},
		{
			name:       "missing status: 502",
			resp:       events.APIGatewayV2HTTPResponse{Body: "ok"},
			wantStatus: http.StatusBadGateway,
			wantBody:   `{"message":"Internal Server Error"}`,
		},
		{
			name:       "bad base64 body: 502",
			resp:       events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "!!not base64", IsBase64Encoded: true},
			wantStatus: http.StatusBadGateway,
			wantBody:   `{"message":"Internal Server Error"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(apigw.Handler(func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
				if tt.panic {
					panic(secret)
				}
				return tt.resp, tt.err
			}))
			defer srv.Close()
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := client.Get(srv.URL + "/x")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status: got %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if string(body) != tt.wantBody {
				t.Errorf("body: got %q, want %q", body, tt.wantBody)
			}
			if strings.Contains(string(body), "hunter2") {
				t.Errorf("body echoes the handler's error: %q", body)
			}
			for k, want := range tt.wantHeader {
				if got := resp.Header.Values(k); !slices.Equal(got, want) {
					t.Errorf("header %s: got %q, want %q", k, got, want)
				}
			}
			if resp.Header.Get("Apigw-Requestid") == "" {
				t.Error("apigw-requestid header missing")
			}
		})
	}
}
