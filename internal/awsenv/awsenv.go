// Package awsenv builds the aws.Config a Lambda function uses from the
// variables Lambda sets in its environment, without the SDK's config
// package.
//
// config.LoadDefaultConfig resolves credentials through a chain (shared
// files, SSO, assume-role profiles, web identity, ECS, IMDS) that links the
// sts, sso, ssooidc and imds clients and encoding/xml into every binary: 2 MB
// and thousands of allocations at start-up that a Lambda function never
// uses, since Lambda hands it its region and credentials as environment
// variables. This package reads exactly those:
//
//	AWS_REGION (or AWS_DEFAULT_REGION)            the region
//	AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
//	AWS_SESSION_TOKEN                             the function role's credentials
//	AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>  local stand-ins (sam local, moto)
//	AWS_IGNORE_CONFIGURED_ENDPOINT_URLS           ignore the two above
//	AWS_MAX_ATTEMPTS, AWS_RETRY_MODE              the retryer (standard by default)
//
// <SERVICE> is the client's ServiceID in upper case with spaces replaced by
// underscores, as the SDK names it: AWS_ENDPOINT_URL_DYNAMODB,
// AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL_EVENTBRIDGE. The
// service variable wins over AWS_ENDPOINT_URL. Shared config and
// credentials files, profiles, SSO and container or instance credentials are
// not read: that is the trade-off (docs/decisions.md, "AWS clients without
// the SDK's config package").
//
// Only the functions import this package's Load; pkg/oauth takes an
// aws.Config and the command-line tool keeps config.LoadDefaultConfig (it
// uses CheckEndpoint and the variable names only).
package awsenv

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Variables awsenv reads.
const (
	EnvRegion          = "AWS_REGION"
	EnvDefaultRegion   = "AWS_DEFAULT_REGION"
	EnvAccessKeyID     = "AWS_ACCESS_KEY_ID"
	EnvSecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	EnvSessionToken    = "AWS_SESSION_TOKEN"
	EnvEndpointURL     = "AWS_ENDPOINT_URL"
	EnvIgnoreEndpoints = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
	EnvMaxAttempts     = "AWS_MAX_ATTEMPTS"
	EnvRetryMode       = "AWS_RETRY_MODE"
	EnvExecutionEnv    = "AWS_EXECUTION_ENV"
)

// EndpointVar is the variable naming the endpoint of the service whose
// ServiceID is serviceID (dynamodb.ServiceID is "DynamoDB":
// AWS_ENDPOINT_URL_DYNAMODB; secretsmanager.ServiceID is "Secrets Manager":
// AWS_ENDPOINT_URL_SECRETS_MANAGER).
func EndpointVar(serviceID string) string {
	return EnvEndpointURL + "_" + strings.ReplaceAll(strings.ToUpper(serviceID), " ", "_")
}

// Load returns the configuration for clients of the services named by
// serviceIDs (their packages' ServiceID constants), read through getenv
// (usually os.Getenv). Every problem is reported at once, one per line,
// naming the variable: a missing region or credentials, an endpoint that is
// not an absolute http(s) URL, a bad retry setting.
func Load(getenv func(string) string, serviceIDs ...string) (aws.Config, error) {
	var errs []error
	cfg := aws.Config{}

	cfg.Region = getenv(EnvRegion)
	if cfg.Region == "" {
		cfg.Region = getenv(EnvDefaultRegion)
	}
	if cfg.Region == "" {
		errs = append(errs, fmt.Errorf("awsenv: %s is not set (Lambda sets it; locally, name the region the stand-ins answer for)", EnvRegion))
	}

	id, secret := getenv(EnvAccessKeyID), getenv(EnvSecretAccessKey)
	if id == "" || secret == "" {
		errs = append(errs, fmt.Errorf("awsenv: %s and %s must both be set (Lambda sets them, with %s, from the function's role)", EnvAccessKeyID, EnvSecretAccessKey, EnvSessionToken))
	} else {
		cfg.Credentials = credentials.NewStaticCredentialsProvider(id, secret, getenv(EnvSessionToken))
	}

	ignore, err := boolVar(getenv, EnvIgnoreEndpoints)
	if err != nil {
		errs = append(errs, err)
	}
	src := &endpoints{getenv: getenv, ignore: ignore}
	for _, name := range append([]string{EnvEndpointURL}, endpointVars(serviceIDs)...) {
		if err := CheckEndpoint(name, getenv(name)); err != nil {
			errs = append(errs, err)
		}
	}
	if u := getenv(EnvEndpointURL); u != "" && !ignore {
		cfg.BaseEndpoint = aws.String(u)
	}
	// The service clients look their own variable up through the config
	// sources (NewFromConfig's resolveBaseEndpoint): src answers it.
	cfg.ConfigSources = []any{src}

	if v := getenv(EnvMaxAttempts); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("awsenv: %s: %q is not a whole number of attempts, 1 or more", EnvMaxAttempts, v))
		}
		cfg.RetryMaxAttempts = n
	}
	if v := getenv(EnvRetryMode); v != "" {
		m, err := aws.ParseRetryMode(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("awsenv: %s: %q: want standard or adaptive", EnvRetryMode, v))
		}
		cfg.RetryMode = m
	}
	cfg.RuntimeEnvironment.EnvironmentIdentifier = aws.ExecutionEnvironmentID(getenv(EnvExecutionEnv))
	cfg.RuntimeEnvironment.Region = cfg.Region

	if err := errors.Join(errs...); err != nil {
		return aws.Config{}, err
	}
	return cfg, nil
}

func endpointVars(serviceIDs []string) []string {
	names := make([]string, len(serviceIDs))
	for i, id := range serviceIDs {
		names[i] = EndpointVar(id)
	}
	return names
}

// CheckEndpoint accepts "" (not set) or an absolute http(s) URL with a host
// and no query or fragment: what a stand-in's address looks like. The value
// is quoted only once it parsed, with any user info redacted. name is the
// variable, for the message. (The command-line tool checks its endpoints
// with it too, before the SDK's config package reads them.)
func CheckEndpoint(name, v string) error {
	if v == "" {
		return nil
	}
	const want = "want http(s)://host[:port][/path], e.g. http://127.0.0.1:5000"
	u, err := url.Parse(v)
	if err != nil {
		return fmt.Errorf("awsenv: %s is not a URL; %s", name, want)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("awsenv: %s: %q is not an endpoint; %s", name, u.Redacted(), want)
	}
	return nil
}

func boolVar(getenv func(string) string, name string) (bool, error) {
	switch v := strings.ToLower(getenv(name)); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, fmt.Errorf("awsenv: %s: %q: want true or false", name, v)
	}
}

// endpoints is a config source the service clients ask for their endpoint
// (the SDK's internal/configsources interfaces ServiceBaseEndpointProvider
// and IgnoreConfiguredEndpointsProvider).
type endpoints struct {
	getenv func(string) string
	ignore bool
}

// GetServiceBaseEndpoint answers AWS_ENDPOINT_URL_<SERVICE> for sdkID.
func (e *endpoints) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	if v := e.getenv(EndpointVar(sdkID)); v != "" {
		return v, true, nil
	}
	return "", false, nil
}

// GetIgnoreConfiguredEndpoints answers AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.
func (e *endpoints) GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error) {
	return e.ignore, e.ignore, nil
}
