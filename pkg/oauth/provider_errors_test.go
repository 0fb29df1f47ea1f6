package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/oauth2"
)

// TestClassifyTokenError drives x/oauth2 against scripted token endpoints, so
// the classification is tested on the errors x/oauth2 really returns.
func TestClassifyTokenError(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		header      map[string]string
		hang        bool
		want        tokenFailure
	}{
		{name: "invalid_grant", status: 400, body: `{"error":"invalid_grant","error_description":"Token is revoked","errors":[{"errorCode":"OAU-211"}]}`,
			want: tokenFailure{kind: failInvalidGrant, code: "invalid_grant", description: "Token is revoked", providerID: "OAU-211", status: 400}},
		{name: "ringcentral unauthorized for grant type", status: 400, body: `{"error":"unauthorized_client","error_description":"Unauthorized for this grant type","errors":[{"errorCode":"OAU-251","message":"Unauthorized for this grant type"}]}`,
			want: tokenFailure{kind: failUnauthorizedClient, code: "unauthorized_client", description: "Unauthorized for this grant type", providerID: "OAU-251", status: 400}},
		{name: "OAU-251 under another error code", status: 400, body: `{"error":"invalid_request","errors":[{"errorCode":"OAU-251"}]}`,
			want: tokenFailure{kind: failUnauthorizedClient, code: "invalid_request", providerID: "OAU-251", status: 400}},
		{name: "ringcentral OAU-250 unsupported grant type", status: 400, body: `{"error":"invalid_request","error_description":"Unsupported grant type","errors":[{"errorCode":"OAU-250"}]}`,
			want: tokenFailure{kind: failUnauthorizedClient, code: "invalid_request", description: "Unsupported grant type", providerID: "OAU-250", status: 400}},
		{name: "unsupported_grant_type", status: 400, body: `{"error":"unsupported_grant_type"}`,
			want: tokenFailure{kind: failUnauthorizedClient, code: "unsupported_grant_type", status: 400}},
		{name: "invalid_client", status: 401, body: `{"error":"invalid_client"}`,
			want: tokenFailure{kind: failInvalidClient, code: "invalid_client", status: 401}},
		{name: "ringcentral message when there is no error_description", status: 400, body: `{"error":"invalid_request","errors":[{"errorCode":"OAU-101","message":"Parameter [code] is invalid"}]}`,
			want: tokenFailure{kind: failBadResponse, code: "invalid_request", description: "Parameter [code] is invalid", providerID: "OAU-101", status: 400}},
		{name: "description sanitised", status: 401, body: `{"error":"invalid_client","error_description":"client s3cr3tABCDEFGHIJKLMNOPQRSTUVWX\nrefused"}`,
			want: tokenFailure{kind: failInvalidClient, code: "invalid_client", description: "client [redacted] refused", status: 401}},
		{name: "429 with Retry-After", status: 429, body: `{"errorCode":"CMN-301","message":"Request rate exceeded"}`, header: map[string]string{"Retry-After": "42"},
			want: tokenFailure{kind: failRateLimited, status: 429, retryAfter: 42 * time.Second}},
		{name: "429 without Retry-After", status: 429, body: `{}`,
			want: tokenFailure{kind: failRateLimited, status: 429}},
		{name: "500", status: 500, contentType: "text/html", body: `<html>oops</html>`,
			want: tokenFailure{kind: failUnavailable, status: 500}},
		{name: "503 json", status: 503, body: `{"error":"temporarily_unavailable"}`,
			want: tokenFailure{kind: failUnavailable, code: "temporarily_unavailable", status: 503}},
		{name: "200 with error", status: 200, body: `{"error":"invalid_grant"}`,
			want: tokenFailure{kind: failInvalidGrant, code: "invalid_grant", status: 200}},
		{name: "200 without access_token", status: 200, body: `{"token_type":"bearer","expires_in":3600}`,
			want: tokenFailure{kind: failBadResponse}},
		{name: "200 not json", status: 200, contentType: "application/json", body: `<html>`,
			want: tokenFailure{kind: failBadResponse}},
		{name: "timeout", hang: true, want: tokenFailure{kind: failUnavailable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.hang {
					<-release
					return
				}
				ct := tt.contentType
				if ct == "" {
					ct = "application/json"
				}
				w.Header().Set("Content-Type", ct)
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			defer close(release)
			conf := &oauth2.Config{ClientID: "c", ClientSecret: "s", Endpoint: oauth2.Endpoint{TokenURL: srv.URL, AuthStyle: oauth2.AuthStyleInHeader}}
			// Only the hanging endpoint is meant to time out; the others get
			// a generous bound so a loaded machine cannot turn an answer into
			// a timeout.
			timeout := 30 * time.Second
			if tt.hang {
				timeout = 100 * time.Millisecond
			}
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Timeout: timeout})
			_, err := conf.Exchange(ctx, "code")
			if err == nil {
				t.Fatal("Exchange: no error")
			}
			if got := classifyTokenError(err, time.Now(), nil); got != tt.want {
				t.Errorf("classifyTokenError = %+v, want %+v", got, tt.want)
			}
		})
	}
	if got := classifyTokenError(errors.New("boom"), time.Now(), nil); got.kind != failBadResponse {
		t.Errorf("plain error: kind %q", got.kind)
	}
}

// TestParseRetryAfter: an HTTP date is read against the given clock (the
// handler's), never the wall clock, so the answer is exact.
func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	tests := []struct {
		value string
		want  time.Duration
	}{
		{"7", 7 * time.Second},
		{"", 0},
		{"soon", 0},
		{now.Add(2 * time.Minute).Format(http.TimeFormat), 2 * time.Minute},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{now.Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.value, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.value, got, tt.want)
		}
	}
}

func TestSafeDescription(t *testing.T) {
	long := strings.Repeat("word ", 100)
	tests := []struct {
		name, in, want string
	}{
		{"plain", "Token is revoked", "Token is revoked"},
		{"empty", "", ""},
		{"control characters become spaces", "bad\r\n{\"level\":\"ERROR\"}\tx", `bad {"level":"ERROR"} x`},
		{"token-like run redacted", "refresh token U0pDMDFQMDFQQVMwMnxBQUFfUjZwbnFHb3 is dead", "refresh token [redacted] is dead"},
		{"23 characters kept", "abcdefghijklmnopqrstuvw", "abcdefghijklmnopqrstuvw"},
		{"invalid UTF-8", "bad \xff byte", "bad byte"},
		{"capped", long, strings.TrimSpace(long)[:maxDescription] + "…"},
		{"capped on a rune boundary", "a" + strings.Repeat("é ", 100), ("a" + strings.Repeat("é ", 100))[:199] + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := safeDescription(tt.in)
			if !utf8.ValidString(got) {
				t.Errorf("safeDescription(%q) = %q: not valid UTF-8", tt.in, got)
			}
			if got != tt.want {
				t.Errorf("safeDescription(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
