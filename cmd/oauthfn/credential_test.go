package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// countingReader records whether anything read it.
type countingReader struct {
	r    *strings.Reader
	read atomic.Bool
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.read.Store(true)
	return c.r.Read(p)
}

// TestCredentialArgumentRefused: a credential on the command line (an
// argument, a flag of ours or not, the subcommand's place) is refused with
// exit status 2 before any configuration is read, standard input is read,
// or anything is sent; it is never echoed.
func TestCredentialArgumentRefused(t *testing.T) {
	// Every connection to the provider (TLS) or to AWS counts, a failed
	// handshake included.
	var hits atomic.Int32
	count := func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			hits.Add(1)
		}
	}
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ConnState = count
	srv.StartTLS()
	defer srv.Close()
	aws := httptest.NewUnstartedServer(http.NotFoundHandler())
	aws.Config.ConnState = count
	aws.Start()
	defer aws.Close()
	for _, name := range oauth.Variables {
		t.Setenv(name, "")
	}
	t.Setenv("OAUTH_PROVIDER", "ringcentral")
	t.Setenv("OAUTH_SERVER_URL", srv.URL)
	t.Setenv("OAUTH_CLIENT_ID", "ops-client")
	t.Setenv("OAUTH_CLIENT_SECRET", "ops-secret")
	t.Setenv("OAUTH_TOKEN_KEY", strings.Repeat("k", oauth.MinTokenKeyLen))
	t.Setenv("OAUTH_APP_KEY", strings.Repeat("a", oauth.MinTokenKeyLen))
	t.Setenv("TABLE_NAME", "ops-table")
	testenv.AWSEnv(t, aws.URL)

	rc := mockrc.New(mockrc.Options{})
	jwt := rc.IssueJWT("1001", 0)
	sig := jwt[strings.LastIndex(jwt, ".")+1:]
	long := strings.Repeat("Z", 300)
	for _, args := range [][]string{
		{"credential", "add", jwt},
		{"credential", "add", "-end-user", "u1", jwt},
		{"credential", "add", "-end-user", jwt},
		{"credential", "add", "-end-user=" + jwt},
		{"credential", "add", "-jwt", jwt},
		{"credential", "add", "--credential=" + jwt},
		{"credential", "rotate", "-account", "1001", jwt},
		{"credential", "rotate", "-account", jwt},
		{"credential", jwt},
		{"credential", "add", long},
	} {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			in := &countingReader{r: strings.NewReader(jwt)}
			old := stdin
			stdin = in
			defer func() { stdin = old }()
			out := capture(t)
			var o, e bytes.Buffer
			code := run(context.Background(), args, &o, &e)
			all := o.String() + e.String() + out.String()
			if code != 2 {
				t.Errorf("exit status %d, want 2; stderr %q", code, e.String())
			}
			if strings.Contains(all, sig) || strings.Contains(all, long) {
				t.Errorf("the credential was echoed: %q", all)
			}
			if in.read.Load() {
				t.Error("standard input was read")
			}
			if o.Len() != 0 || out.Len() != 0 {
				t.Errorf("stdout %q, want nothing", o.String()+out.String())
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d connections reached AWS or the provider, want none", n)
	}
}

