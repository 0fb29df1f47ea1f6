package oauth

// Where an error page sends a person who can only start again. A bare
// "Try again" link to /authorize works only without connect tokens: with
// REQUIRE_CONNECT_TOKEN=true (the default) it lands on connect_required, a
// page with no way forward. The way forward is then the app, which mints a
// new connect token: the authorization's return_to when it is known, else
// APP_URL (Config.AppURL), else no link (the page's text says to go back to
// the app).

// startAgain is a for a page whose authorization is not known (an unknown,
// spent or expired state, another browser, an /authorize refused before it
// started anything): the bare retry link only when it can work, else back
// to APP_URL.
func (h *Handler) startAgain(a answer) answer {
	if h.Config.RequireConnectToken && a.retry == "authorize" {
		a.retry = ""
	}
	if a.retry == "" && a.back == "" {
		a.back = h.Config.AppURL
	}
	return a
}

// restartLinks are the retry and back links of a page about the known
// pending authorization p (see retryLink), with APP_URL when p gives
// neither (a connect token without a return_to).
func (h *Handler) restartLinks(p *PendingAuth) (retry, back string) {
	retry, back = retryLink(p)
	if retry == "" && back == "" {
		back = h.Config.AppURL
	}
	return retry, back
}
