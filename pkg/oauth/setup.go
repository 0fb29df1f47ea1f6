package oauth

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/oauthfn/oauthfn/internal/loglevel"
)

// Setup builds the Handler a Lambda function uses, once per execution
// environment: configuration from getenv (usually os.Getenv), the DynamoDB
// store and the secrets, their clients built from awsCfg (credentials,
// region, and local endpoints through AWS_ENDPOINT_URL*: the functions build
// it with internal/awsenv, the command-line tool with the SDK's config
// package; pkg/oauth imports neither). Logs are JSON (or text) through
// aws-lambda-go's lambdacontext handler, which adds requestId, filtered at
// LOG_LEVEL. A generic provider with an issuer and no endpoints has them
// read from its OpenID configuration first (Config.Discover, at most
// DiscoveryTimeout); a failure fails start-up with one line per provider.
func Setup(ctx context.Context, getenv func(string) string, awsCfg aws.Config) (*Handler, error) {
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return nil, err
	}
	// OpenID discovery (a generic provider with an issuer), before any
	// AWS client: once per execution environment, bounded.
	if cfg.NeedsDiscovery() {
		dctx, cancel := context.WithTimeout(ctx, DiscoveryTimeout)
		err := cfg.Discover(dctx, &http.Client{Timeout: DiscoveryTimeout})
		cancel()
		if err != nil {
			return nil, err
		}
	}
	secrets, err := SecretsFromConfig(cfg, secretsmanager.NewFromConfig(awsCfg))
	if err != nil {
		return nil, err
	}
	h := NewHandler(cfg, NewDynamoStore(dynamodb.NewFromConfig(awsCfg), cfg.TableName), secrets)
	h.Log = slog.New(LevelFilter(lambdacontext.NewLogHandler(), cfg.LogLevel))
	if m, ok := secrets.(*SecretsManager); ok {
		m.Log = h.Log
	}
	return h, nil
}

// LevelFilter drops records below min before they reach next.
func LevelFilter(next slog.Handler, min slog.Leveler) slog.Handler {
	return loglevel.Filter(next, min)
}
