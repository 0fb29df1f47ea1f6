package main

import (
	"context"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// The dev server's HTTP middleware: one host, an access log, request ids.

// canonicalHost answers only requests for the server's own host:port. The
// binding cookie is per host, so a flow started at localhost would fail at
// 127.0.0.1; and a DNS-rebinding page (another name resolving to 127.0.0.1)
// must not read the console. GET and HEAD are redirected to the canonical
// URL, anything else gets 421.
func (ds *devServer) canonicalHost(next http.Handler) http.Handler {
	want := strings.ToLower(ds.opts.Addr)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.ToLower(r.Host) == want {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "this dev server answers only at "+ds.BaseURL, http.StatusMisdirectedRequest)
			return
		}
		u := url.URL{Scheme: "http", Host: ds.opts.Addr, Path: r.URL.Path, RawQuery: r.URL.RawQuery}
		http.Redirect(w, r, u.String(), http.StatusTemporaryRedirect)
	})
}

// accessLog logs each request's method, path and status; never its query
// (codes and states travel there) or headers. Console views are logged at
// debug level so they do not crowd the console's own log.
func (ds *devServer) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		level := slog.LevelInfo
		if r.Method == http.MethodGet && (r.URL.Path == consolePath || r.URL.Path == "/favicon.ico") {
			level = slog.LevelDebug
		}
		ds.Log.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.status), slog.Int64("duration_ms", time.Since(start).Milliseconds()))
	})
}

// requestIDHandler adds the event's requestId (set by apigw.Handler in the
// context) to each record, as the Lambdas' lambdacontext log handler does.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// notFoundPage answers the dev server's unknown paths (and the console's
// unknown subpaths) with a page that says where things are, instead of Go's
// bare "404 page not found". The mock provider's answers under /mock/ are
// its own, and 405s stay as they are.
func (ds *devServer) notFoundPage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, mockPrefix+"/") {
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
<code>/callback</code> (the Lambda handlers) and the mock provider under <code>/mock/</code>.</p>
</section>
{{template "bottom"}}`))
