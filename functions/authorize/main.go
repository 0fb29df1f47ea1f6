// Command authorize is the /authorize Lambda: API Gateway HTTP API →
// state + PKCE → 302 to the provider. All logic lives in pkg/oauth.
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
		slog.Error("authorize: cannot start", "err", err)
		os.Exit(1)
	}
	lambda.Start(h.Authorize)
}
