package main

// The dev server's HTTP middleware: canonical host, access log, request ids.

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

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
