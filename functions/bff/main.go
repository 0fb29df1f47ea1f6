// Command bff is the backend for the frontend of browser-only apps (RFC
// 10017): GET /bff/{provider}/login, GET /bff/session, POST /bff/logout
// and ANY /bff/api/{proxy+} behind the HTTP API. The browser holds only an
// HttpOnly session cookie; the tokens stay in the table and the API calls
// go through the proxy. The login finishes at the callback function, which
// creates the session. All logic lives in pkg/oauth (Handler.BFFRoutes).
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/oauthfn/oauthfn/internal/fnmain"
)

func main() {
	lambda.Start(fnmain.Handler("bff").BFFRoutes)
}
