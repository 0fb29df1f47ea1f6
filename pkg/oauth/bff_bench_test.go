package oauth

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/internal/mockrc"
)

// BenchmarkProxy: what the BFF's API proxy adds to an API call. Each
// iteration makes the same GET of the mock provider's extension endpoint
// twice: directly, with the access token (the baseline), and through
// proxyAPI (the allow-list and path checks, the stored token read and
// opened, the call, the answer copied into Lambda's response). Both run in
// the same loop, so the ratio x_direct is measured against a baseline of
// the same moment on a shared machine. The session check before the proxy
// (two reads) is in TestBFFDynamoCalls's counts, not here.
func BenchmarkProxy(b *testing.B) {
	r := newRCRig(b, NewMemoryStore(), mockrc.Options{})
	p := RingCentral(r.srv.URL)
	p.Name = r.h.Config.Provider.Name
	p.AccountField = "owner_id"
	r.h.Config.Provider = p
	r.connect(b, "1001")
	_, access, _ := r.get(b, "1001")
	ctx := context.Background()
	apiPath := mockrc.ExtensionPath[1:]
	req := apiEvent("GET", apiPath, "", map[string]string{"Accept": "application/json"}, nil, false)
	direct := func() {
		hr, err := http.NewRequestWithContext(ctx, "GET", r.srv.URL+mockrc.ExtensionPath, nil)
		if err != nil {
			b.Fatal(err)
		}
		hr.Header.Set("Accept", "application/json")
		hr.Header.Set("Authorization", "Bearer "+access)
		resp, err := r.h.HTTPClient.Do(hr)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("direct call: %d", resp.StatusCode)
		}
	}
	var tDirect, tProxied time.Duration
	for b.Loop() {
		start := time.Now()
		direct()
		mid := time.Now()
		if resp := r.h.proxyAPI(ctx, req, apiPath, "1001", nil); resp.StatusCode != http.StatusOK {
			b.Fatalf("proxied call: %d %s", resp.StatusCode, resp.Body)
		}
		tDirect += mid.Sub(start)
		tProxied += time.Since(mid)
	}
	n := float64(b.N)
	b.ReportMetric(float64(tDirect.Nanoseconds())/n, "direct-ns/call")
	b.ReportMetric(float64(tProxied.Nanoseconds())/n, "proxied-ns/call")
	b.ReportMetric(float64(tProxied)/float64(tDirect), "x_direct")
}
