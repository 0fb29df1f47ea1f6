package deploytest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/oauthfn/oauthfn/pkg/oauth"
	"github.com/oauthfn/oauthfn/pkg/oauth/connevent"
)

const bindingCookie = "__Host-oauthfn"

// TestEventFilesAreTested fails when an events/*.json file has no test below.
func TestEventFilesAreTested(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(root(), "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, filepath.Base(f))
	}
	want := []string{"authorize.json", "bff-api.json", "bff-login.json", "bff-logout.json", "bff-session.json", "callback-error.json", "callback.json", "confirm.json", "env.json", "refresh.json", "stream.json", "token.json"}
	if !slices.Equal(got, want) {
		t.Errorf("events/*.json: got %v, want %v (add a test for a new file)", got, want)
	}
}

func loadHTTPEvent(t *testing.T, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	if err := decodeStrict(readRepoFile(t, "events/"+name), &ev); err != nil {
		t.Fatalf("events/%s into events.APIGatewayV2HTTPRequest: %v", name, err)
	}
	return ev
}

// checkHTTPEvent checks what every payload-2.0 sample must get right, and
// returns the parsed query.
func checkHTTPEvent(t *testing.T, ev events.APIGatewayV2HTTPRequest, path string) url.Values {
	t.Helper()
	rc := ev.RequestContext
	tests := []check{
		{"version", ev.Version, "2.0"},
		{"routeKey", ev.RouteKey, "GET " + path},
		{"requestContext.routeKey", rc.RouteKey, "GET " + path},
		{"rawPath", ev.RawPath, path},
		{"requestContext.http.path", rc.HTTP.Path, path},
		{"requestContext.http.method", rc.HTTP.Method, http.MethodGet},
		{"requestContext.stage", rc.Stage, "$default"},
		{"requestContext.domainPrefix", rc.DomainPrefix, rc.APIID},
		{"requestContext.domainName", rc.DomainName, rc.APIID + ".execute-api.us-east-1.amazonaws.com"},
		{"headers.host", ev.Headers["host"], rc.DomainName},
		{"headers.x-forwarded-proto", ev.Headers["x-forwarded-proto"], "https"},
		{"isBase64Encoded", ev.IsBase64Encoded, false},
		{"body", ev.Body, ""},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.what, tc.got, tc.want)
		}
	}
	if rc.RequestID == "" || rc.TimeEpoch == 0 || rc.Time == "" || rc.HTTP.SourceIP == "" {
		t.Errorf("requestContext: requestId, time, timeEpoch and http.sourceIp must be set: %+v", rc)
	}
	if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", rc.Time); err != nil {
		t.Errorf("requestContext.time %q: %v", rc.Time, err)
	}
	for k := range ev.Headers {
		if k != strings.ToLower(k) {
			t.Errorf("header %q: API Gateway lower-cases header names", k)
		}
		if k == "cookie" {
			t.Errorf("header cookie: payload 2.0 moves cookies into the cookies array")
		}
	}

	// rawQueryString and queryStringParameters must say the same thing.
	q, err := url.ParseQuery(ev.RawQueryString)
	if err != nil {
		t.Fatalf("rawQueryString %q: %v", ev.RawQueryString, err)
	}
	if len(q) != len(ev.QueryStringParameters) {
		t.Errorf("rawQueryString has %d parameters, queryStringParameters %d", len(q), len(ev.QueryStringParameters))
	}
	for k, vs := range q {
		if len(vs) != 1 {
			t.Errorf("rawQueryString: %s repeated", k)
		}
		if got := ev.QueryStringParameters[k]; got != vs[0] {
			t.Errorf("queryStringParameters[%s] = %q, rawQueryString says %q", k, got, vs[0])
		}
	}
	return q
}

// randomToken checks a value is 32 random bytes, unpadded base64url, as the
// state and the binding cookie are (docs/security.md).
func randomToken(t *testing.T, what, v string) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) != 32 {
		t.Errorf("%s %q: want 32 bytes, unpadded base64url (err %v, %d bytes)", what, v, err, len(b))
	}
}

