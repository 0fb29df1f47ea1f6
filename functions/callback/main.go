// Command callback is the /callback and /confirm Lambda: validates state,
// exchanges the code, stores the tokens encrypted (pending the app's
// confirmation when a connect token started the flow); POST /confirm
// attaches or rejects a pending connection. All logic lives in pkg/oauth.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/oauthfn/oauthfn/internal/fnmain"
)

func main() {
	lambda.Start(fnmain.Handler("callback").CallbackRoutes)
}
