package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/oauth2"

	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// shortAccessLifetime: access tokens living less than this are too short
// to be useful, which is said at connect.
const shortAccessLifetime = 5 * time.Minute

// ConnectionGrace is how long DynamoDB keeps a connection after its refresh
// token expired (its ttl), so operators can still see it.
const ConnectionGrace = 7 * 24 * time.Hour

// Callback finishes an authorization. In order: the query is well formed;
// state is present and well formed; the binding cookie is present; the pending
// authorization is consumed atomically if it exists, is not expired and
// matches the cookie (a mismatch leaves it in place); then the provider's
// error is reported, or the code is exchanged (PKCE verifier, client secret in
// HTTP Basic or the form body, OAUTH_AUTH_STYLE), the account resolved, the
// tokens sealed and stored, a replaced connection's refresh token revoked,
// and the browser sent to return_to (or shown a success page). State is checked before anything is sent to the
// provider. A sign-in of the backend for the frontend (a pending
// authorization marked BFF) stores its connection keeping an active
// one's CreatedAt (putBFFConnection) and ends with a browser session and
// its cookie (bffSignedIn), with no result and no confirmation.
//
// A stack with several providers (OAUTH_PROVIDERS) serves
// /callback/{provider}: it finds only its own provider's pending
// authorizations (another provider's state is unknown here: 400, left
// unconsumed, nothing sent), and checks iss (RFC 9207) against the
// provider's issuer before anything is consumed or sent.
func (h *Handler) Callback(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	v, refused := h.routed(ctx, req, "callback")
	if refused != nil {
		return render(req, h.startAgain(*refused)), nil
	}
	return v.callback(ctx, req)
}

