package mockrc

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
)

// The REST API endpoint a client calls with an access token.

func (s *Server) extension(w http.ResponseWriter, r *http.Request) {
	ss, ok := s.bearer(w, r)
	if !ok {
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
