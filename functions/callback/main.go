// Command callback is the /callback Lambda: validates state, exchanges the
// code, stores the tokens encrypted. All logic lives in pkg/oauth.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/oauthfn/oauthfn/internal/fnmain"
)

func main() {
	lambda.Start(fnmain.Handler("callback").Callback)
}
