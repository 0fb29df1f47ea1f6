package mockrc

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// The token and revocation endpoints, and the sessions behind them.

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
	grant := form.Get("grant_type")
	if !s.dialectClientAuth(w, r, form, grant) {
		return
	}
	switch grant {
	case "authorization_code":
		s.exchange(w, form)
	case "refresh_token":
		s.refreshGrant(w, form)
	case JWTBearerGrant:
		s.jwtGrant(w, form)
	case "":
		s.writeError(w, http.StatusBadRequest, "invalid_request", "OAU-101", "Parameter [grant_type] is invalid", grant)
	default:
		s.writeError(w, http.StatusBadRequest, "unauthorized_client", "OAU-251", "Unauthorized for this grant type", grant)
	}
}

// dialectClientAuth checks the client's credentials as the dialect takes
// them: HTTP Basic only (RingCentral's rule, the default), or in the form
// only ("post").
func (s *Server) dialectClientAuth(w http.ResponseWriter, r *http.Request, form url.Values, grant string) bool {
	if s.opts.Dialect.ClientAuth != "post" {
		if form.Get("client_secret") != "" {
			if s.opts.Dialect.Errors == "" {
				writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "OAU-123", "Client authentication is required")
			} else {
				s.writeError(w, http.StatusUnauthorized, "invalid_client", "OAU-123", "Client authentication is required", grant)
			}
			return false
		}
		if s.opts.Dialect.Errors == "" {
			return s.clientAuth(w, r)
		}
		id, secret, ok := r.BasicAuth()
		if v, err := url.QueryUnescape(id); err == nil {
			id = v
		}
		if v, err := url.QueryUnescape(secret); err == nil {
			secret = v
		}
		if !ok || !s.clientOK(id, secret) {
			s.writeError(w, http.StatusUnauthorized, "invalid_client", "OAU-153", "Invalid client", grant)
			return false
		}
		return true
	}
	if _, _, basic := r.BasicAuth(); basic || !s.clientOK(form.Get("client_id"), form.Get("client_secret")) {
		s.writeError(w, http.StatusUnauthorized, "invalid_client", "OAU-153", "Invalid client", grant)
		return false
	}
	return true
}

// clientOK compares a client id and secret with the server's, in constant time.
func (s *Server) clientOK(id, secret string) bool {
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(s.opts.ClientID))
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret))
	return idOK&secretOK == 1
}

