package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// consolePath is the dev console. It exists only in this command: the Lambda
// functions never serve it.
const consolePath = "/_dev"

// actionTimeout bounds one console action.
const actionTimeout = 2 * time.Minute

// consoleAction is a POST button on the console: POST /_dev/actions/{Name}
// runs Run and shows its result (a short summary, never a token) on the
// console. Every action is behind CSRF protection (see register).
type consoleAction struct {
	Name  string // path segment: letters, digits, '-'
	Label string // the button's text
	Help  string // one line under the button, optional
	Run   func(ctx context.Context) (string, error)
}

// devConsole serves /_dev.
type devConsole struct {
	ds      *devServer
	actions []consoleAction

	mu sync.Mutex
	// shown holds each POST's result until the browser that made it
	// fetches the page it was sent to (/_dev?shown=<id>): once, and to
	// that browser only, never to the next one that opens the console
	// (with an expires_at gone stale by then).
	shown map[string]shownResult
	order []string // ids in shown, oldest first (at most maxShown)
}

// shownResult is one POST's result: an action's or a token answer.
type shownResult struct {
	action *actionResult
	token  *tokenView
}

// maxShown bounds the results waiting to be shown (a browser that never
// follows its redirect leaves one behind).
const maxShown = 32

// keep stores r for one showing and returns where to send the browser.
func (c *devConsole) keep(r shownResult, anchor string) string {
	id := rand.Text()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shown == nil {
		c.shown = map[string]shownResult{}
	}
	c.shown[id] = r
	c.order = append(c.order, id)
	for len(c.order) > maxShown {
		delete(c.shown, c.order[0])
		c.order = c.order[1:]
	}
	return consolePath + "?shown=" + id + "#" + anchor
}

// take returns the result kept under id and forgets it.
func (c *devConsole) take(id string) shownResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.shown[id]
	if ok {
		delete(c.shown, id)
		c.order = slices.DeleteFunc(c.order, func(s string) bool { return s == id })
	}
	return r
}

type actionResult struct {
	Label, Summary string
	Failed         bool
	At             time.Time
}

func newDevConsole(ds *devServer, actions []consoleAction) *devConsole {
	return &devConsole{ds: ds, actions: actions}
}

// register mounts the console on mux. POSTs go through the standard
// library's CrossOriginProtection: a browser request whose Sec-Fetch-Site is
// not same-origin (or none), or whose Origin host is not this server's, gets
// 403. SameSite cookies would not help here: the console has no session, and
// every http://localhost page is "same-site" with it. Together with
// canonicalHost (Host must be this server's) this also stops DNS rebinding.
func (c *devConsole) register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+consolePath, c.page)
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.ds.Log.Warn("console action refused: cross-origin request", "path", r.URL.Path)
		http.Error(w, "cross-origin request refused: use the button on "+c.ds.BaseURL+consolePath, http.StatusForbidden)
	}))
	mux.Handle("POST "+consolePath+"/actions/{name}", csrf.Handler(http.HandlerFunc(c.action)))
	mux.Handle("POST "+consolePath+"/token", csrf.Handler(http.HandlerFunc(c.token)))
	mux.Handle("POST "+consolePath+"/due", csrf.Handler(http.HandlerFunc(c.due)))
}

func (c *devConsole) action(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	i := slices.IndexFunc(c.actions, func(a consoleAction) bool { return a.Name == name })
	if i < 0 {
		http.NotFound(w, r)
		return
	}
	a := c.actions[i]
	c.finish(w, r, a.Label, a.Name, a.Run)
}

// finish runs an action, keeps its result for the console and sends the
// browser back to it.
func (c *devConsole) finish(w http.ResponseWriter, r *http.Request, label, name string, run func(context.Context) (string, error)) {
	ctx, cancel := context.WithTimeout(r.Context(), actionTimeout)
	defer cancel()
	summary, err := run(ctx)
	res := &actionResult{Label: label, Summary: summary, At: c.ds.opts.Now()}
	if err != nil {
		res.Failed = true
		res.Summary = err.Error()
		c.ds.Log.Error("console action failed", "action", name, "err", err)
	} else {
		c.ds.Log.Info("console action done", "action", name)
	}
	http.Redirect(w, r, c.keep(shownResult{action: res}, "actions"), http.StatusSeeOther)
}