func (h *Handler) callback(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	q, err := parseQuery(req.RawQueryString, callbackLimits)
	if err != nil {
		h.Log.WarnContext(ctx, "callback refused", "outcome", ansBadRequest.code, "reason", err.Error())
		return render(req, ansBadRequest), nil
	}
	state := q["state"]
	if !wellFormedNonce(state) {
		h.Log.WarnContext(ctx, "callback refused", "outcome", ansBadState.code, "reason", "state missing or malformed")
		return render(req, h.startAgain(ansBadState)), nil
	}
	code, provErr := q["code"], q["error"]
	if (code == "") == (provErr == "") {
		h.Log.WarnContext(ctx, "callback refused", "outcome", ansBadRequest.code, "reason", "want exactly one of code and error")
		return render(req, ansBadRequest), nil
	}
	if reason := h.checkIssuer(q["iss"]); reason != "" {
		h.Log.WarnContext(ctx, "callback refused", "outcome", ansIssuer.code, "reason", reason)
		return render(req, h.startAgain(ansIssuer)), nil
	}
	nonces := readBindings(req.Cookies, header(req, "cookie"))
	if len(nonces) == 0 {
		return h.withoutCookie(ctx, req, state), nil
	}
	hashes := make([]string, len(nonces))
	for i, n := range nonces {
		hashes[i] = bindingHash(n)
	}

	// Work out everything that can fail here before the pending
	// authorization is consumed: such a failure must not burn the state.
	var ex exchangeInputs
	if code != "" {
		// A 429 pause known here: nothing consumed, nothing sent; the same
		// callback works once the pause is over.
		if p := h.localPause(); p.After(h.Now()) {
			h.Log.WarnContext(ctx, "callback refused: token endpoint paused after a 429", "outcome", ansBusy.code,
				"paused_until", p.UTC().Format(time.RFC3339))
			return busyAnswer(req, h.Now(), p, ""), nil
		}
		if ex, err = h.exchangeInputs(ctx, req); err != nil {
			h.Log.ErrorContext(ctx, "callback failed before the state was consumed", "outcome", ansInternal.code, "err", err)
			return render(req, h.startAgain(ansInternal)), nil
		}
	}

	pending, err := h.Store.ConsumePending(ctx, h.pendingKey(state), hashes, h.Now())
	switch {
	case errors.Is(err, ErrBindingMismatch):
		h.Log.WarnContext(ctx, "callback refused", "outcome", ansBinding.code, "reason", "binding cookie differs")
		return render(req, h.startAgain(ansBinding)), nil
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrPendingExpired):
		h.Log.WarnContext(ctx, "callback refused", "outcome", ansBadState.code, "reason", err.Error())
		return render(req, h.startAgain(ansBadState)), nil
	case err != nil:
		h.Log.ErrorContext(ctx, "callback failed: consume pending authorization", "outcome", ansInternal.code, "err", err)
		return render(req, h.startAgain(ansInternal)), nil
	}
	// From here on the pending authorization is spent: clear its nonce.
	cookie := bindingSetCookie(without(nonces, pending.BindingHash))
	retry, back := h.restartLinks(pending)

	if provErr != "" {
		return h.providerRedirectError(ctx, req, provErr, q["error_description"], state, retry, back, cookie), nil
	}

	busy, err := h.exchangeBusyUntil(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "callback failed", "outcome", ansInternal.code, "err", err)
		a := ansInternal
		a.retry = retry
		return render(req, a, cookie), nil
	}
	if !busy.IsZero() {
		h.Log.WarnContext(ctx, "callback refused: token endpoint paused after a 429, or the code-exchange budget is spent", "outcome", ansBusy.code,
			"retry_at", busy.UTC().Format(time.RFC3339))
		return busyAnswer(req, h.Now(), busy, retry, cookie), nil
	}
	done, a := h.finish(ctx, ex, pending, code)
	if a != nil {
		if a.retry != "" {
			a.retry, a.back = retry, back
		}
		return render(req, *a, cookie), nil
	}
	if done.replaced != nil {
		h.revokeReplaced(ctx, done.replaced)
	}
	if pending.BFF {
		return h.bffSignedIn(ctx, req, pending, done.conn, cookie), nil
	}
	if pending.ReturnTo == "" {
		ok := ansConnected
		if done.resultID != "" {
			// A pending connection no one is there to confirm (an
			// authorization started before REQUIRE_CONFIRM): it expires.
			ok = ansConfirmElsewhere
		}
		ok.account = done.conn.AccountID
		return render(req, ok, cookie), nil
	}
	location, err := h.returnURL(ctx, pending, done)
	if err != nil {
		// The connection is stored; only the app's notice failed.
		h.Log.ErrorContext(ctx, "callback failed: sign the result", "outcome", ansInternal.code, "err", err)
		return render(req, ansInternal, cookie), nil
	}
	return redirect(location, cookie), nil
}

// noBinding is a binding hash no nonce has: bindingHash("") (readBindings
// keeps only well-formed nonces, never ""), so a ConsumePending with it
// matches nothing. A constant, so nothing is hashed at start-up; a test holds
// it to bindingHash("").
const noBinding = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"

// withoutCookie answers a callback that brought no binding cookie. A browser
// that finished its last sign-in has no cookie left (the callback cleared
// it), so the back button or a reload after a success lands here: if the
// state's pending authorization is gone or expired, say "already used"
// (invalid_state, 400), as with a cookie; only a live one means another
// browser (binding_mismatch, 403). Nothing is consumed either way.
func (h *Handler) withoutCookie(ctx context.Context, req events.APIGatewayV2HTTPRequest, state string) events.APIGatewayV2HTTPResponse {
	_, err := h.Store.ConsumePending(ctx, h.pendingKey(state), []string{noBinding}, h.Now())
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrPendingExpired):
		h.Log.WarnContext(ctx, "callback refused", "outcome", ansBadState.code, "reason", "binding cookie missing; "+err.Error())
		return render(req, h.startAgain(ansBadState))
	case err != nil && !errors.Is(err, ErrBindingMismatch):
		h.Log.ErrorContext(ctx, "callback failed: look up pending authorization", "outcome", ansInternal.code, "err", err)
		return render(req, h.startAgain(ansInternal))
	}
	h.Log.WarnContext(ctx, "callback refused", "outcome", ansBinding.code, "reason", "binding cookie missing")
	return render(req, h.startAgain(ansBinding))
}

