// Command events is the stream Lambda: the table's DynamoDB stream
// (NEW_AND_OLD_IMAGES) -> connection events on EventBridge
// (EVENT_BUS_NAME). All logic lives in pkg/oauth/connevent (Transition) and
// pkg/oauth/eventbus; it links neither pkg/oauth nor the DynamoDB and
// Secrets Manager clients.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/oauthfn/oauthfn/internal/awsenv"
	"github.com/oauthfn/oauthfn/internal/loglevel"
	"github.com/oauthfn/oauthfn/pkg/oauth/eventbus"
)

func main() {
	cfg, err := eventbus.LoadConfig(os.Getenv)
	var awsCfg aws.Config
	if err == nil {
		awsCfg, err = awsenv.Load(os.Getenv, eventbridge.ServiceID)
	}
	if err != nil {
		slog.Error("events: cannot start", "err", err)
		os.Exit(1)
	}
	log := slog.New(loglevel.Filter(lambdacontext.NewLogHandler(), cfg.LogLevel))
	lambda.Start(eventbus.New(eventbridge.NewFromConfig(awsCfg), cfg, log).HandleStream)
}
