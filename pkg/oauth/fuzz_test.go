package oauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/ and run with every
// `go test`; scripts/test.sh fuzzes each target for a bounded time.

// FuzzParseQuery checks the strict query parser against its contract: a
// repeated parameter is refused, known values are bounded by their limits
// and empty ones count as absent, an accepted query round-trips, and an
// error never carries a value.
func FuzzParseQuery(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		for name, limits := range map[string]queryLimits{"authorize": authorizeLimits, "callback": callbackLimits} {
			checkParseQuery(t, name, raw, limits)
		}
	})
}

// queryErrorPattern is every error parseQuery may give: fixed reasons and a
// known parameter's name, nothing from the value.
var queryErrorPattern = regexp.MustCompile(`^oauth: query (too long|has a malformed parameter name|has an overlong parameter name|repeats a parameter|parameter "(return_to|login_hint|app_state|code|state|error|error_description|error_uri|iss)" (is repeated|is not valid percent-encoding|is longer than [0-9]+ bytes))$`)

func checkParseQuery(t *testing.T, name, raw string, limits queryLimits) {
	t.Helper()
	got, err := parseQuery(raw, limits)

	// The oracle: what the contract says about raw.
	valid := len(raw) <= maxRawQuery
	want := map[string]string{}
	seen := map[string]bool{}
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, kerr := url.QueryUnescape(k)
		if kerr != nil || len(key) > 64 || seen[key] {
			valid = false
			continue
		}
		seen[key] = true
		limit, known := limits.get(key)
		if !known {
			continue
		}
		val, verr := url.QueryUnescape(v)
		if verr != nil || len(val) > limit {
			valid = false
			continue
		}
		if val != "" {
			want[key] = val
		}
	}

	if err != nil {
		if valid {
			t.Fatalf("%s: parseQuery(%q) = %v, want it accepted", name, raw, err)
		}
		if !queryErrorPattern.MatchString(err.Error()) {
			t.Fatalf("%s: parseQuery error %q is not one of the fixed messages (it may carry a value)", name, err)
		}
		if got != nil {
			t.Fatalf("%s: parseQuery returned values with an error", name)
		}
		return
	}
	if !valid {
		t.Fatalf("%s: parseQuery(%q) accepted a query the contract refuses (repeat, bad encoding, oversized): %q", name, raw, got)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("%s: parseQuery(%q) = %q, want %q", name, raw, got, want)
	}
	for k, v := range got {
		if limit, known := limits.get(k); !known || v == "" || len(v) > limit {
			t.Fatalf("%s: parseQuery returned %q (%d bytes), outside its limits", name, k, len(v))
		}
	}
	// Round trip: the accepted values, encoded again, parse to the same —
	// when the encoding still fits: percent-encoding can triple a value
	// (each non-ASCII byte becomes %XX), and an oversized query is refused
	// by design.
	enc := url.Values{}
	for k, v := range got {
		enc.Set(k, v)
	}
	if len(enc.Encode()) > maxRawQuery {
		return
	}
	again, err := parseQuery(enc.Encode(), limits)
	if err != nil || !maps.Equal(again, got) {
		t.Fatalf("%s: round trip of %q: %q, %v", name, got, again, err)
	}
}

