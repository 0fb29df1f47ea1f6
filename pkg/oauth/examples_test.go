package oauth

import (
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// Each example mints a connect URL that the Go /authorize accepts, and
// verifies the result the Go /callback sends back; an edited, forged or
// expired result is refused. The wall clock is the handler's clock here, as
// it is the scripts': a clock fixed at the test's start would fall behind
// the iat the script mints with (by the interpreter's start-up, many
// seconds on a loaded machine) and refuse a good token.
func TestExampleApps(t *testing.T) {
	for _, app := range exampleApps {
		t.Run(app.name, func(t *testing.T) {
			r := newRig(t, memoryStore)
			r.h.Now = time.Now
			r.user = "" // minted by the example, not the rig
			authorizeURL := "https://abc123.execute-api.us-east-1.amazonaws.com/authorize"
			out, err := runExample(t, app.cmd(t, "url", authorizeURL, "app-user-42", "https://app.example/done?tab=1", "from the example"))
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
			cb := r.callback(t, r.prov.approve(t, resp.Headers["Location"]), cookie)
			back, _ := url.Parse(cb.Headers["Location"])
			result := back.Query().Get("result")
			if cb.StatusCode != 302 || result == "" {
				t.Fatalf("callback = %d to %s, want a redirect with a result", cb.StatusCode, back)
			}
			out, err = runExample(t, app.cmd(t, "verify", result))
			if err != nil {
				t.Fatalf("the example refused the Go result: %v", err)
			}
			var claims map[string]any
			if err := json.Unmarshal([]byte(out), &claims); err != nil {
				t.Fatalf("verify printed %q: %v", out, err)
			}
			if claims["sub"] != "app-user-42" || claims["account_id"] != "1001" || claims["app_state"] != "from the example" || claims["status"] != "connected" {
				t.Errorf("the example read %v", claims)
			}

			expired, err := connect.Keys{Current: testAppKey, Now: func() time.Time { return time.Now().Add(-10 * time.Minute) }}.
				SignResult(connect.Result{User: "app-user-42", AccountID: "1001", Provider: "generic"})
			if err != nil {
				t.Fatal(err)
			}
			forged, _ := connect.Keys{Current: strings.Repeat("f", 40), Now: time.Now}.
				SignResult(connect.Result{User: "attacker", AccountID: "1001", Provider: "generic"})
			notResult, _ := connect.Keys{Current: testAppKey, Now: time.Now}.Token("app-user-42", connect.Options{})
			for name, bad := range map[string]string{"edited": connecttest.EditPayload(result), "forged": forged, "expired": expired, "a connect token": notResult} {
				if out, err := runExample(t, app.cmd(t, "verify", bad)); err == nil {
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
