package lambdatest_test

import (
	"bytes"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/oauthfn/oauthfn/internal/lambdatest"
	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

const (
	cookieName = "__Host-oauthfn"
	account    = "1001" // a mockrc demo account
)

// rig is what the subtests share: the stand-ins, the built functions'
// emulators, and every one-time value seen, for the log check.
type rig struct {
	root, rie, bin string
	table          string
	db             *dynamodb.Client
	rc             *mockrc.Server
	rcURL          string
	moto           string
	emulators      map[string]*lambdatest.Emulator // by function directory name
	secrets        []string                        // values no log line may hold
	appKey         string                          // env.json's OAUTH_APP_KEY, as the app's backend holds it
}

// endUser is the app's user the connect tokens are minted for.
const endUser = "app-user-7"

// TestFunctionsUnderEmulator builds the real bootstraps (make, Lambda build
// flags, this machine's architecture) and runs each under aws-lambda-rie with
// events/env.json's environment, pointed at moto_server and mockrc, then
// invokes them with the events/ files.
func TestFunctionsUnderEmulator(t *testing.T) {
	r := newRig(t)
	r.build(t, "authorize", "callback")
	r.start(t, "authorize", "AuthorizeFunction")
	// The callback reaches moto through the SDK's per-service variable while
	// AWS_ENDPOINT_URL points nowhere: the function's own client
	// construction (internal/awsenv) honours AWS_ENDPOINT_URL_DYNAMODB.
	r.emulators["callback"] = r.startWith(t, "callback", "CallbackFunction", map[string]string{
		"AWS_ENDPOINT_URL":          "http://127.0.0.1:" + closedPort(t),
		"AWS_ENDPOINT_URL_DYNAMODB": r.moto,
	})

	var connected bool
	t.Run("authorize", func(t *testing.T) {
		r.authorize(t)
	})
	t.Run("authorize without a good connect token", func(t *testing.T) {
		used := r.connectEvent(t)
		r.invokeHTTP(t, "authorize", used)
		for _, tt := range []struct {
			name, code string
			event      []byte
		}{
			{"authorize.json as it is (no token)", "connect_required", readFile(t, filepath.Join(r.root, "events", "authorize.json"))},
			{"a token signed with another key", "invalid_connect_token", fixture(t, r.root, "authorize.json", url.Values{"connect": {mintToken(t, strings.Repeat("x", 40))}}, "")},
			{"a used token", "invalid_connect_token", used},
		} {
			before := r.pendingCount(t)
			out := r.invokeHTTP(t, "authorize", tt.event)
			if out.StatusCode != http.StatusUnauthorized || !strings.Contains(out.Body, tt.code) || len(out.Cookies) != 0 || out.Headers["Location"] != "" {
				t.Errorf("%s: got %d with cookies %q, want 401 %s and nothing set; body %.200s", tt.name, out.StatusCode, out.Cookies, tt.code, out.Body)
			}
			if after := r.pendingCount(t); after != before {
				t.Errorf("%s: pending authorizations %d -> %d, want nothing stored", tt.name, before, after)
			}
		}
	})
	t.Run("callback after a real authorize", func(t *testing.T) {
		resp, state, cookie := r.authorize(t)
		loc := mustURL(t, resp.Headers["Location"])
		code, gotState := r.login(t, loc.String(), false)
		if gotState != state {
			t.Fatalf("mockrc redirect state: got %q, want the authorize state %q", gotState, state)
		}
		ev := fixture(t, r.root, "callback.json", url.Values{"code": {code}, "state": {state}}, cookie)
		out := r.invokeHTTP(t, "callback", ev)
		if out.StatusCode != http.StatusFound {
			t.Fatalf("callback: got status %d, want 302; body %s", out.StatusCode, out.Body)
		}
		back := mustURL(t, out.Headers["Location"])
		q := back.Query()
		if got := back.Scheme + "://" + back.Host + back.Path; got != "https://app.example.com/oauth/done" {
			t.Errorf("callback Location: got %q, want return_to https://app.example.com/oauth/done", got)
		}
		if len(q) != 1 || strings.Contains(back.RawQuery, account) {
			t.Errorf("callback Location %s: want only the signed result, no bare account id", back)
		}
		res, err := connect.VerifyResult(r.appKey, q.Get("result"))
		if err != nil || res.User != endUser || res.AccountID != account || res.AppState != "session-42" || res.Status != connect.StatusPending {
			t.Fatalf("callback result: got %+v, %v; want %s pending %s with session-42", res, err, endUser, account)
		}
		// The app's backend confirms: events/confirm.json with a real
		// confirm token, to the callback function.
		ans := r.invokeHTTP(t, "callback", r.confirmEvent(t, res.ID, endUser, connect.DecisionAccept))
		if ans.StatusCode != http.StatusOK || !strings.Contains(ans.Body, `"status":"connected"`) {
			t.Fatalf("confirm: got %d %s, want 200 connected", ans.StatusCode, ans.Body)
		}
		for _, k := range []string{"code", "state", "access_token", "refresh_token"} {
			if q.Has(k) {
				t.Errorf("callback Location carries %s: %s", k, back)
			}
		}
		if c := findCookie(t, out.Cookies); c == nil || c.MaxAge >= 0 {
			t.Errorf("callback cookies %q: want %s cleared (Max-Age=0)", out.Cookies, cookieName)
		}
		if got := r.rc.Calls(mockrc.TokenPath); got != 1 {
			t.Errorf("mockrc token calls: got %d, want 1 (one code exchange)", got)
		}
		item := r.connection(t)
		for k, want := range map[string]string{"status": "active", "account_id": account, "provider": "ringcentral", "end_user": endUser} {
			if got := attrString(item[k]); got != want {
				t.Errorf("stored connection %s: got %q, want %q", k, got, want)
			}
		}
		for _, k := range []string{"access_token", "refresh_token", "due_shard", "refresh_at"} {
			if _, ok := item[k]; !ok {
				t.Errorf("stored connection: no %s attribute; item %v", k, attrNames(item))
			}
		}
		checkSealed(t, item)
		connected = true

		// The same callback again: the pending authorization is spent.
		again := r.invokeHTTP(t, "callback", ev)
		if again.StatusCode != http.StatusBadRequest || !strings.Contains(again.Body, "invalid_state") {
			t.Errorf("replayed callback: got %d, want 400 invalid_state; body %.200s", again.StatusCode, again.Body)
		}
	})
	t.Run("a forwarded connect link", func(t *testing.T) {
		if !connected {
			t.Fatal("no connection stored: the callback subtest failed")
		}
		// The attacker's unopened link, finished in the victim's (endUser's)
		// browser with the victim's account; the app's user signed in there
		// is the victim, so the app confirms as the victim.
		before := r.connection(t)
		revokes := r.rc.Calls(mockrc.RevokePath)
		resp, _, cookie := r.authorizeAs(t, "attacker")
		code, state := r.login(t, resp.Headers["Location"], false)
		out := r.invokeHTTP(t, "callback", fixture(t, r.root, "callback.json", url.Values{"code": {code}, "state": {state}}, cookie))
		res, err := connect.VerifyResult(r.appKey, mustURL(t, out.Headers["Location"]).Query().Get("result"))
		if err != nil || res.User != "attacker" || res.Status != connect.StatusPending {
			t.Fatalf("callback result: %+v, %v; want pending for the attacker", res, err)
		}
		ans := r.invokeHTTP(t, "callback", r.confirmEvent(t, res.ID, endUser, connect.DecisionAccept))
		if ans.StatusCode != http.StatusConflict || !strings.Contains(ans.Body, `"error":"user_mismatch"`) {
			t.Fatalf("confirm as the signed-in victim: got %d %s, want 409 user_mismatch", ans.StatusCode, ans.Body)
		}
		if got := r.rc.Calls(mockrc.RevokePath) - revokes; got != 1 {
			t.Errorf("mockrc revocations: got %d, want 1 (the new session)", got)
		}
		after := r.connection(t)
		for _, k := range []string{"end_user", "access_token", "refresh_token", "version"} {
			if !reflect.DeepEqual(before[k], after[k]) {
				t.Errorf("the victim's connection changed its %s", k)
			}
		}
		again := r.invokeHTTP(t, "callback", r.confirmEvent(t, res.ID, "attacker", connect.DecisionAccept))
		if again.StatusCode != http.StatusNotFound {
			t.Errorf("a second confirm: got %d, want 404", again.StatusCode)
		}
	})
	t.Run("callback-error.json (unknown state)", func(t *testing.T) {
		calls := r.rc.Calls(mockrc.TokenPath)
		out := r.invokeHTTP(t, "callback", readFile(t, filepath.Join(r.root, "events", "callback-error.json")))
		if out.StatusCode != http.StatusBadRequest || !strings.Contains(out.Body, "invalid_state") {
			t.Errorf("got %d, want 400 invalid_state; body %.300s", out.StatusCode, out.Body)
		}
		if got := r.rc.Calls(mockrc.TokenPath); got != calls {
			t.Errorf("mockrc token calls: got %d, want %d (nothing sent)", got, calls)
		}
	})
	t.Run("callback-error.json (declined at mockrc)", func(t *testing.T) {
		resp, state, cookie := r.authorize(t)
		back := r.loginRedirect(t, resp.Headers["Location"], true)
		q := back.Query()
		if q.Get("error") != "access_denied" || q.Get("state") != state {
			t.Fatalf("mockrc cancel redirect: got %s, want error=access_denied and the state", back)
		}
		ev := fixture(t, r.root, "callback-error.json", q, cookie)
		out := r.invokeHTTP(t, "callback", ev)
		if out.StatusCode != http.StatusBadRequest || !strings.Contains(out.Body, "access_denied") || !strings.Contains(out.Body, "You declined") {
			t.Errorf("got %d, want 400 with the declined page; body %.300s", out.StatusCode, out.Body)
		}
	})
	t.Run("refresh", func(t *testing.T) {
		if !connected {
			t.Fatal("no connection stored: the callback subtest failed")
		}
		if _, err := os.Stat(filepath.Join(r.root, "functions", "refresh", "main.go")); err != nil {
			t.Fatalf("functions/refresh is missing (%v): the refresh sweep (lambda.Start(h.Sweep)) must be merged; this test does not skip it", err)
		}
		r.build(t, "refresh")
		r.start(t, "refresh", "RefreshFunction")
		before := r.connection(t)
		calls := r.rc.Calls(mockrc.TokenPath)
		out, err := r.emulators["refresh"].Invoke(testenv.Context(t), readFile(t, filepath.Join(r.root, "events", "refresh.json")))
		if err != nil {
			t.Fatalf("invoke refresh: %v", err)
		}
		var summary map[string]json.Number
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		if err := dec.Decode(&summary); err != nil {
			t.Fatalf("refresh answer %s: %v; want the JSON summary", out, err)
		}
		want := map[string]string{"due": "1", "refreshed": "1", "failed": "0", "reauth_required": "0", "rate_limited": "0", "skipped_leased": "0"}
		for k, v := range want {
			if got := summary[k].String(); got != v {
				t.Errorf("summary %s: got %q, want %s (summary %s)", k, got, v, out)
			}
		}
		if ms, err := summary["duration_ms"].Int64(); err != nil || ms < 0 {
			t.Errorf("summary duration_ms: got %q, want a count of milliseconds (summary %s)", summary["duration_ms"], out)
		}
		if got := r.rc.Calls(mockrc.TokenPath); got != calls+1 {
			t.Errorf("mockrc token calls: got %d, want %d (one refresh)", got, calls+1)
		}
		after := r.connection(t)
		if attrString(after["version"]) == attrString(before["version"]) {
			t.Errorf("connection version: got %s before and after, want it bumped by the refresh", attrString(after["version"]))
		}
		if attrString(after["access_token"]) == attrString(before["access_token"]) {
			t.Error("sealed access token unchanged after the refresh")
		}
		checkSealed(t, after)
	})
	t.Run("a wrong endpoint fails at start, naming the variable", func(t *testing.T) {
		e := r.startWith(t, "authorize", "AuthorizeFunction", map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "localhost:8000"})
		_, err := e.Invoke(testenv.Context(t), readFile(t, filepath.Join(r.root, "events", "authorize.json")))
		if err == nil {
			t.Fatal("invoke: no error, want the function to fail at init")
		}
		// The function wrote its line (straight to the emulator's output
		// file, Start) before it exited, and the emulator answers the failed
		// init only after that exit: reading once is exact.
		var line string
		for _, l := range lambdatest.LogLines(e.Stdout() + e.Stderr()) {
			if strings.Contains(l, "cannot start") {
				line = l
			}
		}
		if !strings.Contains(line, "AWS_ENDPOINT_URL_DYNAMODB") || !strings.Contains(line, "localhost:8000\\\" is not an endpoint") {
			t.Errorf("start-up error line %q: want one naming AWS_ENDPOINT_URL_DYNAMODB and its value as not an endpoint (invoke error: %v)", line, err)
		}
	})
	t.Run("logs", r.checkLogs)
}

