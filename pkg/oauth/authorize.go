package oauth

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/oauth2"

	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// PendingTTL is how long a started authorization can be finished.
const PendingTTL = 10 * time.Minute

// Authorize starts an authorization. With the app's connect token
// (?connect=, required unless REQUIRE_CONNECT_TOKEN=false) it verifies the
// token (connect.Keys.VerifyToken) and takes return_to, app_state and
// login_hint from it; without one, from the query. It validates return_to
// against ALLOWED_RETURN_URLS, creates state and a PKCE verifier, stores the
// pending authorization (verifier sealed; the token's jti spent in the same
// write), sets the binding cookie and redirects to the provider. Every
// expected failure is an answer, never a Go error, and stores nothing.
//
// A stack with several providers (OAUTH_PROVIDERS) serves
// /authorize/{provider}; its connect token must name that provider.
func (h *Handler) Authorize(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	v, refused := h.routed(ctx, req, "authorize")
	if refused != nil {
		return render(req, h.startAgain(*refused)), nil
	}
	return v.authorize(ctx, req)
}

func (h *Handler) authorize(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	q, err := parseQuery(req.RawQueryString, authorizeLimits)
	if err != nil {
		h.Log.WarnContext(ctx, "authorize refused", "outcome", ansBadRequest.code, "reason", err.Error())
		return render(req, ansBadRequest), nil
	}
	if name := invalidUTF8(q); name != "" {
		h.Log.WarnContext(ctx, "authorize refused", "outcome", ansBadRequest.code, "reason", "query parameter "+name+" is not valid UTF-8")
		return render(req, ansBadRequest), nil
	}
	need := needTokenKey
	if q["connect"] != "" {
		need |= needAppKey
	}
	h.prefetch(ctx, need)
	start, refused := h.authorizeRequest(ctx, q)
	if refused != nil {
		return render(req, h.startAgain(*refused)), nil
	}
	if start.ID != "" && start.ReturnTo == "" && h.Config.RequireConfirm {
		// Someone must be there to confirm who finished the flow.
		h.Log.WarnContext(ctx, "authorize refused", "outcome", ansReturnToRequired.code, "end_user", start.User)
		return render(req, ansReturnToRequired), nil
	}
	if start.ReturnTo != "" && !h.Config.returnAllowed(start.ReturnTo) {
		h.Log.WarnContext(ctx, "authorize refused", "outcome", ansReturnTo.code, "connect_token", start.ID != "")
		return render(req, ansReturnTo), nil
	}
	return h.begin(ctx, req, "authorize", start, false), nil
}

