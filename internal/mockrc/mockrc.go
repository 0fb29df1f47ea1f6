// Package mockrc is a RingCentral-shaped OAuth 2.0 provider for the local dev
// server and the tests: same paths, same token-response and error shapes,
// same rules that matter to a client that keeps tokens alive.
//
// Endpoints (paths relative to the server root, so it can be mounted under
// a prefix with http.StripPrefix):
//
//	GET  /restapi/oauth/authorize         login page: pick a demo account or cancel
//	POST /restapi/oauth/authorize/decide  the page's form target: redirect with code or error
//	POST /restapi/oauth/token             authorization_code, refresh_token and (EnableJWT) jwt-bearer grants
//	POST /restapi/oauth/revoke            revoke a token's session
//	GET  /restapi/v1.0/account/~/extension/~  {"id":...} for a valid Bearer access token
//	ANY  /restapi/v1.0/mock/echo          the request's body back, for a valid Bearer access token (api.go)
//	GET  /restapi/v1.0/mock/redirect      302 to /restapi/v1.0/mock/echo (api.go)
//	POST /restapi/mock/jwt                the developer console's "create JWT": form account (and ttl, a Go duration); answers the credential as text
//	POST /restapi/mock/jwt/revoke         revoke a JWT credential: form jwt
//
// Rules emulated:
//
//   - Authorize requires response_type=code, the client id, an allowed
//     redirect_uri (Options.RedirectURIs, or any http(s) loopback URI when
//     empty), a state, and PKCE with code_challenge_method=S256. A bad client
//     id or redirect_uri gives a 400 page (never a redirect); other problems
//     redirect with error=invalid_request (or unsupported_response_type).
//   - Codes live 60 s, are bound to the client, redirect_uri and challenge,
//     and are single use: the first exchange attempt consumes the code
//     whatever its outcome, a second gets invalid_grant.
//   - The token endpoint takes client credentials only as HTTP Basic
//     (401 invalid_client otherwise), like RingCentral for confidential apps.
//     Grants other than authorization_code and refresh_token get 400
//     unauthorized_client OAU-251 "Unauthorized for this grant type".
//     A parameter sent twice gets 400 invalid_request OAU-111.
//   - Each refresh rotates both tokens: the old access token stops working at
//     once, the old refresh token is retired. Grace (RingCentral keeps the
//     previous refresh token usable while the new access token is unused):
//     the retired refresh token is accepted once more within GraceWindow of
//     the rotation, provided the new access token has not been used at the
//     extension endpoint yet; that use rotates again and spends the grace
//     (the token issued in between is dead). Outside grace: invalid_grant
//     OAU-211 "Token is revoked".
//   - An account holds at most MaxSessions (5) sessions per app; creating a
//     sixth revokes the oldest, as RingCentral does.
//   - Refresh tokens live RefreshTTL from their issue; each refresh issues a
//     fresh one with the full lifetime. Expired: invalid_grant OAU-210
//     "Token expired". Unknown: invalid_grant OAU-213 "Token not found".
//
// Tokens carry recognisable prefixes (mockrc_at_, mockrc_rt_, mockrc_code_)
// so tests can search logs and pages for leaks.
//
// Introspection and faults for tests: Calls counts requests per path,
// Requests records every request (method, path, query, headers),
// Sessions counts live sessions per account, StaleRefreshes counts retired
// refresh tokens presented outside their grace, Script queues faults per
// path.
package mockrc

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Paths served, also the names Calls and Script take.
const (
	AuthorizePath = "/restapi/oauth/authorize"
	DecidePath    = "/restapi/oauth/authorize/decide"
	TokenPath     = "/restapi/oauth/token"
	RevokePath    = "/restapi/oauth/revoke"
	ExtensionPath = "/restapi/v1.0/account/~/extension/~"
)

// Defaults and fixed limits.
const (
	DefaultClientID     = "mockrc-client"
	DefaultClientSecret = "mockrc-secret"
	DefaultAccessTTL    = time.Hour
	DefaultRefreshTTL   = 7 * 24 * time.Hour
	DefaultGraceWindow  = 60 * time.Minute
	// NoGrace as Options.GraceWindow disables the grace for retired refresh
	// tokens.
	NoGrace = time.Duration(-1)
	// CodeTTL is an authorization code's lifetime.
	CodeTTL = 60 * time.Second
	// MaxSessions is the most live sessions one account holds for the app.
	MaxSessions = 5
	// DefaultScope is the token response's scope when the authorize request
	// named none (RingCentral sets permissions in the app's settings).
	DefaultScope = "ReadAccounts"
)