// FuzzCallbackRequest sends arbitrary callback queries and cookies to
// h.Callback on a MemoryStore with a provider that fails the test when it
// is called for a state that was not issued to this browser, or twice.
// Each run first starts two authorizations (one with return_to and
// app_state, one without); the placeholders {state} and {state2} in either
// input stand for their states and {binding} for the binding cookie's value
// holding both nonces, so the fuzzer reaches the code exchange too. A code
// of the form "err:<code>" makes the provider refuse with that error,
// "acct:<id>" names the account, "5xx" fails with 503.
//
// Invariants: no panic and no Go error; the status is one of 200, 302, 400,
// 403, 500, 502; Cache-Control: no-store always; every '<' in a page starts
// one of the page template's own tags (nothing from the input or the
// provider is reflected unescaped); a redirect goes to return_to only; no
// issued state, nonce or token reaches the logs; a finished authorization
// cannot be finished again.
func FuzzCallbackRequest(f *testing.F) {
	cfg, err := LoadConfig(env(with(baseEnv(), "OAUTH_PROVIDER", "generic",
		"OAUTH_AUTH_URL", "https://idp.example/authorize", "OAUTH_TOKEN_URL", "https://idp.example/token",
		"OAUTH_REVOKE_URL", "https://idp.example/revoke", "OAUTH_ACCOUNT_FIELD", "owner_id",
		"OAUTH_CLIENT_ID", testClientID, "OAUTH_CLIENT_SECRET", testClientSecret,
		"ALLOWED_RETURN_URLS", fuzzReturnTo,
		// The success page (a connect token without return_to) exists only
		// when the callback attaches by itself.
		"REQUIRE_CONFIRM", "false")))
	if err != nil {
		f.Fatalf("LoadConfig: %v", err)
	}
	secrets, err := NewStaticSecrets(cfg.ClientSecret, cfg.TokenKey, cfg.AppKey)
	if err != nil {
		f.Fatal(err)
	}
	allowed := pageTags()

	f.Fuzz(func(t *testing.T, rawQuery, cookie string) {
		now := fuzzNow
		logs := &bytes.Buffer{}
		h := NewHandler(cfg, NewMemoryStore(), secrets)
		h.Now = func() time.Time { return now }
		h.Log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		prov := &fuzzProvider{t: t, issued: map[string]issuedAuth{}}
		h.HTTPClient = &http.Client{Transport: prov, Timeout: 2 * time.Second}

		// Two authorizations from one browser: the second Set-Cookie holds
		// both nonces.
		var binding string
		keys := connect.Keys{Current: testAppKey, Now: h.Now}
		for i, opts := range []connect.Options{{ReturnTo: fuzzReturnTo, AppState: fuzzAppState}, {}} {
			tok, err := keys.Token("fuzz-user", opts)
			if err != nil {
				t.Fatal(err)
			}
			query := "connect=" + tok
			var cookies []string
			if binding != "" {
				cookies = []string{BindingCookie + "=" + binding}
			}
			resp, err := h.Authorize(context.Background(), apiRequest("/authorize", query, cookies...))
			if err != nil || resp.StatusCode != http.StatusFound || len(resp.Cookies) != 1 {
				t.Fatalf("authorize %d: %d %v", i, resp.StatusCode, err)
			}
			loc, _ := url.Parse(resp.Headers["Location"])
			c, err := http.ParseSetCookie(resp.Cookies[0])
			if err != nil {
				t.Fatal(err)
			}
			binding = c.Value
			nonces := strings.Split(binding, ".")
			prov.issued[loc.Query().Get("state")] = issuedAuth{nonce: nonces[len(nonces)-1], challenge: loc.Query().Get("code_challenge")}
			prov.order = append(prov.order, loc.Query().Get("state"))
		}
		fill := strings.NewReplacer("{state}", prov.order[0], "{state2}", prov.order[1], "{binding}", binding)
		rawQuery, cookie = fill.Replace(rawQuery), fill.Replace(cookie)

		// The parsers alone.
		q, qerr := parseQuery(rawQuery, callbackLimits)
		nonces := readBindings([]string{cookie}, "")
		if len(nonces) > maxBindings {
			t.Fatalf("readBindings kept %d nonces, want at most %d", len(nonces), maxBindings)
		}
		for _, n := range nonces {
			if !wellFormedNonce(n) {
				t.Fatalf("readBindings kept a malformed nonce %q", n)
			}
		}
		prov.request = callbackSeen{parsed: qerr == nil, state: q["state"], code: q["code"], nonces: nonces}

		var cookies []string
		if cookie != "" {
			cookies = []string{cookie}
		}
		req := apiRequest("/callback", rawQuery, cookies...)
		resp := checkCallbackAnswer(t, h, req, allowed)
		if resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusOK {
			if calls := prov.tokenCalls(); calls != 1 {
				t.Fatalf("connected with %d token calls, want 1", calls)
			}
			// Single use: the same request again is refused, and the
			// provider is not called again (it would fail the test).
			if again := checkCallbackAnswer(t, h, req, allowed); again.StatusCode != http.StatusBadRequest {
				t.Fatalf("replayed callback = %d, want 400", again.StatusCode)
			}
		}

		for _, v := range append(slices.Clone(prov.order), strings.Split(binding, ".")...) {
			if strings.Contains(logs.String(), v) {
				t.Fatalf("logs contain an issued state or nonce")
			}
		}
		for _, v := range prov.tokens {
			if strings.Contains(logs.String(), v) {
				t.Fatalf("logs contain an issued token")
			}
		}
	})
}