// checkLogs: every emulator's output is JSON log records (or EMF), and none
// holds a token, code, state, cookie or secret the run handled.
func (r *rig) checkLogs(t *testing.T) {
	for fn, e := range r.emulators {
		lines := lambdatest.LogLines(e.Stdout())
		if len(lines) == 0 {
			t.Errorf("%s: no log lines; want JSON lines at LOG_LEVEL=debug", fn)
		}
		for _, l := range lines {
			var rec map[string]any
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Errorf("%s: log line is not JSON: %q", fn, l)
				continue
			}
			// A log record, or a CloudWatch Embedded Metric Format document.
			_, emf := rec["_aws"]
			if !emf && (rec["level"] == nil || rec["message"] == nil) {
				t.Errorf("%s: log line is neither a record with level and message nor EMF: %q", fn, l)
			}
		}
		out := e.Stdout()
		for _, s := range append([]string{"mockrc_at_", "mockrc_rt_", "mockrc_code_"}, r.secrets...) {
			if s != "" && strings.Contains(out, s) {
				t.Errorf("%s: logs hold a token, code, state, cookie or secret (%.12s…)", fn, s)
			}
		}
	}
}

// TestFunctionDeps: no function links what a Lambda binary must not carry:
// net/rpc (under -tags lambda.norpc), the SDK's config package and its
// credential chain (internal/awsenv builds the clients), the DynamoDB
// expression builder or reflective attribute marshalling (the store writes
// its requests by hand). Every directory under functions/ is checked, so a
// new function is covered as soon as it exists. The events function needs
// only the stream types and the EventBridge client: it must not link
// pkg/oauth itself, whose imports bring the DynamoDB and Secrets Manager
// clients and their package init. The controls show the check can tell:
// without the tag net/rpc is linked, cmd/oauthfn links config, and an
// oauth.Handler function links pkg/oauth and both clients.
func TestFunctionDeps(t *testing.T) {
	forbidden := []string{
		"net/rpc",
		"github.com/aws/aws-sdk-go-v2/config",
		"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression",
		"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue",
		"github.com/aws/aws-sdk-go-v2/service/sts",
		"github.com/aws/aws-sdk-go-v2/service/sso",
	}
	oauthClients := []string{
		"github.com/oauthfn/oauthfn/pkg/oauth",
		"github.com/aws/aws-sdk-go-v2/service/dynamodb",
		"github.com/aws/aws-sdk-go-v2/service/secretsmanager",
	}
	root := testenv.RepoRoot()
	dirs, err := filepath.Glob(filepath.Join(root, "functions", "*", "main.go"))
	if err != nil || len(dirs) < 3 {
		t.Fatalf("functions/*/main.go: got %d (%v), want at least authorize, callback and refresh", len(dirs), err)
	}
	var pkgs []string
	for _, d := range dirs {
		pkgs = append(pkgs, "./"+filepath.ToSlash(mustRel(t, root, filepath.Dir(d))))
	}
	tests := []struct {
		name  string
		args  []string
		pkgs  []string
		check []string        // packages checked
		want  map[string]bool // package -> linked
	}{
		{"functions with lambda.norpc", []string{"-tags", "lambda.norpc"}, pkgs, forbidden, nil},
		{"the events function: no pkg/oauth", []string{"-tags", "lambda.norpc"}, []string{"./functions/events"}, oauthClients, nil},
		{"control: without the tag", nil, pkgs[:1], forbidden, map[string]bool{"net/rpc": true}},
		{"control: the command-line tool", []string{"-tags", "lambda.norpc"}, []string{"./cmd/oauthfn"}, forbidden, map[string]bool{
			"github.com/aws/aws-sdk-go-v2/config":      true,
			"github.com/aws/aws-sdk-go-v2/service/sts": true,
			"github.com/aws/aws-sdk-go-v2/service/sso": true,
		}},
		{"control: an oauth.Handler function", []string{"-tags", "lambda.norpc"}, []string{"./functions/callback"}, oauthClients, map[string]bool{
			"github.com/oauthfn/oauthfn/pkg/oauth":                true,
			"github.com/aws/aws-sdk-go-v2/service/dynamodb":       true,
			"github.com/aws/aws-sdk-go-v2/service/secretsmanager": true,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"list"}, tt.args...), "-f", `{{.ImportPath}} {{join .Deps " "}}`)
			cmd := exec.Command("go", append(args, tt.pkgs...)...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go %s: %v", strings.Join(cmd.Args[1:], " "), err)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != len(tt.pkgs) {
				t.Fatalf("go list: got %d packages, want %d: %s", len(lines), len(tt.pkgs), out)
			}
			for _, l := range lines {
				fields := strings.Fields(l)
				deps := map[string]bool{}
				for _, d := range fields[1:] {
					deps[d] = true
				}
				for _, f := range tt.check {
					if deps[f] != tt.want[f] {
						t.Errorf("%s %v: links %s = %v, want %v", fields[0], tt.args, f, deps[f], tt.want[f])
					}
				}
			}
		})
	}
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	p, err := testenv.PickPort()
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(p)
}

