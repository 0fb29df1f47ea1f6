package mockrc

import (
	"io"
	"net/http"
	"strings"
)

// The REST API side of the mock beyond the extension endpoint, for the BFF
// proxy's tests: every request the server receives is recorded (Requests),
// and a few endpoints answer under /restapi/v1.0/mock/.
const (
	// EchoPath answers any method, for a valid Bearer access token, with
	// the request's body and Content-Type (application/octet-stream when
	// none), an ETag, RingCentral's X-Rate-Limit-* headers and a
	// Set-Cookie (which a proxy must drop).
	EchoPath = "/restapi/v1.0/mock/echo"
	// RedirectPath answers 302 to EchoPath (a proxy must not follow).
	RedirectPath = "/restapi/v1.0/mock/redirect"
)

// Request is one request the server received, as recorded.
type Request struct {
	Method, Path, RawQuery string
	Header                 http.Header
}

// Requests returns every request the server received, in order (scripted
// faults included). Test code only: the headers include credentials.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// record notes r (under s.mu).
func (s *Server) record(r *http.Request) {
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone()})
}

// apiHandler returns the handler of one of this file's endpoints, or nil.
func (s *Server) apiHandler(path string) http.HandlerFunc {
	switch path {
	case EchoPath:
		return s.echo
	case RedirectPath:
		return s.redirect
	}
	return nil
}

// bearer checks the request's access token as the extension endpoint does
// and answers 401 when it is not valid; it returns the token's session.
func (s *Server) bearer(w http.ResponseWriter, r *http.Request) (*session, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	now := s.opts.Now()
	ss := s.access[tok]
	var code, msg string
	switch {
	case !ok || tok == "":
		code, msg = "OAU-123", "Invalid Authorization header value"
	case ss == nil || ss.revoked || tok != ss.accessToken:
		code, msg = "OAU-213", "Token not found"
	case !now.Before(ss.accessExp):
		code, msg = "OAU-128", "Access token expired"
	default:
		ss.accessUsed = true
	}
	s.mu.Unlock()
	if code != "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="mockrc"`)
		writeJSON(w, http.StatusUnauthorized, map[string]any{
			"errorCode": "TokenInvalid", "message": msg,
			"errors": []rcError{{ErrorCode: code, Message: msg}},
		})
		return nil, false
	}
	return ss, true
}

func (s *Server) echo(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.bearer(w, r); !ok {
		return
	}
	body, _ := io.ReadAll(r.Body)
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("ETag", `"mock-etag"`)
	w.Header().Set("X-Rate-Limit-Group", "light")
	w.Header().Set("X-Rate-Limit-Limit", "50")
	w.Header().Set("X-Rate-Limit-Remaining", "49")
	w.Header().Set("X-Rate-Limit-Window", "60")
	w.Header().Set("Set-Cookie", "mock=1; Path=/")
	_, _ = w.Write(body)
}

func (s *Server) redirect(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.bearer(w, r); !ok {
		return
	}
	http.Redirect(w, r, EchoPath, http.StatusFound)
}
