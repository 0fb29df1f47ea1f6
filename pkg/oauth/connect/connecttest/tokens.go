// Package connecttest makes connect tokens for tests: valid ones, and every
// kind the contract refuses.
package connecttest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// BadToken is a connect token /authorize must refuse, and the check
// connect.Keys.VerifyToken names for it.
type BadToken struct {
	Name  string
	Token string
	Check string
}

// ConnectClaims are the claims of a valid connect token for user at now:
// aud, sub, iat, exp (10 minutes), jti.
func ConnectClaims(user, jti string, now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"aud": connect.ConnectAudience,
		"sub": user,
		"iat": now.Unix(),
		"exp": now.Add(10 * time.Minute).Unix(),
		"jti": jti,
	}
}

// Sign signs claims with method and key: []byte for HMAC, an
// *rsa.PrivateKey for RSA, jwt.UnsafeAllowNoneSignatureType for none.
func Sign(method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		panic("connecttest: sign: " + err.Error())
	}
	return s
}

// BadConnectTokens returns the connect tokens the contract refuses, each
// otherwise valid for key at now: every alg but HS256, another key, another
// audience, expired, too long lived, and each required claim missing or
// malformed.
func BadConnectTokens(key string, now time.Time) []BadToken {
	n := 0
	hs := func(mut func(c jwt.MapClaims)) string {
		n++ // each token its own jti: no case is refused as a replay instead
		c := ConnectClaims("user-1", fmt.Sprintf("jti-bad-%d", n), now)
		mut(c)
		return Sign(jwt.SigningMethodHS256, []byte(key), c)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic("connecttest: rsa key: " + err.Error())
	}
	valid := ConnectClaims("user-1", "jti-alg", now)
	return []BadToken{
		{"alg none", Sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid), connect.CheckAlgorithm},
		{"alg HS512", Sign(jwt.SigningMethodHS512, []byte(key), valid), connect.CheckAlgorithm},
		{"alg RS256", Sign(jwt.SigningMethodRS256, rsaKey, valid), connect.CheckAlgorithm},
		{"wrong key", Sign(jwt.SigningMethodHS256, []byte(strings.Repeat("w", 64)), valid), connect.CheckSignature},
		{"edited payload", EditPayload(Sign(jwt.SigningMethodHS256, []byte(key), valid)), connect.CheckSignature},
		{"not a JWT", "not.a.jwt", connect.CheckFormat},
		{"wrong aud", hs(func(c jwt.MapClaims) { c["aud"] = connect.ResultAudience }), connect.CheckAudience},
		{"no aud", hs(func(c jwt.MapClaims) { delete(c, "aud") }), connect.CheckAudience},
		{"expired", hs(func(c jwt.MapClaims) {
			c["iat"] = now.Add(-20 * time.Minute).Unix()
			c["exp"] = now.Add(-time.Minute).Unix()
		}), connect.CheckExpiry},
		{"exp more than 15 minutes after iat", hs(func(c jwt.MapClaims) { c["exp"] = now.Add(15*time.Minute + time.Second).Unix() }), connect.CheckLifetime},
		{"iat in the future", hs(func(c jwt.MapClaims) { c["iat"] = now.Add(2 * time.Minute).Unix() }), connect.CheckIssuedAt},
		{"missing exp", hs(func(c jwt.MapClaims) { delete(c, "exp") }), connect.CheckExpiry},
		{"missing iat", hs(func(c jwt.MapClaims) { delete(c, "iat") }), connect.CheckIssuedAt},
		{"missing jti", hs(func(c jwt.MapClaims) { delete(c, "jti") }), connect.CheckID},
		{"jti too long", hs(func(c jwt.MapClaims) { c["jti"] = strings.Repeat("j", 65) }), connect.CheckID},
		{"missing sub", hs(func(c jwt.MapClaims) { delete(c, "sub") }), connect.CheckUser},
		{"sub too long", hs(func(c jwt.MapClaims) { c["sub"] = strings.Repeat("u", 129) }), connect.CheckUser},
		{"sub with a control character", hs(func(c jwt.MapClaims) { c["sub"] = "user\n1" }), connect.CheckUser},
		{"exp as a string", hs(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }), connect.CheckFormat},
		{"app_state too long", hs(func(c jwt.MapClaims) { c["app_state"] = strings.Repeat("a", 513) }), connect.CheckClaim},
	}
}

// EditPayload changes the payload's sub to "attacker", keeping the
// signature: a well-formed JWT whose signature no longer matches.
func EditPayload(tok string) string {
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		panic("connecttest: edit payload: " + err.Error())
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		panic("connecttest: edit payload: " + err.Error())
	}
	claims["sub"] = "attacker"
	raw, _ = json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}
