package oauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Issue 10 item 10: the revocation endpoint's error is reported with its
// code, in RFC 7009's standard body as well as RingCentral's.
func TestRevokeErrorNamesTheCode(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   []string
		not    []string
	}{
		{"RFC 7009", 401, `{"error":"invalid_client","error_description":"client authentication failed"}`, []string{"status 401", "invalid_client"}, nil},
		{"RFC 7009 unsupported_token_type", 400, `{"error":"unsupported_token_type"}`, []string{"status 400", "unsupported_token_type"}, nil},
		{"RingCentral", 400, `{"error":"invalid_request","errors":[{"errorCode":"OAU-109","message":"x"}]}`, []string{"invalid_request", "OAU-109"}, nil},
		{"not JSON", 503, `<html>down</html>`, []string{"status 503"}, []string{"html"}},
		{"odd code is not echoed", 400, `{"error":"<script>"}`, []string{"status 400"}, []string{"<script>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			h, _, _, _ := newTestHandler(t, NewMemoryStore(), "p", srv.URL+"/token", srv.URL+"/revoke", "client", "secret")
			err := h.revoke(context.Background(), "a-token")
			if err == nil {
				t.Fatal("revoke succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(err.Error(), n) {
					t.Errorf("error %q contains %q", err, n)
				}
			}
		})
	}
}