// Account is a demo account offered on the login page.
type Account struct {
	ID              string // owner_id and extension id
	Name            string
	ExtensionNumber string
}

var demoAccounts = []Account{
	{ID: "1001", Name: "Alice", ExtensionNumber: "101"},
	{ID: "1002", Name: "Bob", ExtensionNumber: "102"},
	{ID: "1003", Name: "Carol", ExtensionNumber: "103"},
}

// DemoAccounts returns the accounts the login page offers.
func DemoAccounts() []Account { return append([]Account(nil), demoAccounts...) }

// Options configure a Server. Zero values take the defaults.
type Options struct {
	ClientID     string   // default DefaultClientID
	ClientSecret string   // default DefaultClientSecret
	RedirectURIs []string // exact matches; empty: any http(s) loopback URI
	Now          func() time.Time
	AccessTTL    time.Duration // default 1h
	RefreshTTL   time.Duration // default 7 days
	// GraceWindow: how long a retired refresh token stays usable once more
	// while the new access token is unused. 0: DefaultGraceWindow (60 min);
	// NoGrace (or any negative value): no grace.
	GraceWindow time.Duration
	// Dialect plays another provider's documented behaviour (see
	// Dialects); the zero value is RingCentral.
	Dialect Dialect
	// JWTFlow turns the app's "JWT auth flow" on from the start (see
	// EnableJWT).
	JWTFlow bool
}

// Fault is a scripted answer for one call to a path (see Script).
type Fault struct {
	// Status, when non-zero, is written instead of the real answer, with
	// Body (Content-Type application/json when it starts with "{") and
	// RetryAfter as the Retry-After header when set.
	Status     int
	Body       string
	RetryAfter string
	// Delay waits before answering; negative waits until the client gives
	// up (the request's context ends) and then writes nothing.
	Delay time.Duration
	// Hung, if set, is called once a negative Delay begins (for
	// AfterSuccess: after the real answer was made, so a refresh has
	// rotated). A test gives up on the request there, deterministically,
	// instead of racing a short client timeout against the request's
	// arrival on a loaded machine.
	Hung func(r *http.Request)
	// AfterSuccess handles the request for real first (a refresh rotates,
	// a code is consumed), then applies Delay and Status: "rotated, but the
	// client never saw the answer".
	AfterSuccess bool
}

// RateLimited is RingCentral's 429 answer (CMN-301) with a Retry-After.
func RateLimited(retryAfter string) Fault {
	return Fault{
		Status:     http.StatusTooManyRequests,
		Body:       `{"errorCode":"CMN-301","message":"Request rate exceeded","errors":[{"errorCode":"CMN-301","message":"Request rate exceeded"}]}`,
		RetryAfter: retryAfter,
	}
}

// Server is the mock provider. Its methods are safe for concurrent use.
type Server struct {
	opts Options

	mu       sync.Mutex
	codes    map[string]*authCode
	access   map[string]*session // every access token issued
	refresh  map[string]*session // every refresh token issued
	sessions []*session          // in creation order
	calls    map[string]int
	faults   map[string][]Fault
	stale    int       // retired refresh tokens presented outside their grace
	requests []Request // every request received (api.go)

	// The JWT bearer grant (jwt.go).
	jwtEnabled             bool
	jwts                   map[string]*jwtCredential
	jwtGranted, jwtRefused int
}

type authCode struct {
	clientID, redirectURI, challenge, scope, account string
	expires                                          time.Time
	used                                             bool
	refreshOK                                        bool // the dialect issues a refresh token for this authorization
}

type session struct {
	account, endpointID, scope string
	created                    time.Time
	revoked                    bool

	accessToken string
	accessExp   time.Time
	accessUsed  bool

	refreshToken string
	refreshExp   time.Time

	prevRefresh string    // retired refresh token still in grace, or ""
	prevUntil   time.Time // end of its grace

	retired map[string]time.Time // Dialect.OldRefreshValid: rotated refresh tokens and their expiry
}