// fuzzNow is the fuzz rig's clock.
var fuzzNow = time.Unix(1_800_000_000, 0)

const (
	fuzzReturnTo = "https://app.example/done"
	fuzzAppState = "s1"
)

var answerStatuses = map[int]bool{200: true, 302: true, 400: true, 403: true, 500: true, 502: true}

// checkCallbackAnswer calls h.Callback and checks the invariants every
// answer keeps.
func checkCallbackAnswer(t *testing.T, h *Handler, req events.APIGatewayV2HTTPRequest, allowed map[string]bool) events.APIGatewayV2HTTPResponse {
	t.Helper()
	resp, err := h.Callback(context.Background(), req)
	if err != nil {
		t.Fatalf("Callback returned a Go error: %v", err)
	}
	if !answerStatuses[resp.StatusCode] {
		t.Fatalf("status %d, want one of 200, 302, 400, 403, 500, 502", resp.StatusCode)
	}
	if got := resp.Headers["Cache-Control"]; got != "no-store" {
		t.Fatalf("Cache-Control = %q, want no-store", got)
	}
	if resp.StatusCode == http.StatusFound {
		loc, err := url.Parse(resp.Headers["Location"])
		if err != nil || loc.Scheme+"://"+loc.Host+loc.Path != fuzzReturnTo || len(loc.Query()) != 1 {
			t.Fatalf("redirect to %q, want return_to with only a result", resp.Headers["Location"])
		}
		res, err := connect.Keys{Current: testAppKey, Now: func() time.Time { return fuzzNow }}.VerifyResult(loc.Query().Get("result"))
		if err != nil || res.User != "fuzz-user" || res.AppState != fuzzAppState {
			t.Fatalf("redirect's result = %+v, %v; want fuzz-user's, with the app_state", res, err)
		}
		return resp
	}
	for i := 0; i < len(resp.Body); i++ {
		if resp.Body[i] != '<' {
			continue
		}
		end := strings.IndexByte(resp.Body[i:], '>')
		if end < 0 {
			t.Fatalf("page has an unclosed '<' at %d:\n%s", i, resp.Body)
		}
		if tag := resp.Body[i : i+end+1]; !allowed[tag] {
			t.Fatalf("page has a tag %q that the template does not write (reflected input):\n%s", tag, resp.Body)
		}
	}
	return resp
}

// pageTags is every tag the page template writes, for every answer, with
// every retry link the fuzz rig can produce.
func pageTags() map[string]bool {
	answers := []answer{ansBadRequest, ansReturnTo, ansBadState, ansBinding, ansDeclined, ansProviderRefused, ansInvalidGrant,
		ansUnauthorizedClient, ansInvalidClient, ansUnavailable, ansBadResponse, ansInternal, ansConnected,
		ansConnectRequired, ansInvalidConnect}
	type link struct{ retry, back string }
	retry, _ := retryLink(&PendingAuth{ReturnTo: fuzzReturnTo, AppState: fuzzAppState})
	links := []link{{}, {retry: "authorize"}, {retry: retry}, {back: fuzzReturnTo}}
	tag := regexp.MustCompile(`<[^>]*>`)
	tags := map[string]bool{}
	for _, a := range answers {
		for _, l := range links {
			a.retry, a.back, a.account = l.retry, l.back, "x"
			for _, m := range tag.FindAllString(render(apiRequest("/callback", ""), a).Body, -1) {
				tags[m] = true
			}
		}
	}
	return tags
}