func bindingCookieValue(t *testing.T, ev events.APIGatewayV2HTTPRequest) string {
	t.Helper()
	if len(ev.Cookies) != 1 {
		t.Fatalf("cookies: got %q, want the binding cookie only", ev.Cookies)
	}
	cookies, err := http.ParseCookie(ev.Cookies[0])
	if err != nil {
		t.Fatalf("cookies[0] %q: %v", ev.Cookies[0], err)
	}
	for _, c := range cookies {
		if c.Name == bindingCookie {
			randomToken(t, "binding cookie", c.Value)
			return c.Value
		}
	}
	t.Fatalf("cookies %q: no %s", ev.Cookies, bindingCookie)
	return ""
}

func TestAuthorizeEvent(t *testing.T) {
	ev := loadHTTPEvent(t, "authorize.json")
	q := checkHTTPEvent(t, ev, "/authorize")
	if len(ev.Cookies) != 0 {
		t.Errorf("cookies: got %q, want none on the first visit", ev.Cookies)
	}
	for _, k := range []string{"return_to", "app_state"} {
		if q.Get(k) == "" {
			t.Errorf("query: %s missing", k)
		}
	}
	if n := len(q.Get("app_state")); n > 512 {
		t.Errorf("app_state: %d bytes, the contract allows 512", n)
	}
	// The sample return_to must pass the allow-list of the local env file, so
	// that `sam local invoke AuthorizeFunction -e events/authorize.json`
	// shows the redirect, not a refusal.
	cfg := localConfig(t, "AuthorizeFunction")
	u, err := url.Parse(q.Get("return_to"))
	if err != nil {
		t.Fatalf("return_to: %v", err)
	}
	if !slices.ContainsFunc(cfg.AllowedReturn, func(p oauth.ReturnPrefix) bool {
		return p.Scheme == u.Scheme && p.Host == u.Host && strings.HasPrefix(u.EscapedPath(), p.Path)
	}) {
		t.Errorf("return_to %s: not allowed by events/env.json ALLOWED_RETURN_URLS %+v", u, cfg.AllowedReturn)
	}
}

func TestCallbackEvent(t *testing.T) {
	ev := loadHTTPEvent(t, "callback.json")
	q := checkHTTPEvent(t, ev, "/callback")
	if got := slices.Sorted(maps.Keys(q)); !slices.Equal(got, []string{"code", "state"}) {
		t.Errorf("query: got %v, want code and state", got)
	}
	randomToken(t, "state", q.Get("state"))
	if q.Get("code") == "" {
		t.Error("query: code is empty")
	}
	if v := bindingCookieValue(t, ev); v == q.Get("state") {
		t.Error("binding cookie equals state: the contract wants a value of its own")
	}
}

