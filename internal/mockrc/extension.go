package mockrc

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
)

// The REST API endpoint a client calls with an access token.

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
