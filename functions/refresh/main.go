// Command refresh is the refresh Lambda: an EventBridge schedule invokes it
// and it runs one sweep (optionally over a shard range given as the
// schedule's input, {"shard_from":0,"shard_to":7}). All logic lives in
// pkg/oauth.
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
		slog.Error("refresh: cannot start", "err", err)
		os.Exit(1)
	}
	lambda.Start(h.Sweep)
}
