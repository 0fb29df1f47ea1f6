package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/oauthfn/oauthfn/internal/awsenv"
)

// awsEndpointVars name the local stand-ins' endpoints: any of them set means
// the commands talk to a stand-in on this machine (moto_server, DynamoDB
// Local), not to AWS.
var awsEndpointVars = []string{
	awsenv.EnvEndpointURL, awsenv.EndpointVar(dynamodb.ServiceID), awsenv.EndpointVar(secretsmanager.ServiceID),
}

// errAWSConfig marks a problem with the AWS variables (one line, naming
// them).
var errAWSConfig = errors.New("AWS configuration")

// loadAWSConfig is the AWS configuration of the operator commands and the
// dev server: the SDK's default chain (profiles and SSO work), with the
// region, credentials and endpoint read through getenv when set there. It
// refuses, in one line naming each variable, what would otherwise fail
// later with an SDK error: an endpoint that is not an http(s) URL, no
// region, no credentials.
//
// Instance metadata (169.254.169.254) is asked for credentials only when
// instanceRole is set and no stand-in endpoint is: with a stand-in, a
// missing credential is a missing variable, not a reason to leave the
// machine. The dev server never passes instanceRole.
func loadAWSConfig(ctx context.Context, getenv func(string) string, instanceRole bool) (aws.Config, error) {
	var problems []string
	local := false
	for _, name := range awsEndpointVars {
		v := getenv(name)
		if v == "" {
			continue
		}
		local = true
		if err := awsenv.CheckEndpoint(name, v); err != nil {
			problems = append(problems, strings.TrimPrefix(err.Error(), "awsenv: "))
		}
	}
	var opts []func(*awsconfig.LoadOptions) error
	if local || !instanceRole {
		opts = append(opts, awsconfig.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	region := getenv(awsenv.EnvRegion)
	if region == "" {
		region = getenv(awsenv.EnvDefaultRegion)
	}
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	if id, secret := getenv(awsenv.EnvAccessKeyID), getenv(awsenv.EnvSecretAccessKey); id != "" && secret != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, secret, getenv(awsenv.EnvSessionToken))))
	}
	if u := getenv(awsenv.EnvEndpointURL); u != "" && len(problems) == 0 {
		opts = append(opts, awsconfig.WithBaseEndpoint(u))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("%w: %v", errAWSConfig, err)
	}
	if cfg.Region == "" {
		problems = append(problems, "AWS_REGION is not set (name the table's region; for a local stand-in any region, e.g. AWS_REGION=us-east-1)")
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		where := "or AWS_PROFILE"
		if local {
			where = "a local stand-in takes any values, e.g. test"
		}
		problems = append(problems, fmt.Sprintf("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (%s)", where))
	}
	if len(problems) > 0 {
		return aws.Config{}, fmt.Errorf("%w: %s", errAWSConfig, strings.Join(problems, "; "))
	}
	return cfg, nil
}