// begin starts the authorization start asks for, once its caller has
// checked it (return_to against ALLOWED_RETURN_URLS, the connect token):
// it creates state and a PKCE verifier, stores the pending authorization
// (verifier sealed; a connect token's jti spent in the same write; bff
// marks a sign-in of the backend for the frontend), sets the binding
// cookie and redirects to the provider. route names the route in the logs
// (authorize, bff login). Shared by /authorize and /bff/{provider}/login.
func (h *Handler) begin(ctx context.Context, req events.APIGatewayV2HTTPRequest, route string, start connect.Request, bff bool) events.APIGatewayV2HTTPResponse {
	redirectURL, err := h.redirectURL(req)
	if err != nil {
		h.Log.ErrorContext(ctx, route+" failed", "outcome", ansInternal.code, "err", err)
		return render(req, ansInternal)
	}

	state := newNonce()
	verifier := oauth2.GenerateVerifier()
	nonce := newNonce()
	now := h.Now()
	key := h.pendingKey(state)

	sealer, err := h.Secrets.Sealer(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, route+" failed: token key unavailable", "outcome", ansInternal.code, "err", err)
		return render(req, ansInternal)
	}
	sealedVerifier, err := sealer.SealField(verifier, key, attrVerifier)
	if err != nil {
		h.Log.ErrorContext(ctx, route+" failed: seal verifier", "outcome", ansInternal.code, "err", err)
		return render(req, ansInternal)
	}
	pending := &PendingAuth{
		Key:         key,
		BindingHash: bindingHash(nonce),
		Verifier:    sealedVerifier,
		ReturnTo:    start.ReturnTo,
		AppState:    start.AppState,
		EndUser:     start.User,
		BFF:         bff,
		CreatedAt:   now,
		ExpiresAt:   now.Add(PendingTTL),
	}
	if start.ID != "" {
		pending.JTI = start.ID
		pending.JTIExpiresAt = start.ExpiresAt.Add(connect.Leeway)
	}
	err = h.Store.PutPending(ctx, pending)
	if errors.Is(err, ErrReplayed) {
		h.Log.WarnContext(ctx, route+" refused", "outcome", ansInvalidConnect.code, "reason", "connect token already used", "end_user", start.User)
		return render(req, h.startAgain(ansInvalidConnect))
	}
	if err != nil {
		h.Log.ErrorContext(ctx, route+" failed: store pending authorization", "outcome", ansInternal.code, "err", err)
		return render(req, ansInternal)
	}

	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	for k, v := range h.Config.Provider.AuthorizeParams {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	if start.LoginHint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", start.LoginHint))
	}
	conf := h.oauth2Config(redirectURL, "")
	nonces := append(readBindings(req.Cookies, header(req, "cookie")), nonce)
	if len(nonces) > maxBindings {
		nonces = nonces[len(nonces)-maxBindings:]
	}
	attrs := []any{"outcome", "redirect", "return_to_set", start.ReturnTo != "", "connect_token", start.ID != "", "end_user", start.User}
	if bff {
		attrs = append(attrs, "bff", true)
	}
	h.Log.InfoContext(ctx, "authorization started", attrs...)
	return redirect(conf.AuthCodeURL(state, opts...), bindingSetCookie(nonces))
}

// invalidUTF8 names a query parameter whose value is not valid UTF-8, or
// returns "": the stores would not agree on such bytes (DynamoDB hands
// back U+FFFD), and they would reach the app changed.
func invalidUTF8(q map[string]string) string {
	for name, v := range q {
		if !utf8.ValidString(v) {
			return name
		}
	}
	return ""
}

// authorizeRequest reads what /authorize is asked to start: from the
// verified connect token, or (only with REQUIRE_CONNECT_TOKEN=false and no
// token) from the plain parameters. A non-nil answer refuses the request.
func (h *Handler) authorizeRequest(ctx context.Context, q map[string]string) (connect.Request, *answer) {
	tok := q["connect"]
	if tok == "" {
		if h.Config.RequireConnectToken {
			h.Log.WarnContext(ctx, "authorize refused", "outcome", ansConnectRequired.code)
			return connect.Request{}, &ansConnectRequired
		}
		return connect.Request{ReturnTo: q["return_to"], AppState: q["app_state"], LoginHint: q["login_hint"]}, nil
	}
	for _, p := range []string{"return_to", "app_state", "login_hint"} {
		if q[p] != "" {
			h.Log.WarnContext(ctx, "authorize refused", "outcome", ansBadRequest.code, "reason", "plain "+p+" next to a connect token: put it in the token")
			return connect.Request{}, &ansBadRequest
		}
	}
	var r connect.Request
	err, keyErr := h.verifyAppSigned(ctx, func(keys connect.Keys) (err error) {
		r, err = keys.VerifyToken(tok)
		return err
	})
	if keyErr != nil {
		h.Log.ErrorContext(ctx, "authorize failed: app key unavailable", "outcome", ansInternal.code, "err", keyErr)
		return connect.Request{}, &ansInternal
	}
	if err != nil {
		var ce *connect.Error
		check := "other"
		if errors.As(err, &ce) {
			check = ce.Check
		}
		h.Log.WarnContext(ctx, "authorize refused", "outcome", ansInvalidConnect.code, "check", check, "reason", err.Error())
		return connect.Request{}, &ansInvalidConnect
	}
	// A token for another provider (or, with several providers, for none)
	// starts nothing here.
	if r.Provider != h.Config.Provider.Name && (r.Provider != "" || h.Config.Named()) {
		reason := "connect token names another provider"
		if r.Provider == "" {
			reason = "connect token names no provider; with several providers it must"
		}
		h.Log.WarnContext(ctx, "authorize refused", "outcome", ansInvalidConnect.code, "check", "provider", "reason", reason, "end_user", r.User)
		return connect.Request{}, &ansInvalidConnect
	}
	return r, nil
}

