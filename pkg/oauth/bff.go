package oauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// The backend for the frontend (DESIGN.md, "Browser-only apps"; RFC
// 10017): a single-page app with no server of its own signs in through
// oauthfn and calls its provider's API through it. The browser holds only
// an HttpOnly session cookie; the tokens stay in the connection.
//
// Sessions end lazily: nothing walks an account's sessions when its
// connection ends. Every use of a session reads the connection, and a
// session whose connection is missing, not active, or made anew since the
// session began (another CreatedAt) is deleted there and then, and the
// browser is told it is signed out. Logout everywhere therefore only has to
// end the connection (Disconnect) for every other browser's session to end
// at its next use.

// SessionCookie is the browser's session cookie: 32 random bytes,
// base64url; HttpOnly, Secure, SameSite=Strict, Path=/, no Domain (the
// __Host- prefix makes browsers insist on the last three), Max-Age at most
// the session's absolute expiry. Only its hash is stored (SessionKey).
const SessionCookie = "__Host-oauthfn-session"

// CSRFHeader must be "1" on every BFF request but the login: a cross-site
// form or navigation cannot set a header, and a cross-site fetch that sets
// one needs a CORS preflight this API never grants.
const CSRFHeader = "X-OAuthFn-CSRF"

// sessionTouchEvery: a use moves the session's idle expiry (one write) only
// when that moves it by at least this much, so a busy page costs a read,
// not a write, per request. The idle expiry is thus up to a minute shorter
// than BFF_IDLE_TIMEOUT after the last use.
const sessionTouchEvery = time.Minute

// bffLoginLimits are the parameters /bff/{provider}/login reads.
var bffLoginLimits = queryLimits{{"return_to", connect.MaxReturnToLen}, {"login_hint", connect.MaxLoginHintLen}}

// maxLogoutBody bounds POST /bff/logout's body ({"everywhere":true}).
const maxLogoutBody = 1024

// ansBFFSharedAccount refuses a BFF sign-in at a provider whose account
// is an organisation (Provider.SharedAccount).
var ansBFFSharedAccount = answer{status: 404, code: "bff_not_available",
	title:  "This provider cannot be used to sign in here",
	detail: "At this provider an account is a whole organisation (a Slack workspace), not a person: everyone in it would share one browser session. Nothing was started.",
	next:   "Connect it from the app's backend instead (connect tokens)."}

var ansBFFReturnToRequired = answer{status: 400, code: "return_to_required",
	title:  "This sign-in link has no way back to the app",
	detail: "A sign-in for a browser app must name the app's page to come back to (return_to). Nothing was started.",
	next:   "Go back to the app and sign in from there."}

// BFFRoutes serves the backend for the frontend of browser-only apps
// (DESIGN.md, "Browser-only apps"; RFC 10017): GET /bff/{provider}/login,
// GET /bff/session, POST /bff/logout and ANY /bff/api/{proxy+}. The
// session's login finishes at the callback (Callback), which creates the
// server-side session and sets its cookie. Every route but the login needs
// the CSRF header and passes the site rules (bffSiteRefusal) before
// anything is read, written or sent. Every answer carries Cache-Control:
// no-store.
func (h *Handler) BFFRoutes(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	resp := h.bffRoute(ctx, req)
	if resp.Headers == nil {
		resp.Headers = map[string]string{}
	}
	resp.Headers["Cache-Control"] = "no-store"
	return resp, nil
}

func (h *Handler) bffRoute(ctx context.Context, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	route, apiPath := bffRouteOf(req)
	method := req.RequestContext.HTTP.Method
	switch route {
	case "login":
		if method != http.MethodGet {
			return bffMethodNotAllowed(http.MethodGet)
		}
		return h.bffLogin(ctx, req)
	case "session":
		if method != http.MethodGet {
			return bffMethodNotAllowed(http.MethodGet)
		}
	case "logout":
		if method != http.MethodPost {
			return bffMethodNotAllowed(http.MethodPost)
		}
	case "api":
	default:
		return bffError(http.StatusNotFound, "not_found", "No such BFF route.")
	}
	if reason := h.bffSiteRefusal(req); reason != "" {
		h.Log.WarnContext(ctx, "bff "+route+" refused", "outcome", "csrf", "reason", reason)
		return bffError(http.StatusForbidden, "csrf", "The request did not come from the app's own site (the "+CSRFHeader+" header, Sec-Fetch-Site or Origin).")
	}
	switch route {
	case "session":
		return h.bffSession(ctx, req)
	case "logout":
		return h.bffLogout(ctx, req)
	}
	return h.bffAPI(ctx, req, apiPath)
}

