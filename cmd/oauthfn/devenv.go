package main

// The dev server's environment and backends.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
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
// mocks are the provider ids of -providers (mock mode only; none: the one
// mock provider of a single-provider stack).
func devEnv(provider string, mocks []string, base string, getenv func(string) string) (func(string) string, keyNotes, error) {
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
		env["OAUTH_TOKEN_KEY"] = key
		env["ALLOWED_RETURN_URLS"] = base + "/"
		if len(mocks) > 0 {
			env["OAUTH_PROVIDERS"], env["OAUTH_CLIENT_SECRET"] = mockProviders(mocks, base)
			break
		}
		env["OAUTH_PROVIDER"] = oauth.PresetRingCentral
		env["OAUTH_SERVER_URL"] = base + mockPrefix
		env["OAUTH_CLIENT_ID"] = mockrc.DefaultClientID
		env["OAUTH_CLIENT_SECRET"] = mockrc.DefaultClientSecret
		env["OAUTH_REDIRECT_URL"] = base + "/callback"
	case providerEnv:
		for _, name := range oauth.Variables {
			env[name] = getenv(name)
		}
		if strings.TrimSpace(env["OAUTH_PROVIDERS"]) != "" {
			env["OAUTH_PROVIDERS"] = withRedirectURLs(env["OAUTH_PROVIDERS"], base)
		} else if strings.TrimSpace(env["OAUTH_REDIRECT_URL"]) == "" {
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

// mockClient is the client id and secret of the mock provider of id
// (-providers): its own per provider, as real providers' are.
func mockClient(id string) (clientID, secret string) {
	return mockrc.DefaultClientID + "-" + id, mockrc.DefaultClientSecret + "-" + id
}

// mockProviders are OAUTH_PROVIDERS and OAUTH_CLIENT_SECRET for the mock
// providers of ids: each a RingCentral-shaped mock under /mock/<id>/ with
// its own client, called back at /callback/<id>.
func mockProviders(ids []string, base string) (providers, secrets string) {
	ps := map[string]map[string]string{}
	ss := map[string]string{}
	for _, id := range ids {
		clientID, secret := mockClient(id)
		ps[id] = map[string]string{
			"preset": oauth.PresetRingCentral, "client_id": clientID,
			"server_url": base + mockPrefix + "/" + id, "redirect_url": base + "/callback/" + id,
		}
		ss[id] = secret
	}
	pj, _ := json.Marshal(ps)
	sj, _ := json.Marshal(ss)
	return string(pj), string(sj)
}

// withRedirectURLs fills in redirect_url=<base>/callback/<id> for each
// entry of OAUTH_PROVIDERS that sets none (register exactly that URL with
// the provider). A value it cannot read is returned as is: LoadConfig
// then says what is wrong with it.
func withRedirectURLs(raw, base string) string {
	entries, ok := members([]byte(raw))
	if !ok {
		return raw
	}
	out := map[string]map[string]json.RawMessage{}
	for id, v := range entries {
		settings, ok := members(v)
		if !ok || !oauth.ValidProviderID(id) {
			return raw
		}
		if _, set := settings["redirect_url"]; !set {
			settings["redirect_url"], _ = json.Marshal(base + "/callback/" + id)
		}
		out[id] = settings
	}
	b, err := json.Marshal(out)
	if err != nil {
		return raw
	}
	return string(b)
}

// members reads a JSON object's members; false for anything else, a
// repeated key or trailing data (which LoadConfig refuses, so a value the
// dev server rewrites cannot lose a mistake on the way).
func members(b []byte) (map[string]json.RawMessage, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		k, isKey := t.(string)
		if err != nil || !isKey {
			return nil, false
		}
		var v json.RawMessage
		if _, dup := out[k]; dup || dec.Decode(&v) != nil {
			return nil, false
		}
		out[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err == nil {
		return nil, false
	}
	return out, true
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
