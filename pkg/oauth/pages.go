package oauth

import (
	"encoding/json"
	"html"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// answer is a page a person can act on: what happened and what to do next.
// The same answer renders as HTML for browsers and as JSON for clients that
// send Accept: application/json. Nothing from the request is put in an
// answer except through html.EscapeString (see writePage).
type answer struct {
	status int
	code   string // stable, machine-readable: the JSON "error" and the log's "outcome"
	title  string
	detail string // what happened
	next   string // what to do next
	retry  string // optional link to start again (relative URL)
	// back is an optional link back to the app (a return_to that passed
	// ALLOWED_RETURN_URLS, or APP_URL): a connect token is single use, so
	// the app starts again, not this page (see startAgain).
	back string
	// account is shown on the success page only.
	account string
	// provider is the route's provider id (OAUTH_PROVIDERS): the retry
	// link goes to /authorize/{provider}.
	provider string
}

// The answers of the error table (docs/architecture.md, "HTTP API"), plus
// the ones it implies.
var (
	ansBadRequest = answer{status: 400, code: "invalid_request",
		title:  "This link is not valid",
		detail: "The address this page was opened with is malformed or incomplete.",
		next:   "Go back to the app and start connecting again."}
	ansReturnTo = answer{status: 400, code: "return_to_not_allowed",
		title:  "This return address is not allowed",
		detail: "The app asked to send you back to an address that is not on this service's allow-list, so nothing was started.",
		next:   "Go back to the app and try again. If this keeps happening, tell the app's support team: the address must be listed in ALLOWED_RETURN_URLS."}
	ansBadState = answer{status: 400, code: "invalid_state",
		title:  "This sign-in link has expired or was already used",
		detail: "Each sign-in can be finished only once, within 10 minutes of starting it. This one is expired, unknown, or already finished (for example after the back button or a reload).",
		next:   "If you already connected your account, you are done: return to the app. Otherwise start connecting again.",
		retry:  "authorize"}
	ansBinding = answer{status: 403, code: "binding_mismatch",
		title:  "Finish connecting in the browser where you started",
		detail: "This sign-in was started in another browser or window, or your browser blocked this site's cookie, so it cannot be finished here. Nothing was changed.",
		next:   "Start connecting again from this browser, and allow cookies for this site.",
		retry:  "authorize"}
	ansDeclined = answer{status: 400, code: "access_denied",
		title:  "You declined the connection",
		detail: "You chose not to give the app access to your account. Nothing was connected.",
		next:   "If that was a mistake, you can try again.",
		retry:  "authorize"}
	ansProviderRefused = answer{status: 400, code: "provider_error",
		title:  "The provider did not complete the sign-in",
		detail: "The account provider ended the sign-in with an error. Nothing was connected.",
		next:   "Try again. If it keeps failing, contact the app's support team.",
		retry:  "authorize"}
	// Provider redirect errors only a configuration change fixes: no retry.
	ansInvalidScope = answer{status: 502, code: "invalid_scope",
		title:  "This app asks for permissions the provider does not allow",
		detail: "The provider refused the sign-in because the app requested permissions (scopes) it is not allowed. Nothing was connected.",
		next:   "This is not something you can fix, and trying again will not help. The app's operator must correct OAUTH_SCOPES or the app's permissions at the provider."}
	ansRequestRefused = answer{status: 502, code: "invalid_request",
		title:  "The provider refused this app's sign-in request",
		detail: "The provider found the app's sign-in request invalid, so it could not start. Nothing was connected.",
		next:   "This is not something you can fix, and trying again will not help. The app's operator must check the client id, the registered redirect URL and the authorization URL."}
	ansInvalidGrant = answer{status: 400, code: "invalid_grant",
		title:  "The sign-in took too long",
		detail: "The provider no longer accepts this sign-in: it expired or was already used. Nothing was connected.",
		next:   "Start connecting again; it takes a minute.",
		retry:  "authorize"}
	ansUnauthorizedClient = answer{status: 502, code: "unauthorized_client",
		title:  "This app is not set up for sign-in yet",
		detail: "The provider refused the app: it is not approved for the authorization code grant (RingCentral: \"Unauthorized for this grant type\").",
		next:   "This is not something you can fix. The app's developer must enable the Authorization Code grant (and \"Issue refresh tokens\") in the app's settings at the provider."}
	ansInvalidClient = answer{status: 502, code: "invalid_client",
		title:  "This app's credentials were refused",
		detail: "The provider did not accept the app's client id or client secret.",
		next:   "This is not something you can fix. The app's operator must check OAUTH_CLIENT_ID, the client secret, and how they are sent (OAUTH_AUTH_STYLE: basic or post)."}
	ansUnavailable = answer{status: 502, code: "provider_unavailable",
		title:  "The provider is not answering",
		detail: "The account provider could not be reached or answered with an error. Nothing was connected.",
		next:   "Wait a minute, then try again.",
		retry:  "authorize"}
	ansBusy = answer{status: 503, code: "provider_busy",
		title:  "The provider is busy",
		detail: "The account provider asked this service to slow down, so nothing was sent to it. Nothing was connected.",
		next:   "Wait a moment, then try again.",
		retry:  "authorize"}
	ansBadResponse = answer{status: 502, code: "provider_bad_response",
		title:  "The provider's answer was not usable",
		detail: "The account provider answered, but without a usable token or account. Nothing was connected.",
		next:   "Try again. If it keeps failing, contact the app's support team.",
		retry:  "authorize"}
	ansInternal = answer{status: 500, code: "server_error",
		title:  "Something went wrong on our side",
		detail: "The connection could not be completed because of an internal error. Nothing you did caused it.",
		next:   "Try again in a minute.",
		retry:  "authorize"}
	ansReturnToRequired = answer{status: 400, code: "return_to_required",
		title:  "This connect link has no way back to the app",
		detail: "The app must confirm each connection, so its connect link has to name the page to come back to (return_to). Nothing was started.",
		next:   "Go back to the app and try again. If this keeps happening, tell the app's support team: the connect token needs a return_to."}
	ansConfirmElsewhere = answer{status: 200, code: "pending",
		title:  "Return to the app to finish",
		detail: "Your account is signed in, but the app has not confirmed the connection yet.",
		next:   "Go back to the app where you started: it finishes connecting there."}
	ansConnectRequired = answer{status: 401, code: "connect_required",
		title:  "Start connecting from the app",
		detail: "This service connects accounts only for an app's signed-in users, and this link did not come from the app.",
		next:   "Go back to the app, sign in, and use its Connect button."}
	ansInvalidConnect = answer{status: 401, code: "invalid_connect_token",
		title:  "This connect link has expired or was already used",
		detail: "The app's connect link is valid once, for a few minutes. This one is expired, already used, or not from the app. Nothing was started.",
		next:   "Go back to the app and use its Connect button again."}
	ansUnknownProvider = answer{status: 404, code: "unknown_provider",
		title:  "This provider is not set up here",
		detail: "The link names a provider this service does not connect. Nothing was started.",
		next:   "Go back to the app and use its Connect button again."}
	ansProviderRequired = answer{status: 404, code: "provider_required",
		title:  "This link does not name a provider",
		detail: "This service connects several providers, and the link does not say which one. Nothing was started.",
		next:   "Go back to the app and use its Connect button again."}
	ansIssuer = answer{status: 400, code: "issuer_mismatch",
		title:  "This sign-in came back from an unexpected place",
		detail: "The answer did not come from the provider this sign-in was started with, so it was not used. Nothing was connected.",
		next:   "Start connecting again from the app.",
		retry:  "authorize"}
	ansConnected = answer{status: 200, code: "connected",
		title:  "Your account is connected",
		detail: "The app can now work with your account. You can close this window.",
		next:   "You can disconnect at any time from the app."}
)

// pageStyle is the answer pages' inline CSS (no external requests).
const pageStyle = `:root{color-scheme:light dark}
body{margin:0;font:1.0625rem/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1b1f24}
main{max-width:34rem;margin:12vh auto 2rem;padding:2rem 1.75rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.45rem;line-height:1.3;margin:1rem 0}
p{margin:0 0 1rem}
.mark{display:flex;align-items:center;justify-content:center;width:2.75rem;height:2.75rem;border-radius:50%;font-size:1.5rem;font-weight:700;line-height:1}
.ok{background:#e2f3e7;color:#0a6b2d}.err{background:#fbe9e9;color:#a4161a}
.err~.next{font-weight:600}
a.button{display:inline-block;margin-top:.25rem;padding:.75rem 1.4rem;border-radius:8px;background:#0a4fb8;color:#fff;text-decoration:none;font-weight:600}
a.button:hover{background:#083f93}
a.button:focus-visible{outline:3px solid #f2b600;outline-offset:2px}
.code{color:#4a5361;font-size:.85rem;margin:1.5rem 0 0;padding-top:1rem;border-top:1px solid #e3e6ea}
@media (prefers-color-scheme:dark){body{background:#111418;color:#e8eaed}main{background:#1c2127;box-shadow:none}.code{color:#aab2bd;border-color:#2e353d}.ok{background:#163222;color:#7fe0a2}.err{background:#3a1a1c;color:#ff9c9c}a.button{background:#2563c9}}
@media (max-width:30rem){body{background:#fff}main{margin:0;padding:1.5rem 1.25rem;border-radius:0;box-shadow:none}h1{font-size:1.3rem}a.button{display:block;text-align:center}}
`

// writePage renders an answer as a small self-contained HTML page. It is
// written out by hand rather than with html/template: text/template calls
// methods through reflection, which makes the linker keep every exported
// method of every reachable type and grew each function binary by about
// 4 MB (bench/coldstart). Every value goes through html.EscapeString into
// element text or a double-quoted attribute, the two contexts used here;
// the URLs are retry, built by retryLink, which must be the relative
// "authorize" path, and back, a return_to that passed ALLOWED_RETURN_URLS
// or the configured APP_URL (an https URL, http on loopback).
func writePage(b *strings.Builder, a answer) {
	e := html.EscapeString
	ok := a.status < 400
	b.WriteString("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	b.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"referrer\" content=\"no-referrer\">\n")
	b.WriteString("<title>" + e(a.title) + "</title>\n<style>\n" + pageStyle + "</style>\n</head>\n<body>\n")
	b.WriteString("<main data-code=\"" + e(a.code) + "\">\n")
	if ok {
		b.WriteString("<div class=\"mark ok\" aria-hidden=\"true\">&#10003;</div>\n")
	} else {
		b.WriteString("<div class=\"mark err\" aria-hidden=\"true\">!</div>\n")
	}
	b.WriteString("<h1>" + e(a.title) + "</h1>\n<p>" + e(a.detail) + "</p>\n")
	if a.account != "" {
		b.WriteString("<p>Account: <strong>" + e(a.account) + "</strong></p>\n")
	}
	b.WriteString("<p class=\"next\">" + e(a.next) + "</p>\n")
	if a.retry == "authorize" || strings.HasPrefix(a.retry, "authorize?") {
		href := a.retry
		if ValidProviderID(a.provider) {
			// From /authorize/{provider} or /callback/{provider}.
			href = "../authorize/" + a.provider + strings.TrimPrefix(a.retry, "authorize")
		}
		b.WriteString("<p><a class=\"button\" href=\"" + e(href) + "\">Try again</a></p>\n")
	} else if strings.HasPrefix(a.back, "https://") || strings.HasPrefix(a.back, "http://") {
		b.WriteString("<p><a class=\"button\" href=\"" + e(a.back) + "\">Back to the app</a></p>\n")
	}
	if !ok {
		b.WriteString("<p class=\"code\">Error code: " + e(a.code) + "</p>\n")
	}
	b.WriteString("</main>\n</body>\n</html>\n")
}

// securityHeaders go on every response of both handlers.
func securityHeaders(contentType string) map[string]string {
	return map[string]string{
		"Content-Type":            contentType,
		"Cache-Control":           "no-store",
		"Pragma":                  "no-cache",
		"Referrer-Policy":         "no-referrer",
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	}
}

// wantsJSON reports whether the client asked for JSON.
func wantsJSON(req events.APIGatewayV2HTTPRequest) bool {
	return strings.Contains(strings.ToLower(header(req, "accept")), "application/json")
}

// header returns a request header, whatever its case.
func header(req events.APIGatewayV2HTTPRequest, name string) string {
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// render turns an answer into an API Gateway response.
func render(req events.APIGatewayV2HTTPRequest, a answer, cookies ...string) events.APIGatewayV2HTTPResponse {
	if wantsJSON(req) {
		body, _ := json.Marshal(struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
			AccountID   string `json:"account_id,omitempty"`
		}{a.code, a.detail, a.account})
		return events.APIGatewayV2HTTPResponse{StatusCode: a.status, Headers: securityHeaders("application/json"), Body: string(body), Cookies: cookies}
	}
	var page strings.Builder
	a.provider = routeProviderID(req)
	writePage(&page, a)
	return events.APIGatewayV2HTTPResponse{StatusCode: a.status, Headers: securityHeaders("text/html; charset=utf-8"), Body: page.String(), Cookies: cookies}
}

// redirect answers 302 to location.
func redirect(location string, cookies ...string) events.APIGatewayV2HTTPResponse {
	h := securityHeaders("text/plain; charset=utf-8")
	h["Location"] = location
	return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusFound, Headers: h, Cookies: cookies}
}