// oauth2Config is the x/oauth2 configuration for one request.
func (h *Handler) oauth2Config(redirectURL string, clientSecret Secret) *oauth2.Config {
	ep := h.Config.Provider.Endpoint
	// Never auto-detect: a failed attempt would be retried the other way and
	// could burn a single-use code or refresh token. OAUTH_AUTH_STYLE picks.
	ep.AuthStyle = h.Config.Provider.authStyle()
	return &oauth2.Config{
		ClientID:     h.Config.ClientID,
		ClientSecret: clientSecret.Reveal(),
		Endpoint:     ep,
		RedirectURL:  redirectURL,
		Scopes:       h.Config.Scopes,
	}
}

// redirectURL is OAUTH_REDIRECT_URL (a provider's redirect_url), or the
// callback URL derived from the API Gateway request context:
// https://<domainName>[/<stage>]/callback, or /callback/<provider id> with
// several providers.
func (h *Handler) redirectURL(req events.APIGatewayV2HTTPRequest) (string, error) {
	if h.Config.RedirectURL != "" {
		return h.Config.RedirectURL, nil
	}
	domain := req.RequestContext.DomainName
	if domain == "" || strings.ContainsAny(domain, "/?#@\\ ") {
		return "", errString("oauth: cannot derive the redirect URL: no request domain; set OAUTH_REDIRECT_URL")
	}
	u := url.URL{Scheme: "https", Host: domain, Path: "/callback"}
	if h.providerID != "" {
		u.Path += "/" + h.providerID
	}
	if st := req.RequestContext.Stage; st != "" && st != "$default" {
		u.Path = "/" + st + u.Path
	}
	return u.String(), nil
}

type errString string

func (e errString) Error() string { return string(e) }

// ReturnAllowed reports whether /authorize accepts raw as a return_to (see
// returnAllowed): for tools that build connect links (oauthfn connect-url)
// and must not sign one that /authorize would then refuse.
func (c Config) ReturnAllowed(raw string) bool { return c.returnAllowed(raw) }

// returnAllowed reports whether raw is an absolute URL under one of the
// allowed prefixes: same scheme, same host and port, path under the prefix's
// path. Anything a browser might read differently (backslashes, control
// characters, user info, a scheme-relative URL) is refused, and so is a
// query url.ParseQuery refuses (a ';' separator, a bad escape): the
// callback adds result to the query, which would drop such pairs silently.
func (c Config) returnAllowed(raw string) bool {
	for _, r := range raw {
		if r < 0x21 || r == 0x7f || r == '\\' {
			return false
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" || u.Fragment != "" {
		return false
	}
	if _, err := url.ParseQuery(u.RawQuery); err != nil {
		return false
	}
	if strings.ContainsFunc(u.Path, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return false // encoded control characters or backslashes
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if strings.Contains(path, "/../") || strings.HasSuffix(path, "/..") || strings.Contains(path, "/./") || strings.Contains(strings.ToLower(path), "%2e") || strings.Contains(strings.ToLower(path), "%2f") || strings.Contains(strings.ToLower(path), "%5c") {
		return false
	}
	for _, p := range c.AllowedReturn {
		if scheme != p.Scheme || host != p.Host {
			continue
		}
		if path == p.Path || strings.HasPrefix(path, strings.TrimSuffix(p.Path, "/")+"/") || p.Path == "/" {
			return true
		}
	}
	return false
}
