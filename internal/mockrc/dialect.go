package mockrc

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Dialect is how the mock plays a provider other than RingCentral: the
// documented behaviour of one of oauthfn's presets (pkg/oauth/presets.go),
// on the same paths. The zero Dialect is RingCentral.
type Dialect struct {
	Name string // the preset's name, for test names

	// ClientAuth is "basic" (HTTP Basic only, RingCentral's rule) or
	// "post" (client_id and client_secret in the form only).
	ClientAuth string
	// PKCEOptional: a code_challenge is checked when sent but not required.
	PKCEOptional bool
	// RequireScope: an authorize request without scope is refused
	// (invalid_scope), as Slack refuses one without bot scopes.
	RequireScope bool
	// RefreshParams and RefreshScopes are what the authorize request must
	// carry for a refresh token to be issued at all (Google's
	// access_type=offline, offline_access): without them the code's token
	// response has none, as the provider would answer.
	RefreshParams map[string]string
	RefreshScopes []string

	// KeepRefresh: a refresh returns no new refresh token; the one sent
	// keeps working (Google; Salesforce without rotation).
	KeepRefresh bool
	// OldRefreshValid: a rotated refresh token keeps working until it
	// expires (Microsoft does not revoke it).
	OldRefreshValid bool
	// Leeway: a rotated refresh token keeps working for this long after
	// its rotation; used later, it ends the whole grant (every refresh
	// token of the session refused). Atlassian's rotating refresh tokens:
	// a 10-minute leeway, reuse detection after it.
	Leeway time.Duration

	// NoExpiresIn leaves expires_in out of the token response
	// (Salesforce); NoRefreshExpiresIn leaves refresh_token_expires_in
	// out (every one but RingCentral and GitHub).
	NoExpiresIn, NoRefreshExpiresIn bool
	// TokenType is the response's token_type (default "bearer").
	TokenType string

	// Account says where the account id is: "owner_id" (default), "team"
	// (Slack's team.id), "identity_url" (Salesforce's id), "id_token" (a
	// sub claim, with IDTokenIssuer), or "userinfo" (UserinfoField of GET
	// UserinfoPath with the access token).
	Account       string
	IDTokenIssuer string
	UserinfoField string
	NumericID     bool // the userinfo id is a JSON number (GitHub)

	// Errors is the error shape: "ringcentral" (default: RFC 6749 plus
	// errors[]), "oauth" (RFC 6749 only), "slack" (HTTP 200
	// {"ok":false,"error":<slack code>}), "github" (HTTP 200 with a
	// form-encoded error=<github code>), "atlassian" (invalid_grant with
	// HTTP 403).
	Errors string
	// Form answers the token endpoint form-encoded (GitHub without
	// Accept: application/json).
	Form bool
	// RevokeNoAuth: the revocation endpoint needs no client
	// authentication (Google, Salesforce); otherwise as the token endpoint.
	RevokeNoAuth bool
	// Issuer, when set, is the iss the authorization response carries
	// (RFC 9207), as Google's redirect back carries
	// iss=https://accounts.google.com.
	Issuer string
}

// UserinfoPath is where a dialect with Account "userinfo" answers.
const UserinfoPath = "/userinfo"

// Dialects are the presets' dialects by preset name, each as its preset's
// row in pkg/oauth/presets.go describes the provider ("ringcentral" is the
// zero Dialect).
var Dialects = map[string]Dialect{
	"ringcentral": {Name: "ringcentral"},
	"google": {Name: "google", ClientAuth: "post", PKCEOptional: true,
		RefreshParams: map[string]string{"access_type": "offline"}, RefreshScopes: []string{"openid"},
		KeepRefresh: true, NoRefreshExpiresIn: true, Account: "id_token", IDTokenIssuer: "https://accounts.google.com",
		Errors: "oauth", RevokeNoAuth: true, Issuer: "https://accounts.google.com"},
	"microsoft": {Name: "microsoft", ClientAuth: "post", PKCEOptional: true,
		RefreshScopes: []string{"offline_access"}, OldRefreshValid: true, NoRefreshExpiresIn: true,
		Account: "id_token", IDTokenIssuer: "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0", Errors: "oauth"},
	"slack": {Name: "slack", ClientAuth: "basic", PKCEOptional: true, RequireScope: true,
		NoRefreshExpiresIn: true, TokenType: "bot", Account: "team", Errors: "slack"},
	"github": {Name: "github", ClientAuth: "post", PKCEOptional: true,
		Account: "userinfo", UserinfoField: "id", NumericID: true, Errors: "github", Form: true},
	"salesforce": {Name: "salesforce", ClientAuth: "post", PKCEOptional: true, RefreshScopes: []string{"refresh_token"},
		KeepRefresh: true, NoExpiresIn: true, NoRefreshExpiresIn: true, Account: "identity_url", Errors: "oauth", RevokeNoAuth: true},
	"atlassian": {Name: "atlassian", ClientAuth: "post", PKCEOptional: true,
		RefreshParams: map[string]string{"audience": "api.atlassian.com"}, RefreshScopes: []string{"offline_access"},
		NoRefreshExpiresIn: true, Account: "userinfo", UserinfoField: "account_id", Errors: "atlassian", Leeway: 10 * time.Minute},
}

// ringCentral reports whether d is RingCentral's own behaviour.
func (d Dialect) ringCentral() bool { return d.Name == "" || d.Name == "ringcentral" }

