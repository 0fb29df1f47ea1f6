package browsertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/oauthfn/oauthfn/internal/testenv"
)

const (
	// actionTimeout bounds one browser step (a click, a wait for a page):
	// generous, as a loaded machine can take many seconds for a page that
	// crosses the dev server and a provider.
	actionTimeout = 60 * time.Second
	// pollEvery is the short polling interval of waitPage.
	pollEvery = 25 * time.Millisecond
	// startTimeout bounds the dev server's start (its binary is built first).
	startTimeout = 120 * time.Second
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.stop != nil {
		shared.stop()
	}
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// ---- the oauthfn binary ----

var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// devBinary builds cmd/oauthfn once per test binary (with -race when the
// tests run with it, so the build shares the race-enabled package cache).
func devBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "oauthfn-browsertest-")
		if built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "oauthfn")
		args := []string{"build", "-o", built.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "./cmd/oauthfn")
		cmd := exec.Command("go", args...) // the go on PATH, as `make test` runs it
		cmd.Dir = testenv.RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build ./cmd/oauthfn: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatalf("browsertest: %v", built.err)
	}
	return built.path
}

// ---- the dev server ----

// devServer is a running `oauthfn dev`.
type devServer struct {
	URL  string // http://host:port
	logs *testenv.ChildLog
}

// startDev runs `oauthfn dev -addr host:port` with exactly env (plus PATH,
// HOME and TMPDIR) and waits for its startup line. Port 0 lets the dev
// server take a free port itself (no pick-then-bind race); its URL is then
// read from the startup line.
func startDev(t *testing.T, host string, port int, env map[string]string, args ...string) *devServer {
	t.Helper()
	bin := devBinary(t)
	addr := host + ":" + strconv.Itoa(port)
	cmd := exec.Command(bin, append([]string{"dev", "-addr", addr}, args...)...)
	cmd.Env = []string{"LOG_LEVEL=info"}
	for _, name := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(name); ok {
			cmd.Env = append(cmd.Env, name+"="+v)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	ds := &devServer{URL: "http://" + addr, logs: testenv.NewChildLog(t)}
	cmd.Stderr = ds.logs.File()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("browsertest: dev server stdout: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("browsertest: start dev server: %v", err)
	}
	exited := make(chan struct{})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case ready <- sc.Text():
			default:
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("dev server log:\n%s", ds.logs.String())
		}
	})
	select {
	case line := <-ready:
		if port == 0 {
			if m := startupURL.FindStringSubmatch(line); m != nil && m[1] == host {
				ds.URL = "http://" + m[1] + ":" + m[2]
			}
		}
		if !strings.Contains(line, "oauthfn dev: open "+ds.URL+"/") {
			t.Fatalf("browsertest: dev server said %q, want its startup line for %s", line, ds.URL)
		}
	case <-exited:
		t.Fatalf("browsertest: dev server exited before it was ready:\n%s", ds.logs.String())
	case <-time.After(startTimeout):
		t.Fatalf("browsertest: dev server not ready after %v:\n%s", startTimeout, ds.logs.String())
	}
	return ds
}

// startupURL reads host and port from the dev server's startup line.
var startupURL = regexp.MustCompile(`^oauthfn dev: open http://([a-z0-9.]+):([0-9]+)/ `)

// startMockDev starts the dev server with its built-in mock provider on a
// port it takes itself (args: more flags, such as -providers).
func startMockDev(t *testing.T, env map[string]string, args ...string) *devServer {
	t.Helper()
	return startDev(t, "localhost", 0, env, args...)
}

// oidcDev is the dev server (on localhost) in front of oidc-provider (on
// 127.0.0.1): two sites, as in production.
type oidcDev struct {
	*devServer
	OIDC *testenv.OIDC
}