// bffRouteOf names the BFF route of req (login, session, logout, api, or
// "" for none) from its path (a non-default stage's prefix removed), and
// for api the path after /bff/api/ exactly as the request carried it. An
// API Gateway event for the login route is known by its route key too.
func bffRouteOf(req events.APIGatewayV2HTTPRequest) (route, apiPath string) {
	if req.RouteKey == "GET /bff/{provider}/login" {
		return "login", ""
	}
	path := req.RawPath
	if st := req.RequestContext.Stage; st != "" && st != "$default" {
		path = strings.TrimPrefix(path, "/"+st)
	}
	switch {
	case strings.HasPrefix(path, "/bff/api/"):
		return "api", strings.TrimPrefix(path, "/bff/api/")
	case path == "/bff/session":
		return "session", ""
	case path == "/bff/logout":
		return "logout", ""
	}
	if bffProviderID(req) != "" {
		return "login", ""
	}
	return "", ""
}

// bffProviderID is the provider id of a request to /bff/{provider}/login:
// API Gateway's path parameter "provider", or, in an event without path
// parameters (the local dev server), the segment before a path's final
// /login after /bff/. "" when there is none.
func bffProviderID(req events.APIGatewayV2HTTPRequest) string {
	if id := req.PathParameters["provider"]; id != "" {
		return id
	}
	parent, last, ok := cutLast(strings.TrimSuffix(req.RawPath, "/"))
	if !ok || last != "login" {
		return ""
	}
	grand, id, ok := cutLast(parent)
	if !ok {
		return ""
	}
	if _, route, _ := cutLast(grand); route != "bff" {
		return ""
	}
	return id
}

// bffLogin starts a sign-in of the backend for the frontend: return_to is
// required and checked as /authorize checks it, and the authorization is
// started as /authorize starts one (begin), marked BFF. No connect token:
// REQUIRE_CONNECT_TOKEN guards /authorize, where an app attaches a
// provider account to one of its own users and must prove who that user
// is. A BFF sign-in attaches the account to nobody but the browser that
// signs in: the person who signs in at the provider is the user, and the
// session only ever reaches that very account. Nothing is stored when it is
// refused.
func (h *Handler) bffLogin(ctx context.Context, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	id := bffProviderID(req)
	v, ok := h.ForProvider(id)
	if id == "" || !ok {
		h.Log.WarnContext(ctx, "bff login refused", "outcome", ansUnknownProvider.code, "provider_known", false)
		return render(req, ansUnknownProvider)
	}
	if v.Config.Provider.SharedAccount {
		h.Log.WarnContext(ctx, "bff login refused: the provider's account is an organisation, not a person", "outcome", ansBFFSharedAccount.code, "provider", id)
		return render(req, ansBFFSharedAccount)
	}
	q, err := parseQuery(req.RawQueryString, bffLoginLimits)
	if err != nil {
		h.Log.WarnContext(ctx, "bff login refused", "outcome", ansBadRequest.code, "reason", err.Error())
		return render(req, ansBadRequest)
	}
	if name := invalidUTF8(q); name != "" {
		h.Log.WarnContext(ctx, "bff login refused", "outcome", ansBadRequest.code, "reason", "query parameter "+name+" is not valid UTF-8")
		return render(req, ansBadRequest)
	}
	returnTo := q["return_to"]
	if returnTo == "" {
		h.Log.WarnContext(ctx, "bff login refused", "outcome", ansBFFReturnToRequired.code)
		return render(req, h.startAgain(ansBFFReturnToRequired))
	}
	if !h.Config.returnAllowed(returnTo) {
		h.Log.WarnContext(ctx, "bff login refused", "outcome", ansReturnTo.code)
		return render(req, h.startAgain(ansReturnTo))
	}
	v.prefetch(ctx, needTokenKey)
	return v.begin(ctx, req, "bff login", connect.Request{ReturnTo: returnTo, LoginHint: q["login_hint"]}, true)
}

