package oauth

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// The handlers' own cost per request: the in-memory store, static secrets,
// and for the callback the fake provider (an httptest server in this
// process, checking PKCE and Basic auth). Each reports cpu-ns/op, the
// process's CPU time (user + system, getrusage) per operation: the figure
// to hold to its budget (authorize 50 µs, callback 150 µs), steadier than
// wall time on a shared machine. The callback's figure includes the fake
// provider's side of the token call, since it runs in the same process.

// benchHandler is a Handler as newRig builds it, for a benchmark.
func benchHandler(b *testing.B) (*Handler, *fakeProvider, Store) {
	b.Helper()
	prov := newFakeProvider(b)
	e := with(baseEnv(), "OAUTH_PROVIDER", "generic", "OAUTH_AUTH_URL", "https://idp.example/authorize",
		"OAUTH_TOKEN_URL", prov.srv.URL+"/token", "OAUTH_REVOKE_URL", prov.srv.URL+"/revoke", "OAUTH_ACCOUNT_FIELD", "owner_id",
		"OAUTH_CLIENT_ID", testClientID, "OAUTH_CLIENT_SECRET", testClientSecret,
		"ALLOWED_RETURN_URLS", "https://app.example/done",
		// Anonymous /authorize, so a request can be replayed b.N times;
		// BenchmarkAuthorizeConnectToken measures the connect token's cost.
		"REQUIRE_CONNECT_TOKEN", "false")
	cfg, err := LoadConfig(env(e))
	if err != nil {
		b.Fatalf("LoadConfig: %v", err)
	}
	secrets, err := NewStaticSecrets(cfg.ClientSecret, cfg.TokenKey, cfg.AppKey)
	if err != nil {
		b.Fatal(err)
	}
	store := NewMemoryStore()
	h := NewHandler(cfg, store, secrets)
	now := time.Unix(1_800_000_000, 0)
	h.Now = func() time.Time { return now }
	h.Log = slog.New(slog.NewJSONHandler(io.Discard, nil)) // the JSON encoding stays in the figure
	h.HTTPClient = &http.Client{Timeout: answerTimeout}    // real answers: make test runs each benchmark once on a loaded machine
	return h, prov, store
}

// cpuTime is the process's CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

const benchAuthorizeQuery = "return_to=https%3A%2F%2Fapp.example%2Fdone&app_state=session-42"

func BenchmarkAuthorize(b *testing.B) {
	h, _, _ := benchHandler(b)
	req := apiRequest("/authorize", benchAuthorizeQuery)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for i := 0; i < b.N; i++ {
		resp, err := h.Authorize(ctx, req)
		if err != nil || resp.StatusCode != http.StatusFound {
			b.Fatalf("Authorize: %d, %v", resp.StatusCode, err)
		}
	}
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkCallback is the callback's happy path (two store calls, one
// token call, no revocation) with the fake provider's handler called in
// process (directTransport: no sockets), so the figure is the handler's CPU
// plus the provider's own handling of the token request (form parsing, the
// PKCE hash, the JSON answer): an upper bound of the function's share.
func BenchmarkCallback(b *testing.B) { benchCallback(b, true) }

// BenchmarkCallbackLoopback is the same over a real loopback connection to
// the provider's httptest.Server. Its figure also holds the HTTP server's
// side of the token call and both sides' socket work, which a deployed
// function does not pay (its provider is another machine): context for
// BenchmarkCallback, not the function's cost.
func BenchmarkCallbackLoopback(b *testing.B) { benchCallback(b, false) }

// benchCallback prepares b.N authorizations (each /authorize and the
// provider's approval) before the timer and the CPU count start, then runs
// the callbacks. Each connection is deleted after its callback (counted: a
// map delete) so that no callback replaces one and revokes it.
func benchCallback(b *testing.B, direct bool) {
	h, prov, store := benchHandler(b)
	if direct {
		h.HTTPClient.Transport = directTransport{prov.srv.Config.Handler}
	}
	ctx := context.Background()
	reqs := make([]events.APIGatewayV2HTTPRequest, b.N)
	for i := range reqs {
		resp, err := h.Authorize(ctx, apiRequest("/authorize", benchAuthorizeQuery))
		if err != nil || resp.StatusCode != http.StatusFound || len(resp.Cookies) != 1 {
			b.Fatalf("Authorize: %d, %v", resp.StatusCode, err)
		}
		c, err := http.ParseSetCookie(resp.Cookies[0])
		if err != nil {
			b.Fatal(err)
		}
		reqs[i] = apiRequest("/callback", prov.approve(b, resp.Headers["Location"]), c.Name+"="+c.Value)
	}
	tokenCalls := prov.tokenCalls.Load()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for i := range reqs {
		out, err := h.Callback(ctx, reqs[i])
		if err != nil || out.StatusCode != http.StatusFound {
			b.Fatalf("Callback: %d, %v; body %.200s", out.StatusCode, err, out.Body)
		}
		if err := store.DeleteConnection(ctx, "generic", prov.account); err != nil {
			b.Fatal(err)
		}
	}
	cpu := cpuTime(b) - cpu0
	b.StopTimer()
	if n := prov.tokenCalls.Load() - tokenCalls; n != int32(b.N) {
		b.Errorf("token calls: got %d, want one per callback (%d)", n, b.N)
	}
	if n := prov.revokeCalls.Load(); n != 0 {
		b.Errorf("revocation calls: got %d, want 0 (no connection replaced)", n)
	}
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
}

// directTransport serves a request with h in process, through an
// httptest.ResponseRecorder.
type directTransport struct{ h http.Handler }

func (d directTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	d.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}
