package main

// The backend for the frontend on the dev server: /bff/* through the same
// handler as functions/bff, and the demo single-page app at /app/ that uses
// it (DESIGN.md, "Browser-only apps").

import (
	"embed"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/oauthfn/oauthfn/pkg/oauth/apigw"
)

// bffPrefix is where the BFF's routes live, spaPath where the demo SPA is.
const (
	bffPrefix = "/bff/"
	spaPath   = "/app/"
)

// The BFF's API Gateway route keys (template.yaml's routes of the bff
// function).
const (
	bffRouteLogin   = "GET /bff/{provider}/login"
	bffRouteSession = "GET /bff/session"
	bffRouteLogout  = "POST /bff/logout"
	bffRouteAPI     = "ANY /bff/api/{proxy+}"
)

// gatewayNotFound is API Gateway's own answer to a request that matches no
// route: the function is not called.
const gatewayNotFound = `{"message":"Not Found"}`

// bffFirst sends every request whose path, as sent, starts with /bff/ to
// the BFF before anything else sees it: ServeMux would clean a path with
// "..", "." or "//" and redirect to the cleaned one, and API Gateway does
// not, so the BFF (its API proxy refuses such paths) gets the request as
// the client sent it, as in AWS.
func bffFirst(bff, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(apigw.RawPath(r), bffPrefix) {
			bff.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bffHandler serves /bff/* as API Gateway serves the bff function's routes:
// a request matching one of them becomes an event with its routeKey and
// pathParameters (decoded, as API Gateway passes them) and goes to fn
// (Handler.BFFRoutes); anything else gets the gateway's 404 and never
// reaches fn.
func bffHandler(fn apigw.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		routeKey, params := bffRoute(r.Method, apigw.RawPath(r))
		if routeKey == "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(gatewayNotFound))
			return
		}
		serveRoute(w, r, routeKey, params, fn)
	})
}

// bffRoute matches a request (its method and its path as sent) against the
// BFF's routes: the route key and path parameters, or "" for none.
// {proxy+} takes the rest of the path, at least one character, whatever it
// holds (the proxy judges it); {provider} is one segment.
func bffRoute(method, rawPath string) (string, map[string]string) {
	if rest, ok := strings.CutPrefix(rawPath, bffPrefix+"api/"); ok && rest != "" {
		return bffRouteAPI, map[string]string{"proxy": unescapePath(rest)}
	}
	switch {
	case rawPath == "/bff/session" && method == http.MethodGet:
		return bffRouteSession, nil
	case rawPath == "/bff/logout" && method == http.MethodPost:
		return bffRouteLogout, nil
	case method == http.MethodGet:
		rest, _ := strings.CutPrefix(rawPath, bffPrefix)
		provider, tail, ok := strings.Cut(rest, "/")
		if ok && tail == "login" && provider != "" {
			return bffRouteLogin, map[string]string{"provider": unescapePath(provider)}
		}
	}
	return "", nil
}

// unescapePath decodes a path parameter; one that does not decode is passed
// as sent.
func unescapePath(s string) string {
	if d, err := url.PathUnescape(s); err == nil {
		return d
	}
	return s
}

// spaFiles is the demo single-page app: static files, no build step.
//
//go:embed spa
var spaFiles embed.FS

// spaCSP is the SPA's Content-Security-Policy: its own script and style
// files only (no inline script or style), fetch to its own origin (the
// BFF) only.
const spaCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

// registerSPA serves the SPA's files at /app/ and the providers it offers
// at /app/providers.json (a static site would list them in its own code;
// the dev server's come from its configuration).
func (ds *devServer) registerSPA(mux *http.ServeMux) {
	for name, typ := range map[string]string{
		"index.html": "text/html; charset=utf-8",
		"app.js":     "text/javascript; charset=utf-8",
		"app.css":    "text/css; charset=utf-8",
	} {
		body, err := spaFiles.ReadFile("spa/" + name)
		if err != nil {
			panic("dev: spa/" + name + " is not embedded: " + err.Error())
		}
		pattern := "GET " + spaPath + name
		if name == "index.html" {
			pattern = "GET " + spaPath + "{$}"
		}
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			writeSPAFile(w, typ, body)
		})
	}
	mux.HandleFunc("GET "+spaPath+"providers.json", func(w http.ResponseWriter, r *http.Request) {
		body, _ := json.Marshal(ds.spaProviders())
		writeSPAFile(w, "application/json", body)
	})
}

// spaProvider is one provider the SPA offers a sign-in for.
type spaProvider struct {
	ID     string `json:"id"`     // the provider id of /bff/{provider}/login
	Preset string `json:"preset"` // its preset ("ringcentral", ...), for the button's label
}

// spaProviders lists the stack's providers, in order.
func (ds *devServer) spaProviders() map[string][]spaProvider {
	var out []spaProvider
	for _, id := range ds.OAuth.Config.ProviderIDs() {
		v, _ := ds.OAuth.ForProvider(id)
		out = append(out, spaProvider{ID: id, Preset: v.Config.Provider.Preset})
	}
	return map[string][]spaProvider{"providers": out}
}

func writeSPAFile(w http.ResponseWriter, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", spaCSP)
	_, _ = w.Write(body)
}