// refreshAllowed reports whether an authorize request asked for what the
// dialect needs before it issues a refresh token.
func (d Dialect) refreshAllowed(extra url.Values, scope string) bool {
	for k, v := range d.RefreshParams {
		if extra.Get(k) != v {
			return false
		}
	}
	scopes := strings.Fields(scope)
	for _, s := range d.RefreshScopes {
		if !slices.Contains(scopes, s) {
			return false
		}
	}
	return true
}

// extraParams are the authorize parameters a dialect reads beyond the
// protocol's own (kept through the login page's form).
var extraParams = []string{"access_type", "prompt", "audience"}

// slackCodes are Slack's error codes for the RFC 6749 ones the mock
// produces; githubCodes GitHub's.
var (
	slackCodes = map[string]string{"invalid_grant": "invalid_code", "invalid_client": "bad_client_secret",
		"unauthorized_client": "invalid_grant_type", "invalid_request": "invalid_arguments"}
	slackRefreshCodes = map[string]string{"invalid_grant": "invalid_refresh_token"}
	githubCodes       = map[string]string{"invalid_grant": "bad_verification_code", "invalid_client": "incorrect_client_credentials"}
	githubRefresh     = map[string]string{"invalid_grant": "bad_refresh_token"}
)

// writeError answers an error in the dialect's shape. grant is the token
// request's grant_type ("" for other endpoints).
func (s *Server) writeError(w http.ResponseWriter, status int, errCode, rcCode, msg, grant string) {
	d := s.opts.Dialect
	switch d.Errors {
	case "oauth":
		writeJSON(w, status, map[string]string{"error": errCode, "error_description": msg})
	case "atlassian":
		if errCode == "invalid_grant" {
			status = http.StatusForbidden
		}
		writeJSON(w, status, map[string]string{"error": errCode, "error_description": msg})
	case "slack":
		code := slackCodes[errCode]
		if c, ok := slackRefreshCodes[errCode]; ok && grant == "refresh_token" {
			code = c
		}
		if code == "" {
			code = errCode
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": code})
	case "github":
		code := githubCodes[errCode]
		if c, ok := githubRefresh[errCode]; ok && grant == "refresh_token" {
			code = c
		}
		if code == "" {
			code = errCode
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(url.Values{"error": {code}, "error_description": {msg}}.Encode()))
	default:
		writeOAuthError(w, status, errCode, rcCode, msg)
	}
}

// dialectTokens writes a token response in the dialect's shape; refresh is
// "" when none is issued.
func (s *Server) dialectTokens(w http.ResponseWriter, ss *session, refresh string, now time.Time) {
	d := s.opts.Dialect
	body := map[string]any{"access_token": ss.accessToken, "token_type": "bearer", "scope": ss.scope}
	if d.TokenType != "" {
		body["token_type"] = d.TokenType
	}
	if !d.NoExpiresIn {
		body["expires_in"] = int64(ss.accessExp.Sub(now) / time.Second)
	}
	if refresh != "" {
		body["refresh_token"] = refresh
		if !d.NoRefreshExpiresIn {
			body["refresh_token_expires_in"] = int64(ss.refreshExp.Sub(now) / time.Second)
		}
	}
	switch d.Account {
	case "", "owner_id":
		body["owner_id"] = ss.account
	case "team":
		body["ok"] = true
		body["team"] = map[string]string{"id": "T" + ss.account, "name": "Workspace " + ss.account}
		body["bot_user_id"] = "U0BOT"
	case "identity_url":
		body["id"] = "https://login.salesforce.com/id/00D000000000001/005" + ss.account
		body["instance_url"] = "https://example.my.salesforce.com"
		body["issued_at"] = strconv.FormatInt(now.UnixMilli(), 10)
	case "id_token":
		if slices.Contains(strings.Fields(ss.scope), "openid") {
			body["id_token"] = s.idToken(ss.account, now)
		}
	}
	if d.Form {
		v := url.Values{}
		for k, x := range body {
			switch x := x.(type) {
			case string:
				v.Set(k, x)
			case int64:
				v.Set(k, strconv.FormatInt(x, 10))
			}
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(v.Encode()))
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// idToken is an unsigned-looking JWT (the signature is not checked by a
// client that has it straight from the token endpoint) for the account.
func (s *Server) idToken(account string, now time.Time) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(map[string]any{
		"iss": s.opts.Dialect.IDTokenIssuer, "aud": s.opts.ClientID, "sub": "sub-" + account,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}) + ".c2ln"
}

// userinfo answers GET UserinfoPath for a valid access token: the
// dialect's account field (a number when NumericID).
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	ss := s.access[tok]
	valid := ok && ss != nil && !ss.revoked && tok == ss.accessToken && s.opts.Now().Before(ss.accessExp)
	if valid {
		ss.accessUsed = true
	}
	s.mu.Unlock()
	if !valid {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
		return
	}
	field := s.opts.Dialect.UserinfoField
	var id any = ss.account
	if s.opts.Dialect.NumericID {
		n, _ := strconv.ParseInt(ss.account, 10, 64)
		id = n
	}
	writeJSON(w, http.StatusOK, map[string]any{field: id, "name": "Demo " + ss.account})
}

// RevokeAccount ends every session of the account, as a user removing the
// app at the provider does: its refresh tokens get invalid_grant after.
func (s *Server) RevokeAccount(account string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.sessions {
		if ss.account == account {
			ss.revoked = true
		}
	}
}
