// Command authorize is the /authorize Lambda: API Gateway HTTP API →
// state + PKCE → 302 to the provider. All logic lives in pkg/oauth.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/oauthfn/oauthfn/internal/fnmain"
)

func main() {
	lambda.Start(fnmain.Handler("authorize").Authorize)
}