// exchangeInputs is what a code exchange needs that the callback can get
// before it consumes the pending authorization.
type exchangeInputs struct {
	redirectURL string
	secret      Secret
}

func (h *Handler) exchangeInputs(ctx context.Context, req events.APIGatewayV2HTTPRequest) (exchangeInputs, error) {
	var ex exchangeInputs
	var err error
	if ex.redirectURL, err = h.redirectURL(req); err != nil {
		return ex, err
	}
	// The app key signs the result after the exchange: fetched now, with
	// the others, a cold start waits on one Secrets Manager round trip.
	h.prefetch(ctx, needTokenKey|needClientSecret|needAppKey)
	if _, err = h.Secrets.Sealer(ctx); err != nil {
		return ex, fmt.Errorf("oauth: token key unavailable: %w", err)
	}
	if ex.secret, err = h.clientSecret(ctx); err != nil {
		return ex, fmt.Errorf("oauth: client secret unavailable: %w", err)
	}
	return ex, nil
}

// finished is what a successful callback stored: the connection (attached
// now, replacing replaced), or, with a connect token while REQUIRE_CONFIRM
// holds, the pending connection named by resultID that waits for the app's
// confirmation (conn is then what it will become; nothing was replaced).
type finished struct {
	conn     *Connection
	replaced *Connection
	resultID string
}