// New returns a Server for opts.
func New(opts Options) *Server {
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.AccessTTL <= 0 {
		opts.AccessTTL = DefaultAccessTTL
	}
	if opts.RefreshTTL <= 0 {
		opts.RefreshTTL = DefaultRefreshTTL
	}
	if opts.GraceWindow == 0 {
		opts.GraceWindow = DefaultGraceWindow
		if !opts.Dialect.ringCentral() {
			opts.GraceWindow = NoGrace // no other preset documents one
		}
	}
	return &Server{
		jwtEnabled: opts.JWTFlow,
		opts:       opts,
		codes:      map[string]*authCode{},
		access:     map[string]*session{},
		refresh:    map[string]*session{},
		calls:      map[string]int{},
		faults:     map[string][]Fault{},
	}
}

// Calls returns how many requests reached path (one of the *Path
// constants), faulted ones included.
func (s *Server) Calls(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[path]
}

// StaleRefreshes returns how many refresh grants presented a retired
// refresh token outside its grace (refused with OAU-211): a client that
// spent a refresh token twice, or kept one the provider had rotated.
func (s *Server) StaleRefreshes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stale
}

// Sessions returns the account's live (not revoked, refresh token not
// expired) sessions.
func (s *Server) Sessions(account string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	n := 0
	for _, ss := range s.sessions {
		if ss.account == account && !ss.revoked && now.Before(ss.refreshExp) {
			n++
		}
	}
	return n
}

// Script queues faults for path: each following call to path takes the next
// one, in order; once they are used up, calls are served normally.
func (s *Server) Script(path string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[path] = append(s.faults[path], faults...)
}

// ServeHTTP routes to the endpoints, applying any scripted fault.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls[r.URL.Path]++
	s.record(r)
	var fault Fault
	q := s.faults[r.URL.Path]
	hasFault := len(q) > 0
	if hasFault {
		fault, s.faults[r.URL.Path] = q[0], q[1:]
	}
	s.mu.Unlock()

	if !hasFault {
		s.route(w, r)
		return
	}
	// Read the body before any delay: net/http notices a client that gave up
	// (and cancels r.Context) only once the body has been read.
	_ = r.ParseForm()
	if !fault.AfterSuccess {
		if !wait(r, fault) {
			return
		}
		if fault.Status != 0 {
			writeFault(w, fault)
			return
		}
		s.route(w, r)
		return
	}
	rec := httptest.NewRecorder()
	s.route(rec, r)
	if !wait(r, fault) {
		return
	}
	if fault.Status != 0 {
		writeFault(w, fault)
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// wait sleeps f.Delay (forever when negative, after calling f.Hung)
// unless the client gives up first; it reports whether to go on answering.
func wait(r *http.Request, f Fault) bool {
	d := f.Delay
	if d == 0 {
		return true
	}
	if d < 0 {
		if f.Hung != nil {
			f.Hung(r)
		}
		<-r.Context().Done()
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func writeFault(w http.ResponseWriter, f Fault) {
	if strings.HasPrefix(f.Body, "{") {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	w.WriteHeader(f.Status)
	_, _ = io.WriteString(w, f.Body)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if h := s.apiHandler(r.URL.Path); h != nil {
		h(w, r)
		return
	}
	var method string
	var h func(http.ResponseWriter, *http.Request)
	switch r.URL.Path {
	case AuthorizePath:
		method, h = http.MethodGet, s.authorize
	case DecidePath:
		method, h = http.MethodPost, s.decide
	case TokenPath:
		method, h = http.MethodPost, s.token
	case RevokePath:
		method, h = http.MethodPost, s.revoke
	case ExtensionPath:
		method, h = http.MethodGet, s.extension
	case UserinfoPath:
		method, h = http.MethodGet, s.userinfo
	case JWTPath:
		method, h = http.MethodPost, s.adminJWT
	case JWTRevokePath:
		method, h = http.MethodPost, s.adminRevokeJWT
	default:
		writeJSON(w, http.StatusNotFound, map[string]any{
			"errorCode": "CMN-102", "message": "Resource not found",
			"errors": []rcError{{ErrorCode: "CMN-102", Message: "Resource not found"}},
		})
		return
	}
	if r.Method != method {
		w.Header().Set("Allow", method)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{
			"errorCode": "CMN-405", "message": "Method not allowed",
			"errors": []rcError{{ErrorCode: "CMN-405", Message: "Method not allowed"}},
		})
		return
	}
	h(w, r)
}
