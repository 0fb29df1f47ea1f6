// Command oauthfn is the operator's tool. This main only dispatches the
// operator commands of ops.go; the lead merges it with the dev server's
// main by hand (newHandler then becomes oauth.Setup).
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

const usage = `usage: oauthfn COMMAND [ARGS]
  sweep [-shard-from N] [-shard-to M]  run one refresh sweep now, print its summary
  list                                 connections with status and expiries (never tokens)
  token ACCOUNT                        print a working access token, for scripts
  disconnect ACCOUNT                   revoke at the provider and delete the connection`

var commands = map[string]func(context.Context, *oauth.Handler, []string) error{
	"sweep":      runSweep,
	"list":       runList,
	"token":      runToken,
	"disconnect": runDisconnect,
}

func main() {
	if len(os.Args) < 2 || commands[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	ctx := context.Background()
	h, err := newHandler(ctx)
	if err == nil {
		err = commands[os.Args[1]](ctx, h, os.Args[2:])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "oauthfn:", err)
		os.Exit(1)
	}
}

// newHandler builds the Handler from the environment (the same variables as
// the functions) on the DynamoDB table, with the plain local-development
// secrets. Placeholder for oauth.Setup.
func newHandler(ctx context.Context) (*oauth.Handler, error) {
	cfg, err := oauth.LoadConfig(os.Getenv)
	if err != nil {
		return nil, err
	}
	if cfg.ClientSecretARN != "" || cfg.TokenKeyARN != "" {
		return nil, fmt.Errorf("this build reads OAUTH_CLIENT_SECRET and OAUTH_TOKEN_KEY only")
	}
	sealer, err := oauth.NewSealer(cfg.TokenKey)
	if err != nil {
		return nil, err
	}
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	store := oauth.NewDynamoStore(dynamodb.NewFromConfig(awsCfg), cfg.TableName)
	return oauth.NewHandler(cfg, store, plainSecrets{cfg.ClientSecret, sealer}), nil
}

type plainSecrets struct {
	client oauth.Secret
	sealer *oauth.Sealer
}

func (s plainSecrets) ClientSecret(context.Context) (oauth.Secret, error) { return s.client, nil }
func (s plainSecrets) Sealer(context.Context) (*oauth.Sealer, error)      { return s.sealer, nil }
