package connect

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestSignMatchesGolangJWT: sign writes exactly what golang-jwt's
// SignedString writes for the same claims and key, for both statements and
// awkward values (escapes, non-ASCII, empty optional claims).
func TestSignMatchesGolangJWT(t *testing.T) {
	now := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	reg := func(aud, sub string) jwt.RegisteredClaims {
		return jwt.RegisteredClaims{
			Audience: jwt.ClaimStrings{aud}, Subject: sub, ID: "jti-1",
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
		}
	}
	tests := []struct {
		name   string
		key    string
		claims jwt.Claims
	}{
		{"connect token", "k", &connectClaims{RegisteredClaims: reg(ConnectAudience, "user-1"), ReturnTo: "https://app.example/back?x=1&y=<2>", AppState: "s"}},
		{"connect token, no options", "k", &connectClaims{RegisteredClaims: reg(ConnectAudience, "user-1")}},
		{"result", "a much longer app key, 64 characters or so, with \"quotes\" …", &resultClaims{RegisteredClaims: reg(ResultAudience, "ünïcode\u2028user"), AccountID: "1001", Provider: "ringcentral", AppState: "<&>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := jwt.NewWithClaims(jwt.SigningMethodHS256, tt.claims).SignedString([]byte(tt.key))
			if err != nil {
				t.Fatal(err)
			}
			got, err := sign(tt.key, tt.claims)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("sign:\n got %s\nwant %s", got, want)
			}
		})
	}
	if h, _ := base64.RawURLEncoding.DecodeString(hs256Header); string(h) != `{"alg":"HS256","typ":"JWT"}` {
		t.Errorf("hs256Header decodes to %s", h)
	}
}