func (s *Server) exchange(w http.ResponseWriter, form url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	c := s.codes[form.Get("code")]
	switch {
	case c == nil || c.used:
		s.writeErrorCode(w, http.StatusBadRequest, "invalid_grant", "OAU-106", "Invalid authorization code")
		return
	case c.clientID != s.opts.ClientID:
		c.used = true
		s.writeErrorCode(w, http.StatusBadRequest, "invalid_grant", "OAU-110", "Authorization code was not issued for this application")
		return
	}
	c.used = true
	switch {
	case !now.Before(c.expires):
		s.writeErrorCode(w, http.StatusBadRequest, "invalid_grant", "OAU-108", "Authorization code is expired")
	case form.Get("redirect_uri") != c.redirectURI:
		s.writeErrorCode(w, http.StatusBadRequest, "invalid_grant", "OAU-109", "Redirect URIs do not match")
	case (c.challenge != "" || !s.opts.Dialect.PKCEOptional) && !verifierMatches(form.Get("code_verifier"), c.challenge):
		s.writeErrorCode(w, http.StatusBadRequest, "invalid_grant", "OAU-106", "Invalid code verifier")
	default:
		ss := s.newSession(c.account, c.scope, now)
		if s.opts.Dialect.ringCentral() {
			s.writeTokens(w, ss, now)
			return
		}
		refresh := ss.refreshToken
		if !c.refreshOK {
			// Asked without what the provider needs for offline access:
			// no refresh token, as the provider answers.
			delete(s.refresh, refresh)
			ss.refreshToken, refresh = "", ""
		}
		s.dialectTokens(w, ss, refresh, now)
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
	if !s.opts.Dialect.ringCentral() && ss != nil && !ss.revoked {
		if s.dialectRefresh(w, ss, rt, now) {
			return
		}
	}
	switch {
	case rt == "" || ss == nil:
		s.writeRefreshError(w, http.StatusBadRequest, "invalid_grant", "OAU-213", "Token not found")
	case ss.revoked:
		s.writeRefreshError(w, http.StatusBadRequest, "invalid_grant", "OAU-211", "Token is revoked")
	case rt == ss.refreshToken:
		if !now.Before(ss.refreshExp) {
			s.writeRefreshError(w, http.StatusBadRequest, "invalid_grant", "OAU-210", "Token expired")
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
		s.stale++
		s.writeRefreshError(w, http.StatusBadRequest, "invalid_grant", "OAU-211", "Token is revoked")
	}
}

// ---- revoke ----

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	form, ok := readForm(w, r)
	if !ok {
		return
	}
	if !s.opts.Dialect.RevokeNoAuth && !s.dialectClientAuth(w, r, form, "") {
		return
	}
	tok := form.Get("token")
	if tok == "" {
		s.writeError(w, http.StatusBadRequest, "invalid_request", "OAU-101", "Parameter [token] is invalid", "")
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

// writeErrorCode and writeRefreshError answer a failed code exchange or
// refresh in the dialect's shape.
func (s *Server) writeErrorCode(w http.ResponseWriter, status int, errCode, rcCode, msg string) {
	s.writeError(w, status, errCode, rcCode, msg, "authorization_code")
}

func (s *Server) writeRefreshError(w http.ResponseWriter, status int, errCode, rcCode, msg string) {
	s.writeError(w, status, errCode, rcCode, msg, "refresh_token")
}

// dialectRefresh serves a refresh the dialect answers its own way, and
// reports whether it did (otherwise RingCentral's rules apply: rotation,
// grace per GraceWindow, errors). Callers hold s.mu.
func (s *Server) dialectRefresh(w http.ResponseWriter, ss *session, rt string, now time.Time) bool {
	d := s.opts.Dialect
	switch {
	case d.KeepRefresh && rt == ss.refreshToken:
		if !now.Before(ss.refreshExp) {
			return false
		}
		// A new access token only; the refresh token stays as it was.
		old, oldExp := ss.refreshToken, ss.refreshExp
		s.issue(ss, now)
		delete(s.refresh, ss.refreshToken)
		ss.refreshToken, ss.refreshExp = old, oldExp
		s.dialectTokens(w, ss, "", now)
		return true
	case d.OldRefreshValid && (rt == ss.refreshToken || now.Before(ss.retired[rt])):
		if rt == ss.refreshToken && !now.Before(ss.refreshExp) {
			return false
		}
		if ss.retired == nil {
			ss.retired = map[string]time.Time{}
		}
		ss.retired[ss.refreshToken] = ss.refreshExp
		s.issue(ss, now)
		s.dialectTokens(w, ss, ss.refreshToken, now)
		return true
	case rt == ss.refreshToken && now.Before(ss.refreshExp):
		// Rotation without grace unless GraceWindow (or the dialect's
		// Leeway) says otherwise: as RingCentral's own path, with the
		// dialect's response.
		s.retire(ss, rt, now)
		ss.prevRefresh, ss.prevUntil = "", time.Time{}
		if s.opts.GraceWindow > 0 {
			ss.prevRefresh, ss.prevUntil = rt, now.Add(s.opts.GraceWindow)
			if ss.refreshExp.Before(ss.prevUntil) {
				ss.prevUntil = ss.refreshExp
			}
		}
		s.issue(ss, now)
		s.dialectTokens(w, ss, ss.refreshToken, now)
		return true
	case rt == ss.prevRefresh && now.Before(ss.prevUntil) && !ss.accessUsed:
		ss.prevRefresh, ss.prevUntil = "", time.Time{}
		s.issue(ss, now)
		s.dialectTokens(w, ss, ss.refreshToken, now)
		return true
	case d.Leeway > 0 && !ss.retired[rt].IsZero():
		if now.Before(ss.retired[rt]) && now.Before(ss.refreshExp) {
			// Inside the leeway: accepted, and rotated once more.
			s.retire(ss, ss.refreshToken, now)
			s.issue(ss, now)
			s.dialectTokens(w, ss, ss.refreshToken, now)
			return true
		}
		// Reused after the leeway: the grant ends (reuse detection); the
		// caller answers invalid_grant.
		ss.revoked = true
	}
	return false
}

// retire records rt, just rotated, as usable until the dialect's Leeway
// ends. Callers hold s.mu.
func (s *Server) retire(ss *session, rt string, now time.Time) {
	if s.opts.Dialect.Leeway <= 0 {
		return
	}
	if ss.retired == nil {
		ss.retired = map[string]time.Time{}
	}
	ss.retired[rt] = now.Add(s.opts.Dialect.Leeway)
}
