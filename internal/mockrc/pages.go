package mockrc

import (
	"fmt"
	"html/template"
	"net/http"
)

// The HTML pages: login and refusal.

func writePage(w http.ResponseWriter, status int, t *template.Template, data any) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if err := t.Execute(w, data); err != nil {
		fmt.Fprint(w, "<p>page error</p>")
	}
}

const pageHead = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{block "title" .}}{{end}} · RingCentral (mock)</title>
<style>
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f6f8;color:#1d2329}
main{max-width:28rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:.75rem;box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:1.4rem;margin:0 0 .5rem}
h2{font-size:1.05rem;margin:1.5rem 0 .5rem}
p{margin:.5rem 0}
.note{color:#5a6570;font-size:.9rem}
button{display:block;width:100%;min-height:3rem;margin:.5rem 0;padding:.6rem 1rem;font:inherit;text-align:left;border:1px solid #c8d0d8;border-radius:.5rem;background:#fff;cursor:pointer}
button:hover,button:focus{border-color:#0073ae;outline:2px solid #0073ae33}
button.cancel{text-align:center;background:#f4f6f8}
code{word-break:break-all}
</style>
</head>
<body>
<main>
`

var loginPage = template.Must(template.New("login").Parse(pageHead + `{{define "title"}}Sign in{{end}}
<h1>Sign in to RingCentral</h1>
<p class="note">This is the local mock provider: no password needed.</p>
<p>The app <code>{{.Req.ClientID}}</code> asks to access your account{{with .Req.Scope}} with <code>{{.}}</code>{{end}}.</p>
<form method="post" action="authorize/decide">
<input type="hidden" name="client_id" value="{{.Req.ClientID}}">
<input type="hidden" name="redirect_uri" value="{{.Req.RedirectURI}}">
<input type="hidden" name="state" value="{{.Req.State}}">
<input type="hidden" name="code_challenge" value="{{.Req.Challenge}}">
<input type="hidden" name="code_challenge_method" value="{{.Req.Method}}">
{{- with .Req.Scope}}
<input type="hidden" name="scope" value="{{.}}">
{{- end}}
{{- range $k, $v := .Req.Extra}}
<input type="hidden" name="{{$k}}" value="{{index $v 0}}">
{{- end}}
<h2>Choose a demo account</h2>
{{- range .Accounts}}
<button type="submit" name="account" value="{{.ID}}">{{.Name}} (account {{.ID}}, extension {{.ExtensionNumber}})</button>
{{- end}}
<h2>Or</h2>
<button type="submit" name="cancel" value="1" class="cancel">Cancel</button>
</form>
</main>
</body>
</html>
`))

var errorPage = template.Must(template.New("error").Parse(pageHead + `{{define "title"}}Request refused{{end}}
<h1>This sign-in request was refused</h1>
<p>{{.Message}}</p>
<p class="note">Start again from the application.</p>
</main>
</body>
</html>
`))
