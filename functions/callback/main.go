// Command callback is the /callback Lambda: validates state, exchanges the
// code, stores the tokens encrypted. All logic lives in pkg/oauth.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/oauthfn/oauthfn/pkg/oauth"
)

func main() {
	h, err := oauth.Setup(context.Background(), os.Getenv)
	if err != nil {
		slog.Error("callback: cannot start", "err", err)
		os.Exit(1)
	}
	lambda.Start(h.Callback)
}
