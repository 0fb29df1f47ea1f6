package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Server credentials (DESIGN.md, "Server credentials: connections without a
// browser"): a connection made from a credential the deployment holds, not
// from a person in a browser: the JWT bearer grant (RFC 7523) for
// RingCentral's JWT credentials, and the client credentials grant (RFC 6749
// §4.4), where the credential is the provider's client itself (its id and
// secret from configuration: nothing is stored but the connection).
//
// The connection is kept alive as any other (refresh with its refresh
// token, under the lease). When it has no refresh token, or the refresh
// token is expired or refused (invalid_grant), the holder of the lease
// grants again with the credential, under the same lease: never two grants
// at once, each being a new session at the provider (RingCentral allows five
// per user per app). Only a refused credential makes the connection
// reauth_required (last_error credential_refused); the sealed credential is
// kept so that RotateCredential can replace it.

// Sources of a connection (Connection.Source; "" is SourceBrowser).
const (
	SourceBrowser           = "browser"
	SourceJWTBearer         = "jwt_bearer"
	SourceClientCredentials = "client_credentials"
)

const (
	attrSource     = "source"
	attrCredential = "credential" // sealed; the field name is the seal's additional data

	// grantJWTBearer is RFC 7523's grant type (tokenFailure.grant, and the
	// grant_type sent).
	grantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// grantClientCredentials is RFC 6749 §4.4's grant type.
	grantClientCredentials = "client_credentials"

	// FailCredentialRefused is the last_error of a connection whose
	// credential the provider refused (jwt_bearer: invalid_grant;
	// client_credentials: invalid_client, unauthorized_client or
	// invalid_grant), and the reason of its
	// Connection Reauth Required event.
	FailCredentialRefused = "credential_refused"
)

// ErrCredentialRefused: the provider refused the credential (a JWT:
// invalid_grant, expired, revoked, or not a credential it knows; client
// credentials: the client refused or not allowed the grant). The
// connection, if one exists, is reauth_required until `oauthfn credential
// rotate` (a JWT) or `oauthfn credential add` (client credentials, once the
// client is fixed) makes it active again.
var ErrCredentialRefused = errors.New("oauth: the provider refused the credential")

// SourceName is c's source, SourceBrowser for a connection stored before
// sources existed.
func (c *Connection) SourceName() string {
	if c.Source == "" {
		return SourceBrowser
	}
	return c.Source
}

// HasCredential reports whether c can be granted again without a person: it
// holds a sealed credential (jwt_bearer), or it is a client_credentials
// connection (its credential is the deployment's client).
func (c *Connection) HasCredential() bool {
	return c.Credential != "" || c.Source == SourceClientCredentials
}

// grantType is the grant_type a connection from source is granted with.
func grantType(source string) string {
	if source == SourceClientCredentials {
		return grantClientCredentials
	}
	return grantJWTBearer
}

// refusesCredential reports whether f, a failed grant of a connection from
// source, is the provider refusing the credential (the connection becomes
// reauth_required) rather than a failure to retry.
func refusesCredential(source string, f tokenFailure) bool {
	if source == SourceClientCredentials {
		return f.kind == failInvalidClient || f.kind == failUnauthorizedClient || f.kind == failInvalidGrant
	}
	return f.kind == failInvalidGrant
}

// credentialHandler is the handler of the provider of the connection (or
// of the one to be made) for source: the provider's view in a stack with
// several providers (provider required there; "" is the single provider's),
// or an error when that provider does not take source. The one place that
// knows which provider takes which source.
func (h *Handler) credentialHandler(provider, source string) (*Handler, error) {
	v, ok := h.ForProvider(provider)
	if !ok {
		if provider == "" {
			return nil, fmt.Errorf("oauth: credential: a provider is required: this stack serves several (%s)", strings.Join(h.Config.ProviderIDs(), ", "))
		}
		return nil, fmt.Errorf("oauth: credential: not a provider of this stack (%s)", strings.Join(h.Config.ProviderIDs(), ", "))
	}
	p := v.Config.Provider
	switch source {
	case SourceJWTBearer:
		if p.presetName() == PresetRingCentral {
			return v, nil
		}
		return nil, fmt.Errorf("oauth: credential: the %s provider has no JWT bearer grant in oauthfn (only ringcentral)", p.presetName())
	case SourceClientCredentials:
		return v, nil
	}
	return nil, fmt.Errorf("oauth: credential: unknown source (want %s or %s)", SourceJWTBearer, SourceClientCredentials)
}

// credentialFix is the operator's fix for a refused grant with a
// credential, or "".
func credentialFix(f tokenFailure) string {
	if f.grant == grantClientCredentials {
		switch f.kind {
		case failInvalidClient:
			return "the provider refused the client: check OAUTH_CLIENT_ID, the client secret and OAUTH_AUTH_STYLE, then run `oauthfn credential add -source client_credentials -account <name>` again"
		case failUnauthorizedClient:
			return "the app may not use the client_credentials grant: allow it in the app's settings at the provider (unauthorized_client / unsupported_grant_type), then run `oauthfn credential add -source client_credentials -account <name>` again"
		case failInvalidGrant:
			return "the provider refused the client credentials grant: check the app's settings at the provider, then run `oauthfn credential add -source client_credentials -account <name>` again"
		}
		return ""
	}
	switch f.kind {
	case failUnauthorizedClient:
		return "the app may not use JWT credentials: enable the \"JWT auth flow\" in the app's settings in RingCentral's developer console (OAU-251 \"Unauthorized for this grant type\", unsupported_grant_type); the credential itself may be fine"
	case failInvalidGrant:
		return "the provider refused the JWT credential (expired, revoked, or made for another app or environment): create a new one in RingCentral's developer console (Credentials) and run `oauthfn credential rotate -account <id>` with it on standard input"
	case failInvalidClient:
		return "the provider refused the client: check OAUTH_CLIENT_ID and the client secret; a JWT credential only works with the app it was made for"
	}
	return ""
}

// CredentialError is a refused or failed grant with a credential: what the
// provider said (never the credential) and the fix.
type CredentialError struct {
	Kind        string // invalid_grant, unauthorized_client, invalid_client, rate_limited, provider_unavailable, provider_bad_response
	Code        string // the provider's error, e.g. invalid_grant
	ProviderID  string // e.g. RingCentral's OAU-211
	Description string // the provider's error_description, cleaned
	Fix         string
	// Refused: the provider refused the credential (ErrCredentialRefused).
	Refused bool
}

func (e *CredentialError) Error() string {
	var b strings.Builder
	b.WriteString("oauth: credential grant failed: " + e.Kind)
	if d := strings.TrimSpace(strings.Join([]string{e.ProviderID, e.Description}, " ")); d != "" {
		b.WriteString(" (" + d + ")")
	}
	if e.Fix != "" {
		b.WriteString(": " + e.Fix)
	}
	return b.String()
}

// Unwrap is ErrCredentialRefused for a refused credential, ErrRateLimited
// for a rate limit.
func (e *CredentialError) Unwrap() error {
	switch {
	case e.Refused:
		return ErrCredentialRefused
	case e.Kind == failRateLimited:
		return ErrRateLimited
	}
	return nil
}

func credentialError(source string, f tokenFailure) *CredentialError {
	return &CredentialError{Kind: f.kind, Code: f.code, ProviderID: f.providerID, Description: f.description, Fix: credentialFix(f),
		Refused: refusesCredential(source, f)}
}

// credentialGrant makes one grant for a connection from source at the
// token endpoint, the client authenticated as for every token call
// (OAUTH_AUTH_STYLE, never auto-detected): jwt_bearer with credential as
// the assertion, client_credentials with the provider's scopes (credential
// is ""). sent are the values it sent, for cleaning the provider's answer.
// The caller holds a token-call slot.
func (h *Handler) credentialGrant(ctx context.Context, source, credential string, secret Secret) (*oauth2.Token, sentValues, error) {
	p := h.Config.Provider
	conf := &clientcredentials.Config{
		ClientID:     h.Config.ClientID,
		ClientSecret: secret.Reveal(),
		TokenURL:     p.Endpoint.TokenURL,
		AuthStyle:    p.authStyle(),
	}
	if source == SourceClientCredentials {
		conf.Scopes = h.Config.Scopes // RFC 6749 §4.4.2
	} else {
		// x/oauth2 lets grant_type be replaced (and only it): RFC 7523 §2.1.
		conf.EndpointParams = url.Values{"grant_type": {grantJWTBearer}, "assertion": {credential}}
	}
	callCtx, cancel := context.WithTimeout(h.clientContext(ctx), h.providerTimeout())
	defer cancel()
	tok, err := conf.Token(callCtx)
	sent := h.sentBy(secret, credential)
	if err == nil && !p.bearerType(tok.TokenType) {
		err = fmt.Errorf("oauth: credential grant: unsupported token type %q", sent.code(tok.TokenType))
	}
	return tok, sent, err
}

// grantFirst reports whether c, leased, is granted again with its
// credential rather than refreshed: it has a credential and no refresh
// token, or one that dies before a call could use it.
func (h *Handler) grantFirst(c *Connection) bool {
	if !c.HasCredential() {
		return false
	}
	return c.RefreshToken == "" ||
		(!c.RefreshExpiresAt.IsZero() && !c.RefreshExpiresAt.After(h.Now().Add(h.providerTimeout())))
}

// credentialRefreshAt is refresh_at for an active connection with a
// credential and no refresh token: before its access token expires (the
// larger of REFRESH_WINDOW and a minute before), zero when its expiry is
// unknown (then the token function grants on demand).
func (c Config) credentialRefreshAt(conn *Connection) time.Time {
	if conn.AccessExpiresAt.IsZero() {
		return time.Time{}
	}
	return conn.AccessExpiresAt.Add(-max(c.RefreshWindow, tokenSkew))
}

// grantAgain follows a refused refresh token on a connection with a
// credential: the refresh token is dropped and the credential granted
// under the same lease, after a token-call slot of its own. When no slot
// comes in time the connection is stored without the refresh token, due
// now, and the next holder grants.
func (h *Handler) grantAgain(ctx context.Context, c *Connection, owner string, now time.Time) refreshResult {
	next := *c
	next.RefreshToken, next.RefreshExpiresAt = "", time.Time{}
	next.RefreshAt = now
	h.Log.InfoContext(ctx, "refresh token refused; granting again with the connection's credential", "provider", c.Provider, "account_id", c.AccountID)
	if err := h.waitTokenCall(ctx, next.LeaseUntil.Add(-h.providerTimeout()-writeBudget)); err != nil {
		h.release(ctx, &next, owner)
		if errors.Is(err, ErrRateLimited) {
			return refreshResult{outcome: outRateLimited, err: err}
		}
		return refreshResult{outcome: outFailed, err: fmt.Errorf("oauth: grant: %w", err)}
	}
	return h.grantLeased(ctx, &next, owner, nil)
}

// grantLeased grants c (leased by owner) again with its sealed credential
// and ends the lease whatever happens; the caller holds the token-call
// slot. afterCall, if not nil, runs once when the call is over (or was
// never made).
func (h *Handler) grantLeased(ctx context.Context, c *Connection, owner string, afterCall func(refused string)) refreshResult {
	called := onceAfterCall(afterCall)
	defer called("")
	log := h.Log.With("provider", c.Provider, "account_id", c.AccountID, "source", c.SourceName())
	h.prefetch(ctx, needTokenKey|needClientSecret)
	source := c.SourceName()
	var credential string // client_credentials: none but the client
	if source != SourceClientCredentials {
		var err error
		if credential, err = h.openSealed(ctx, c.Credential, c.Key(), attrCredential); err != nil {
			h.release(ctx, c, owner)
			log.ErrorContext(ctx, "stored credential does not open", "outcome", "failed", "err", err, "fix", h.keyFix())
			return refreshResult{outcome: outFailed, err: fmt.Errorf("oauth: grant: open credential: %w", err)}
		}
	}
	sealer, err := h.Secrets.Sealer(ctx)
	if err != nil {
		h.release(ctx, c, owner)
		return refreshResult{outcome: outFailed, err: fmt.Errorf("oauth: grant: token key: %w", err)}
	}
	secret, err := h.clientSecret(ctx)
	if err != nil {
		h.release(ctx, c, owner)
		return refreshResult{outcome: outFailed, err: fmt.Errorf("oauth: grant: client secret: %w", err)}
	}
	if h.Now().Add(h.providerTimeout() + writeBudget).After(c.LeaseUntil) {
		h.release(ctx, c, owner)
		return refreshResult{outcome: outSkipped, err: errLeaseTooShort}
	}
	tok, sent, err := h.credentialGrant(ctx, source, credential, secret)
	now := h.Now()
	if err != nil {
		f := h.tokenFailure(err, grantType(source), sent)
		if refusesCredential(source, f) {
			called("")
			return h.credentialRefused(ctx, c, owner, f, now)
		}
		called(f.clientRefused())
		return h.refreshFailed(ctx, c, owner, f, now)
	}
	called("")
	next := *c
	// client_credentials: the answer names no account (the connection's
	// is the operator's name for the client), so there is none to check.
	if source != SourceClientCredentials {
		if account, err := h.resolveAccount(ctx, tok); err != nil || account != c.AccountID {
			// Not this connection's account: the new session is ended, and
			// the connection is left for the operator to rotate.
			h.revokeGranted(ctx, c, sealer, tok, now)
			log.ErrorContext(ctx, "the credential's grant names another account; the new session was revoked", "outcome", "failed",
				"fix", "the stored credential is for another user: run `oauthfn credential rotate` with this account's credential")
			return h.refreshFailed(ctx, c, owner, tokenFailure{kind: failBadResponse}, now)
		}
	}
	next.RefreshToken, next.RefreshExpiresAt = "", time.Time{}
	if err := h.applyToken(&next, sealer, tok, now); err != nil {
		h.release(ctx, c, owner)
		return refreshResult{outcome: outFailed, err: fmt.Errorf("oauth: grant: seal tokens: %w", err)}
	}
	h.activate(&next, tok, now)
	h.warnIfAlwaysDue(ctx, &next, now)
	if err := h.completeLease(ctx, &next, owner); err != nil {
		log.ErrorContext(ctx, "granted with the credential but the tokens could not be stored; revoking the new session", "outcome", "write_failed", "err", err)
		h.revokeGranted(ctx, c, sealer, tok, now)
		return refreshResult{outcome: outFailed, err: fmt.Errorf("oauth: grant: store new tokens: %w", err)}
	}
	log.InfoContext(ctx, "connection granted again with its credential", "outcome", "granted")
	return refreshResult{outcome: outRefreshed, token: &oauth2.Token{AccessToken: tok.AccessToken, TokenType: "Bearer", Expiry: next.AccessExpiresAt}}
}

// activate sets the bookkeeping of a connection that just got tokens.
func (h *Handler) activate(c *Connection, tok *oauth2.Token, now time.Time) {
	c.TokenType = "Bearer"
	if s := extraString(tok, "scope"); s != "" {
		c.Scope = s
	}
	c.Status = StatusActive
	c.Failures = 0
	c.LastError = ""
	c.LastRefreshAt = now
	c.UpdatedAt = now
	c.RefreshAt = h.Config.refreshAt(c)
}

// revokeGranted ends the session a grant made for c's provider that is not
// going to be stored.
func (h *Handler) revokeGranted(ctx context.Context, c *Connection, sealer *Sealer, tok *oauth2.Token, now time.Time) {
	tmp := Connection{Provider: c.Provider, AccountID: c.AccountID}
	if err := h.applyToken(&tmp, sealer, tok, now); err == nil {
		h.revokeBounded(ctx, &tmp, "new session")
	}
}

// credentialRefused makes c reauth_required (last_error
// credential_refused): its tokens are removed, its sealed credential kept.
func (h *Handler) credentialRefused(ctx context.Context, c *Connection, owner string, f tokenFailure, now time.Time) refreshResult {
	next := *c
	next.Status = StatusReauthRequired
	next.AccessToken, next.RefreshToken = "", ""
	next.AccessExpiresAt, next.RefreshExpiresAt = time.Time{}, time.Time{}
	next.LastError = FailCredentialRefused
	next.UpdatedAt = now
	next.RefreshAt = time.Time{}
	if err := h.completeLease(ctx, &next, owner); err != nil {
		return refreshResult{outcome: outFailed, err: fmt.Errorf("oauth: grant: mark reauth_required: %w", err)}
	}
	h.Log.WarnContext(ctx, "credential refused: the connection needs a new credential",
		append(f.logAttrs(), "provider", c.Provider, "account_id", c.AccountID, "source", c.SourceName(), "outcome", StatusReauthRequired, "reason", FailCredentialRefused)...)
	return refreshResult{outcome: outReauth, err: fmt.Errorf("%w: %w", ErrReauthRequired, credentialError(c.SourceName(), f))}
}

// reauthError is the error of a token asked of c, not active: it wraps
// ErrReauthRequired, and ErrCredentialRefused too when c's credential was
// refused (an operator rotates it; no user can connect it again).
func reauthError(c *Connection) error {
	if c.LastError == FailCredentialRefused {
		return fmt.Errorf("%w (%w)", ErrReauthRequired, ErrCredentialRefused)
	}
	return ErrReauthRequired
}

// CredentialInput is what AddCredential needs.
type CredentialInput struct {
	// Provider is the provider's id ("" : the deployment's).
	Provider string
	// Source is SourceJWTBearer or SourceClientCredentials.
	Source string
	// Credential is the credential itself (never logged, never in an
	// error); "" for SourceClientCredentials, whose credential is the
	// provider's client (OAUTH_CLIENT_ID and the client secret).
	Credential string
	// Account names a SourceClientCredentials connection (required there:
	// the provider's answer names no account); "" for SourceJWTBearer,
	// whose account is the one the provider names.
	Account string
	// EndUser ties the connection to an app user, or "".
	EndUser string
}

// AddCredential makes a connection from a server credential: it grants at
// once (a token-call slot first), so a bad credential fails here with the
// provider's error and its fix (a *CredentialError), and stores the
// connection under the account the provider names (RingCentral: owner_id),
// the credential sealed. A connection of that account already there is
// replaced, its session revoked, as a re-connection does.
func (h *Handler) AddCredential(ctx context.Context, in CredentialInput) (ConnectionInfo, error) {
	v, err := h.credentialHandler(in.Provider, in.Source)
	if err != nil {
		return ConnectionInfo{}, err
	}
	return v.addCredential(ctx, in)
}

func (h *Handler) addCredential(ctx context.Context, in CredentialInput) (ConnectionInfo, error) {
	p := h.Config.Provider
	credential := strings.TrimSpace(in.Credential)
	switch {
	case in.Source == SourceClientCredentials && credential != "":
		return ConnectionInfo{}, errors.New("oauth: credential add: client_credentials takes no credential: the client's id and secret are the deployment's (OAUTH_CLIENT_ID and the client secret)")
	case in.Source == SourceClientCredentials && !validID(in.Account, maxAccountLen):
		return ConnectionInfo{}, fmt.Errorf("oauth: credential add: client_credentials needs -account: a name for the connection (1 to %d printable characters; the provider's answer names no account)", maxAccountLen)
	case in.Source != SourceClientCredentials && in.Account != "":
		return ConnectionInfo{}, errors.New("oauth: credential add: -account is for client_credentials only: a JWT's account is the one the provider names")
	case in.Source != SourceClientCredentials && credential == "":
		return ConnectionInfo{}, errors.New("oauth: credential add: the credential is empty")
	}
	h.prefetch(ctx, needTokenKey|needClientSecret)
	sealer, err := h.Secrets.Sealer(ctx)
	if err != nil {
		return ConnectionInfo{}, fmt.Errorf("oauth: credential add: token key: %w", err)
	}
	secret, err := h.clientSecret(ctx)
	if err != nil {
		return ConnectionInfo{}, fmt.Errorf("oauth: credential add: client secret: %w", err)
	}
	tok, err := h.slotAndGrant(ctx, in.Source, credential, secret, h.Now().Add(credentialWait))
	if err != nil {
		return ConnectionInfo{}, fmt.Errorf("oauth: credential add: %w", err)
	}
	now := h.Now()
	account := in.Account
	if in.Source != SourceClientCredentials {
		if account, err = h.resolveAccount(ctx, tok); err != nil {
			h.revokeGranted(ctx, &Connection{Provider: p.Name}, sealer, tok, now)
			return ConnectionInfo{}, fmt.Errorf("oauth: credential add: the provider's answer names no account: %w", err)
		}
	}
	conn := &Connection{
		Provider: p.Name, AccountID: account, EndUser: in.EndUser,
		Version: 1, CreatedAt: now, Source: in.Source,
		AnonymousConnect: in.EndUser == "",
	}
	if in.Source != SourceClientCredentials { // client_credentials: nothing to seal but the tokens
		if conn.Credential, err = sealer.SealField(credential, conn.Key(), attrCredential); err != nil {
			h.revokeGranted(ctx, conn, sealer, tok, now)
			return ConnectionInfo{}, fmt.Errorf("oauth: credential add: seal: %w", err)
		}
	}
	if err := h.applyToken(conn, sealer, tok, now); err != nil {
		h.revokeGranted(ctx, conn, sealer, tok, now)
		return ConnectionInfo{}, fmt.Errorf("oauth: credential add: seal tokens: %w", err)
	}
	h.activate(conn, tok, now)
	replaced, err := h.Store.PutConnection(ctx, conn)
	if err != nil {
		h.revokeBounded(ctx, conn, "new session")
		return ConnectionInfo{}, fmt.Errorf("oauth: credential add: store connection: %w", err)
	}
	h.Log.InfoContext(ctx, "connection added from a credential", "outcome", "connected", "provider", conn.Provider,
		"account_id", account, "end_user", conn.EndUser, "source", conn.Source, "replaced", replaced != nil)
	if replaced != nil {
		h.revokeReplaced(ctx, replaced)
	}
	return conn.Info(), nil
}

// pauseAfter pauses every token call after f when it is a 429 (for its
// Retry-After, or defaultRetryAfter) from a call outside a lease (a code
// exchange, a credential's first grant).
func (h *Handler) pauseAfter(ctx context.Context, f tokenFailure) {
	if f.kind != failRateLimited {
		return
	}
	wait := f.retryAfter
	if wait <= 0 {
		wait = defaultRetryAfter
	}
	h.pause(ctx, h.Now().Add(wait), time.Time{})
}

// credentialWait bounds how long AddCredential waits for a token-call slot.
const credentialWait = 2 * time.Minute

// slotAndGrant takes a token-call slot (one that comes by notAfter, else
// an error wrapping ErrRateLimited) and grants for source with credential;
// a refusal is a *CredentialError (a 429 also pauses every token call, as
// elsewhere).
func (h *Handler) slotAndGrant(ctx context.Context, source, credential string, secret Secret, notAfter time.Time) (*oauth2.Token, error) {
	if err := h.waitTokenCall(ctx, notAfter); err != nil {
		return nil, err
	}
	tok, sent, err := h.credentialGrant(ctx, source, credential, secret)
	if err != nil {
		f := h.tokenFailure(err, grantType(source), sent)
		h.pauseAfter(ctx, f)
		h.Log.WarnContext(ctx, "credential grant refused", append(f.logAttrs(), "source", source)...)
		return nil, credentialError(source, f)
	}
	return tok, nil
}

// RotateCredential replaces the credential of the account's connection in
// place: under the connection's lease it grants with the new credential
// first (so a bad one changes nothing and fails with the provider's error),
// then stores it sealed with the new tokens (the connection active again),
// and revokes the previous session.
func (h *Handler) RotateCredential(ctx context.Context, provider, accountID, credential string) (ConnectionInfo, error) {
	credential = strings.TrimSpace(credential)
	if credential == "" {
		return ConnectionInfo{}, errors.New("oauth: credential rotate: the credential is empty")
	}
	// The provider's view whatever its preset, so that a client_credentials
	// connection is told why it has nothing to rotate.
	v, err := h.credentialHandler(provider, SourceClientCredentials)
	if err != nil {
		return ConnectionInfo{}, err
	}
	if c, err := v.Store.GetConnection(ctx, v.Config.Provider.Name, accountID); err == nil && c.Source == SourceClientCredentials {
		return ConnectionInfo{}, errClientCredentialsRotate(accountID)
	}
	if v, err = h.credentialHandler(provider, SourceJWTBearer); err != nil {
		return ConnectionInfo{}, err
	}
	return v.rotateCredential(ctx, accountID, credential)
}

// errClientCredentialsRotate is the refusal to rotate a client_credentials
// connection: its credential is the deployment's client.
func errClientCredentialsRotate(accountID string) error {
	return fmt.Errorf("oauth: credential rotate %s: a client_credentials connection holds no credential of its own (it is the client's id and secret): change the client secret in the configuration, then run `oauthfn credential add -source client_credentials -account %s`", accountID, accountID)
}

func (h *Handler) rotateCredential(ctx context.Context, accountID, credential string) (ConnectionInfo, error) {
	provider := h.Config.Provider.Name
	owner := newOwner("rotate")
	var leased *Connection
	for polls := 0; leased == nil; polls++ {
		c, err := h.Store.GetConnection(ctx, provider, accountID)
		if err != nil {
			return ConnectionInfo{}, fmt.Errorf("oauth: credential rotate %s: %w", accountID, err)
		}
		if c.Source == SourceClientCredentials {
			return ConnectionInfo{}, errClientCredentialsRotate(accountID)
		}
		if c.Source != SourceJWTBearer || c.Credential == "" {
			return ConnectionInfo{}, fmt.Errorf("oauth: credential rotate %s: the connection was not made from a credential (source %s): use credential add", accountID, c.SourceName())
		}
		if c.Status == StatusRevoked {
			return ConnectionInfo{}, fmt.Errorf("oauth: credential rotate %s: disconnected: %w", accountID, ErrNotFound)
		}
		now := h.Now()
		if polls > int((h.providerTimeout()+writeBudget)/pollInterval)+1 {
			return ConnectionInfo{}, fmt.Errorf("oauth: credential rotate %s: %w", accountID, ErrBusy)
		}
		if !leaseFree(c.LeaseUntil, now) {
			if err := h.sleep(ctx, pollInterval); err != nil {
				return ConnectionInfo{}, err
			}
			continue
		}
		leased, err = h.Store.AcquireLease(ctx, provider, accountID, c.Version, owner, now, now.Add(LeaseDuration))
		if err != nil && !errors.Is(err, ErrConflict) {
			return ConnectionInfo{}, fmt.Errorf("oauth: credential rotate %s: %w", accountID, err)
		}
	}
	h.prefetch(ctx, needTokenKey|needClientSecret)
	sealer, err := h.Secrets.Sealer(ctx)
	if err != nil {
		h.release(ctx, leased, owner)
		return ConnectionInfo{}, fmt.Errorf("oauth: credential rotate: token key: %w", err)
	}
	secret, err := h.clientSecret(ctx)
	if err != nil {
		h.release(ctx, leased, owner)
		return ConnectionInfo{}, fmt.Errorf("oauth: credential rotate: client secret: %w", err)
	}
	// Never a grant the lease may not outlive (as for a refresh).
	tok, err := h.slotAndGrant(ctx, SourceJWTBearer, credential, secret, leased.LeaseUntil.Add(-h.providerTimeout()-writeBudget))
	if err != nil {
		h.release(ctx, leased, owner)
		return ConnectionInfo{}, fmt.Errorf("oauth: credential rotate %s: the new credential was not stored: %w", accountID, err)
	}
	now := h.Now()
	if account, err := h.resolveAccount(ctx, tok); err != nil || account != accountID {
		h.revokeGranted(ctx, leased, sealer, tok, now)
		h.release(ctx, leased, owner)
		return ConnectionInfo{}, fmt.Errorf("oauth: credential rotate %s: the new credential is for another account (or names none); nothing changed", accountID)
	}
	next := *leased
	if next.Credential, err = sealer.SealField(credential, next.Key(), attrCredential); err == nil {
		next.RefreshToken, next.RefreshExpiresAt = "", time.Time{}
		err = h.applyToken(&next, sealer, tok, now)
	}
	if err != nil {
		h.revokeGranted(ctx, leased, sealer, tok, now)
		h.release(ctx, leased, owner)
		return ConnectionInfo{}, fmt.Errorf("oauth: credential rotate: seal: %w", err)
	}
	h.activate(&next, tok, now)
	if err := h.completeLease(ctx, &next, owner); err != nil {
		h.revokeGranted(ctx, leased, sealer, tok, now)
		return ConnectionInfo{}, fmt.Errorf("oauth: credential rotate %s: store: %w; nothing changed", accountID, err)
	}
	h.Log.InfoContext(ctx, "credential rotated", "outcome", "rotated", "provider", next.Provider, "account_id", accountID)
	if leased.RefreshToken != "" || leased.AccessToken != "" {
		h.revokeBounded(ctx, leased, "previous session")
	}
	return next.Info(), nil
}