// bffSignedIn finishes a BFF sign-in at the callback, once its connection
// is stored: it creates the session, sets its cookie next to the binding
// cookie's update, and sends the browser back to return_to (nothing added
// to it). When the session cannot be stored the browser gets an error page
// and no session cookie: nothing it could use.
func (h *Handler) bffSignedIn(ctx context.Context, req events.APIGatewayV2HTTPRequest, pending *PendingAuth, conn *Connection, binding string) events.APIGatewayV2HTTPResponse {
	value := newNonce()
	sess := h.newSession(SessionKey(value), conn, h.Now())
	if err := h.Store.PutSession(ctx, sess); err != nil {
		h.Log.ErrorContext(ctx, "callback failed: store browser session", "outcome", ansInternal.code, "account_id", conn.AccountID, "err", err)
		// A write whose reply was lost may have stored it: no browser
		// holds its cookie, but do not leave it lying about.
		_ = h.Store.DeleteSession(context.WithoutCancel(ctx), sess.Key)
		a := ansInternal
		a.retry, a.back = "", pending.ReturnTo
		return render(req, a, binding)
	}
	h.Log.InfoContext(ctx, "browser signed in", "outcome", "signed_in", "provider", conn.Provider, "account_id", conn.AccountID,
		"session_expires_at", sess.ExpiresAt.UTC().Format(time.RFC3339))
	return redirect(pending.ReturnTo, binding, sessionSetCookie(value, int(sess.ExpiresAt.Sub(h.Now())/time.Second)))
}

// newSession is the session a sign-in at now makes for conn: idle for
// BFF_IDLE_TIMEOUT, at most BFF_MAX_SESSION, and never past the
// connection's refresh token's expiry (without a refresh token: its access
// token's), when known. Times are whole seconds, as the table keeps them.
func (h *Handler) newSession(key string, conn *Connection, now time.Time) *Session {
	absolute := now.Add(h.Config.BFFMaxSession)
	limit := conn.RefreshExpiresAt
	if conn.RefreshToken == "" {
		limit = conn.AccessExpiresAt
	}
	if !limit.IsZero() && limit.Before(absolute) {
		absolute = limit
	}
	absolute = seconds(absolute)
	idle := seconds(now.Add(h.Config.BFFIdleTimeout))
	if idle.After(absolute) {
		idle = absolute
	}
	return &Session{Key: key, Provider: conn.Provider, AccountID: conn.AccountID, CreatedAt: seconds(now),
		IdleUntil: idle, ExpiresAt: absolute, ConnCreatedAt: seconds(conn.CreatedAt)}
}

// bffPutAttempts bounds how often putBFFConnection reads the connection
// again when a concurrent writer changed it between the read and the write.
const bffPutAttempts = 3

