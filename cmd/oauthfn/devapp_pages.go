package main

import "html/template"

// The demo app's pages (layout is in devconsole.go).

const ownersTable = `{{define "owners"}}<section id="owners">
<h2>Who owns which account</h2>
<table>
<thead><tr><th scope="col">Demo user</th><th scope="col">The app's records (from verified results)</th><th scope="col">oauthfn's user-index</th></tr></thead>
<tbody>{{range .Owners}}<tr data-user="{{.User}}"><td>{{.User}}</td><td class="app-accounts">{{range $i, $a := .App}}{{if $i}}, {{end}}<code>{{$a}}</code>{{else}}—{{end}}</td><td class="index-accounts">{{if .IndexReadFail}}<span class="bad">could not read</span>{{else}}{{range $i, $a := .Oauthfn}}{{if $i}}, {{end}}<code>{{$a}}</code>{{else}}—{{end}}{{end}}</td></tr>{{end}}</tbody>
</table>
<p class="note">An account connected again by another user moves to that user. The index is read with one Query (eventually consistent).</p>
</section>{{end}}`

const signInForm = `{{define "signin"}}{{if .User}}<form method="post" action="/app/signout"><p>Signed in as <strong id="signed-in">{{.User}}</strong> <button type="submit" class="secondary">Sign out</button></p></form>
{{else}}<form method="post" action="/app/signin"><p>Sign in to the demo app as {{range .Users}}<button type="submit" name="user" value="{{.}}">{{.}}</button> {{end}}</p></form>{{end}}{{end}}`

const connectForm = `{{define "connect"}}{{if .User}}<form method="post" action="/app/connect">
{{with .Providers}}<p><label for="provider">Provider</label> <select id="provider" name="provider">{{range .}}<option value="{{.ID}}">{{.ID}}</option>{{end}}</select>
<span class="note">the connect token names it (its provider claim) and the link goes to <code>/authorize/&lt;provider&gt;</code></span></p>{{end}}
<p><label>app_state (handed back in the result) <input name="app_state" value="{{.AppState}}" maxlength="512"></label></p>
<p><button type="submit" id="connect">Connect an account</button>
{{if not .Confirm}}<button type="submit" name="end" value="oauthfn" id="connect-own-page" class="secondary">Connect, end on oauthfn's page</button>{{end}}</p>
</form>{{else}}<p class="note">Sign in first: the app connects accounts for its own signed-in users.</p>{{end}}{{end}}`

var homeTmpl = template.Must(template.New("home").Parse(layout + ownersTable + signInForm + connectForm + `{{template "top" "Demo app"}}
<h1>oauthfn — local dev server</h1>
<section>
<h2>The demo app</h2>
<p>This page plays the part of <em>your app</em>. {{template "signin" .}}</p>
<p>Connect makes the app's backend mint a <strong>connect token</strong> for you (an HS256 JWT signed with the app key,
never made in the browser) and sends you to <code>/authorize?connect=…</code>, the same handler as the
<code>authorize</code> Lambda function. The provider sends you back to <code>/callback</code>, which stores the
account's tokens encrypted and sends you to <code>/app/connected?result=…</code>: a statement signed with the app key
that this app verifies before it believes which account you connected.{{if .Confirm}} The connection waits until the app's
backend confirms it (<code>POST /confirm</code>): only when the user signed in here is the one the link was made for,
since a link can be forwarded to someone else.{{end}}</p>
{{if .Providers}}<p id="providers">This stack serves several providers (<code>OAUTH_PROVIDERS</code>): pick one below. Each has its own
routes, <code>/authorize/&lt;provider&gt;</code> and <code>/callback/&lt;provider&gt;</code>, and its own redirect URL
({{range $i, $p := .Providers}}{{if $i}}, {{end}}{{$p.ID}}: <code>{{$p.Redirect}}</code>{{end}}){{if .Mock}}: each is a built-in
RingCentral mock under <code>/mock/&lt;provider&gt;/</code> with its own client; pick a demo account there
({{range $i, $a := .Accounts}}{{if $i}}, {{end}}{{$a.Name}} {{$a.ID}}{{end}}). The same account id at two providers is two accounts.{{else}}.{{end}}</p>
{{else if .Mock}}<p>The provider is the built-in RingCentral mock: pick a demo account there
({{range $i, $a := .Accounts}}{{if $i}}, {{end}}{{$a.Name}} {{$a.ID}}{{end}}); no password, nothing leaves this machine.</p>
{{else}}<p>The provider is the real <code>{{.Provider}}</code> configured in the environment. Its app must have
<code>{{.Redirect}}</code> registered as a redirect URL.</p>{{end}}
{{template "connect" .}}
</section>
{{template "owners" .}}
<section>
<h2>Then</h2>
<p>The <a href="/_dev">dev console</a> lists the stored connections with their end user (never their tokens) and the recent logs,
and can make a connection due and run the sweep, to watch a refresh happen.</p>
<p>The <a href="/app/" id="spa-link">browser-only app</a> is a static page with no server of its own: it signs in through
oauthfn's backend for the frontend (<code>/bff/</code>), shows the account's name from the provider's API through the proxy,
and never holds a token (only an HttpOnly session cookie).</p>
</section>
{{template "bottom"}}`))

