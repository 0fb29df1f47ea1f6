// Package fnmain is the wiring the five oauth.Handler functions share
// (authorize, callback, refresh, token, bff): AWS settings from the Lambda
// environment (internal/awsenv, no SDK config package), configuration from
// the environment, once per execution environment, before lambda.Start.
package fnmain

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/oauthfn/oauthfn/internal/awsenv"
	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// Handler builds the function's oauth.Handler from the environment. On a
// missing or malformed variable it logs one line naming it, as name, and
// exits: the function cannot start.
func Handler(name string) *oauth.Handler {
	awsCfg, err := awsenv.Load(os.Getenv, dynamodb.ServiceID, secretsmanager.ServiceID)
	var h *oauth.Handler
	if err == nil {
		h, err = oauth.Setup(context.Background(), os.Getenv, awsCfg)
	}
	if err != nil {
		slog.Error(name+": cannot start", "err", err)
		os.Exit(1)
	}
	return h
}