// finish exchanges the code and stores the connection, or the pending
// connection. A non-nil answer is the failure to show.
func (h *Handler) finish(ctx context.Context, ex exchangeInputs, pending *PendingAuth, code string) (*finished, *answer) {
	fail := func(a answer, msg string, args ...any) (*finished, *answer) {
		level := "warn"
		if a.status >= 500 {
			level = "error"
		}
		args = append(args, "outcome", a.code)
		if level == "error" {
			h.Log.ErrorContext(ctx, msg, args...)
		} else {
			h.Log.WarnContext(ctx, msg, args...)
		}
		return nil, &a
	}
	verifier, err := h.openSealed(ctx, pending.Verifier, pending.Key, attrVerifier)
	if err != nil {
		return fail(ansInternal, "callback failed: open verifier", "err", err)
	}
	sealer, err := h.Secrets.Sealer(ctx) // refreshed by openSealed if it had to
	if err != nil {
		return fail(ansInternal, "callback failed: token key unavailable", "err", err)
	}
	conf := h.oauth2Config(ex.redirectURL, ex.secret)
	tok, err := conf.Exchange(h.clientContext(ctx), code, oauth2.VerifierOption(verifier))
	sent := h.sentBy(ex.secret, code, verifier)
	if err != nil {
		pe := h.tokenFailure(err, grantCode, sent)
		h.pauseAfter(ctx, pe) // the sweep and TokenSource hold off too
		return fail(pe.answer(), "code exchange failed", pe.logAttrs()...)
	}
	now := h.Now()
	account, err := h.resolveAccount(ctx, tok)
	if err != nil {
		return fail(ansBadResponse, "code exchange failed: account not resolved", append([]any{"reason", err.Error()}, refusalAttrs(err)...)...)
	}
	if !h.Config.Provider.bearerType(tok.TokenType) {
		return fail(ansBadResponse, "code exchange failed: unsupported token type", "token_type", sent.code(tok.TokenType))
	}

	conn := &Connection{
		Provider:      h.Config.Provider.Name,
		AccountID:     account,
		EndUser:       pending.EndUser,
		TokenType:     "Bearer",
		Scope:         extraString(tok, "scope"),
		Status:        StatusActive,
		Version:       1,
		CreatedAt:     now,
		UpdatedAt:     now,
		LastRefreshAt: now,

		AnonymousConnect: pending.EndUser == "",
	}
	var bind *PendingConnection
	var resultID string
	sealKey := conn.Key()
	if pending.EndUser != "" && h.Config.RequireConfirm {
		// A connect link can be forwarded: attach nothing until the app
		// confirms who finished the flow (DESIGN.md, "Confirmation").
		resultID = newNonce()
		bind = &PendingConnection{Key: BindKey(resultID), AppState: pending.AppState,
			ExpiresAt: now.Add(h.Config.ConfirmTTL), Status: StatusPending, UpdatedAt: now}
		sealKey = bind.Key
	}
	if err := h.applyTokenAt(conn, sealKey, sealer, tok, now); err != nil {
		return fail(ansInternal, "callback failed: seal tokens", "err", err)
	}
	h.warnIfAlwaysDue(ctx, conn, now)
	if secs := accessLifetime(tok); secs > 0 && time.Duration(secs)*time.Second < shortAccessLifetime {
		h.Log.WarnContext(ctx, fmt.Sprintf("access tokens live only %d s: the app refreshes one every %d s or so, each a token-endpoint call counted against TOKEN_RATE_PER_MIN", secs, secs*3/4),
			"account_id", account, "fix", "configure a longer access-token lifetime at the provider if it allows one")
	}
	if tok.RefreshToken == "" {
		h.Log.WarnContext(ctx, "provider issued no refresh token: the connection works until its access token expires and is not kept alive",
			"account_id", account, "fix", noRefreshTokenFix(h.Config.Provider.presetName()))
	}
	if bind != nil {
		bind.Conn = *conn
		if err := h.Store.PutPendingConnection(ctx, bind); err != nil {
			h.Log.ErrorContext(ctx, "callback failed: store pending connection; revoking the new session", "outcome", ansInternal.code, "account_id", account, "err", err)
			h.revokeBoundedAt(ctx, conn, bind.Key, "new session")
			a := ansInternal
			return nil, &a
		}
		h.Log.InfoContext(ctx, "account connected, waiting for the app's confirmation", "outcome", StatusPending, "provider", conn.Provider,
			"account_id", account, "end_user", conn.EndUser, "confirm_by", bind.ExpiresAt.UTC().Format(time.RFC3339), "refresh_token", tok.RefreshToken != "")
		return &finished{conn: conn, resultID: resultID}, nil
	}
	var replaced *Connection
	if pending.BFF {
		replaced, err = h.putBFFConnection(ctx, conn)
	} else {
		replaced, err = h.Store.PutConnection(ctx, conn)
	}
	if err != nil {
		// The provider holds a session nothing here could revoke later:
		// end it now (RingCentral allows five per user per app).
		h.Log.ErrorContext(ctx, "callback failed: store connection; revoking the new session", "outcome", ansInternal.code, "account_id", account, "err", err)
		h.revokeBounded(ctx, conn, "new session")
		a := ansInternal
		return nil, &a
	}
	h.Log.InfoContext(ctx, "account connected", "outcome", "connected", "provider", conn.Provider, "account_id", account,
		"end_user", conn.EndUser, "replaced", replaced != nil, "refresh_token", tok.RefreshToken != "")
	if replaced != nil && replaced.EndUser != conn.EndUser {
		h.Log.InfoContext(ctx, "account moved to another end user", "account_id", account, "end_user", conn.EndUser, "previous_end_user", replaced.EndUser)
	}
	return &finished{conn: conn, replaced: replaced}, nil
}

// applyToken seals tok's tokens into c and sets the lifetimes (from the
// response: expires_in, refresh_token_expires_in), refresh_at and ttl. A
// response without a refresh token keeps c's sealed refresh token.
func (h *Handler) applyToken(c *Connection, sealer *Sealer, tok *oauth2.Token, now time.Time) error {
	return h.applyTokenAt(c, c.Key(), sealer, tok, now)
}