// putBFFConnection stores the connection of a BFF sign-in and returns the
// connection it replaced. When it replaces an active connection of the
// same account it keeps that connection's CreatedAt, so the sessions of the
// account's other browsers (which end when CreatedAt changes) live on with
// the new tokens. A connection that was missing, reauth_required or revoked
// is made anew: the sessions made with the old one stay ended.
//
// Keeping CreatedAt is one conditional write (Store.ReplaceConnection): c
// is written only if the connection is still the one read, so a disconnect
// (logout everywhere) between the read and the write can never bring the
// sessions it ended back; the connection is read again and c made anew.
// A lost reply retried by the SDK finds its own write and reports the
// connection read as replaced, for revocation. A connection held by a
// lease (a refresh or a Disconnect in flight) is waited for, as accept
// waits: replacing it would drop the tokens the refresh rotated, or be
// deleted by the Disconnect.
func (h *Handler) putBFFConnection(ctx context.Context, c *Connection) (*Connection, error) {
	created, endUser := c.CreatedAt, c.EndUser
	waitUntil := h.Now().Add(h.providerTimeout() + writeBudget)
	for attempt := 1; ; attempt++ {
		prev, err := h.Store.GetConnection(ctx, c.Provider, c.AccountID)
		switch {
		case errors.Is(err, ErrNotFound):
			prev = nil
		case err != nil:
			return nil, err
		}
		now := h.Now()
		if prev != nil && !leaseFree(prev.LeaseUntil, now) {
			if now.After(waitUntil) {
				return nil, fmt.Errorf("oauth: store connection: it stays leased: %w", ErrBusy)
			}
			if err := h.sleep(ctx, pollInterval); err != nil {
				return nil, fmt.Errorf("oauth: store connection: %w", err)
			}
			attempt--
			continue
		}
		c.CreatedAt, c.EndUser, c.Version = created, endUser, 1
		if prev != nil {
			if c.EndUser == "" {
				c.EndUser = prev.EndUser // an anonymous connect never changes the end user
			}
			if prev.Status == StatusActive {
				c.CreatedAt = prev.CreatedAt
			}
			// Skip a version, as accept does: the stream tells a
			// replacement from a refresh (old+1, same created_at) by it,
			// and a retry never meets its own condition.
			c.Version = prev.Version + 2
		}
		replaced, err := h.Store.ReplaceConnection(ctx, c, prev, now)
		if errors.Is(err, ErrConflict) && attempt < bffPutAttempts {
			continue // a refresh, a disconnect or another sign-in changed it meanwhile
		}
		return replaced, err
	}
}

// sessionSetCookie renders the session cookie holding value for maxAge
// seconds; maxAge <= 0 clears it (Max-Age=0).
func sessionSetCookie(value string, maxAge int) string {
	c := &http.Cookie{
		Name:     SessionCookie,
		Value:    value,
		Path:     "/",
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		MaxAge:   maxAge,
	}
	if maxAge <= 0 {
		c.Value, c.MaxAge = "", -1 // Max-Age=0: delete now
	}
	return c.String()
}

// clearSessionCookie ends the browser's session cookie: sessionSetCookie("",
// 0), written out so that the package does no work at start-up
// (TestClearSessionCookie keeps the two equal; internal/lambdatest's
// TestNoInitWork fails on a package-level call).
const clearSessionCookie = SessionCookie + "=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict"