var connectedTmpl = template.Must(template.New("connected").Parse(layout + ownersTable + signInForm + connectForm + `{{template "top" "Back in the app"}}
<h1>Back in the app</h1>
<section id="result">
{{with .Result}}<h2>Verified result</h2>
<p class="ok" id="verified">Signature, audience and expiry checked with the app key.{{if $.Confirm}} Confirmed for <strong>{{$.User}}</strong>, the user this link was made for.{{end}}</p>
<table>
<tr><th scope="row">end user (sub)</th><td><code id="result-user">{{or .User "— (anonymous)"}}</code></td></tr>
<tr><th scope="row">provider</th><td><code id="result-provider">{{.Provider}}</code></td></tr>
<tr><th scope="row">account_id</th><td><code id="result-account">{{.AccountID}}</code></td></tr>
<tr><th scope="row">status</th><td><span class="ok">{{.Status}}</span></td></tr>
<tr><th scope="row">app_state</th><td><code id="result-app-state">{{or .AppState "—"}}</code></td></tr>
</table>
<p class="note">A real app now uses this account's token through the library (<code>TokenSource(ctx, account_id)</code>) or the token function.</p>
{{else}}{{with .OtherUser}}<h2>Nothing connected</h2>
<p class="bad" id="other-user"><strong>This link was made for another user.</strong> You are signed in as <strong>{{$.User}}</strong>,
but the link that brought you here was made for <strong>{{.User}}</strong>: the app rejected the connection, and oauthfn
revoked the new session of account <code>{{.AccountID}}</code>. Nothing was attached to anyone. If you did not ask for this link, someone may have sent it to you to get your account.</p>
{{else}}{{with .SignInToFinish}}<h2>Sign in to finish</h2>
<p id="sign-in-to-finish">Account <code>{{.AccountID}}</code> is waiting to be connected. Sign in to the app as the user who started
connecting: the app confirms only for that user (and only within CONFIRM_TTL); anyone else's sign-in rejects it.</p>
{{else}}{{if .Refused}}<h2>Nothing changed</h2>
<p class="bad" id="refused">Refused: {{.Refused}}. Only a result signed with the app key says who connected which account; a typed address proves nothing.</p>
{{else}}<h2>No result</h2>
<p id="no-result">Nothing was connected. Start again below.</p>{{end}}{{end}}{{end}}{{end}}
</section>
<section>{{template "signin" .}}{{template "connect" .}}</section>
{{template "owners" .}}
<nav><a href="/_dev">Dev console</a> <a href="/">Demo app</a></nav>
{{template "bottom"}}`))