// TestNoInitWork: the project's own packages do nothing at start-up (no
// compiled patterns, no hashes, no maps built at init): every function binary
// run with GODEBUG=inittrace=1 reports no init of a github.com/oauthfn
// package. (The Go runtime prints a line for each package with init work;
// the count of allocations is deterministic, no clock is compared.) The
// binary starts with an empty environment, so main fails at once after the
// package inits ran.
func TestNoInitWork(t *testing.T) {
	root := testenv.RepoRoot()
	bin := t.TempDir()
	build := exec.Command("go", append(append([]string{"build", "-o", bin + "/"}, lambdatest.GoBuildFlags...), "./functions/...")...)
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./functions/...: %v\n%s", err, out)
	}
	fns, err := os.ReadDir(bin)
	if err != nil || len(fns) < 3 {
		t.Fatalf("built functions: got %d (%v), want at least 3", len(fns), err)
	}
	for _, fn := range fns {
		t.Run(fn.Name(), func(t *testing.T) {
			cmd := exec.Command(filepath.Join(bin, fn.Name()))
			cmd.Env = []string{"GODEBUG=inittrace=1"}
			out, _ := cmd.CombinedOutput() // exits 1: no configuration
			var inits int
			for _, l := range strings.Split(string(out), "\n") {
				if !strings.HasPrefix(l, "init ") {
					continue
				}
				inits++
				if strings.HasPrefix(l, "init github.com/oauthfn/") {
					t.Errorf("package-level work at start-up: %s", l)
				}
			}
			if inits == 0 {
				t.Fatalf("no inittrace lines in the output, so the check cannot tell:\n%s", out)
			}
		})
	}
}