// issuedAuth is what the provider knows of an authorization it sent a
// browser back from.
type issuedAuth struct {
	nonce     string // the binding nonce of the browser that started it
	challenge string // its PKCE code_challenge
}

// callbackSeen is the callback request being handled, as the parsers read it.
type callbackSeen struct {
	parsed      bool
	state, code string
	nonces      []string
}

// fuzzProvider is the provider's token and revocation endpoints as an
// http.RoundTripper: no network, so each fuzz run is cheap.
type fuzzProvider struct {
	t       *testing.T
	issued  map[string]issuedAuth // state -> authorization
	order   []string              // states in issue order
	request callbackSeen

	mu       sync.Mutex
	exchange map[string]bool // states already exchanged
	calls    int
	tokens   []string
}

func (p *fuzzProvider) tokenCalls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

func (p *fuzzProvider) RoundTrip(req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	req.Body.Close()
	form, _ := url.ParseQuery(string(body))
	switch req.URL.String() {
	case "https://idp.example/revoke":
		return jsonResponse(200, `{}`), nil
	case "https://idp.example/token":
	default:
		p.t.Errorf("provider called at %s", req.URL)
		return jsonResponse(404, `{}`), nil
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	// The state of the callback being handled must be one this browser was
	// issued, bound by its cookie, and not exchanged before.
	st := p.request.state
	auth, issued := p.issued[st]
	switch {
	case !p.request.parsed || !issued:
		p.t.Errorf("token endpoint called for a state that was not issued (%.12q)", st)
	case !slices.Contains(p.request.nonces, auth.nonce):
		p.t.Errorf("token endpoint called without the binding cookie of the state's browser")
	case p.exchange[st]:
		p.t.Errorf("token endpoint called twice for one state")
	}
	if p.exchange == nil {
		p.exchange = map[string]bool{}
	}
	p.exchange[st] = true
	sum := sha256.Sum256([]byte(form.Get("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != auth.challenge {
		p.t.Errorf("code_verifier does not match the state's code_challenge")
	}
	if id, secret, ok := req.BasicAuth(); !ok || id != testClientID || secret != testClientSecret {
		p.t.Errorf("token request without the client's Basic credentials")
	}
	code := form.Get("code")
	if form.Get("grant_type") != "authorization_code" || code != p.request.code {
		p.t.Errorf("token request grant_type %q with another code than the callback's", form.Get("grant_type"))
	}

	switch {
	case strings.HasPrefix(code, "err:"):
		b, _ := json.Marshal(map[string]string{"error": strings.TrimPrefix(code, "err:")})
		return jsonResponse(400, string(b)), nil
	case code == "5xx":
		return jsonResponse(503, `upstream down`), nil
	}
	account := "1001"
	if a, ok := strings.CutPrefix(code, "acct:"); ok {
		account = a
	}
	access, refresh := "at-"+newNonce(), "rt-"+newNonce()
	p.tokens = append(p.tokens, access, refresh)
	b, _ := json.Marshal(map[string]any{"access_token": access, "token_type": "bearer", "expires_in": 3600,
		"refresh_token": refresh, "refresh_token_expires_in": 604800, "owner_id": account})
	return jsonResponse(200, string(b)), nil
}

func jsonResponse(status int, body string) *http.Response {
	return &http.Response{
		StatusCode: status,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(body)),
	}
}
