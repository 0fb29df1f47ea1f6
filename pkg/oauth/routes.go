package oauth

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// routeProviderID is the provider id of a request to /authorize/{provider}
// or /callback/{provider}: API Gateway's path parameter "provider", or,
// in an event without path parameters (the local dev server), the last
// segment of a path ending in /authorize/<id> or /callback/<id>. "" for
// /authorize and /callback.
func routeProviderID(req events.APIGatewayV2HTTPRequest) string {
	if id := req.PathParameters["provider"]; id != "" {
		return id
	}
	path := strings.TrimSuffix(req.RawPath, "/")
	parent, id, ok := cutLast(path)
	if !ok {
		return ""
	}
	_, route, _ := cutLast(parent)
	if route == "authorize" || route == "callback" {
		return id
	}
	return ""
}

// cutLast splits a path at its last slash.
func cutLast(path string) (before, last string, ok bool) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return "", "", false
	}
	return path[:i], path[i+1:], true
}

// routed returns the handler of the request's provider, or the answer
// refusing it: an id the configuration does not name (404
// unknown_provider), or none when the stack has several providers (404
// provider_required). A single-provider stack answers on /authorize and
// /callback (and on its own id's routes).
func (h *Handler) routed(ctx context.Context, req events.APIGatewayV2HTTPRequest, route string) (*Handler, *answer) {
	id := routeProviderID(req)
	if id == "" && h.Config.Named() {
		h.Log.WarnContext(ctx, route+" refused", "outcome", ansProviderRequired.code)
		return nil, &ansProviderRequired
	}
	v, ok := h.ForProvider(id)
	if !ok {
		h.Log.WarnContext(ctx, route+" refused", "outcome", ansUnknownProvider.code, "provider_known", false)
		return nil, &ansUnknownProvider
	}
	return v, nil
}

// pendingKey is the pk of the pending authorization of state. In a
// provider's view of a stack with several providers the provider id is
// part of it: another provider's callback cannot even find (let alone
// consume) it. A single-provider stack keeps PendingKey(state).
func (h *Handler) pendingKey(state string) string {
	if h.providerID == "" {
		return PendingKey(state)
	}
	return PendingKey(h.providerID + "#" + state)
}

// checkIssuer checks the callback's iss (RFC 9207) against the provider's
// issuer: when it is sent it must equal the issuer (settings or preset;
// with none known there is nothing to check it against), and it must be
// sent when the provider always sends it. "" when it passes, else the reason.
func (h *Handler) checkIssuer(iss string) string {
	p := h.Config.Provider
	switch {
	case iss == "" && p.IssuerInResponse:
		return "iss missing; the provider always sends it"
	case iss == "":
		return ""
	case p.Issuer == "":
		return ""
	case iss != p.Issuer:
		return "iss differs from the provider's issuer"
	}
	return ""
}

// ErrProviderRequired: an account-level call (TokenSource, Disconnect,
// Connection) on the handler of a stack with several providers, which
// cannot tell whose account it is: call it on ForProvider(id).
var ErrProviderRequired = errors.New("oauth: this stack serves several providers (OAUTH_PROVIDERS): call ForProvider(id) first")

// needsProvider reports whether h is the root of a stack with several
// providers (account-level calls need a provider's view).
func (h *Handler) needsProvider() bool { return h.Config.Named() && h.providerID == "" }

// of returns the handler of a stored connection's provider: its view in a
// stack with several providers, h itself in a single-provider stack (whose
// connections all are its provider's). nil for a provider the
// configuration no longer names.
func (h *Handler) of(provider string) *Handler {
	if !h.Config.Named() {
		return h
	}
	v, ok := h.ForProvider(provider)
	if !ok {
		return nil
	}
	return v
}