// TestCredentialCommand: `credential add` and `rotate` with the credential
// on standard input, against mockrc on a memory store: the connection is
// added and served, list shows its source, a revoked credential fails with
// the provider's error and its fix, and the credential is never printed.
func TestCredentialCommand(t *testing.T) {
	h, rc := connected(t) // 1001: a browser connection
	old := credentialHandler
	credentialHandler = func(context.Context) (*oauth.Handler, error) { return h, nil }
	defer func() { credentialHandler = old }()
	jwt := rc.IssueJWT("1002", 0)
	var printed bytes.Buffer
	cmd := func(input string, args ...string) (int, string) {
		t.Helper()
		oldIn := stdin
		stdin = strings.NewReader(input)
		defer func() { stdin = oldIn }()
		out := capture(t)
		var o, e bytes.Buffer
		code := run(context.Background(), append([]string{"credential"}, args...), &o, &e)
		printed.WriteString(o.String() + e.String() + out.String())
		return code, out.String() + e.String()
	}

	// The app's "JWT auth flow" is off: refused with the fix, nothing stored.
	if code, got := cmd(jwt+"\n", "add"); code != 1 || !strings.Contains(got, `"JWT auth flow"`) || !strings.Contains(got, "OAU-251") {
		t.Fatalf("add with the JWT flow off: %d %q", code, got)
	}
	if _, err := h.Connection(context.Background(), "1002"); err == nil {
		t.Fatal("a refused credential was stored")
	}
	rc.EnableJWT(true)
	if code, got := cmd("", "add"); code != 1 || !strings.Contains(got, "no credential on standard input") {
		t.Fatalf("add without input: %d %q", code, got)
	}
	if code, got := cmd(jwt+"\n", "add", "-end-user", "u1"); code != 0 || !strings.Contains(got, "added account 1002 (source jwt_bearer, end user u1): active") {
		t.Fatalf("add: %d %q", code, got)
	}
	out := capture(t)
	if err := runList(context.Background(), h, nil); err != nil {
		t.Fatal(err)
	}
	for account, source := range map[string]string{"1001": "browser", "1002": "jwt_bearer"} {
		if !strings.Contains(out.String(), account+"  ") || !containsLine(out.String(), account, source) {
			t.Errorf("list: no row %s with source %s:\n%s", account, source, out.String())
		}
	}
	printed.WriteString(out.String())
	out.Reset()
	if err := runToken(context.Background(), h, []string{"1002"}); err != nil || !strings.HasPrefix(out.String(), "mockrc_at_") {
		t.Fatalf("token: %v %q", err, out.String())
	}

	rc.RevokeJWT(jwt)
	if code, got := cmd(jwt, "rotate", "-account", "1002"); code != 1 || !strings.Contains(got, "OAU-211") || !strings.Contains(got, "credential rotate") {
		t.Fatalf("rotate with a revoked credential: %d %q", code, got)
	}
	jwt2 := rc.IssueJWT("1002", 0)
	if code, got := cmd(jwt2, "rotate", "-account", "1002"); code != 0 || !strings.Contains(got, "rotated the credential of account 1002: active") {
		t.Fatalf("rotate: %d %q", code, got)
	}
	if code, got := cmd(jwt2, "rotate", "-account", "1001"); code != 1 || !strings.Contains(got, "not made from a credential") {
		t.Fatalf("rotate of a browser connection: %d %q", code, got)
	}
	if code, got := cmd(jwt2, "rotate"); code != 2 || !strings.Contains(got, "-account is required") {
		t.Fatalf("rotate without -account: %d %q", code, got)
	}
	// client_credentials: -account required; nothing on standard input
	// (a secret there is refused, unsent, unechoed); the mock's app may not
	// use the grant: refused with the fix, nothing stored.
	calls := rc.Calls(mockrc.TokenPath)
	if code, got := cmd("", "add", "-source", "client_credentials"); code != 2 || !strings.Contains(got, "needs -account") {
		t.Fatalf("add client_credentials without -account: %d %q", code, got)
	}
	if code, got := cmd(jwt2, "add", "-source", "client_credentials", "-account", "bot"); code != 1 || !strings.Contains(got, "takes nothing on standard input") {
		t.Fatalf("add client_credentials with a credential on stdin: %d %q", code, got)
	}
	if code, got := cmd(jwt2, "add", "-account", "bot"); code != 1 || !strings.Contains(got, "-account is for client_credentials only") {
		t.Fatalf("add a JWT with -account: %d %q", code, got)
	}
	if n := rc.Calls(mockrc.TokenPath) - calls; n != 0 {
		t.Fatalf("%d token calls for refused commands, want none", n)
	}
	if code, got := cmd("", "add", "-source", "client_credentials", "-account", "bot"); code != 1 || !strings.Contains(got, "OAU-251") || !strings.Contains(got, "may not use the client_credentials grant") {
		t.Fatalf("add client_credentials, the grant not allowed: %d %q", code, got)
	}
	if _, err := h.Connection(context.Background(), "bot"); err == nil {
		t.Fatal("a refused client_credentials connection was stored")
	}
	for _, cred := range []string{jwt, jwt2} {
		if strings.Contains(printed.String(), cred[strings.LastIndex(cred, ".")+1:]) {
			t.Errorf("a credential was printed:\n%s", printed.String())
		}
	}
}

// containsLine reports whether a line of s starts with prefix and holds
// word.
func containsLine(s, prefix, word string) bool {
	for l := range strings.SplitSeq(s, "\n") {
		if strings.HasPrefix(l, prefix+" ") && strings.Contains(l, " "+word+" ") {
			return true
		}
	}
	return false
}

