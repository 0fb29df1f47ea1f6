// Command token is the token Lambda, invoked with the Lambda Invoke API
// (no HTTP route): {"account_id": "..."} -> a working access token,
// {"end_user": "..."} -> that user's connections without tokens. All logic
// lives in pkg/oauth (Handler.TokenFunction).
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/oauthfn/oauthfn/internal/fnmain"
)

func main() {
	lambda.Start(fnmain.Handler("token").TokenFunction)
}