// connView is what the console shows of a connection. It is built field by
// field so the page cannot reach a token, sealed or not.
type connView struct {
	Provider, Account, Status, EndUser string
	Source                             string // browser, jwt_bearer, client_credentials
	AccessExpires, RefreshExpires      string
	LastRefresh, NextRefresh, LastErr  string
	Failures                           int
	Version                            int64
	Leased                             bool
	CanRefresh                         bool // active, with a refresh token: "Make due now"
}

type logView struct {
	Time, Level, Msg, Rest string
}

type infoRow struct{ Name, Value string }

func (c *devConsole) page(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := c.ds.opts.Now()
	data := struct {
		Now         string
		Info        []infoRow
		Connections []connView
		StoreErr    string
		Actions     []consoleAction
		Last        *actionResult
		Logs        []logView
		Mock        bool
		Accounts    []mockrc.Account
		Events      []eventView
		Token       *tokenView
		// Several: the stack serves several providers (OAUTH_PROVIDERS):
		// the tables get a provider column, the token form a picker.
		Several   bool
		Providers []string
		// TokenProvider is the token form's provider: the first
		// connection's, as its account_id is.
		TokenProvider string
	}{
		Now:       stamp(now, now),
		Info:      c.info(),
		Actions:   c.actions,
		Mock:      c.ds.mocked(),
		Several:   c.ds.OAuth.Config.Named(),
		Providers: c.ds.OAuth.Config.ProviderIDs(),
	}
	if data.Mock {
		data.Accounts = mockrc.DemoAccounts()
	}
	conns, err := c.ds.OAuth.Store.ListConnections(ctx)
	if err != nil {
		c.ds.Log.Error("console: list connections", "err", err)
		data.StoreErr = "The store could not be read; see the log below."
	}
	for _, cn := range conns {
		data.Connections = append(data.Connections, connView{
			Provider:       cn.Provider,
			Account:        cn.AccountID,
			EndUser:        cn.EndUser,
			Source:         cn.SourceName(),
			Status:         cn.Status,
			AccessExpires:  stamp(cn.AccessExpiresAt, now),
			RefreshExpires: refreshStamp(cn, now),
			LastRefresh:    stamp(cn.LastRefreshAt, now),
			NextRefresh:    stamp(cn.RefreshAt, now),
			LastErr:        cn.LastError,
			Failures:       cn.Failures,
			Version:        cn.Version,
			Leased:         !cn.LeaseUntil.IsZero() && cn.LeaseUntil.After(now),
			CanRefresh:     cn.Status == oauth.StatusActive && (cn.RefreshToken != "" || cn.HasCredential()),
		})
	}
	if len(data.Connections) > 0 {
		data.TokenProvider = data.Connections[0].Provider
	}
	if id := r.URL.Query().Get("shown"); id != "" {
		shown := c.take(id)
		data.Last, data.Token = shown.action, shown.token
	}
	data.Events = c.ds.Events.recent()
	lines := c.ds.Logs.Lines()
	for i := len(lines) - 1; i >= 0; i-- { // newest first
		data.Logs = append(data.Logs, parseLogLine(lines[i]))
	}
	writePage(w, http.StatusOK, consoleTmpl, data)
}

