package main

import (
	"html/template"
	"net/http"
	"strings"
)

// notFoundPage answers the dev server's unknown paths (and the console's
// unknown subpaths) with a page that says where things are, instead of Go's
// bare "404 page not found". The mock provider's answers under /mock/ are
// its own, and so are the Lambda handlers' under /authorize/ and /callback/
// (an unknown provider id is their 404 unknown_provider page, as in AWS);
// 405s stay as they are.
func (ds *devServer) notFoundPage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, mockPrefix+"/") || lambdaRoute(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		nf := &notFoundWriter{ResponseWriter: w}
		next.ServeHTTP(nf, r)
		if nf.notFound {
			writePage(w, http.StatusNotFound, notFoundTmpl, struct{ Path string }{r.URL.Path})
		}
	})
}

// lambdaRoute reports whether path is one of the Lambda handlers' routes:
// /authorize, /callback, /authorize/<id>, /callback/<id>.
func lambdaRoute(path string) bool {
	for _, route := range []string{"/authorize", "/callback"} {
		if path == route || strings.HasPrefix(path, route+"/") {
			return true
		}
	}
	return false
}

// notFoundWriter passes a response through, except a 404, which it
// swallows (headers and body) so that notFoundPage can write its own.
type notFoundWriter struct {
	http.ResponseWriter
	notFound, wrote bool
}

func (w *notFoundWriter) WriteHeader(code int) {
	if w.wrote || w.notFound {
		return
	}
	if code == http.StatusNotFound {
		w.notFound = true
		for k := range w.Header() {
			w.Header().Del(k)
		}
		return
	}
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *notFoundWriter) Write(b []byte) (int, error) {
	if !w.wrote && !w.notFound {
		w.WriteHeader(http.StatusOK)
	}
	if w.notFound {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *notFoundWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var notFoundTmpl = template.Must(template.New("notfound").Parse(layout + `{{template "top" "Not found"}}
<h1>Nothing here</h1>
<section>
<p>This dev server has no page at <code>{{.Path}}</code>.</p>
<p>It serves the <a href="/">demo app</a>, the <a href="/_dev">dev console</a>, <code>/authorize</code> and
<code>/callback</code> (the Lambda handlers; with several providers <code>/authorize/&lt;provider&gt;</code> and
<code>/callback/&lt;provider&gt;</code>), the backend for the frontend under <code>/bff/</code> with its
<a href="/app/">browser-only app</a>, and the mock providers under <code>/mock/</code>.</p>
</section>
{{template "bottom"}}`))
