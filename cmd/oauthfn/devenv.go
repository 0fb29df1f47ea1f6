package main

// The dev server's environment and backends.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// keyNotes say how the keys were chosen, for the startup line and the
// console (never a key).
type keyNotes struct{ tokenKey, appKey string }

// devEnv is the environment LoadConfig reads, and how the keys were chosen.
func devEnv(provider, base string, getenv func(string) string) (func(string) string, keyNotes, error) {
	env := map[string]string{}
	notes := keyNotes{tokenKey: "OAUTH_TOKEN_KEY from the environment", appKey: "OAUTH_APP_KEY from the environment"}
	switch provider {
	case providerMock:
		// Everything LoadConfig reads, except the provider's and the
		// return-URL variables, which the dev server sets below.
		for _, name := range oauth.Variables {
			if !strings.HasPrefix(name, "OAUTH_") && name != "ALLOWED_RETURN_URLS" {
				env[name] = getenv(name)
			}
		}
		// The keys: the environment's OAUTH_TOKEN_KEY and OAUTH_APP_KEY (so
		// a DynamoDB table stays readable across restarts and by the
		// operator commands, and an app backend can share the app key),
		// else random for this run.
		key := getenv("OAUTH_TOKEN_KEY")
		if key == "" {
			var err error
			if key, err = randomKey(); err != nil {
				return nil, notes, err
			}
			notes.tokenKey = "random for this run"
		}
		appKey := getenv("OAUTH_APP_KEY")
		if appKey == "" {
			var err error
			if appKey, err = randomKey(); err != nil {
				return nil, notes, err
			}
			notes.appKey = "random for this run (the demo app reads it from this server; the export lines give it to oauthfn connect-url)"
		}
		env["OAUTH_APP_KEY"] = appKey
		env["OAUTH_PROVIDER"] = oauth.PresetRingCentral
		env["OAUTH_SERVER_URL"] = base + mockPrefix
		env["OAUTH_CLIENT_ID"] = mockrc.DefaultClientID
		env["OAUTH_CLIENT_SECRET"] = mockrc.DefaultClientSecret
		env["OAUTH_TOKEN_KEY"] = key
		env["OAUTH_REDIRECT_URL"] = base + "/callback"
		env["ALLOWED_RETURN_URLS"] = base + "/"
	case providerEnv:
		for _, name := range oauth.Variables {
			env[name] = getenv(name)
		}
		if strings.TrimSpace(env["OAUTH_REDIRECT_URL"]) == "" {
			env["OAUTH_REDIRECT_URL"] = base + "/callback"
		}
		demo := base + "/app/"
		if strings.TrimSpace(env["ALLOWED_RETURN_URLS"]) == "" {
			env["ALLOWED_RETURN_URLS"] = base + "/"
		} else {
			env["ALLOWED_RETURN_URLS"] += "," + demo
		}
		if env["OAUTH_TOKEN_KEY"] == "" && strings.TrimSpace(env["OAUTH_TOKEN_KEY_ARN"]) == "" {
			key, err := randomKey()
			if err != nil {
				return nil, notes, err
			}
			env["OAUTH_TOKEN_KEY"] = key
			notes.tokenKey = "random for this run (set OAUTH_TOKEN_KEY to read stored connections after a restart)"
		} else if env["OAUTH_TOKEN_KEY"] == "" {
			notes.tokenKey = "from Secrets Manager (OAUTH_TOKEN_KEY_ARN)"
		}
		if env["OAUTH_APP_KEY"] == "" && strings.TrimSpace(env["OAUTH_APP_KEY_ARN"]) == "" {
			key, err := randomKey()
			if err != nil {
				return nil, notes, err
			}
			env["OAUTH_APP_KEY"] = key
			notes.appKey = "random for this run (set OAUTH_APP_KEY to share it with your app's backend)"
		} else if env["OAUTH_APP_KEY"] == "" {
			notes.appKey = "from Secrets Manager (OAUTH_APP_KEY_ARN)"
		}
	default:
		return nil, notes, fmt.Errorf("dev: -provider: want %s or %s, got %q", providerMock, providerEnv, provider)
	}
	if strings.TrimSpace(env["TABLE_NAME"]) == "" {
		env["TABLE_NAME"] = defaultTable
	}
	return func(name string) string { return env[name] }, notes, nil
}

// randomKey is a token key for one run: 32 random bytes, base64url.
func randomKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("dev: random token key: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// backends builds the store and, when the configuration names secret ARNs,
// the Secrets Manager client (nil otherwise).
func (ds *devServer) backends(ctx context.Context, cfg oauth.Config) (oauth.Store, oauth.SecretsManagerAPI, error) {
	needAWS := ds.opts.Store == storeDynamo || cfg.ClientSecretARN != "" || cfg.TokenKeyARN != "" || cfg.AppKeyARN != ""
	switch ds.opts.Store {
	case storeMemory, storeDynamo:
	default:
		return nil, nil, fmt.Errorf("dev: -store: want %s or %s, got %q", storeMemory, storeDynamo, ds.opts.Store)
	}
	if !needAWS {
		return oauth.NewMemoryStore(), nil, nil
	}
	awsCfg, err := loadAWSConfig(ctx, ds.opts.Getenv, false)
	if err != nil {
		return nil, nil, fmt.Errorf("dev: %w", err)
	}
	ds.awsRegion = awsCfg.Region
	if loopbackStandIn(ds.opts.Getenv) {
		// A stand-in on this machine: the export lines carry these (see
		// ExportLines). Retrieve answers from its cache by now.
		if creds, err := awsCfg.Credentials.Retrieve(ctx); err == nil {
			ds.standInCreds = &creds
		}
	}
	var sm oauth.SecretsManagerAPI
	if cfg.ClientSecretARN != "" || cfg.TokenKeyARN != "" || cfg.AppKeyARN != "" {
		sm = secretsmanager.NewFromConfig(awsCfg)
	}
	if ds.opts.Store == storeMemory {
		return oauth.NewMemoryStore(), sm, nil
	}
	client := dynamodb.NewFromConfig(awsCfg)
	if err := ensureTable(ctx, client, cfg.TableName, ds.opts.CreateTable); err != nil {
		return nil, nil, err
	}
	ds.table = cfg.TableName
	return oauth.NewDynamoStore(client, cfg.TableName), sm, nil
}

// ensureTable checks that the table exists, creating it when create is set.
func ensureTable(ctx context.Context, client *dynamodb.Client, name string, create bool) error {
	_, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
	var notFound *types.ResourceNotFoundException
	switch {
	case err == nil:
		return nil
	case errors.As(err, &notFound) && create:
		if err := oauth.CreateTable(ctx, client, name); err != nil {
			return fmt.Errorf("dev: %w", err)
		}
		return nil
	case errors.As(err, &notFound):
		return fmt.Errorf("dev: table %s does not exist: run with -create-table, or set TABLE_NAME", name)
	default:
		return fmt.Errorf("dev: describe table %s (is AWS_ENDPOINT_URL right?): %w", name, err)
	}
}