func mustRel(t *testing.T, base, path string) string {
	t.Helper()
	rel, err := filepath.Rel(base, path)
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{root: testenv.RepoRoot(), emulators: map[string]*lambdatest.Emulator{}}
	var err error
	if r.rie, err = lambdatest.FindRIE(r.root); err != nil {
		t.Fatal(err)
	}
	r.bin = t.TempDir()
	r.moto = testenv.Moto(t)
	ctx := testenv.Context(t)
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r.db = dynamodb.NewFromConfig(cfg)
	r.table = testenv.Name(t, "oauthfn-lambdatest")
	if err := oauth.CreateTable(ctx, r.db, r.table); err != nil {
		t.Fatal(err)
	}
	r.rc = mockrc.New(mockrc.Options{})
	srv := httptest.NewServer(r.rc)
	t.Cleanup(srv.Close)
	r.rcURL = srv.URL
	return r
}

// build runs the Makefile's bootstrap targets for fns into r.bin.
func (r *rig) build(t *testing.T, fns ...string) {
	t.Helper()
	args := []string{"-s", "-j2", "GOARCH=" + runtime.GOARCH, "BUILD_DIR=" + r.bin}
	for _, fn := range fns {
		args = append(args, filepath.Join(r.bin, fn, "bootstrap"))
	}
	cmd := exec.Command("make", args...)
	cmd.Dir = r.root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// start runs fn's bootstrap under the emulator with the environment SAM
// would give it: env.json's Parameters and the function's own section, the
// template's LoggingConfig (JSON at LOG_LEVEL) and Timeout, pointed at moto
// and mockrc. REFRESH_MODE=eager with a 2 h window (the mock's access
// tokens live 1 h) makes a fresh connection due at once.
func (r *rig) start(t *testing.T, fn, logicalID string) {
	t.Helper()
	r.emulators[fn] = r.startWith(t, fn, logicalID, nil)
}

// startAs is start under another name (several emulators of one function),
// with extra variables as startWith takes them.
func (r *rig) startAs(t *testing.T, name, fn, logicalID string, extra map[string]string) {
	t.Helper()
	r.emulators[name] = r.startWith(t, fn, logicalID, extra)
}

// startWith starts fn as start does, with extra variables on top (an empty
// value unsets one), and does not register it in r.emulators.
func (r *rig) startWith(t *testing.T, fn, logicalID string, extra map[string]string) *lambdatest.Emulator {
	t.Helper()
	e, err := lambdatest.Start(r.rie, filepath.Join(r.bin, fn, "bootstrap"), lambdatest.Environ(r.env(t, fn, logicalID, extra)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Stop()
		if t.Failed() {
			errLog := e.Stderr()
			if len(errLog) > 4000 {
				errLog = "…" + errLog[len(errLog)-4000:]
			}
			t.Logf("%s emulator stdout:\n%s\nemulator log:\n%s", fn, e.Stdout(), errLog)
		}
	})
	return e
}

// env is the environment startWith gives fn.
func (r *rig) env(t *testing.T, fn, logicalID string, extra map[string]string) map[string]string {
	t.Helper()
	env, err := lambdatest.EnvFile(filepath.Join(r.root, "events", "env.json"), logicalID)
	if err != nil {
		t.Fatal(err)
	}
	r.secrets = append(r.secrets, env["OAUTH_TOKEN_KEY"], env["OAUTH_APP_KEY"], mockrc.DefaultClientSecret)
	r.appKey = env["OAUTH_APP_KEY"]
	timeout := map[string]string{"refresh": "300", "callback": "28", "events": "60", "token": "40", "bff": "28"}[fn]
	if timeout == "" {
		timeout = "15"
	}
	for k, v := range map[string]string{
		"OAUTH_SERVER_URL":                r.rcURL,
		"OAUTH_CLIENT_ID":                 mockrc.DefaultClientID,
		"OAUTH_CLIENT_SECRET":             mockrc.DefaultClientSecret,
		"TABLE_NAME":                      r.table,
		"REFRESH_MODE":                    "eager",
		"REFRESH_WINDOW":                  "2h",
		"REQUIRE_CONNECT_TOKEN":           "true", // the default (env.json relaxes it for sam local)
		"AWS_ENDPOINT_URL":                r.moto,
		"AWS_ACCESS_KEY_ID":               "testing",
		"AWS_SECRET_ACCESS_KEY":           "testing",
		"AWS_REGION":                      "us-east-1",
		"AWS_EC2_METADATA_DISABLED":       "true",
		"AWS_LAMBDA_LOG_FORMAT":           "JSON",
		"AWS_LAMBDA_LOG_LEVEL":            strings.ToUpper(env["LOG_LEVEL"]),
		"AWS_LAMBDA_FUNCTION_NAME":        logicalID,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     timeout,
		"PATH":                            os.Getenv("PATH"),
		"HOME":                            t.TempDir(), // no ~/.aws of the machine
	} {
		env[k] = v
	}
	for k, v := range extra {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	return env
}

// invokeHTTP invokes fn with an API Gateway v2 event and decodes its answer.
func (r *rig) invokeHTTP(t *testing.T, fn string, event []byte) events.APIGatewayV2HTTPResponse {
	t.Helper()
	out, err := r.emulators[fn].Invoke(testenv.Context(t), event)
	if err != nil {
		t.Fatalf("invoke %s: %v", fn, err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("%s answer %s: %v", fn, out, err)
	}
	return resp
}

// mintToken is a connect token for endUser, as the app's backend makes it
// (return_to and app_state of events/authorize.json).
func mintToken(t *testing.T, key string) string {
	t.Helper()
	tok, err := connect.Token(key, endUser, connect.Options{ReturnTo: "https://app.example.com/oauth/done", AppState: "session-42"})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// connectEvent is events/authorize.json with a fresh connect token as its
// only query parameter.
func (r *rig) connectEvent(t *testing.T) []byte {
	t.Helper()
	return fixture(t, r.root, "authorize.json", url.Values{"connect": {mintToken(t, r.appKey)}}, "")
}

// confirmEvent is events/confirm.json carrying a real confirm token: the
// app's POST /confirm for the result id, as user, with decision.
func (r *rig) confirmEvent(t *testing.T, id, user, decision string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(readFile(t, filepath.Join(r.root, "events", "confirm.json")), &ev); err != nil {
		t.Fatal(err)
	}
	tok, err := connect.Keys{Current: r.appKey}.ConfirmToken(id, user, decision)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"confirm": tok})
	ev["body"] = string(body)
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pendingCount counts the pending authorizations in the table.
func (r *rig) pendingCount(t *testing.T) int32 {
	t.Helper()
	out, err := r.db.Scan(testenv.Context(t), &dynamodb.ScanInput{
		TableName:                 aws.String(r.table),
		FilterExpression:          aws.String("begins_with(pk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "state#"}},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return out.Count
}

// authorize invokes authorize with events/authorize.json carrying a fresh
// connect token, checks the redirect and the binding cookie, and returns
// them with the state.
func (r *rig) authorize(t *testing.T) (resp events.APIGatewayV2HTTPResponse, state, cookie string) {
	t.Helper()
	return r.authorizeAs(t, endUser)
}

// authorizeAs is authorize with a connect token minted for user.
func (r *rig) authorizeAs(t *testing.T, user string) (resp events.APIGatewayV2HTTPResponse, state, cookie string) {
	t.Helper()
	tok, err := connect.Token(r.appKey, user, connect.Options{ReturnTo: "https://app.example.com/oauth/done", AppState: "session-42"})
	if err != nil {
		t.Fatal(err)
	}
	resp = r.invokeHTTP(t, "authorize", fixture(t, r.root, "authorize.json", url.Values{"connect": {tok}}, ""))
	state, cookie = r.checkToProvider(t, "authorize", resp)
	return resp, state, cookie
}

// checkToProvider checks a start of the flow (/authorize, the BFF's login):
// a 302 to mockrc's authorize endpoint with the code flow's parameters and
// env.json's redirect URI (the one registered URI), no-store, and the
// binding cookie (HttpOnly, Secure, SameSite=Lax, Path=/, Max-Age=600). It
// returns the state and the cookie as name=value, both kept out of the logs.
func (r *rig) checkToProvider(t *testing.T, what string, resp events.APIGatewayV2HTTPResponse) (state, cookie string) {
	t.Helper()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("%s: got status %d, want 302; body %.300s", what, resp.StatusCode, resp.Body)
	}
	loc := mustURL(t, resp.Headers["Location"])
	if got, want := loc.Scheme+"://"+loc.Host+loc.Path, r.rcURL+mockrc.AuthorizePath; got != want {
		t.Errorf("%s Location: got %s, want %s", what, got, want)
	}
	q := loc.Query()
	for k, want := range map[string]string{
		"response_type":         "code",
		"client_id":             mockrc.DefaultClientID,
		"redirect_uri":          "http://127.0.0.1:3000/callback", // env.json's OAUTH_REDIRECT_URL
		"code_challenge_method": "S256",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("%s Location %s: got %q, want %q", what, k, got, want)
		}
	}
	state = q.Get("state")
	if state == "" || q.Get("code_challenge") == "" {
		t.Errorf("%s Location %s: want state and code_challenge", what, loc)
	}
	if got := resp.Headers["Cache-Control"]; got != "no-store" {
		t.Errorf("%s Cache-Control: got %q, want no-store", what, got)
	}
	c := findCookie(t, resp.Cookies)
	if c == nil {
		t.Fatalf("%s cookies %q: want %s", what, resp.Cookies, cookieName)
	}
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge != 600 {
		t.Errorf("%s cookie %q: want HttpOnly, Secure, SameSite=Lax, Path=/, Max-Age=600", what, c.String())
	}
	r.secrets = append(r.secrets, state, c.Value)
	return state, c.Name + "=" + c.Value
}

// login drives mockrc's login page for authURL: GET the page, post its form
// choosing the demo account (or Cancel), and returns the code and state of
// the redirect back.
func (r *rig) login(t *testing.T, authURL string, cancel bool) (code, state string) {
	t.Helper()
	q := r.loginRedirect(t, authURL, cancel).Query()
	code, state = q.Get("code"), q.Get("state")
	if code == "" {
		t.Fatalf("mockrc redirect: no code in %v", q)
	}
	r.secrets = append(r.secrets, code)
	return code, state
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

func (r *rig) loginRedirect(t *testing.T, authURL string, cancel bool) *url.URL {
	t.Helper()
	return r.loginRedirectAs(t, authURL, account, cancel)
}

// loginRedirectAs is loginRedirect choosing the demo account acct.
func (r *rig) loginRedirectAs(t *testing.T, authURL, acct string, cancel bool) *url.URL {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("mockrc login page: got %d, want 200; %s", resp.StatusCode, page)
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(page), -1) {
		form.Add(m[1], html.UnescapeString(m[2]))
	}
	if cancel {
		form.Set("cancel", "1")
	} else {
		form.Set("account", acct)
	}
	decide := mustURL(t, authURL).ResolveReference(&url.URL{Path: "authorize/decide"})
	resp, err = client.PostForm(decide.String(), form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("mockrc decide: got %d, want 303", resp.StatusCode)
	}
	return mustURL(t, resp.Header.Get("Location"))
}

// connection reads the stored connection of the demo account.
func (r *rig) connection(t *testing.T) map[string]types.AttributeValue {
	t.Helper()
	out, err := r.db.GetItem(testenv.Context(t), &dynamodb.GetItemInput{
		TableName: aws.String(r.table),
		Key: map[string]types.AttributeValue{
			oauth.AttrPK: &types.AttributeValueMemberS{Value: oauth.ConnectionKey("ringcentral", account)},
			oauth.AttrSK: &types.AttributeValueMemberS{Value: "token"},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	if out.Item == nil {
		t.Fatalf("no connection stored for account %s", account)
	}
	return out.Item
}

// checkSealed: no attribute holds a mockrc token in plaintext.
func checkSealed(t *testing.T, item map[string]types.AttributeValue) {
	t.Helper()
	for k, v := range item {
		s := attrString(v)
		for _, p := range []string{"mockrc_at_", "mockrc_rt_", "mockrc_code_"} {
			if strings.Contains(s, p) {
				t.Errorf("stored connection %s holds a plaintext token (%s…)", k, p)
			}
		}
	}
}

func attrString(v types.AttributeValue) string {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return v.Value
	case *types.AttributeValueMemberB:
		return string(v.Value)
	}
	return ""
}

func attrNames(item map[string]types.AttributeValue) []string {
	var names []string
	for k := range item {
		names = append(names, k)
	}
	return names
}

// fixture is a copy of events/<name> with the query and the binding cookie
// replaced (rawQueryString, queryStringParameters, cookies).
func fixture(t *testing.T, root, name string, query url.Values, cookie string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(readFile(t, filepath.Join(root, "events", name)), &ev); err != nil {
		t.Fatal(err)
	}
	params := map[string]string{}
	for k := range query {
		params[k] = query.Get(k)
	}
	ev["rawQueryString"] = query.Encode()
	ev["queryStringParameters"] = params
	ev["cookies"] = []string{cookie}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// findCookie is the binding cookie among Set-Cookie values, or nil.
func findCookie(t *testing.T, cookies []string) *http.Cookie {
	t.Helper()
	return findNamedCookie(t, cookies, cookieName)
}

// findNamedCookie is the cookie name among Set-Cookie values, or nil.
func findNamedCookie(t *testing.T, cookies []string, name string) *http.Cookie {
	t.Helper()
	for _, s := range cookies {
		c, err := http.ParseSetCookie(s)
		if err != nil {
			t.Errorf("Set-Cookie %q: %v", s, err)
			continue
		}
		if c.Name == name {
			return c
		}
	}
	return nil
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil || s == "" {
		t.Fatalf("URL %q: %v", s, err)
	}
	return u
}
