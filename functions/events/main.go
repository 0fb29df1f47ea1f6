// Command events is the stream Lambda: the table's DynamoDB stream
// (NEW_AND_OLD_IMAGES) -> connection events on EventBridge
// (EVENT_BUS_NAME). All logic lives in pkg/oauth (Transition) and
// pkg/oauth/eventbus.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/oauthfn/oauthfn/pkg/oauth"
	"github.com/oauthfn/oauthfn/pkg/oauth/eventbus"
)

func main() {
	cfg, err := eventbus.LoadConfig(os.Getenv)
	if err != nil {
		slog.Error("events: cannot start", "err", err)
		os.Exit(1)
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		slog.Error("events: cannot start: AWS configuration", "err", err)
		os.Exit(1)
	}
	log := slog.New(oauth.LevelFilter(lambdacontext.NewLogHandler(), cfg.LogLevel))
	h := eventbus.New(eventbridge.NewFromConfig(awsCfg), cfg, log)
	lambda.Start(h.HandleStream)
}
