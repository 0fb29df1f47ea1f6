// Package oauth is oauthfn's library: the OAuth 2.0 authorization code flow
// (RFC 6749 §4.1) with PKCE (RFC 7636) for AWS Lambda behind API Gateway,
// token storage in DynamoDB, and the refresh protocol that keeps
// connections alive.
//
// # The flow
//
// Handler.Authorize creates a state (32 random bytes) and a PKCE verifier,
// stores the pending authorization under sha256(state) with the verifier
// sealed, sets a binding cookie (__Host-oauthfn, a random nonce whose hash is
// stored) and redirects to the provider. Handler.Callback consumes the pending
// authorization atomically — only if the cookie matches and it has not
// expired — before anything is sent to the provider, then exchanges the code
// with the verifier and the client secret (HTTP Basic, or client_secret_post
// with OAUTH_AUTH_STYLE=post; never auto-detected),
// names the account, and stores the tokens sealed.
//
// # Threat model
//
//   - Login CSRF and code injection (RFC 6749 §10.12, RFC 9700 §4.7): state is
//     single use and bound to the browser that started the flow; PKCE binds
//     the code to the verifier only the server holds.
//   - Open redirects (RFC 9700 §4.11): return_to must match ALLOWED_RETURN_URLS
//     by exact scheme and host and a path prefix; anything a browser could
//     parse differently is refused.
//   - Replay: the pending record is deleted by a conditional write; a second
//     callback with the same state finds nothing, and concurrent callbacks
//     make exactly one token request.
//   - Token theft at rest: tokens are sealed with AES-256-GCM under a key
//     derived (HKDF-SHA256) from a Secrets Manager secret, with the item's pk
//     as additional data, so a ciphertext copied to another item does not
//     open.
//   - Leaks: no token, code, verifier, state or secret is ever logged, put in
//     a URL (other than the provider redirect's own state) or shown on a page;
//     Secret values print as REDACTED.
//   - Reflected input: answers escape every value (html.EscapeString) and never carry
//     request values except escaped; every answer is no-store, no-referrer.
//
// See RFC 6749, RFC 7636, RFC 7009 (revocation) and RFC 9700 (OAuth 2.0
// security best current practice).
package oauth
