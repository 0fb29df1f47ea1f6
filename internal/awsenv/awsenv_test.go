package awsenv_test

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/oauthfn/oauthfn/internal/awsenv"
	"github.com/oauthfn/oauthfn/internal/testenv"
)

// lambdaEnv is what Lambda sets for a function (values made up).
var lambdaEnv = map[string]string{
	"AWS_REGION":            "eu-west-1",
	"AWS_ACCESS_KEY_ID":     "ASIAEXAMPLE",
	"AWS_SECRET_ACCESS_KEY": "secret-access-key-value",
	"AWS_SESSION_TOKEN":     "session-token-value",
}

// setenv makes exactly env the process environment's AWS_* variables for
// the test (the service clients read AWS_ENDPOINT_URL* with os.LookupEnv
// too, so the test keeps getenv and the environment the same).
func setenv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "") // restored after the test
			os.Unsetenv(k)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

func with(extra map[string]string) map[string]string {
	env := map[string]string{}
	for k, v := range lambdaEnv {
		env[k] = v
	}
	for k, v := range extra {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	return env
}

func TestEndpointVar(t *testing.T) {
	tests := []struct{ id, want string }{
		{dynamodb.ServiceID, "AWS_ENDPOINT_URL_DYNAMODB"},
		{secretsmanager.ServiceID, "AWS_ENDPOINT_URL_SECRETS_MANAGER"},
		{"EventBridge", "AWS_ENDPOINT_URL_EVENTBRIDGE"},
	}
	for _, tt := range tests {
		if got := awsenv.EndpointVar(tt.id); got != tt.want {
			t.Errorf("EndpointVar(%q): got %q, want %q", tt.id, got, tt.want)
		}
	}
}

func TestLoadLambdaEnvironment(t *testing.T) {
	setenv(t, with(map[string]string{"AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023"}))
	cfg, err := awsenv.Load(os.Getenv, dynamodb.ServiceID, secretsmanager.ServiceID)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Region != "eu-west-1" {
		t.Errorf("region: got %q, want eu-west-1", cfg.Region)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatalf("credentials: %v", err)
	}
	if creds.AccessKeyID != "ASIAEXAMPLE" || creds.SecretAccessKey != "secret-access-key-value" || creds.SessionToken != "session-token-value" {
		t.Errorf("credentials: got %s/%s/%s, want the three variables' values", creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
	}
	if cfg.BaseEndpoint != nil {
		t.Errorf("BaseEndpoint: got %q, want none (no AWS_ENDPOINT_URL)", *cfg.BaseEndpoint)
	}
	db := dynamodb.NewFromConfig(cfg).Options()
	if db.BaseEndpoint != nil {
		t.Errorf("dynamodb BaseEndpoint: got %q, want none: the regional endpoint", *db.BaseEndpoint)
	}
	if db.Region != "eu-west-1" {
		t.Errorf("dynamodb region: got %q", db.Region)
	}
	// The retryer the SDK gives a client built by config.LoadDefaultConfig
	// (the standard one, with the service's own attempts and backoff).
	t.Setenv("HOME", t.TempDir()) // no ~/.aws of the machine
	std, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatalf("config.LoadDefaultConfig: %v", err)
	}
	for _, c := range []struct {
		name      string
		got, want aws.Retryer
	}{
		{"dynamodb", db.Retryer, dynamodb.NewFromConfig(std).Options().Retryer},
		{"secretsmanager", secretsmanager.NewFromConfig(cfg).Options().Retryer, secretsmanager.NewFromConfig(std).Options().Retryer},
	} {
		if c.got == nil || reflect.TypeOf(c.got) != reflect.TypeOf(c.want) || c.got.MaxAttempts() != c.want.MaxAttempts() {
			t.Errorf("%s retryer: got %T with %d attempts, want %T with %d as config.LoadDefaultConfig gives", c.name, c.got, c.got.MaxAttempts(), c.want, c.want.MaxAttempts())
		}
	}
	if db.RetryMode != aws.RetryModeStandard {
		t.Errorf("dynamodb retry mode: got %q, want standard", db.RetryMode)
	}
}

// TestEndpoints: the SDK's own rules for AWS_ENDPOINT_URL and
// AWS_ENDPOINT_URL_<SERVICE>, read by the clients pkg/oauth builds.
func TestEndpoints(t *testing.T) {
	const global, dbURL, smURL = "http://127.0.0.1:4566", "http://127.0.0.1:8000", "http://127.0.0.1:4584"
	tests := []struct {
		name       string
		env        map[string]string
		wantDB     string
		wantSecret string
	}{
		{"none", nil, "", ""},
		{"global only", map[string]string{"AWS_ENDPOINT_URL": global}, global, global},
		{"service only", map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": dbURL}, dbURL, ""},
		{"service wins", map[string]string{"AWS_ENDPOINT_URL": global, "AWS_ENDPOINT_URL_DYNAMODB": dbURL, "AWS_ENDPOINT_URL_SECRETS_MANAGER": smURL}, dbURL, smURL},
		{"ignored", map[string]string{"AWS_ENDPOINT_URL": global, "AWS_ENDPOINT_URL_DYNAMODB": dbURL, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setenv(t, with(tt.env))
			cfg, err := awsenv.Load(os.Getenv, dynamodb.ServiceID, secretsmanager.ServiceID)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := aws.ToString(dynamodb.NewFromConfig(cfg).Options().BaseEndpoint); got != tt.wantDB {
				t.Errorf("dynamodb endpoint: got %q, want %q", got, tt.wantDB)
			}
			if got := aws.ToString(secretsmanager.NewFromConfig(cfg).Options().BaseEndpoint); got != tt.wantSecret {
				t.Errorf("secrets manager endpoint: got %q, want %q", got, tt.wantSecret)
			}
		})
	}
}

func TestLoadRetrySettings(t *testing.T) {
	setenv(t, with(map[string]string{"AWS_MAX_ATTEMPTS": "5", "AWS_RETRY_MODE": "standard"}))
	cfg, err := awsenv.Load(os.Getenv, dynamodb.ServiceID)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got := dynamodb.NewFromConfig(cfg).Options().Retryer.MaxAttempts(); got != 5 {
		t.Errorf("max attempts: got %d, want 5", got)
	}
}

// TestLoadErrors: every problem at once, one line each, naming the
// variable, never quoting a credential.
func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"no region", map[string]string{"AWS_REGION": ""}, []string{"AWS_REGION is not set"}},
		{"default region is enough", map[string]string{"AWS_REGION": "", "AWS_DEFAULT_REGION": "us-east-2"}, nil},
		{"no credentials", map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": ""}, []string{"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set"}},
		{"half the credentials", map[string]string{"AWS_SECRET_ACCESS_KEY": ""}, []string{"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"}},
		{"endpoint without scheme", map[string]string{"AWS_ENDPOINT_URL": "127.0.0.1:5000"}, []string{"AWS_ENDPOINT_URL is not a URL"}},
		{"endpoint with another scheme", map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "ftp://localhost:8000"}, []string{`AWS_ENDPOINT_URL_DYNAMODB: "ftp://localhost:8000" is not an endpoint`}},
		{"endpoint with a query", map[string]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://localhost:4566/?x=1"}, []string{"AWS_ENDPOINT_URL_SECRETS_MANAGER:"}},
		{"endpoint without host", map[string]string{"AWS_ENDPOINT_URL": "http:///path"}, []string{"AWS_ENDPOINT_URL:"}},
		{"endpoint user info redacted", map[string]string{"AWS_ENDPOINT_URL": "ftp://user:hunter2@localhost"}, []string{"AWS_ENDPOINT_URL:", "xxxxx"}},
		{"ignore not a bool", map[string]string{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "yes"}, []string{"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"}},
		{"max attempts", map[string]string{"AWS_MAX_ATTEMPTS": "0"}, []string{"AWS_MAX_ATTEMPTS"}},
		{"retry mode", map[string]string{"AWS_RETRY_MODE": "legacy"}, []string{"AWS_RETRY_MODE"}},
		{"all at once", map[string]string{"AWS_REGION": "", "AWS_ACCESS_KEY_ID": "", "AWS_ENDPOINT_URL": "localhost"},
			[]string{"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_ENDPOINT_URL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := with(tt.env)
			_, err := awsenv.Load(func(k string) string { return env[k] }, dynamodb.ServiceID, secretsmanager.ServiceID)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Load: %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load: no error, want %q", tt.want)
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q: want it to say %q", msg, w)
				}
			}
			if lines := strings.Count(msg, "\n") + 1; lines != len(tt.want) && tt.name == "all at once" {
				t.Errorf("error %q: got %d lines, want one per problem (%d)", msg, lines, len(tt.want))
			}
			for _, secret := range []string{"secret-access-key-value", "session-token-value", "hunter2"} {
				if strings.Contains(msg, secret) {
					t.Errorf("error %q quotes a credential", msg)
				}
			}
		})
	}
}