func startOIDCDev(t *testing.T) oidcDev {
	t.Helper()
	// The redirect URI is registered at oidc-provider before the dev server
	// starts (and the dev server needs oidc-provider's URLs), so its port is
	// picked here: a port freed a moment ago, taken by another process
	// only in the rare case the dev server then fails to start, loudly.
	port := testenv.FreePort(t)
	redirect := "http://localhost:" + strconv.Itoa(port) + "/callback"
	o := testenv.StartOIDC(t, testenv.OIDCOptions{RedirectURIs: []string{redirect}})
	ds := startDev(t, "localhost", port, map[string]string{
		"OAUTH_PROVIDER":      "generic",
		"OAUTH_AUTH_URL":      o.AuthURL,
		"OAUTH_TOKEN_URL":     o.TokenURL,
		"OAUTH_REVOKE_URL":    o.RevokeURL,
		"OAUTH_USERINFO_URL":  o.UserinfoURL,
		"OAUTH_SCOPES":        "openid",
		"OAUTH_CLIENT_ID":     o.ClientID,
		"OAUTH_CLIENT_SECRET": o.ClientSecret,
		"OAUTH_REDIRECT_URL":  redirect,
	}, "-provider", "env")
	return oidcDev{ds, o}
}

// Requests counts the dev server's access-log lines for path (its own
// requests and the mock provider's, which it serves under /mock/).
func (ds *devServer) Requests(path string) int {
	n := 0
	for line := range strings.SplitSeq(ds.logs.String(), "\n") {
		var rec struct {
			Msg  string `json:"msg"`
			Path string `json:"path"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "request" && rec.Path == path {
			n++
		}
	}
	return n
}

// tokenRequests counts the requests oidc-provider's log shows at its token
// endpoint.
func tokenRequests(o *testenv.OIDC) int {
	return strings.Count(o.Log(), " POST /token ")
}

// ---- the browser ----

// shared is the one Chromium of this test binary; each test gets its own
// browser context (its own cookies), as a separate profile would.
var shared struct {
	once sync.Once
	ctx  context.Context
	stop func()
	err  error
}

// chromiumPath finds the browser: Debian's chromium, or Chrome.
func chromiumPath() (string, error) {
	for _, name := range []string{"chromium", "/usr/bin/chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium on the PATH (nor /usr/bin/chromium, chromium-browser, google-chrome): run `make test`, whose install_chromium step installs it (apt-get install chromium)")
}

func startBrowser() {
	path, err := chromiumPath()
	if err != nil {
		shared.err = err
		return
	}
	dir, err := os.MkdirTemp("", "oauthfn-chromium-")
	if err != nil {
		shared.err = err
		return
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dir),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests may run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints,HttpsUpgrades"),
		// Only loopback: a page's external resource (oidc-provider's
		// pages import a web font) fails at once instead of waiting for
		// DNS on a closed network.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("metrics-recording-only", true),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	shared.stop = func() {
		cancel()
		cancelAlloc()
		os.RemoveAll(dir)
	}
	if err := chromedp.Do(ctx); err != nil {
		shared.err = fmt.Errorf("start %s: %w (run `make test`, whose install_chromium step installs a working chromium)", path, err)
		return
	}
	shared.ctx = ctx
}

// tab is one browser tab and what it has seen on the network.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu   sync.Mutex
	docs []document          // every document response, oldest first
	urls map[string][]string // request id -> URL of each hop (redirects reuse the id)
	sent map[string][][]string
}

// document is one top-level page response.
type document struct {
	URL    string
	Status int64
}

// newBrowserWindow opens a tab in a new browser context: a browser of its own
// with no cookies, sharing the Chromium process.
func newBrowserWindow(t *testing.T) *tab {
	t.Helper()
	shared.once.Do(startBrowser)
	if shared.err != nil {
		t.Fatalf("browsertest: %v", shared.err)
	}
	ctx, cancel := chromedp.NewContext(shared.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	return openTab(t, ctx)
}

// newTab opens another tab in the same browser context as tb (same cookies).
func (tb *tab) newTab() *tab {
	tb.t.Helper()
	ctx, cancel := chromedp.NewContext(tb.ctx)
	tb.t.Cleanup(cancel)
	return openTab(tb.t, ctx)
}

func openTab(t *testing.T, ctx context.Context) *tab {
	t.Helper()
	if err := chromedp.Do(ctx); err != nil { // opens the tab; no timeout on this first call
		t.Fatalf("browsertest: open tab: %v", err)
	}
	tb := &tab{t: t, ctx: ctx, urls: map[string][]string{}, sent: map[string][][]string{}}
	// Listen, not chromedp.Events: Listen records each event on the
	// goroutine that reads the browser's messages, before it reads the
	// next one, so an event the browser sent before answering a command
	// (a document's response before the page can be evaluated) is recorded
	// by the time that command returns. Events' iterators deliver from a
	// queue on another goroutine: lastDocument could miss the page the tab
	// already shows.
	err := chromedp.Listen(ctx, func(ev any) {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventResponseReceived:
			if ev.Type == network.ResourceTypeDocument {
				tb.docs = append(tb.docs, document{URL: ev.Response.URL, Status: ev.Response.Status})
			}
		case *network.EventRequestWillBeSent:
			tb.urls[string(ev.RequestID)] = append(tb.urls[string(ev.RequestID)], ev.Request.URL)
		case *network.EventRequestWillBeSentExtraInfo:
			var names []string
			for _, c := range ev.AssociatedCookies {
				if len(c.BlockedReasons) == 0 && c.Cookie != nil {
					names = append(names, c.Cookie.Name)
				}
			}
			tb.sent[string(ev.RequestID)] = append(tb.sent[string(ev.RequestID)], names)
		}
	})
	if err != nil {
		t.Fatalf("browsertest: listen to the tab's network events: %v", err)
	}
	return tb
}

// cookiesSentTo lists, for each request whose URL starts with prefix (each
// hop of a redirect chain counts), the names of the cookies Chromium sent.
// Chromium reports them in an event of their own
// (requestWillBeSentExtraInfo) that may come after the page has loaded, so
// it waits (up to actionTimeout) until every such hop has its report: a hop
// is never left out for being early, which would let a check that a cookie
// was not sent pass without looking.
func (tb *tab) cookiesSentTo(prefix string) [][]string {
	tb.t.Helper()
	deadline := time.Now().Add(actionTimeout)
	for {
		out, missing := tb.sentTo(prefix)
		if missing == 0 {
			return out
		}
		if time.Now().After(deadline) {
			tb.t.Fatalf("requests to %s: Chromium reported no cookies for %d of them after %v", prefix, missing, actionTimeout)
		}
		select {
		case <-tb.ctx.Done():
			tb.t.Fatalf("cookies sent to %s: %v", prefix, tb.ctx.Err())
		case <-time.After(pollEvery):
		}
	}
}

// sentTo is cookiesSentTo's one look: the cookie names of each hop to
// prefix reported so far, and how many hops have no report yet.
func (tb *tab) sentTo(prefix string) (out [][]string, missing int) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for id, urls := range tb.urls {
		for i, u := range urls {
			if !strings.HasPrefix(u, prefix) {
				continue
			}
			if i >= len(tb.sent[id]) {
				missing++
				continue
			}
			out = append(out, tb.sent[id][i])
		}
	}
	return out, missing
}

// requested lists the URLs of every request (each hop of a redirect chain)
// that starts with prefix, oldest first.
func (tb *tab) requested(prefix string) []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []string
	for _, urls := range tb.urls {
		for _, u := range urls {
			if strings.HasPrefix(u, prefix) {
				out = append(out, u)
			}
		}
	}
	return out
}

// lastDocument is the newest top-level page response.
func (tb *tab) lastDocument() document {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.docs) == 0 {
		return document{}
	}
	return tb.docs[len(tb.docs)-1]
}

// do runs browser steps, each bounded by actionTimeout.
func (tb *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// run runs one browser step that returns a value.
func run[T any](tb *tab, what string, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// navigate opens u and waits for its load event.
func (tb *tab) navigate(u string) {
	tb.t.Helper()
	tb.do("open "+u, chromedp.Navigate(u))
}

// click clicks the first element matching the CSS selector, which must be
// displayed. It clicks from the page's own script (HTMLElement.click: the
// same activation behaviour, submitter included) rather than through
// chromedp's DOM mirror, which a page restored from the back/forward cache
// leaves stale.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	q, _ := json.Marshal(sel)
	got := run(tb, "click "+sel, chromedp.Evaluate[string](fmt.Sprintf(`(() => {
		const el = document.querySelector(%s);
		if (!el) return "no such element";
		const r = el.getBoundingClientRect();
		if (!r.width || !r.height) return "not displayed";
		el.click();
		return "ok";
	})()`, q)))
	if got != "ok" {
		tb.t.Fatalf("click %s on %s: %s", sel, tb.location(), got)
	}
}

// waitPage polls (every pollEvery, up to actionTimeout) until the loaded
// document has an element matching one of the CSS selectors, and returns
// the key of the one that matched. Evaluations during a navigation fail
// and are retried.
func (tb *tab) waitPage(pages map[string]string) string {
	tb.t.Helper()
	keys := make([]string, 0, len(pages))
	for k := range pages {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var js strings.Builder
	js.WriteString("(() => { if (document.readyState === 'loading') return '';")
	for _, k := range keys {
		sel, _ := json.Marshal(pages[k])
		key, _ := json.Marshal(k)
		fmt.Fprintf(&js, " if (document.querySelector(%s)) return %s;", sel, key)
	}
	js.WriteString(" return ''; })()")
	deadline := time.Now().Add(actionTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js.String()))
		cancel()
		if err == nil && got != "" {
			return got
		}
		lastErr = err
		select {
		case <-tb.ctx.Done():
			tb.t.Fatalf("waiting for %v: %v", pages, tb.ctx.Err())
		case <-time.After(pollEvery):
		}
	}
	tb.t.Fatalf("no page matching %v after %v (at %s; last error %v)", pages, actionTimeout, tb.location(), lastErr)
	return ""
}

// waitHost waits (every pollEvery, up to actionTimeout) until the tab shows
// a loaded page from host: after back() the previous page answers every
// selector until the navigation commits.
func (tb *tab) waitHost(host string) {
	tb.t.Helper()
	want, _ := json.Marshal(host)
	js := `document.readyState !== "loading" && location.host === ` + string(want)
	deadline := time.Now().Add(actionTimeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
		got, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && got {
			return
		}
		select {
		case <-tb.ctx.Done():
			tb.t.Fatalf("waiting for a page from %s: %v", host, tb.ctx.Err())
		case <-time.After(pollEvery):
		}
	}
	tb.t.Fatalf("no page from %s after %v (at %s)", host, actionTimeout, tb.location())
}

// wait waits for a page with an element matching sel.
func (tb *tab) wait(sel string) {
	tb.t.Helper()
	tb.waitPage(map[string]string{sel: sel})
}

// location is the tab's current URL.
func (tb *tab) location() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "(unknown: " + err.Error() + ")"
	}
	return loc
}

// locationURL is the tab's current URL, parsed.
func (tb *tab) locationURL() *url.URL {
	tb.t.Helper()
	loc := run(tb, "location", chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil {
		tb.t.Fatalf("location %q: %v", loc, err)
	}
	return u
}

// text is the visible text of the page.
func (tb *tab) text() string {
	tb.t.Helper()
	return run(tb, "page text", chromedp.Evaluate[string]("document.body.innerText"))
}

// cookie returns the cookie name Chromium keeps for u, or nil.
func (tb *tab) cookie(u, name string) *network.Cookie {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	if err != nil {
		tb.t.Fatalf("get cookies for %s: %v", u, err)
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// screenshot saves a full-page PNG as test-artifacts/screenshots/name.png.
func (tb *tab) screenshot(name string) string {
	tb.t.Helper()
	png := run(tb, "screenshot "+name, chromedp.FullScreenshot(100))
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		tb.t.Fatalf("screenshot %s is not a PNG", name)
	}
	dir := filepath.Join(testenv.RepoRoot(), "test-artifacts", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	return path
}

// back goes one entry back in the tab's history without waiting for a load
// event: a page restored from the back/forward cache fires none. The caller
// waits for the page it expects.
func (tb *tab) back() {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, actionTimeout)
	defer cancel()
	h, err := chromedp.Call(ctx, page.GetNavigationHistory, cdp.Empty{})
	if err != nil {
		tb.t.Fatalf("history: %v", err)
	}
	if h.CurrentIndex < 1 {
		tb.t.Fatalf("history: nothing to go back to (%d entries)", len(h.Entries))
	}
	prev := h.Entries[h.CurrentIndex-1]
	if _, err := chromedp.Call(ctx, page.NavigateToHistoryEntry, page.NavigateToHistoryEntryParams{EntryID: prev.ID}); err != nil {
		tb.t.Fatalf("back to %s: %v", prev.URL, err)
	}
}
