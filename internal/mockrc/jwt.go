package mockrc

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"time"
)

// The JWT bearer grant (RFC 7523), as RingCentral's "JWT auth flow": a
// credential made in the developer console for one user is sent as the
// assertion, and each successful grant creates a new session (counted
// against MaxSessions, as a login is).

// JWTBearerGrant is the grant_type of the JWT bearer grant.
const JWTBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// Admin paths standing in for the developer console's Credentials page (the
// mock's own, not RingCentral's; for the dev server and tests).
const (
	JWTPath       = "/restapi/mock/jwt"
	JWTRevokePath = "/restapi/mock/jwt/revoke"
)

// adminJWT issues a credential: form account (one of the demo accounts, or
// any id) and ttl (a Go duration, default none); the answer is the
// credential as text/plain.
func (s *Server) adminJWT(w http.ResponseWriter, r *http.Request) {
	form, ok := readForm(w, r)
	if !ok {
		return
	}
	account := form.Get("account")
	var ttl time.Duration
	if v := form.Get("ttl"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "OAU-101", "Parameter [ttl] is invalid")
			return
		}
		ttl = d
	}
	if account == "" || len(account) > 64 {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "OAU-101", "Parameter [account] is invalid")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, s.IssueJWT(account, ttl)+"\n")
}

// adminRevokeJWT revokes the credential in form jwt (an unknown one is not
// an error).
func (s *Server) adminRevokeJWT(w http.ResponseWriter, r *http.Request) {
	form, ok := readForm(w, r)
	if !ok {
		return
	}
	s.RevokeJWT(form.Get("jwt"))
	w.WriteHeader(http.StatusNoContent)
}

// jwtCredential is one credential the mock accepts.
type jwtCredential struct {
	account string
	expires time.Time // zero: never
	revoked bool
}

// EnableJWT turns the app's "JWT auth flow" setting on or off (off by
// default, as for a new RingCentral app: a jwt-bearer grant is then refused
// with unauthorized_client OAU-251 "Unauthorized for this grant type").
func (s *Server) EnableJWT(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jwtEnabled = on
}

// IssueJWT makes a RingCentral-shaped JWT credential for account (a
// header.payload.signature string starting "eyJ"), valid for ttl (0: no
// expiry, as RingCentral's default), and returns it.
func (s *Server) IssueJWT(account string, ttl time.Duration) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	claims := map[string]any{"aud": "https://platform.ringcentral.com/restapi/oauth/token", "sub": account,
		"iss": s.opts.ClientID, "iat": now.Unix(), "jti": token("")}
	c := &jwtCredential{account: account}
	if ttl > 0 {
		c.expires = now.Add(ttl)
		claims["exp"] = c.expires.Unix()
	}
	payload, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	jwt := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc.EncodeToString(payload) + "." + token("")
	if s.jwts == nil {
		s.jwts = map[string]*jwtCredential{}
	}
	s.jwts[jwt] = c
	return jwt
}

// RevokeJWT revokes a credential (the developer console's "revoke"): later
// grants with it get invalid_grant. Sessions it made are not ended.
func (s *Server) RevokeJWT(jwt string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.jwts[jwt]; c != nil {
		c.revoked = true
	}
}

// JWTGrants returns how many jwt-bearer grants succeeded (each a new
// session) and how many were refused.
func (s *Server) JWTGrants() (granted, refused int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jwtGranted, s.jwtRefused
}

// jwtGrant serves grant_type=JWTBearerGrant.
func (s *Server) jwtGrant(w http.ResponseWriter, form url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	c := s.jwts[form.Get("assertion")]
	refuse := func(status int, errCode, rcCode, msg string) {
		s.jwtRefused++
		s.writeError(w, status, errCode, rcCode, msg, JWTBearerGrant)
	}
	switch {
	case !s.jwtEnabled || !s.opts.Dialect.ringCentral():
		refuse(http.StatusBadRequest, "unauthorized_client", "OAU-251", "Unauthorized for this grant type")
	case form.Get("assertion") == "":
		refuse(http.StatusBadRequest, "invalid_request", "OAU-101", "Parameter [assertion] is invalid")
	case c == nil:
		refuse(http.StatusBadRequest, "invalid_grant", "OAU-213", "Token not found")
	case c.revoked:
		refuse(http.StatusBadRequest, "invalid_grant", "OAU-211", "Token is revoked")
	case !c.expires.IsZero() && !now.Before(c.expires):
		refuse(http.StatusBadRequest, "invalid_grant", "OAU-210", "Token expired")
	default:
		s.jwtGranted++
		s.writeTokens(w, s.newSession(c.account, "", now), now)
	}
}
