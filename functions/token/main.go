// Command token is the token Lambda, invoked with the Lambda Invoke API
// (no HTTP route): {"account_id": "..."} -> a working access token,
// {"end_user": "..."} -> that user's connections without tokens. All logic
// lives in pkg/oauth (Handler.TokenFunction).
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/oauthfn/oauthfn/internal/awsenv"
	"github.com/oauthfn/oauthfn/pkg/oauth"
)

func main() {
	awsCfg, err := awsenv.Load(os.Getenv, dynamodb.ServiceID, secretsmanager.ServiceID)
	var h *oauth.Handler
	if err == nil {
		h, err = oauth.Setup(context.Background(), os.Getenv, awsCfg)
	}
	if err != nil {
		slog.Error("token: cannot start", "err", err)
		os.Exit(1)
	}
	lambda.Start(h.TokenFunction)
}