// info is the configuration summary: names and URLs, never a secret.
// With several providers, each provider's rows carry its id.
func (c *devConsole) info() []infoRow {
	cfg := c.ds.OAuth.Config
	var rows []infoRow
	for _, id := range cfg.ProviderIDs() {
		v, _ := c.ds.OAuth.ForProvider(id)
		pc, suffix := v.Config, ""
		provider := pc.Provider.Name
		if cfg.Named() {
			suffix = " (" + id + ")"
			provider = id
		}
		switch {
		case c.ds.Mock != nil:
			provider += " (built-in mock under " + mockPrefix + "/)"
		case c.ds.Mocks[id] != nil:
			provider += " (built-in mock under " + mockPrefix + "/" + id + "/)"
		}
		rows = append(rows,
			infoRow{"Provider" + suffix, provider},
			infoRow{"Authorize URL" + suffix, pc.Provider.Endpoint.AuthURL},
			infoRow{"Token URL" + suffix, pc.Provider.Endpoint.TokenURL},
			infoRow{"Client id" + suffix, pc.ClientID},
			infoRow{"Redirect URL" + suffix, pc.RedirectURL},
		)
	}
	var allowed []string
	for _, p := range cfg.AllowedReturn {
		allowed = append(allowed, p.Scheme+"://"+p.Host+p.Path)
	}
	store := "memory (gone when the server stops)"
	if c.ds.table != "" {
		store = "DynamoDB table " + c.ds.table
	}
	return append(rows, []infoRow{
		{"Allowed return URLs", strings.Join(allowed, ", ")},
		{"Store", store},
		{"Connect token required", strconv.FormatBool(cfg.RequireConnectToken)},
		{"App key", c.ds.AppKeyNote},
		{"Refresh mode", cfg.RefreshMode},
		{"Token key", c.ds.KeyNote},
		{"Log level", cfg.LogLevel.String()},
	}...)
}

// stamp formats t for the console: UTC time and how far from now, or "—".
func stamp(t, now time.Time) string {
	if t.IsZero() {
		return "—"
	}
	s := t.UTC().Format("2006-01-02 15:04:05 UTC")
	if t.Equal(now) {
		return s
	}
	d := t.Sub(now).Round(time.Second)
	if d > 0 {
		return s + " (in " + human(d) + ")"
	}
	return s + " (" + human(-d) + " ago)"
}

// human is a short duration: 45s, 12m, 3h20m, 6d4h.
func human(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		h := int(d.Hours())
		return fmt.Sprintf("%dh%02dm", h, int(d.Minutes())-60*h)
	default:
		days := int(d.Hours()) / 24
		return fmt.Sprintf("%dd%dh", days, int(d.Hours())-24*days)
	}
}

// parseLogLine splits a JSON log line into time, level, message and the
// other attributes as key=value; a line that is not JSON is shown whole.
func parseLogLine(line string) logView {
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return logView{Rest: line}
	}
	v := logView{}
	if s, ok := m[slog.TimeKey].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			s = t.Format("15:04:05.000")
		}
		v.Time = s
	}
	v.Level, _ = m[slog.LevelKey].(string)
	v.Msg, _ = m[slog.MessageKey].(string)
	delete(m, slog.TimeKey)
	delete(m, slog.LevelKey)
	delete(m, slog.MessageKey)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		switch x := m[k].(type) {
		case string:
			b.WriteString(x)
		default:
			j, _ := json.Marshal(x)
			b.Write(j)
		}
	}
	v.Rest = b.String()
	return v
}

// writePage renders an HTML page with the headers every page of the dev
// server carries: no caching, no referrer, no framing, no scripts.
func writePage(w http.ResponseWriter, status int, t *template.Template, data any) {
	writePageFormAction(w, status, t, data, "'self'")
}