// events/confirm.json is the app's POST /confirm as the callback function
// receives it: a JSON body with one key, confirm, holding a confirm token
// of the right shape (its sample signature is not valid: with `sam local
// invoke` it answers 401 until a real token is put in).
func TestConfirmEvent(t *testing.T) {
	ev := loadHTTPEvent(t, "confirm.json")
	rc := ev.RequestContext
	for _, c := range []check{
		{"routeKey", ev.RouteKey, "POST /confirm"},
		{"requestContext.routeKey", rc.RouteKey, "POST /confirm"},
		{"rawPath", ev.RawPath, "/confirm"},
		{"requestContext.http.method", rc.HTTP.Method, http.MethodPost},
		{"content-type", ev.Headers["content-type"], "application/json"},
		{"content-length", ev.Headers["content-length"], strconv.Itoa(len(ev.Body))},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
	var body map[string]string
	if err := decodeStrict([]byte(ev.Body), &body); err != nil || len(body) != 1 || body["confirm"] == "" {
		t.Fatalf("body %s: want {\"confirm\": \"<token>\"}", ev.Body)
	}
	parts := strings.Split(body["confirm"], ".")
	if len(parts) != 3 {
		t.Fatalf("confirm: want a compact JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"aud", "sub", "jti", "iat", "exp", "decision"} {
		if claims[k] == nil {
			t.Errorf("sample confirm token has no %s", k)
		}
	}
}

func TestCallbackErrorEvent(t *testing.T) {
	ev := loadHTTPEvent(t, "callback-error.json")
	q := checkHTTPEvent(t, ev, "/callback")
	if got := slices.Sorted(maps.Keys(q)); !slices.Equal(got, []string{"error", "error_description", "state"}) {
		t.Errorf("query: got %v, want error, error_description and state", got)
	}
	if q.Get("error") != "access_denied" {
		t.Errorf("error: got %q, want access_denied", q.Get("error"))
	}
	randomToken(t, "state", q.Get("state"))
	bindingCookieValue(t, ev)

	// The same browser as callback.json: same state and cookie.
	ok := loadHTTPEvent(t, "callback.json")
	if ok.QueryStringParameters["state"] != ev.QueryStringParameters["state"] || ok.Cookies[0] != ev.Cookies[0] {
		t.Error("callback.json and callback-error.json: want the same state and binding cookie")
	}
}

// sweepDetail is the detail the schedule sends: the due-index shards to
// sweep, both ends included.
type sweepDetail struct {
	ShardFrom *int `json:"shard_from"`
	ShardTo   *int `json:"shard_to"`
}

func TestRefreshEvent(t *testing.T) {
	raw := readRepoFile(t, "events/refresh.json")
	var ev events.EventBridgeEvent
	if err := decodeStrict(raw, &ev); err != nil {
		t.Fatalf("events/refresh.json into events.EventBridgeEvent: %v", err)
	}
	if ev.DetailType != "Scheduled Event" || ev.ID == "" || ev.Time.IsZero() || len(ev.Resources) != 1 {
		t.Errorf("got %+v, want a Scheduled Event with id, time and the schedule ARN", ev)
	}
	var d sweepDetail
	if err := decodeStrict(ev.Detail, &d); err != nil {
		t.Fatalf("detail %s: %v", ev.Detail, err)
	}
	if d.ShardFrom == nil || d.ShardTo == nil || *d.ShardFrom != 0 || *d.ShardTo != oauth.DueShards-1 {
		t.Errorf("detail %s: want every shard, 0 to %d", ev.Detail, oauth.DueShards-1)
	}

	// What EventBridge Scheduler sends is the template's Input with its
	// context attributes filled in: it must be this file.
	s := newStack(t, paramSets[0].overrides)
	input := s.str(mapAt(t, s.function("RefreshFunction"), "Events", "Sweep", "Properties")["Input"])
	sent := strings.NewReplacer(
		"<aws.scheduler.execution-id>", ev.ID,
		"<aws.scheduler.scheduled-time>", ev.Time.Format(time.RFC3339),
		"<aws.scheduler.schedule-arn>", ev.Resources[0],
	).Replace(input)
	if strings.Contains(sent, "<aws.scheduler.") {
		t.Errorf("schedule Input uses a context attribute the test does not know: %s", input)
	}
	var fromTemplate events.EventBridgeEvent
	if err := decodeStrict([]byte(sent), &fromTemplate); err != nil {
		t.Fatalf("schedule Input into events.EventBridgeEvent: %v\n%s", err, sent)
	}
	var a, b any
	if err := json.Unmarshal([]byte(sent), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("events/refresh.json differs from what the schedule sends:\n got %s\nwant %s", raw, sent)
	}
}

// TestStreamEvent: events/stream.json (sam local invoke EventsFunction) is
// a DynamoDB stream batch as Lambda delivers it: a connection inserted,
// then its refresh token refused.
func TestStreamEvent(t *testing.T) {
	var ev events.DynamoDBEvent
	// Attribute values decode themselves ({"S": ...}): plain decoding.
	if err := json.Unmarshal(readRepoFile(t, "events/stream.json"), &ev); err != nil {
		t.Fatalf("events/stream.json: %v", err)
	}
	want := []string{connevent.Connected, connevent.ReauthRequired}
	if len(ev.Records) != len(want) {
		t.Fatalf("records: got %d, want %d", len(ev.Records), len(want))
	}
	for i, rec := range ev.Records {
		got, err := connevent.Transition(rec)
		if err != nil || got == nil || got.DetailType != want[i] {
			t.Errorf("record %d: got %+v, %v; want %s", i, got, err, want[i])
		}
		if rec.Change.SequenceNumber == "" || rec.Change.StreamViewType != "NEW_AND_OLD_IMAGES" {
			t.Errorf("record %d: want a sequence number and NEW_AND_OLD_IMAGES", i)
		}
	}
}

// TestTokenEvent: events/token.json (sam local invoke TokenFunction) is a
// token request by account.
func TestTokenEvent(t *testing.T) {
	var req oauth.TokenRequest
	if err := decodeStrict(readRepoFile(t, "events/token.json"), &req); err != nil {
		t.Fatalf("events/token.json: %v", err)
	}
	if req.AccountID == "" || req.EndUser != "" {
		t.Errorf("got %+v, want an account_id request", req)
	}
}

// envFile is events/env.json: "Parameters" applies to every function, a
// function's logical id to that function.
func envFile(t *testing.T) map[string]map[string]string {
	t.Helper()
	var f map[string]map[string]string
	if err := decodeStrict(readRepoFile(t, "events/env.json"), &f); err != nil {
		t.Fatalf("events/env.json: want {\"Parameters\"|<function>: {NAME: \"value\"}}: %v", err)
	}
	return f
}

// localEnv is the environment `sam local invoke --env-vars events/env.json`
// gives a function: the template's variables, overridden by the file. Only
// variables the template declares reach the function.
func localEnv(t *testing.T, fn string) map[string]string {
	t.Helper()
	s := newStack(t, paramSets[0].overrides)
	env := s.env(fn)
	f := envFile(t)
	for _, scope := range []string{"Parameters", fn} {
		for k, v := range f[scope] {
			env[k] = v
		}
	}
	return env
}

func localConfig(t *testing.T, fn string) oauth.Config {
	t.Helper()
	cfg, err := oauth.LoadConfig(getenv(localEnv(t, fn)))
	if err != nil {
		t.Fatalf("LoadConfig(events/env.json over the template, %s): %v", fn, err)
	}
	return cfg
}

func TestLocalEnvFile(t *testing.T) {
	s := newStack(t, paramSets[0].overrides)
	fns := s.functionIDs()
	f := envFile(t)
	for scope, vars := range f {
		t.Run(scope, func(t *testing.T) {
			targets := fns
			if scope != "Parameters" {
				if !slices.Contains(fns, scope) {
					t.Fatalf("key %s: neither Parameters nor a function of the template %v", scope, fns)
				}
				targets = []string{scope}
			}
			for _, fn := range targets {
				declared := s.env(fn)
				for k := range vars {
					if _, ok := declared[k]; !ok {
						t.Errorf("%s: %s is not declared in the template, so sam local would drop it", fn, k)
					}
				}
			}
		})
	}
	for _, fn := range fns {
		t.Run("config/"+fn, func(t *testing.T) {
			cfg := localConfig(t, fn)
			if cfg.ClientSecretARN != "" || cfg.TokenKeyARN != "" || cfg.AppKeyARN != "" || cfg.ClientSecret == "" || cfg.TokenKey == "" || cfg.AppKey == "" {
				t.Errorf("local config: want the plain secrets and no ARNs, got ARNs %q %q", cfg.ClientSecretARN, cfg.TokenKeyARN)
			}
			if env := localEnv(t, fn); env["AWS_ENDPOINT_URL"] == "" {
				t.Error("AWS_ENDPOINT_URL: want the local stand-in's address")
			}
		})
	}
}

// sessionCookie is the BFF's session cookie (DESIGN.md, "Browser-only apps").
const sessionCookie = "__Host-oauthfn-session"

// TestBffEvents: events/bff-*.json (sam local invoke BffFunction, and
// internal/lambdatest under the emulator) are payload-2.0 requests on the
// BFF function's routes as template.yaml declares them: the route key one
// of its events, the path parameters what API Gateway fills for that route
// and raw path, the browser's fetch metadata, the CSRF header on every
// route but login, and the session cookie (32 random bytes) on every route
// but login. The login's return_to passes events/env.json's allow-list.
func TestBffEvents(t *testing.T) {
	s := newStack(t, map[string]string{"ClientId": "x", "EnableBff": "true"})
	routes := map[string]bool{}
	for name, e := range mapAt(t, s.function("BffFunction"), "Events") {
		p := mapAt(t, asMap(t, e, name), "Properties")
		routes[fmt.Sprint(p["Method"], " ", p["Path"])] = true
	}
	files := map[string]struct {
		route, method, path string
		params              map[string]string
	}{
		"bff-login.json":   {"GET /bff/{provider}/login", http.MethodGet, "/bff/ringcentral/login", map[string]string{"provider": "ringcentral"}},
		"bff-session.json": {"GET /bff/session", http.MethodGet, "/bff/session", nil},
		"bff-logout.json":  {"POST /bff/logout", http.MethodPost, "/bff/logout", nil},
		"bff-api.json":     {"ANY /bff/api/{proxy+}", http.MethodGet, "/bff/api/restapi/v1.0/account/~/extension/~", map[string]string{"proxy": "restapi/v1.0/account/~/extension/~"}},
	}
	covered := map[string]bool{}
	for name, want := range files {
		t.Run(name, func(t *testing.T) {
			ev := loadHTTPEvent(t, name)
			rc := ev.RequestContext
			if !routes[want.route] {
				t.Fatalf("route %s: not a route of BffFunction %v", want.route, slices.Sorted(maps.Keys(routes)))
			}
			covered[want.route] = true
			for _, c := range []check{
				{"version", ev.Version, "2.0"},
				{"routeKey", ev.RouteKey, want.route},
				{"requestContext.routeKey", rc.RouteKey, want.route},
				{"rawPath", ev.RawPath, want.path},
				{"requestContext.http.path", rc.HTTP.Path, want.path},
				{"requestContext.http.method", rc.HTTP.Method, want.method},
				{"requestContext.stage", rc.Stage, "$default"},
				{"headers.host", ev.Headers["host"], rc.DomainName},
				{"content-length", ev.Headers["content-length"], strconv.Itoa(len(ev.Body))},
				{"isBase64Encoded", ev.IsBase64Encoded, false},
			} {
				if c.got != c.want {
					t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
				}
			}
			if !maps.Equal(ev.PathParameters, want.params) {
				t.Errorf("pathParameters: got %v, want %v", ev.PathParameters, want.params)
			}
			// The route's template with the path parameters filled in is the raw path.
			filled := strings.TrimPrefix(want.route, want.route[:strings.Index(want.route, " ")+1])
			for k, v := range ev.PathParameters {
				filled = strings.NewReplacer("{"+k+"+}", v, "{"+k+"}", v).Replace(filled)
			}
			if filled != ev.RawPath {
				t.Errorf("route %s with %v: %s, want the raw path %s", want.route, ev.PathParameters, filled, ev.RawPath)
			}
			for k := range ev.Headers {
				if k != strings.ToLower(k) || k == "cookie" {
					t.Errorf("header %q: API Gateway lower-cases names and moves cookies into the cookies array", k)
				}
			}
			if got := ev.Headers["sec-fetch-site"]; got != "same-origin" {
				t.Errorf("sec-fetch-site: got %q, want same-origin (the app on the API's origin)", got)
			}
			login := strings.HasSuffix(want.route, "/login")
			if got := ev.Headers["x-oauthfn-csrf"]; (got == "1") == login {
				t.Errorf("x-oauthfn-csrf: got %q; want 1 on every route but login (a navigation)", got)
			}
			if login {
				if len(ev.Cookies) != 0 {
					t.Errorf("cookies: got %q, want none before the sign-in", ev.Cookies)
				}
				cfg := localConfig(t, "AuthorizeFunction") // every function has the same environment
				u, err := url.Parse(ev.QueryStringParameters["return_to"])
				if err != nil || ev.RawQueryString != "return_to="+url.QueryEscape(u.String()) {
					t.Fatalf("query %q: want return_to only, rawQueryString and queryStringParameters agreeing", ev.RawQueryString)
				}
				if !slices.ContainsFunc(cfg.AllowedReturn, func(p oauth.ReturnPrefix) bool {
					return p.Scheme == u.Scheme && p.Host == u.Host && strings.HasPrefix(u.EscapedPath(), p.Path)
				}) {
					t.Errorf("return_to %s: not allowed by events/env.json ALLOWED_RETURN_URLS", u)
				}
				return
			}
			if len(ev.Cookies) != 1 {
				t.Fatalf("cookies: got %q, want the session cookie only", ev.Cookies)
			}
			c, err := http.ParseCookie(ev.Cookies[0])
			if err != nil || len(c) != 1 || c[0].Name != sessionCookie {
				t.Fatalf("cookies[0] %q: want %s (%v)", ev.Cookies[0], sessionCookie, err)
			}
			randomToken(t, "session cookie", c[0].Value)
			if o := ev.Headers["origin"]; o != "" && o != "https://"+rc.DomainName {
				t.Errorf("origin %q: want the API's own", o)
			}
		})
	}
	if len(covered) != len(routes) {
		t.Errorf("routes with a sample: %v, want every route of BffFunction %v", covered, routes)
	}
}