// applyTokenAt is applyToken with the tokens sealed for the item key (a
// pending connection's, whose tokens move to the connection's key when the
// app accepts it).
func (h *Handler) applyTokenAt(c *Connection, key string, sealer *Sealer, tok *oauth2.Token, now time.Time) error {
	access, err := sealer.SealField(tok.AccessToken, key, attrAccessToken)
	if err != nil {
		return err
	}
	c.AccessToken = access
	p := h.Config.Provider
	c.AccessExpiresAt = time.Time{}
	if secs := accessLifetime(tok); secs > 0 {
		c.AccessExpiresAt = now.Add(time.Duration(secs) * time.Second)
	} else if p.AccessLifetime > 0 {
		c.AccessExpiresAt = now.Add(p.AccessLifetime) // the preset's documented assumption
	}
	switch {
	case tok.RefreshToken != "":
		refresh, err := sealer.SealField(tok.RefreshToken, key, attrRefreshToken)
		if err != nil {
			return err
		}
		c.RefreshToken = refresh
		c.RefreshExpiresAt = time.Time{}
		if secs := extraInt(tok, "refresh_token_expires_in"); secs > 0 {
			c.RefreshExpiresAt = now.Add(time.Duration(secs) * time.Second)
		} else if p.RefreshIdle > 0 {
			c.RefreshExpiresAt = now.Add(p.RefreshIdle)
		}
	case c.RefreshToken != "" && p.RefreshIdle > 0 && extraInt(tok, "refresh_token_expires_in") <= 0:
		// Kept, and just used: a refresh token that dies unused lives
		// RefreshIdle from now (Google's six months).
		c.RefreshExpiresAt = now.Add(p.RefreshIdle)
	}
	c.KeyID = sealer.KeyID()
	c.RefreshAt = h.Config.refreshAt(c)
	c.TTL = connectionTTL(c)
	return nil
}

// connectionTTL is when DynamoDB may delete c: its refresh token's expiry
// (or, without one, its access token's) plus ConnectionGrace; zero when
// neither is known.
func connectionTTL(c *Connection) time.Time {
	switch {
	case !c.RefreshExpiresAt.IsZero():
		return c.RefreshExpiresAt.Add(ConnectionGrace)
	case c.RefreshToken == "" && !c.AccessExpiresAt.IsZero():
		return c.AccessExpiresAt.Add(ConnectionGrace)
	}
	return time.Time{}
}

// accessLifetime is the response's expires_in in seconds. x/oauth2 fills
// ExpiresIn from JSON bodies only; for form-encoded bodies the field is read
// from the response itself (Extra).
func accessLifetime(tok *oauth2.Token) int64 {
	if tok.ExpiresIn > 0 {
		return tok.ExpiresIn
	}
	return extraInt(tok, "expires_in")
}

// clientContext carries the handler's HTTP client to x/oauth2.
func (h *Handler) clientContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, h.HTTPClient)
}

// resolveAccount names the provider account: the token response's account
// field (RingCentral: owner_id), else the userinfo endpoint's sub.
func (h *Handler) resolveAccount(ctx context.Context, tok *oauth2.Token) (string, error) {
	p := h.Config.Provider
	var id string
	switch {
	case p.Account != nil:
		var err error
		if id, err = p.Account(tok); err != nil {
			return "", err
		}
	case p.IDTokenClaim != "":
		var err error
		if id, err = idTokenClaim(tok, p.IDTokenClaim, h.Config.ClientID, p.IDTokenIssuers, h.Now()); err != nil {
			return "", err
		}
	case p.AccountField != "":
		id = extraString(tok, p.AccountField)
		if id == "" {
			return "", fmt.Errorf("token response has no %q", p.AccountField)
		}
	case p.UserinfoURL != "":
		var err error
		if id, err = h.userinfoSub(ctx, tok); err != nil {
			return "", err
		}
	default:
		return "", errors.New("no way to name the account: set OAUTH_ACCOUNT_FIELD or OAUTH_USERINFO_URL")
	}
	if len(id) > 256 || strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", errors.New("account id is malformed")
	}
	return id, nil
}

