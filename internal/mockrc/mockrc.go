// Package mockrc is a RingCentral-shaped OAuth 2.0 provider for the local dev
// server and the tests: same paths, same token-response and error shapes,
// same rules that matter to a client that keeps tokens alive.
//
// Endpoints (paths relative to the server root, so it can be mounted under
// a prefix with http.StripPrefix):
//
//	GET  /restapi/oauth/authorize         login page: pick a demo account or cancel
//	POST /restapi/oauth/authorize/decide  the page's form target: redirect with code or error
//	POST /restapi/oauth/token             authorization_code and refresh_token grants
//	POST /restapi/oauth/revoke            revoke a token's session
//	GET  /restapi/v1.0/account/~/extension/~  {"id":...} for a valid Bearer access token
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
// Sessions counts live sessions per account, Script queues faults per path.
package mockrc

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
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
}

type authCode struct {
	clientID, redirectURI, challenge, scope, account string
	expires                                          time.Time
	used                                             bool
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
	}
	return &Server{
		opts:    opts,
		codes:   map[string]*authCode{},
		access:  map[string]*session{},
		refresh: map[string]*session{},
		calls:   map[string]int{},
		faults:  map[string][]Fault{},
	}
}

// Calls returns how many requests reached path (one of the *Path
// constants), faulted ones included.
func (s *Server) Calls(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[path]
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
		if !wait(r, fault.Delay) {
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
	if !wait(r, fault.Delay) {
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

// wait sleeps d (forever when negative) unless the client gives up first;
// it reports whether to go on answering.
func wait(r *http.Request, d time.Duration) bool {
	if d == 0 {
		return true
	}
	if d < 0 {
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

// ---- authorize and decide ----

// authRequest is a validated authorize request (from the query or the form).
type authRequest struct {
	ClientID, RedirectURI, State, Challenge, Method, Scope string
}

// parseAuth validates v. A non-empty pageErr means answer with a 400 page;
// otherwise a non-empty redirErr means redirect with that error.
func (s *Server) parseAuth(v url.Values) (req authRequest, redirErr, redirDesc, pageErr string) {
	for k, vals := range v {
		if len(vals) > 1 {
			return req, "", "", "The parameter " + k + " was sent more than once."
		}
	}
	req = authRequest{
		ClientID:    v.Get("client_id"),
		RedirectURI: v.Get("redirect_uri"),
		State:       v.Get("state"),
		Challenge:   v.Get("code_challenge"),
		Method:      v.Get("code_challenge_method"),
		Scope:       v.Get("scope"),
	}
	if subtle.ConstantTimeCompare([]byte(req.ClientID), []byte(s.opts.ClientID)) != 1 {
		return req, "", "", "This application is not known (client_id)."
	}
	if !s.redirectAllowed(req.RedirectURI) {
		return req, "", "", "The redirect_uri is not registered for this application."
	}
	switch {
	case v.Get("response_type") != "code":
		return req, "unsupported_response_type", "response_type must be code", ""
	case req.State == "":
		return req, "invalid_request", "state is required", ""
	case req.Challenge == "":
		return req, "invalid_request", "code_challenge is required (PKCE)", ""
	case req.Method != "S256":
		return req, "invalid_request", "code_challenge_method must be S256", ""
	case len(req.Challenge) < 43 || len(req.Challenge) > 128:
		return req, "invalid_request", "code_challenge is malformed", ""
	}
	return req, "", "", ""
}

func (s *Server) redirectAllowed(uri string) bool {
	if uri == "" {
		return false
	}
	if len(s.opts.RedirectURIs) > 0 {
		for _, u := range s.opts.RedirectURIs {
			if u == uri {
				return true
			}
		}
		return false
	}
	u, err := url.Parse(uri)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.Fragment != "" {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	req, redirErr, redirDesc, pageErr := s.parseAuth(r.URL.Query())
	if pageErr != "" {
		writePage(w, http.StatusBadRequest, errorPage, map[string]string{"Message": pageErr})
		return
	}
	if redirErr != "" {
		redirectError(w, r, req, redirErr, redirDesc)
		return
	}
	writePage(w, http.StatusOK, loginPage, map[string]any{
		"Req":      req,
		"Accounts": demoAccounts,
	})
}

func (s *Server) decide(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil {
		writePage(w, http.StatusBadRequest, errorPage, map[string]string{"Message": "The form could not be read."})
		return
	}
	form := r.PostForm
	account, cancel := form.Get("account"), form.Get("cancel")
	form.Del("account")
	form.Del("cancel")
	form.Set("response_type", "code")
	req, redirErr, redirDesc, pageErr := s.parseAuth(form)
	if pageErr != "" {
		writePage(w, http.StatusBadRequest, errorPage, map[string]string{"Message": pageErr})
		return
	}
	if redirErr != "" {
		redirectError(w, r, req, redirErr, redirDesc)
		return
	}
	if cancel != "" {
		redirectError(w, r, req, "access_denied", "The user declined the authorization request")
		return
	}
	if !knownAccount(account) {
		writePage(w, http.StatusBadRequest, errorPage, map[string]string{"Message": "Pick one of the demo accounts."})
		return
	}
	code := token("mockrc_code_")
	s.mu.Lock()
	s.codes[code] = &authCode{
		clientID: req.ClientID, redirectURI: req.RedirectURI, challenge: req.Challenge,
		scope: req.Scope, account: account, expires: s.opts.Now().Add(CodeTTL),
	}
	s.mu.Unlock()
	redirect(w, r, req.RedirectURI, url.Values{"code": {code}, "state": {req.State}})
}

func knownAccount(id string) bool {
	for _, a := range demoAccounts {
		if a.ID == id {
			return true
		}
	}
	return false
}

func redirectError(w http.ResponseWriter, r *http.Request, req authRequest, code, desc string) {
	v := url.Values{"error": {code}, "error_description": {desc}}
	if req.State != "" {
		v.Set("state", req.State)
	}
	redirect(w, r, req.RedirectURI, v)
}

// redirect sends the browser to base with params added to its query.
func redirect(w http.ResponseWriter, r *http.Request, base string, params url.Values) {
	u, _ := url.Parse(base) // validated by redirectAllowed
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// ---- token ----

// rcError is one entry of RingCentral's "errors" array.
type rcError struct {
	ErrorCode string `json:"errorCode"`
	Message   string `json:"message"`
}

type oauthError struct {
	Error            string    `json:"error"`
	ErrorDescription string    `json:"error_description"`
	Errors           []rcError `json:"errors"`
}

func writeOAuthError(w http.ResponseWriter, status int, errCode, rcCode, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="mockrc"`)
	}
	writeJSON(w, status, oauthError{
		Error: errCode, ErrorDescription: msg,
		Errors: []rcError{{ErrorCode: rcCode, Message: msg}},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// clientAuth checks HTTP Basic client credentials (form-encoded inside, as
// RFC 6749 2.3.1 and x/oauth2 do) and answers 401 when they are wrong.
func (s *Server) clientAuth(w http.ResponseWriter, r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if !ok {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "OAU-123", "Client authentication is required")
		return false
	}
	if v, err := url.QueryUnescape(id); err == nil {
		id = v
	}
	if v, err := url.QueryUnescape(secret); err == nil {
		secret = v
	}
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(s.opts.ClientID))
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret))
	if idOK&secretOK != 1 {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "OAU-153", "Invalid client")
		return false
	}
	return true
}

// readForm parses the POST body and refuses repeated parameters.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "OAU-101", "Request body is malformed")
		return nil, false
	}
	for _, vals := range r.PostForm {
		if len(vals) > 1 {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "OAU-111", "Request parameter duplication detected")
			return nil, false
		}
	}
	return r.PostForm, true
}

type tokenResponse struct {
	AccessToken           string `json:"access_token"`
	TokenType             string `json:"token_type"`
	ExpiresIn             int64  `json:"expires_in"`
	RefreshToken          string `json:"refresh_token"`
	RefreshTokenExpiresIn int64  `json:"refresh_token_expires_in"`
	Scope                 string `json:"scope"`
	OwnerID               string `json:"owner_id"`
	EndpointID            string `json:"endpoint_id"`
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	form, ok := readForm(w, r)
	if !ok {
		return
	}
	if form.Get("client_secret") != "" {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "OAU-123", "Client authentication is required")
		return
	}
	if !s.clientAuth(w, r) {
		return
	}
	switch form.Get("grant_type") {
	case "authorization_code":
		s.exchange(w, form)
	case "refresh_token":
		s.refreshGrant(w, form)
	case "":
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "OAU-101", "Parameter [grant_type] is invalid")
	default:
		writeOAuthError(w, http.StatusBadRequest, "unauthorized_client", "OAU-251", "Unauthorized for this grant type")
	}
}

func (s *Server) exchange(w http.ResponseWriter, form url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	c := s.codes[form.Get("code")]
	switch {
	case c == nil || c.used:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "OAU-106", "Invalid authorization code")
		return
	case c.clientID != s.opts.ClientID:
		c.used = true
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "OAU-110", "Authorization code was not issued for this application")
		return
	}
	c.used = true
	switch {
	case !now.Before(c.expires):
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "OAU-108", "Authorization code is expired")
	case form.Get("redirect_uri") != c.redirectURI:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "OAU-109", "Redirect URIs do not match")
	case !verifierMatches(form.Get("code_verifier"), c.challenge):
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "OAU-106", "Invalid code verifier")
	default:
		ss := s.newSession(c.account, c.scope, now)
		s.writeTokens(w, ss, now)
	}
}

func verifierMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// newSession creates a session, revoking the account's oldest live one past
// MaxSessions. Callers hold s.mu.
func (s *Server) newSession(account, scope string, now time.Time) *session {
	if scope == "" {
		scope = DefaultScope
	}
	var live []*session
	for _, ss := range s.sessions {
		if ss.account == account && !ss.revoked && now.Before(ss.refreshExp) {
			live = append(live, ss)
		}
	}
	for i := 0; len(live)-i >= MaxSessions; i++ {
		live[i].revoked = true
	}
	ss := &session{account: account, scope: scope, created: now, endpointID: token("")[:22]}
	s.sessions = append(s.sessions, ss)
	s.issue(ss, now)
	return ss
}

// issue gives ss a new access and refresh token. Callers hold s.mu.
func (s *Server) issue(ss *session, now time.Time) {
	ss.accessToken = token("mockrc_at_")
	ss.accessExp = now.Add(s.opts.AccessTTL)
	ss.accessUsed = false
	ss.refreshToken = token("mockrc_rt_")
	ss.refreshExp = now.Add(s.opts.RefreshTTL)
	s.access[ss.accessToken] = ss
	s.refresh[ss.refreshToken] = ss
}

func (s *Server) writeTokens(w http.ResponseWriter, ss *session, now time.Time) {
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken:           ss.accessToken,
		TokenType:             "bearer",
		ExpiresIn:             int64(ss.accessExp.Sub(now) / time.Second),
		RefreshToken:          ss.refreshToken,
		RefreshTokenExpiresIn: int64(ss.refreshExp.Sub(now) / time.Second),
		Scope:                 ss.scope,
		OwnerID:               ss.account,
		EndpointID:            ss.endpointID,
	})
}

func (s *Server) refreshGrant(w http.ResponseWriter, form url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	rt := form.Get("refresh_token")
	ss := s.refresh[rt]
	switch {
	case rt == "" || ss == nil:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "OAU-213", "Token not found")
	case ss.revoked:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "OAU-211", "Token is revoked")
	case rt == ss.refreshToken:
		if !now.Before(ss.refreshExp) {
			writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "OAU-210", "Token expired")
			return
		}
		ss.prevRefresh, ss.prevUntil = "", time.Time{}
		if s.opts.GraceWindow > 0 {
			ss.prevRefresh = rt
			ss.prevUntil = now.Add(s.opts.GraceWindow)
			if ss.refreshExp.Before(ss.prevUntil) {
				ss.prevUntil = ss.refreshExp
			}
		}
		s.issue(ss, now)
		s.writeTokens(w, ss, now)
	case rt == ss.prevRefresh && now.Before(ss.prevUntil) && !ss.accessUsed:
		ss.prevRefresh, ss.prevUntil = "", time.Time{}
		s.issue(ss, now)
		s.writeTokens(w, ss, now)
	default:
		writeOAuthError(w, http.StatusBadRequest, "invalid_grant", "OAU-211", "Token is revoked")
	}
}

// ---- revoke ----

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	form, ok := readForm(w, r)
	if !ok {
		return
	}
	if !s.clientAuth(w, r) {
		return
	}
	tok := form.Get("token")
	if tok == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "OAU-101", "Parameter [token] is invalid")
		return
	}
	s.mu.Lock()
	if ss := s.access[tok]; ss != nil {
		ss.revoked = true
	}
	if ss := s.refresh[tok]; ss != nil {
		ss.revoked = true
	}
	s.mu.Unlock()
	// RFC 7009: an unknown or already revoked token is not an error.
	w.WriteHeader(http.StatusOK)
}

// ---- extension ----

func (s *Server) extension(w http.ResponseWriter, r *http.Request) {
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
		return
	}
	var acct Account
	for _, a := range demoAccounts {
		if a.ID == ss.account {
			acct = a
		}
	}
	id, _ := strconv.ParseInt(acct.ID, 10, 64)
	writeJSON(w, http.StatusOK, map[string]any{
		"id":              id,
		"extensionNumber": acct.ExtensionNumber,
		"name":            acct.Name,
		"type":            "User",
		"status":          "Enabled",
	})
}

// token returns prefix + 32 random bytes, base64url.
func token(prefix string) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// ---- pages ----

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
