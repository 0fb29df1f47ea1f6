package oauth

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/oauthfn/oauthfn/pkg/oauth/apigw"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect/connecttest"
)

// exampleApps are docs/connect-an-app.md's Python and Node snippets, the
// files under examples/, each run with the command line its file describes. A missing
// interpreter or library fails the test: scripts/test.sh installs them.
var exampleApps = []struct {
	name string
	cmd  func(t *testing.T, args ...string) *exec.Cmd
}{
	{"python (PyJWT)", func(t *testing.T, args ...string) *exec.Cmd {
		// Debian's python3 with python3-jwt (PyPI is not needed).
		return exec.Command("/usr/bin/python3", append([]string{exampleFile(t, "python/connect.py")}, args...)...)
	}},
	{"node (jose)", func(t *testing.T, args ...string) *exec.Cmd {
		if _, err := os.Stat(exampleFile(t, "node/node_modules/jose/package.json")); err != nil {
			t.Fatalf("jose is not installed in examples/node (run `make test`, which runs npm ci there): %v", err)
		}
		return exec.Command("node", append([]string{exampleFile(t, "node/connect.mjs")}, args...)...)
	}},
}

func exampleFile(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runExample runs an example app's command with the app key in its
// environment and returns its output, or the error with its stderr.
func runExample(t *testing.T, cmd *exec.Cmd) (string, error) {
	t.Helper()
	cmd.Env = append(os.Environ(), "OAUTH_APP_KEY="+testAppKey)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", &exampleError{err: err, stderr: stderr.String()}
	}
	return strings.TrimSpace(string(out)), nil
}

type exampleError struct {
	err    error
	stderr string
}

func (e *exampleError) Error() string { return e.err.Error() + ": " + e.stderr }

