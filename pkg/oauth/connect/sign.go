package connect

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"

	"github.com/golang-jwt/jwt/v5"
)

// hs256Header is the JOSE header golang-jwt writes for HS256,
// {"alg":"HS256","typ":"JWT"}, base64url-encoded.
const hs256Header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// sign writes claims as an HS256 JWT (RFC 7515 compact serialization) with
// key: byte for byte what golang-jwt's
// jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
// returns (TestSignMatchesGolangJWT), without going through it.
//
// Why not SignedString: it calls the signing method through an interface,
// so a binary that signs keeps the Sign method of every algorithm
// golang-jwt registers at init (RSA, RSA-PSS, ECDSA P-224 to P-521,
// Ed25519): 127 KB of the callback, which signs one HS256 result per
// connection (bench/coldstart; issue 11). Verification, where the
// library's checks matter, stays with golang-jwt (Keys.parse).
func sign(key string, claims jwt.Claims) (string, error) {
	body, err := json.Marshal(claims)
	if err != nil {
		return "", fail(CheckKey, "sign: %w", err)
	}
	enc := base64.RawURLEncoding
	s := hs256Header + "." + enc.EncodeToString(body)
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(s))
	return s + "." + enc.EncodeToString(mac.Sum(nil)), nil
}