// TestClientsOnMoto: clients built from Load reach moto through
// AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SECRETS_MANAGER while
// AWS_ENDPOINT_URL points nowhere (the service variables win), and a
// client whose endpoint is wrong fails with an error naming the address.
func TestClientsOnMoto(t *testing.T) {
	moto := testenv.Moto(t)
	dead := "http://127.0.0.1:" + closedPort(t)
	setenv(t, with(map[string]string{
		"AWS_REGION":                       "us-east-1",
		"AWS_ENDPOINT_URL":                 dead,
		"AWS_ENDPOINT_URL_DYNAMODB":        moto,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": moto,
		"AWS_MAX_ATTEMPTS":                 "1",
	}))
	cfg, err := awsenv.Load(os.Getenv, dynamodb.ServiceID, secretsmanager.ServiceID)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	ctx := testenv.Context(t)
	if _, err := dynamodb.NewFromConfig(cfg).ListTables(ctx, &dynamodb.ListTablesInput{}); err != nil {
		t.Errorf("DynamoDB ListTables through AWS_ENDPOINT_URL_DYNAMODB: %v", err)
	}
	if _, err := secretsmanager.NewFromConfig(cfg).ListSecrets(ctx, &secretsmanager.ListSecretsInput{}); err != nil {
		t.Errorf("Secrets Manager ListSecrets through AWS_ENDPOINT_URL_SECRETS_MANAGER: %v", err)
	}

	os.Unsetenv("AWS_ENDPOINT_URL_DYNAMODB")
	cfg, err = awsenv.Load(os.Getenv, dynamodb.ServiceID, secretsmanager.ServiceID)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	_, err = dynamodb.NewFromConfig(cfg).ListTables(ctx, &dynamodb.ListTablesInput{})
	if err == nil {
		t.Fatalf("DynamoDB ListTables at %s: no error, want the connection refused", dead)
	}
	if !strings.Contains(err.Error(), strings.TrimPrefix(dead, "http://")) {
		t.Errorf("error %q: want it to name the endpoint %s", err, dead)
	}
	var oe interface{ Service() string }
	if !errors.As(err, &oe) || oe.Service() != dynamodb.ServiceID {
		t.Errorf("error %q: want the SDK's operation error naming DynamoDB", err)
	}
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	p, err := testenv.PickPort()
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(p)
}