// Each example is an app's backend against a real Handler (memory store,
// the fake provider, confirmation required), /confirm served over HTTP
// through the API Gateway adapter as the callback function serves it. The
// example mints the connect URL the Go /authorize accepts, verifies the
// pending result the Go /callback sends back, and confirms it for the user
// signed in to it: the account is attached. A forwarded link (made by
// another user, finished in this user's browser with this user's account)
// is answered 409 user_mismatch: nothing attached, the new session revoked,
// the earlier connection of that account unmoved. A rejected result leaves
// no connection. An edited, forged, expired, over-long-lived, jti-less,
// future or other provider's result is refused by the example itself.
//
// The wall clock is the handler's clock here, as it is the scripts': a
// clock fixed at the test's start would fall behind the iat the script
// mints with (by the interpreter's start-up, many seconds on a loaded
// machine) and refuse a good token.
func TestExampleApps(t *testing.T) {
	for _, app := range exampleApps {
		t.Run(app.name, func(t *testing.T) {
			r := newRig(t, memoryStore, "REQUIRE_CONFIRM", "true")
			r.manualConfirm = true // the example confirms
			r.h.Now = time.Now
			r.user = "" // minted by the example, not the rig
			mux := http.NewServeMux()
			mux.Handle("POST /confirm", apigw.Handler(r.h.CallbackRoutes))
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			confirmURL := srv.URL + "/confirm"
			ctx := t.Context()

			// flow: the example mints a link for user; whoever opens it
			// signs in at the provider as account; the result comes back.
			flow := func(t *testing.T, user, account, appState string) string {
				t.Helper()
				authorizeURL := "https://abc123.execute-api.us-east-1.amazonaws.com/authorize"
				out, err := runExample(t, app.cmd(t, "url", authorizeURL, user, "https://app.example/done?tab=1", appState))
				if err != nil {
					t.Fatalf("mint: %v", err)
				}
				link, err := url.Parse(out)
				if err != nil || link.Scheme+"://"+link.Host+link.Path != authorizeURL || len(link.Query()) != 1 {
					t.Fatalf("example printed %q, want %s?connect=…", out, authorizeURL)
				}
				resp, cookie := r.startRaw(t, link.RawQuery)
				if resp.StatusCode != 302 {
					t.Fatalf("Go /authorize refused the example's token: %d %s\n%s", resp.StatusCode, resp.Body, r.logs)
				}
				r.prov.account = account
				cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie)
				back, _ := url.Parse(cb.Headers["Location"])
				result := back.Query().Get("result")
				if cb.StatusCode != 302 || result == "" {
					t.Fatalf("callback = %d to %s, want a redirect with a result", cb.StatusCode, back)
				}
				return result
			}
			answer := func(t *testing.T, out string) map[string]any {
				t.Helper()
				var m map[string]any
				if err := json.Unmarshal([]byte(out), &m); err != nil {
					t.Fatalf("example printed %q: %v", out, err)
				}
				return m
			}
			// mark is how many tokens the provider issued and revoked so far.
			type mark struct{ issued, revoked int }
			now := func() mark {
				r.prov.mu.Lock()
				defer r.prov.mu.Unlock()
				return mark{len(r.prov.issued), len(r.prov.revoked)}
			}
			// revokedSince counts the revocations since m of tokens issued
			// since m, and of others.
			revokedSince := func(m mark) (mine, others int) {
				r.prov.mu.Lock()
				defer r.prov.mu.Unlock()
				for _, tok := range r.prov.revoked[m.revoked:] {
					if slices.Contains(r.prov.issued[m.issued:], tok) {
						mine++
					} else {
						others++
					}
				}
				return mine, others
			}

			// Accept: verify (with the app_state nonce this browser's
			// session kept), compare, confirm for the signed-in user.
			result := flow(t, "app-user-42", "1001", "from the example")
			out, err := runExample(t, app.cmd(t, "verify", result, "generic", "from the example"))
			if err != nil {
				t.Fatalf("the example refused the Go result: %v", err)
			}
			if claims := answer(t, out); claims["sub"] != "app-user-42" || claims["account_id"] != "1001" || claims["app_state"] != "from the example" ||
				claims["status"] != "pending" || claims["provider"] != "generic" || claims["jti"] == "" {
				t.Errorf("the example read %v", claims)
			}
			if _, err := r.store.GetConnection(ctx, "generic", "1001"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("a connection was stored before the app confirmed: %v", err)
			}
			out, err = runExample(t, app.cmd(t, "confirm", confirmURL, result, "generic", "app-user-42"))
			if err != nil {
				t.Fatalf("confirm: %v", err)
			}
			if got := answer(t, out); !maps.Equal(got, map[string]any{"status": "connected", "provider": "generic", "account_id": "1001", "end_user": "app-user-42"}) {
				t.Errorf("confirm answered %v", got)
			}
			first, err := r.store.GetConnection(ctx, "generic", "1001")
			if err != nil || first.EndUser != "app-user-42" || first.Status != StatusActive {
				t.Fatalf("after confirm: connection %+v, %v; want 1001 active for app-user-42", first, err)
			}
			if r.prov.revokeCalls.Load() != 0 {
				t.Errorf("an accepted first connection revoked %d sessions", r.prov.revokeCalls.Load())
			}
			// The same result again: decided already.
			if out, err := runExample(t, app.cmd(t, "confirm", confirmURL, result, "generic", "app-user-42")); err == nil || !strings.Contains(err.Error(), "404 not_found") {
				t.Errorf("a second confirm = %q, %v; want 404 not_found", out, err)
			}

			// A forwarded link: app-user-7 made it, app-user-42 opened it
			// and signed in at the provider as their own 1001; the app,
			// where app-user-42 is signed in, confirms for app-user-42.
			before := now()
			result = flow(t, "app-user-7", "1001", "")
			if out, err := runExample(t, app.cmd(t, "confirm", confirmURL, result, "generic", "app-user-42")); err == nil || !strings.Contains(err.Error(), "409 user_mismatch") {
				t.Fatalf("confirm of a forwarded link = %q, %v; want 409 user_mismatch", out, err)
			}
			after, err := r.store.GetConnection(ctx, "generic", "1001")
			if err != nil || after.EndUser != "app-user-42" || after.Version != first.Version || after.RefreshToken != first.RefreshToken {
				t.Errorf("after a forwarded link: connection %+v, %v; want app-user-42's first one unchanged", after, err)
			}
			if conns, _ := r.h.ConnectionsForUser(ctx, "app-user-7"); len(conns) != 0 {
				t.Errorf("the link's maker holds %v", conns)
			}
			if mine, others := revokedSince(before); mine == 0 || others != 0 {
				t.Errorf("revoked %d of the forwarded flow's tokens and %d others; want its new session revoked, nothing else", mine, others)
			}
			if res, err := connect.VerifyResult(testAppKey, result); err != nil {
				t.Fatal(err)
			} else if _, err := r.store.GetPendingConnection(ctx, BindKey(res.ID)); !errors.Is(err, ErrNotFound) {
				t.Errorf("the forwarded link's pending connection is still there: %v", err)
			}

			// Reject: nothing attached, the new session revoked.
			before = now()
			result = flow(t, "app-user-9", "2002", "")
			out, err = runExample(t, app.cmd(t, "reject", confirmURL, result, "generic"))
			if err != nil {
				t.Fatalf("reject: %v", err)
			}
			if got := answer(t, out); !maps.Equal(got, map[string]any{"status": "rejected"}) {
				t.Errorf("reject answered %v", got)
			}
			if c, err := r.store.GetConnection(ctx, "generic", "2002"); !errors.Is(err, ErrNotFound) {
				t.Errorf("after reject: connection %+v, %v; want none", c, err)
			}
			if mine, others := revokedSince(before); mine == 0 || others != 0 {
				t.Errorf("revoked %d of the rejected flow's tokens and %d others; want its session revoked, nothing else", mine, others)
			}

			// Results the example refuses by itself.
			signed := func(claims jwt.MapClaims) string {
				tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(testAppKey))
				if err != nil {
					t.Fatal(err)
				}
				return tok
			}
			claims := func(iat time.Time, life time.Duration, edit func(jwt.MapClaims)) string {
				c := jwt.MapClaims{"aud": "oauthfn:result", "sub": "app-user-42", "account_id": "1001", "provider": "generic",
					"status": "pending", "jti": "a-result-id", "iat": iat.Unix(), "exp": iat.Add(life).Unix()}
				if edit != nil {
					edit(c)
				}
				return signed(c)
			}
			if out, err := runExample(t, app.cmd(t, "verify", claims(time.Now(), 5*time.Minute, nil), "generic")); err != nil {
				t.Fatalf("the example refused a well-made result: %v %s", err, out)
			}
			// A return URL carried to another browser (docs/security.md):
			// its app_state is the nonce of the session that made the
			// link, not this browser's.
			nonce := func(c jwt.MapClaims) { c["app_state"] = "nonce-of-the-attacker's-session" }
			if out, err := runExample(t, app.cmd(t, "verify", claims(time.Now(), 5*time.Minute, nonce), "generic", "nonce-of-the-attacker's-session")); err != nil {
				t.Fatalf("the example refused a result with this browser's app_state: %v %s", err, out)
			}
			for name, state := range map[string]string{"another session's": "nonce-of-the-victim's-session", "an empty": "", "a non-ASCII": "nonce-é"} {
				if out, err := runExample(t, app.cmd(t, "verify", claims(time.Now(), 5*time.Minute, nonce), "generic", state)); err == nil {
					t.Errorf("a result checked against %s app_state was accepted by the example: %s", name, out)
				}
			}
			expired, err := connect.Keys{Current: testAppKey, Now: func() time.Time { return time.Now().Add(-10 * time.Minute) }}.
				SignResult(connect.Result{User: "app-user-42", AccountID: "1001", Provider: "generic"})
			if err != nil {
				t.Fatal(err)
			}
			forged, _ := connect.Keys{Current: strings.Repeat("f", 40), Now: time.Now}.
				SignResult(connect.Result{User: "attacker", AccountID: "1001", Provider: "generic"})
			notResult, _ := connect.Keys{Current: testAppKey, Now: time.Now}.Token("app-user-42", connect.Options{})
			for name, bad := range map[string]string{
				"edited": connecttest.EditPayload(result), "forged": forged, "expired": expired, "a connect token": notResult,
				"another provider's":     claims(time.Now(), 5*time.Minute, func(c jwt.MapClaims) { c["provider"] = "ringcentral" }),
				"living 6 minutes":       claims(time.Now(), 6*time.Minute, nil),
				"without jti":            claims(time.Now(), 5*time.Minute, func(c jwt.MapClaims) { delete(c, "jti") }),
				"issued 2 minutes ahead": claims(time.Now().Add(2*time.Minute), 3*time.Minute, nil),
				"of an unknown status":   claims(time.Now(), 5*time.Minute, func(c jwt.MapClaims) { c["status"] = "rejected" }),
			} {
				if out, err := runExample(t, app.cmd(t, "verify", bad, "generic")); err == nil {
					t.Errorf("%s result accepted by the example: %s", name, out)
				}
			}
		})
	}
}

// docs/connect-an-app.md's Python and Node snippets are the example files
// the test above runs, word for word (less their command-line part): the
// first block of each language after the page's link to the file.
func TestDocSnippetsAreExamples(t *testing.T) {
	const page = "docs/connect-an-app.md"
	doc, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(page)))
	if err != nil {
		t.Fatal(err)
	}
	for fence, file := range map[string]string{"```python\n": "python/connect.py", "```js\n": "node/connect.mjs"} {
		src, err := os.ReadFile(exampleFile(t, file))
		if err != nil {
			t.Fatal(err)
		}
		_, rest, ok := strings.Cut(string(doc), "examples/"+file+")")
		if !ok {
			t.Fatalf("%s does not link examples/%s", page, file)
		}
		_, block, ok := strings.Cut(rest, fence)
		block, _, ok2 := strings.Cut(block, "```\n")
		if !ok || !ok2 || len(block) < 200 {
			t.Fatalf("%s has no %s block after its link to examples/%s", page, strings.TrimSpace(fence), file)
		}
		if !strings.Contains(string(src), block) {
			t.Errorf("%s's snippet of examples/%s is not the file's text:\n%s", page, file, block)
		}
	}
}
