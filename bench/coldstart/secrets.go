package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/oauthfn/oauthfn/internal/awsenv"
	"github.com/oauthfn/oauthfn/internal/lambdatest"
	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// The Secrets Manager variants: authorize and callback as deployed, their
// client secret, token key and app key in Secrets Manager (moto) behind a
// recording proxy that counts the calls of each cold start and how many of
// them came one after another. The proxy holds every call for -sm-rtt
// before forwarding it: a round trip to Secrets Manager in AWS costs tens
// of milliseconds, moto's on this machine about one.

// smVariant is a function run with its secrets in Secrets Manager.
type smVariant struct {
	function
	base      string // the function it is (the same-run baseline; its binary unless bootstrap is set)
	bootstrap string // another build of it (-sm-compare), or ""
}

// compareVariants are vs built from the module at dir (another version of
// the project, e.g. `git archive REV | tar -x -C DIR`), named "<name>@<label>",
// into bin.
func compareVariants(ctx context.Context, vs []smVariant, dir, label, bin, goarch string) ([]smVariant, error) {
	var out []smVariant
	for _, v := range vs {
		c := v
		c.name = v.name + "@" + label
		c.bootstrap = filepath.Join(bin, c.name, "bootstrap")
		if err := lambdatest.Build(ctx, dir, v.pkg, goarch, c.bootstrap); err != nil {
			return nil, fmt.Errorf("-sm-compare: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// smVariants: authorize with a connect token (the default,
// REQUIRE_CONNECT_TOKEN=true: it needs the token key and the app key);
// callback with callback.json (the client secret and the token key before
// its state is found unknown; the app key too since it is prefetched).
func smVariants(root, appKey string) []smVariant {
	auth := known["authorize"]
	auth.name = "authorize+sm"
	auth.payload = func() ([]byte, error) { return connectEvent(root, appKey) }
	cb := known["callback"]
	cb.name = "callback+sm"
	return []smVariant{{auth, "authorize", ""}, {cb, "callback", ""}}
}

// connectEvent is events/authorize.json with its return_to and app_state in
// a fresh connect token (its jti is single use).
func connectEvent(root, appKey string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(root, "events", "authorize.json"))
	if err != nil {
		return nil, err
	}
	var ev map[string]any
	if err := json.Unmarshal(b, &ev); err != nil {
		return nil, err
	}
	q, err := url.ParseQuery(ev["rawQueryString"].(string))
	if err != nil {
		return nil, err
	}
	tok, err := connect.Keys{Current: appKey}.Token("bench-user", connect.Options{ReturnTo: q.Get("return_to"), AppState: q.Get("app_state")})
	if err != nil {
		return nil, err
	}
	ev["rawQueryString"] = "connect=" + tok
	ev["queryStringParameters"] = map[string]string{"connect": tok}
	return json.Marshal(ev)
}

// smSecrets creates the three secrets in moto and returns the variables
// that point a function at them through proxy.
func smSecrets(ctx context.Context, motoURL, proxyURL, appKey string) (map[string]string, error) {
	env := map[string]string{
		"AWS_ENDPOINT_URL": motoURL, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
		"AWS_REGION": "us-east-1",
	}
	cfg, err := awsenv.Load(func(k string) string { return env[k] }, secretsmanager.ServiceID)
	if err != nil {
		return nil, err
	}
	c := secretsmanager.NewFromConfig(cfg)
	create := func(name, value string) (string, error) {
		out, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: aws.String(fmt.Sprintf("oauthfn-coldstart-%s-%d", name, time.Now().UnixNano())), SecretString: aws.String(value)})
		if err != nil {
			return "", fmt.Errorf("create secret %s: %w", name, err)
		}
		return aws.ToString(out.ARN), nil
	}
	vars := map[string]string{
		"OAUTH_CLIENT_SECRET": "", "OAUTH_TOKEN_KEY": "", "OAUTH_APP_KEY": "",
		"REQUIRE_CONNECT_TOKEN":            "true",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": proxyURL,
	}
	for name, v := range map[string][2]string{
		"OAUTH_CLIENT_SECRET_ARN": {"client-secret", mockrc.DefaultClientSecret},
		"OAUTH_TOKEN_KEY_ARN":     {"token-key", "coldstart-token-key-0123456789abcdefghijkl"},
		"OAUTH_APP_KEY_ARN":       {"app-key", appKey},
	} {
		if vars[name], err = create(v[0], v[1]); err != nil {
			return nil, err
		}
	}
	return vars, nil
}

// smProxy forwards Secrets Manager calls to moto after rtt, recording each
// call's start and end.
type smProxy struct {
	rtt   time.Duration
	proxy *httputil.ReverseProxy

	mu    sync.Mutex
	calls []smSpan
}

type smSpan struct{ start, end time.Time }

func newSMProxy(motoURL string, rtt time.Duration) (*httptest.Server, *smProxy, error) {
	u, err := url.Parse(motoURL)
	if err != nil {
		return nil, nil, err
	}
	p := &smProxy{rtt: rtt, proxy: httputil.NewSingleHostReverseProxy(u)}
	return httptest.NewServer(p), p, nil
}

func (p *smProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	time.Sleep(p.rtt) // the modelled network round trip
	p.proxy.ServeHTTP(w, r)
	p.mu.Lock()
	p.calls = append(p.calls, smSpan{start, time.Now()})
	p.mu.Unlock()
}

// take returns the number of calls since the last take and the longest
// chain of them made one after another (each started after the one before
// it had its answer): the round trips a cold start waited on in sequence.
func (p *smProxy) take() (calls, serial int) {
	p.mu.Lock()
	spans := p.calls
	p.calls = nil
	p.mu.Unlock()
	slices.SortFunc(spans, func(a, b smSpan) int { return a.start.Compare(b.start) })
	depth := make([]int, len(spans))
	for i, s := range spans {
		depth[i] = 1
		for j := range i {
			if !spans[j].end.After(s.start) {
				depth[i] = max(depth[i], depth[j]+1)
			}
		}
		serial = max(serial, depth[i])
	}
	return len(spans), serial
}