func (h *Handler) userinfoSub(ctx context.Context, tok *oauth2.Token) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.Config.Provider.UserinfoURL, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Accept", "application/json")
	resp, err := h.HTTPClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("userinfo: %w", redactURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		sent := sentOnly(tok.AccessToken)
		f := refusalFromBody(resp.StatusCode, body, sent)
		// A 401 here is the access token's fault, not the client's; RFC
		// 6750 puts the error in WWW-Authenticate rather than the body.
		f.kind = failBadResponse
		if f.code == "" {
			f.code, f.description = bearerError(resp.Header.Get("WWW-Authenticate"), sent)
		}
		return "", &refusalError{"userinfo", f}
	}
	field := h.Config.Provider.UserinfoField
	if field == "" {
		field = "sub"
	}
	var body map[string]json.RawMessage
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return "", fmt.Errorf("userinfo: decode: %w", err)
	}
	var sub string
	if err := json.Unmarshal(body[field], &sub); err != nil || sub == "" {
		// A numeric id (GitHub's) is its decimal text; OpenID's sub is
		// always a string.
		var n json.Number
		if field == "sub" || json.Unmarshal(body[field], &n) != nil || n == "" {
			return "", errors.New("userinfo: no " + field)
		}
		sub = n.String()
	}
	return sub, nil
}

// extraString reads a token-response field as a string (numbers are
// formatted without exponent).
func extraString(tok *oauth2.Token, name string) string {
	switch v := tok.Extra(name).(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case int64: // form-encoded responses: x/oauth2 parses integers
		return strconv.FormatInt(v, 10)
	case json.Number:
		return v.String()
	}
	return ""
}

// extraInt reads a token-response field that is a number or a numeric string.
func extraInt(tok *oauth2.Token, name string) int64 {
	s := extraString(tok, name)
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 || n > 1<<40 {
		return 0
	}
	return int64(n)
}

// safeCode returns s if it looks like a protocol code, else "other"; for logs.
func safeCode(s string) string {
	if isCode(s) {
		return s
	}
	return "other"
}

// isCode reports whether s looks like a protocol code: 1 to 64 of A-Z, a-z,
// 0-9, _, . and -. (A loop, not a regexp: nothing to compile at start-up.)
func isCode(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// retryLink starts the same authorization again: same return_to, same
// app_state. An authorization started with a connect token cannot be
// started again from here (the token is single use): back is then the
// app's return_to, where the app can mint a new one. A BFF sign-in goes
// back to its app (return_to), whose sign-in button starts a new one.
func retryLink(p *PendingAuth) (retry, back string) {
	if p.EndUser != "" || p.BFF {
		return "", p.ReturnTo
	}
	v := url.Values{}
	if p.ReturnTo != "" {
		v.Set("return_to", p.ReturnTo)
	}
	if p.AppState != "" {
		v.Set("app_state", p.AppState)
	}
	if len(v) == 0 {
		return "authorize", ""
	}
	return "authorize?" + v.Encode(), ""
}

// returnURL is return_to with one parameter added to its query: result, the
// signed statement of who connected which account (connect.Result). Nothing
// else the app acts on travels in the URL.
func (h *Handler) returnURL(ctx context.Context, p *PendingAuth, done *finished) (string, error) {
	keys, err := h.Secrets.AppKeys(ctx)
	if err != nil {
		return "", err
	}
	keys.Now = h.Now
	r := connect.Result{User: p.EndUser, AccountID: done.conn.AccountID, Provider: done.conn.Provider, AppState: p.AppState, Status: connect.StatusConnected}
	if done.resultID != "" {
		r.Status, r.ID = connect.StatusPending, done.resultID
	}
	result, err := keys.SignResult(r)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(p.ReturnTo)
	if err != nil { // validated at /authorize; cannot happen
		return "", fmt.Errorf("oauth: return_to: %w", err)
	}
	q := u.Query()
	q.Set("result", result)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
