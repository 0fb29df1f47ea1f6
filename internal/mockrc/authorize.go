package mockrc

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/url"
)

// The authorize endpoint: the login page and its form target.

// authRequest is a validated authorize request (from the query or the form).
type authRequest struct {
	ClientID, RedirectURI, State, Challenge, Method, Scope string
	Extra                                                  url.Values // the dialect's own parameters (extraParams)
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
		Extra:       url.Values{},
	}
	for _, k := range extraParams {
		if x := v.Get(k); x != "" {
			req.Extra.Set(k, x)
		}
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
	case req.Scope == "" && s.opts.Dialect.RequireScope:
		return req, "invalid_scope", "scope is required", ""
	case req.Challenge == "" && s.opts.Dialect.PKCEOptional:
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
		v := url.Values{"error": {"access_denied"}, "error_description": {"The user declined the authorization request"}}
		if req.State != "" {
			v.Set("state", req.State)
		}
		redirect(w, r, req.RedirectURI, s.withIssuer(v))
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
		refreshOK: s.opts.Dialect.refreshAllowed(req.Extra, req.Scope),
	}
	s.mu.Unlock()
	redirect(w, r, req.RedirectURI, s.withIssuer(url.Values{"code": {code}, "state": {req.State}}))
}

// withIssuer adds the dialect's iss (RFC 9207) to an authorization
// response's parameters, when it has one.
func (s *Server) withIssuer(v url.Values) url.Values {
	if s.opts.Dialect.Issuer != "" {
		v.Set("iss", s.opts.Dialect.Issuer)
	}
	return v
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