// readSession returns the session cookie's value, if the request carries
// exactly one well-formed one (in API Gateway's cookies array, or a Cookie
// header as local tools send), and whether it carried any.
func readSession(req events.APIGatewayV2HTTPRequest) (value string, sent bool) {
	all := cookieValues(req.Cookies, header(req, "cookie"), SessionCookie)
	sent = len(all) > 0
	var found []string
	for _, v := range all {
		if wellFormedNonce(v) && !slices.Contains(found, v) {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		return "", sent
	}
	return found[0], sent
}

// bffSiteRefusal checks the CSRF header and the site rules, and returns why
// the request is refused, or "". The header must be "1"; Sec-Fetch-Site,
// when sent, must be same-origin, same-site or none; Origin, when sent,
// must be the API's own origin (its request domain, https, or http on
// loopback for the dev server) or the origin of an ALLOWED_RETURN_URLS
// entry.
func (h *Handler) bffSiteRefusal(req events.APIGatewayV2HTTPRequest) string {
	if header(req, CSRFHeader) != "1" {
		return CSRFHeader + " header missing or not 1"
	}
	switch strings.ToLower(header(req, "sec-fetch-site")) {
	case "", "same-origin", "same-site", "none":
	default:
		return "Sec-Fetch-Site is cross-site"
	}
	if o := header(req, "origin"); o != "" && !h.originAllowed(req, o) {
		return "Origin is neither the API's nor an allowed return URL's"
	}
	return ""
}

// originAllowed reports whether origin is the API's own origin or one of
// ALLOWED_RETURN_URLS' origins.
func (h *Handler) originAllowed(req events.APIGatewayV2HTTPRequest, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return false // also "null"
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	own := strings.ToLower(req.RequestContext.DomainName)
	if own == "" {
		own = strings.ToLower(header(req, "host"))
	}
	if own != "" && host == own && (scheme == "https" || scheme == "http" && isLoopback(u.Hostname())) {
		return true
	}
	for _, p := range h.Config.AllowedReturn {
		if scheme == p.Scheme && host == p.Host {
			return true
		}
	}
	return false
}

// liveSession is a session in use: the session, its provider's view and
// its account's connection.
type liveSession struct {
	sess *Session
	view *Handler
	conn *Connection
}

// errSessionEnded: the request has no live session.
var errSessionEnded = errors.New("oauth: no live browser session")

// session finds the request's live session. A session that has ended
// (idle or absolute expiry passed, its provider no longer configured, its
// connection missing, not active, or made anew since) is deleted here and
// errSessionEnded returned, as for a missing or unknown cookie. touch
// moves the idle expiry (see sessionTouchEvery). Other errors are the
// store's.
func (h *Handler) session(ctx context.Context, req events.APIGatewayV2HTTPRequest, touch bool) (*liveSession, error) {
	value, _ := readSession(req)
	if value == "" {
		return nil, errSessionEnded
	}
	key := SessionKey(value)
	sess, err := h.Store.GetSession(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return nil, errSessionEnded
	}
	if err != nil {
		return nil, err
	}
	now := h.Now()
	end := func(reason string) (*liveSession, error) {
		h.Log.InfoContext(ctx, "browser session ended", "outcome", "session_ended", "reason", reason, "provider", sess.Provider, "account_id", sess.AccountID)
		if err := h.Store.DeleteSession(ctx, key); err != nil {
			return nil, err
		}
		return nil, errSessionEnded
	}
	if !sess.LiveAt(now) {
		if sess.ExpiresAt.Unix() <= now.Unix() {
			return end("expired")
		}
		return end("idle")
	}
	view := h.of(sess.Provider)
	if view == nil {
		return end("provider no longer configured")
	}
	conn, err := h.Store.GetConnection(ctx, sess.Provider, sess.AccountID)
	switch {
	case errors.Is(err, ErrNotFound):
		return end("disconnected")
	case err != nil:
		return nil, err
	case conn.Status != StatusActive:
		return end("connection " + conn.Status)
	case conn.CreatedAt.Unix() != sess.ConnCreatedAt.Unix():
		return end("connection made anew")
	}
	if touch {
		idle := seconds(now.Add(h.Config.BFFIdleTimeout))
		if idle.After(sess.ExpiresAt) {
			idle = sess.ExpiresAt
		}
		if idle.Sub(sess.IdleUntil) >= sessionTouchEvery {
			err := h.Store.TouchSession(ctx, key, idle)
			if errors.Is(err, ErrNotFound) {
				return nil, errSessionEnded // logged out meanwhile
			}
			if err != nil {
				return nil, err
			}
			sess.IdleUntil = idle
		}
	}
	return &liveSession{sess: sess, view: view, conn: conn}, nil
}

// bffSession answers GET /bff/session: who is signed in and until when
// (the sooner of the idle and the absolute expiry), never a token. It
// counts as a use (the idle expiry moves).
func (h *Handler) bffSession(ctx context.Context, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	ls, err := h.session(ctx, req, true)
	if errors.Is(err, errSessionEnded) {
		return bffJSON(http.StatusOK, map[string]any{"authenticated": false}, h.clearIfSent(req)...)
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "bff session failed", "outcome", ansInternal.code, "err", err)
		return bffError(http.StatusInternalServerError, ansInternal.code, ansInternal.detail)
	}
	return bffJSON(http.StatusOK, map[string]any{
		"authenticated": true,
		"provider":      ls.sess.Provider,
		"account_id":    ls.sess.AccountID,
		"expires_at":    ls.sess.EndsAt().UTC().Format(time.RFC3339),
	})
}

