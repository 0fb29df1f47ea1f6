package oauth

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
)

// proxyAPI serves ANY /bff/api/{path+} for a browser whose session the
// caller (BFFRoutes) has already checked, CSRF header and site rules
// included: h is the session's provider's view and account its account.
// apiPath is the path after /bff/api/ exactly as the request carried it
// (still percent-encoded, without the query). It calls the provider's API
// with the account's access token (DESIGN.md, "Browser-only apps") and
// answers with the upstream's status, allowed headers and body, with
// Cache-Control: no-store.
func (h *Handler) proxyAPI(ctx context.Context, req events.APIGatewayV2HTTPRequest, apiPath, account string) events.APIGatewayV2HTTPResponse {
	_ = ctx
	_ = req
	_ = apiPath
	_ = account
	return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusNotImplemented, Headers: securityHeaders("application/json"),
		Body: `{"error":"not_implemented"}`}
}