// TestCredentialAgainstDevServer: the whole path an operator takes, with the
// dev server on DynamoDB (moto) as the deployment: a JWT credential from the
// mock's "create JWT", the dev server's export lines, `oauthfn credential
// add < jwt` (a process of its own in real use: here run() with only that
// environment), then `oauthfn token` prints a token the provider accepts and
// `oauthfn list` shows the source.
func TestCredentialAgainstDevServer(t *testing.T) {
	testenv.Moto(t)
	env := map[string]string{"TABLE_NAME": testenv.Name(t, "oauthfn-dev-cred")}
	for _, name := range append(awsExported, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION") {
		env[name] = os.Getenv(name)
	}
	ds, _ := startDev(t, devOptions{Provider: providerMock, Store: storeDynamo, CreateTable: true, Now: fixedClock, Getenv: envMap(env)})
	resp, err := http.PostForm(ds.BaseURL+mockPrefix+mockrc.JWTPath, url.Values{"account": {"1003"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	jwt := strings.TrimSpace(string(b))
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(jwt, "eyJ") {
		t.Fatalf("create JWT at the mock: %d %q", resp.StatusCode, b)
	}

	exports := parseExports(t, ds.ExportLines())
	awsEnvWithFakeMetadata(t)
	for _, name := range append(oauth.Variables, append(awsExported, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION")...) {
		t.Setenv(name, exports[name])
	}
	oldIn := stdin
	stdin = strings.NewReader(jwt + "\n")
	defer func() { stdin = oldIn }()
	out := capture(t)
	var o, e bytes.Buffer
	if code := run(context.Background(), []string{"credential", "add", "-end-user", "ana"}, &o, &e); code != 0 {
		t.Fatalf("oauthfn credential add: exit %d: %s", code, e.String())
	}
	if !strings.Contains(out.String(), "added account 1003 (source jwt_bearer, end user ana): active") {
		t.Fatalf("oauthfn credential add printed %q", out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"token", "1003"}, &o, &e); code != 0 {
		t.Fatalf("oauthfn token: exit %d: %s", code, e.String())
	}
	req, _ := http.NewRequest(http.MethodGet, ds.BaseURL+mockPrefix+mockrc.ExtensionPath, nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(out.String()))
	api, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	api.Body.Close()
	if api.StatusCode != http.StatusOK {
		t.Fatalf("the token oauthfn token printed: the mock's API answers %d", api.StatusCode)
	}
	out.Reset()
	if code := run(context.Background(), []string{"list"}, &o, &e); code != 0 || !containsLine(out.String(), "1003", "jwt_bearer") {
		t.Fatalf("oauthfn list: exit %d: %q", code, out.String())
	}
	if strings.Contains(o.String()+e.String()+out.String(), jwt[strings.LastIndex(jwt, ".")+1:]) {
		t.Error("the credential was printed")
	}
	// The dev console names the source too.
	page, err := http.Get(ds.BaseURL + consolePath)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if !strings.Contains(string(body), `<td class="source">jwt_bearer</td>`) || strings.Contains(string(body), jwt) {
		t.Errorf("the dev console does not show the source jwt_bearer (or shows the credential)")
	}
}

// TestCredentialClientCredentialsCommand: `oauthfn credential add -source
// client_credentials -account bot` with nothing on standard input, against
// oidc-provider: the connection is added under the name given, `token`
// prints the granted token, `list` shows the source, `rotate` says it does
// not apply; the client secret is never printed.
func TestCredentialClientCredentialsCommand(t *testing.T) {
	o := testenv.StartOIDC(t, testenv.OIDCOptions{
		RedirectURIs: []string{"http://127.0.0.1/callback"}, ClientSecret: mockrc.DefaultClientSecret, ClientCredentials: true,
	})
	sealer, err := oauth.NewSealer("ops test token key, at least thirty-two characters")
	if err != nil {
		t.Fatal(err)
	}
	cfg := oauth.Config{
		Provider: oauth.Provider{Name: oauth.PresetGeneric, RevokeURL: o.RevokeURL,
			Endpoint: oauth2.Endpoint{AuthURL: o.AuthURL, TokenURL: o.TokenURL, AuthStyle: oauth2.AuthStyleInHeader}},
		ClientID: o.ClientID, RedirectURL: "http://127.0.0.1/callback", RefreshMode: oauth.ModeKeepalive,
		KeepaliveMargin: 48 * time.Hour, SweepConcurrency: 2,
	}
	var logs bytes.Buffer
	h := oauth.NewHandler(cfg, oauth.NewMemoryStore(), testSecrets{sealer})
	h.Log = slog.New(slog.NewTextHandler(&logs, nil))
	h.Metrics = io.Discard
	h.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	old := credentialHandler
	credentialHandler = func(context.Context) (*oauth.Handler, error) { return h, nil }
	defer func() { credentialHandler = old }()
	oldIn := stdin
	stdin = strings.NewReader("")
	defer func() { stdin = oldIn }()

	out := capture(t)
	var o2, e bytes.Buffer
	if code := run(context.Background(), []string{"credential", "add", "-source", "client_credentials", "-account", "bot"}, &o2, &e); code != 0 {
		t.Fatalf("credential add: exit %d: %s", code, e.String())
	}
	if !strings.Contains(out.String(), "added account bot (source client_credentials, end user -): active") {
		t.Fatalf("credential add printed %q", out.String())
	}
	printed := out.String() + e.String()
	out.Reset()
	if err := runToken(context.Background(), h, []string{"bot"}); err != nil || strings.TrimSpace(out.String()) == "" {
		t.Fatalf("token: %v %q", err, out.String())
	}
	out.Reset()
	if err := runList(context.Background(), h, nil); err != nil || !containsLine(out.String(), "bot", "client_credentials") {
		t.Fatalf("list: %v\n%s", err, out.String())
	}
	printed += out.String()
	e.Reset()
	stdin = strings.NewReader("new")
	if code := run(context.Background(), []string{"credential", "rotate", "-account", "bot"}, &o2, &e); code != 1 || !strings.Contains(e.String(), "no credential of its own") {
		t.Fatalf("rotate: exit %d: %s", code, e.String())
	}
	printed += e.String() + o2.String()
	if strings.Contains(printed+logs.String(), mockrc.DefaultClientSecret) {
		t.Fatal("the client secret was printed or logged")
	}
}