// bffLogout answers POST /bff/logout: it ends this browser's session, and
// with {"everywhere":true} disconnects the account first (revoked at the
// provider), which ends every other session of it at its next use.
func (h *Handler) bffLogout(ctx context.Context, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	everywhere, ok := logoutBody(req)
	if !ok {
		h.Log.WarnContext(ctx, "bff logout refused", "outcome", ansBadRequest.code, "reason", `body is not {"everywhere": true|false}`)
		return bffError(http.StatusBadRequest, ansBadRequest.code, `The body must be empty or {"everywhere": true}.`)
	}
	ls, err := h.session(ctx, req, false)
	if errors.Is(err, errSessionEnded) {
		return bffError(http.StatusUnauthorized, "session_ended", "There is no live session in this browser.", h.clearIfSent(req)...)
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "bff logout failed", "outcome", ansInternal.code, "err", err)
		return bffError(http.StatusInternalServerError, ansInternal.code, ansInternal.detail)
	}
	var discErr error
	if everywhere {
		discErr = ls.view.Disconnect(ctx, ls.sess.AccountID)
		if errors.Is(discErr, ErrNotFound) || errors.Is(discErr, ErrRevocationPending) {
			// Gone already, or kept as revoked (out of every token path,
			// the sweep retries the revocation): its sessions end either way.
			discErr = nil
		}
	}
	if err := h.Store.DeleteSession(ctx, ls.sess.Key); err != nil {
		h.Log.ErrorContext(ctx, "bff logout failed: delete session", "outcome", ansInternal.code, "account_id", ls.sess.AccountID, "err", err)
		return bffError(http.StatusInternalServerError, ansInternal.code, ansInternal.detail)
	}
	if discErr != nil {
		h.Log.ErrorContext(ctx, "bff logout: signed out here, but the account could not be disconnected", "outcome", "disconnect_failed",
			"account_id", ls.sess.AccountID, "err", discErr)
		return bffError(http.StatusBadGateway, "disconnect_failed",
			"This browser is signed out, but the account could not be disconnected everywhere; try again from a signed-in browser.", clearSessionCookie)
	}
	h.Log.InfoContext(ctx, "browser signed out", "outcome", "signed_out", "everywhere", everywhere, "provider", ls.sess.Provider, "account_id", ls.sess.AccountID)
	return bffJSON(http.StatusOK, map[string]any{"authenticated": false}, clearSessionCookie)
}

// logoutBody reads {"everywhere": bool} (an empty body: false).
func logoutBody(req events.APIGatewayV2HTTPRequest) (everywhere, ok bool) {
	body := req.Body
	if req.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return false, false
		}
		body = string(b)
	}
	if len(body) > maxLogoutBody {
		return false, false
	}
	if strings.TrimSpace(body) == "" {
		return false, true
	}
	var v struct {
		Everywhere bool `json:"everywhere"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		return false, false
	}
	return v.Everywhere, true
}

// bffAPI answers ANY /bff/api/{proxy+} for a live session: the provider's
// API, called by proxyAPI on the session's provider's view with its
// account's token. Without a live session: 401 session_ended, nothing
// sent.
func (h *Handler) bffAPI(ctx context.Context, req events.APIGatewayV2HTTPRequest, apiPath string) events.APIGatewayV2HTTPResponse {
	ls, err := h.session(ctx, req, true)
	if errors.Is(err, errSessionEnded) {
		return bffError(http.StatusUnauthorized, "session_ended", "There is no live session in this browser: sign in again.", h.clearIfSent(req)...)
	}
	if err != nil {
		h.Log.ErrorContext(ctx, "bff api failed", "outcome", ansInternal.code, "err", err)
		return bffError(http.StatusInternalServerError, ansInternal.code, ansInternal.detail)
	}
	return ls.view.proxyAPI(ctx, req, apiPath, ls.sess.AccountID, ls.conn)
}

// clearIfSent clears the session cookie of a request that sent one.
func (h *Handler) clearIfSent(req events.APIGatewayV2HTTPRequest) []string {
	if _, sent := readSession(req); sent {
		return []string{clearSessionCookie}
	}
	return nil
}

// bffJSON answers status with body as JSON.
func bffJSON(status int, body any, cookies ...string) events.APIGatewayV2HTTPResponse {
	b, _ := json.Marshal(body)
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: securityHeaders("application/json"), Body: string(b), Cookies: cookies}
}

// bffError answers status with {"error": code, "error_description": desc}.
func bffError(status int, code, desc string, cookies ...string) events.APIGatewayV2HTTPResponse {
	return bffJSON(status, struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code, desc}, cookies...)
}

func bffMethodNotAllowed(allow string) events.APIGatewayV2HTTPResponse {
	r := bffError(http.StatusMethodNotAllowed, "method_not_allowed", "This route answers "+allow+" only.")
	r.Headers["Allow"] = allow
	return r
}