// writePageFormAction is writePage with the CSP form-action sources given
// (the demo app's Connect form ends, through redirects, at the provider).
func writePageFormAction(w http.ResponseWriter, status int, t *template.Template, data any, formAction string) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		http.Error(w, "page error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

const layout = `{{define "top"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}} · oauthfn dev</title>
<style>
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f5f6f8;color:#1b2026}
main{max-width:60rem;margin:0 auto;padding:1rem}
section{background:#fff;border-radius:.6rem;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:1rem 1.25rem;margin:0 0 1rem}
h1{font-size:1.5rem;margin:.5rem 0 1rem}
h2{font-size:1.15rem;margin:0 0 .5rem}
p{margin:.5rem 0}
.note{color:#56606a;font-size:.9rem}
a.button,button{display:inline-flex;align-items:center;justify-content:center;box-sizing:border-box;min-height:2.75rem;padding:.6rem 1.1rem;font:inherit;font-weight:600;line-height:1.2;border:0;border-radius:.5rem;background:#0b63ce;color:#fff;text-decoration:none;cursor:pointer}
button.small{min-height:2rem;padding:.3rem .7rem;font-size:.8rem;margin-top:.35rem}
a.button:focus,button:focus{outline:3px solid #0b63ce55;outline-offset:2px}
button.secondary{background:#e3e9f2;color:#0b3d80}
input{font:inherit;padding:.4rem;border:1px solid #b8c0ca;border-radius:.4rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e3e6ea;vertical-align:top}
th{font-weight:600;background:#f0f2f5}
.scroll{overflow-x:auto}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85rem;word-break:break-all}
code.account{white-space:nowrap;word-break:normal}
.ok{color:#11703a;font-weight:600}.bad{color:#b3261e;font-weight:600}
.lvl-ERROR{color:#b3261e;font-weight:600}.lvl-WARN{color:#8a5a00;font-weight:600}
ul.logs{list-style:none;margin:0;padding:0}
ul.logs li{padding:.3rem 0;border-bottom:1px solid #eef0f2}
nav a{margin-right:1rem}
@media (max-width:40rem){th,td{padding:.3rem}.hide-narrow{display:none}}
</style>
</head>
<body>
<main>
{{end}}
{{define "bottom"}}</main>
</body>
</html>
{{end}}`

var consoleTmpl = template.Must(template.New("console").Parse(layout + `{{template "top" "Console"}}
<h1>Dev console</h1>
<nav><a href="/_dev">Reload</a> <a href="/">Demo app</a> <a href="/app/" id="spa-link">Browser-only app (BFF)</a></nav>
<p class="note">As of {{.Now}}. This page exists only in the dev server, never in the Lambda functions. It shows no tokens.</p>

<section id="connections">
<h2>Connections</h2>
{{with .StoreErr}}<p class="bad">{{.}}</p>{{end}}
{{if .Connections}}<div class="scroll"><table>
<thead><tr>{{if .Several}}<th scope="col">Provider</th>{{end}}<th scope="col">Account</th><th scope="col">Source</th><th scope="col">End user</th><th scope="col">Status</th><th scope="col">Access token expires</th><th scope="col">Refresh token expires</th><th scope="col">Last refresh</th><th scope="col" class="hide-narrow">Next refresh</th><th scope="col">Failures</th><th scope="col">Last error</th></tr></thead>
<tbody>{{range .Connections}}
<tr>{{if $.Several}}<td class="provider"><code>{{.Provider}}</code></td>{{end}}<td><code class="account">{{.Account}}</code><br><span class="note">{{.Provider}}, version {{.Version}}{{if .Leased}}, being refreshed{{end}}</span>{{if .CanRefresh}}
<form method="post" action="/_dev/due">{{if $.Several}}<input type="hidden" name="provider" value="{{.Provider}}">{{end}}<input type="hidden" name="account" value="{{.Account}}"><button type="submit" class="small">Make due now</button></form>{{end}}</td><td class="source">{{.Source}}</td><td class="end-user">{{or .EndUser "—"}}</td><td>{{if eq .Status "active"}}<span class="ok">{{.Status}}</span>{{else}}<span class="bad">{{.Status}}</span>{{end}}</td><td>{{.AccessExpires}}</td><td>{{.RefreshExpires}}</td><td>{{.LastRefresh}}</td><td class="hide-narrow">{{.NextRefresh}}</td><td>{{.Failures}}</td><td>{{or .LastErr "—"}}</td></tr>{{end}}
</tbody></table></div>
<p class="note">Under each account: its provider and version (the count of its writes: every refresh adds one). "Make due now" sets its next refresh to now; "Run sweep now" below then refreshes it, as the scheduled function would.</p>
{{else}}<p>No connections yet. <a href="/">Connect an account</a>.</p>{{end}}
</section>

<section id="actions">
<h2>Actions</h2>
{{/* Console actions (devActions in dev.go; "Make due now" in devsweep.go):
     each is a POST form, checked against cross-origin requests. */}}
{{range .Actions}}<form method="post" action="/_dev/actions/{{.Name}}"><p><button type="submit">{{.Label}}</button>{{with .Help}} <span class="note">{{.}}</span>{{end}}</p></form>
{{else}}<p class="note">None yet.</p>{{end}}
{{with .Last}}<p>{{.Label}}: {{if .Failed}}<span class="bad">failed</span>{{else}}<span class="ok">done</span>{{end}} <span class="mono">{{.Summary}}</span></p>{{end}}
</section>

<section id="token">
<h2>Token function</h2>
<p class="note">Calls the token function's handler (<code>functions/token</code>) as an app's <code>lambda.invoke</code> would. The token itself is never shown.</p>
<form method="post" action="/_dev/token"><p>{{if .Several}}<label for="provider">provider</label> <select id="provider" name="provider">{{range .Providers}}<option value="{{.}}"{{if eq . $.TokenProvider}} selected{{end}}>{{.}}</option>{{end}}</select> {{end}}<label for="account_id">account_id</label> <input id="account_id" name="account_id" required maxlength="256" value="{{with .Connections}}{{(index . 0).Account}}{{end}}"> <button type="submit">Get a token</button></p></form>
{{with .Token}}<p><code>{{.Request}}</code> → {{if .Failed}}<span class="bad">{{.Outcome}}</span>{{else}}<span class="ok">{{.Outcome}}</span>{{end}}</p>
{{if .Rows}}<table>{{range .Rows}}<tr><th scope="row">{{.Name}}</th><td><code>{{or .Value "—"}}</code></td></tr>{{end}}</table>{{end}}{{end}}
</section>

<section id="events">
<h2>Connection events</h2>
<p class="note">What <code>functions/events</code> would put on EventBridge (Source <code>oauthfn</code>) for the store's changes, newest first.</p>
{{if .Events}}<div class="scroll"><table>
<thead><tr><th scope="col">At</th><th scope="col">Detail type</th>{{if .Several}}<th scope="col">Provider</th>{{end}}<th scope="col">Account</th><th scope="col">End user</th><th scope="col">Status</th><th scope="col">Reason</th><th scope="col" class="hide-narrow">event_id</th></tr></thead>
<tbody>{{range .Events}}
<tr><td>{{.At}}</td><td><strong>{{.DetailType}}</strong></td>{{if $.Several}}<td class="provider"><code>{{.Provider}}</code></td>{{end}}<td><code class="account">{{.Account}}</code><br><span class="note">version {{.Version}}</span></td><td>{{or .EndUser "—"}}{{with .PreviousEndUser}}<br><span class="note">was {{.}}</span>{{end}}</td><td>{{.Status}}</td><td>{{.Reason}}</td><td class="hide-narrow mono">{{.EventID}}</td></tr>{{end}}
</tbody></table></div>
{{else}}<p>None yet: connect an account.</p>{{end}}
</section>

<section id="config">
<h2>Configuration</h2>
<table>{{range .Info}}<tr><th scope="row">{{.Name}}</th><td><code>{{or .Value "—"}}</code></td></tr>{{end}}</table>
{{if .Mock}}<p class="note">Mock demo accounts: {{range $i, $a := .Accounts}}{{if $i}}, {{end}}{{$a.Name}} {{$a.ID}}{{end}}.</p>{{end}}
</section>

<section id="logs">
<h2>Recent logs</h2>
<p class="note">Newest first, the last {{len .Logs}} lines (also on standard error).</p>
<ul class="logs">{{range .Logs}}<li class="mono">{{.Time}} <span class="lvl-{{.Level}}">{{.Level}}</span> <strong>{{.Msg}}</strong> {{.Rest}}</li>{{end}}</ul>
</section>
{{template "bottom"}}`))

// refreshStamp is the refresh token's expiry, or why there is none: no
// refresh token at all, or one whose lifetime the provider did not give.
func refreshStamp(cn *oauth.Connection, now time.Time) string {
	switch cn.Info().RefreshState() {
	case oauth.RefreshNone:
		return "no refresh token"
	case oauth.RefreshUnknown:
		return "unknown lifetime"
	}
	return stamp(cn.RefreshExpiresAt, now)
}
