package oauth

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/oauth2"
)

// PendingTTL is how long a started authorization can be finished.
const PendingTTL = 10 * time.Minute

// Authorize starts an authorization: it validates return_to against
// ALLOWED_RETURN_URLS, creates state and a PKCE verifier, stores the pending
// authorization (verifier sealed), sets the binding cookie and redirects to
// the provider. Every expected failure is an answer, never a Go error.
func (h *Handler) Authorize(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	q, err := parseQuery(req.RawQueryString, authorizeLimits)
	if err != nil {
		h.Log.WarnContext(ctx, "authorize refused", "outcome", ansBadRequest.code, "reason", err.Error())
		return render(req, ansBadRequest), nil
	}
	returnTo := q["return_to"]
	if returnTo != "" && !h.Config.returnAllowed(returnTo) {
		h.Log.WarnContext(ctx, "authorize refused", "outcome", ansReturnTo.code)
		return render(req, ansReturnTo), nil
	}
	redirectURL, err := h.redirectURL(req)
	if err != nil {
		h.Log.ErrorContext(ctx, "authorize failed", "outcome", ansInternal.code, "err", err)
		return render(req, ansInternal), nil
	}

	state := newNonce()
	verifier := oauth2.GenerateVerifier()
	nonce := newNonce()
	now := h.Now()
	key := PendingKey(state)

	sealer, err := h.Secrets.Sealer(ctx)
	if err != nil {
		h.Log.ErrorContext(ctx, "authorize failed: token key unavailable", "outcome", ansInternal.code, "err", err)
		return render(req, ansInternal), nil
	}
	sealedVerifier, err := sealer.Seal(verifier, key)
	if err != nil {
		h.Log.ErrorContext(ctx, "authorize failed: seal verifier", "outcome", ansInternal.code, "err", err)
		return render(req, ansInternal), nil
	}
	err = h.Store.PutPending(ctx, &PendingAuth{
		Key:         key,
		BindingHash: bindingHash(nonce),
		Verifier:    sealedVerifier,
		ReturnTo:    returnTo,
		AppState:    q["app_state"],
		CreatedAt:   now,
		ExpiresAt:   now.Add(PendingTTL),
	})
	if err != nil {
		h.Log.ErrorContext(ctx, "authorize failed: store pending authorization", "outcome", ansInternal.code, "err", err)
		return render(req, ansInternal), nil
	}

	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	if hint := q["login_hint"]; hint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", hint))
	}
	conf := h.oauth2Config(redirectURL, "")
	nonces := append(readBindings(req.Cookies, header(req, "cookie")), nonce)
	if len(nonces) > maxBindings {
		nonces = nonces[len(nonces)-maxBindings:]
	}
	h.Log.InfoContext(ctx, "authorization started", "outcome", "redirect", "return_to_set", returnTo != "")
	return redirect(conf.AuthCodeURL(state, opts...), bindingSetCookie(nonces)), nil
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

// redirectURL is OAUTH_REDIRECT_URL, or the callback URL derived from the API
// Gateway request context: https://<domainName>[/<stage>]/callback.
func (h *Handler) redirectURL(req events.APIGatewayV2HTTPRequest) (string, error) {
	if h.Config.RedirectURL != "" {
		return h.Config.RedirectURL, nil
	}
	domain := req.RequestContext.DomainName
	if domain == "" || strings.ContainsAny(domain, "/?#@\\ ") {
		return "", errString("oauth: cannot derive the redirect URL: no request domain; set OAUTH_REDIRECT_URL")
	}
	u := url.URL{Scheme: "https", Host: domain, Path: "/callback"}
	if st := req.RequestContext.Stage; st != "" && st != "$default" {
		u.Path = "/" + st + "/callback"
	}
	return u.String(), nil
}

type errString string

func (e errString) Error() string { return string(e) }

// returnAllowed reports whether raw is an absolute URL under one of the
// allowed prefixes: same scheme, same host and port, path under the prefix's
// path. Anything a browser might read differently (backslashes, control
// characters, user info, a scheme-relative URL) is refused.
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
