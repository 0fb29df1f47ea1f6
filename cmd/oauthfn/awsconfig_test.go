package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// awsEnvWithFakeMetadata clears every AWS variable the SDK reads, points the
// shared files at nothing and the instance-metadata endpoint at a local
// server that counts its requests (so a call that would have gone to
// 169.254.169.254 is seen, and nothing leaves the machine).
func awsEnvWithFakeMetadata(t *testing.T) *atomic.Int64 {
	t.Helper()
	var hits atomic.Int64
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	t.Cleanup(imds.Close)
	dir := t.TempDir()
	for _, name := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_EC2_METADATA_DISABLED", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"} {
		t.Setenv(name, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.URL)
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	return &hits
}

// Issue 16 item 6: pointed at a local stand-in, the operator commands and
// the dev server never ask instance metadata for credentials, and say in
// one line which variable is missing.
func TestAWSConfigLocalStandIn(t *testing.T) {
	opsEnv := func(t *testing.T) {
		clearEnv(t)
		for k, v := range map[string]string{"OAUTH_PROVIDER": "ringcentral", "OAUTH_CLIENT_ID": "c", "OAUTH_CLIENT_SECRET": "s",
			"OAUTH_TOKEN_KEY": strings.Repeat("k", oauth.MinTokenKeyLen), "OAUTH_APP_KEY": strings.Repeat("a", oauth.MinTokenKeyLen),
			"TABLE_NAME": "t"} {
			t.Setenv(k, v)
		}
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"list: no credentials", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_REGION": "us-east-1"},
			[]string{"list"}, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"},
		{"list: no region", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"},
			[]string{"list"}, "AWS_REGION is not set"},
		{"list: endpoint without a scheme", map[string]string{"AWS_ENDPOINT_URL": "127.0.0.1:5000", "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"},
			[]string{"list"}, "AWS_ENDPOINT_URL"},
		{"list: DynamoDB endpoint, no credentials", map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:1", "AWS_DEFAULT_REGION": "us-east-1"},
			[]string{"list"}, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"},
		{"dev -store dynamodb: no AWS variables", nil,
			[]string{"dev", "-addr", "127.0.0.1:0", "-store", "dynamodb"}, "AWS_REGION is not set"},
		{"dev -store dynamodb: region only", map[string]string{"AWS_REGION": "us-east-1"},
			[]string{"dev", "-addr", "127.0.0.1:0", "-store", "dynamodb"}, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opsEnv(t)
			hits := awsEnvWithFakeMetadata(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stdout, stderr bytes.Buffer
			code := run(ctx, tt.args, &stdout, &stderr)
			if code != 1 || !strings.Contains(stderr.String(), tt.want) || strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want 1 and one line naming %s", code, stderr.String(), tt.want)
			}
			if n := hits.Load(); n != 0 {
				t.Errorf("%d requests to instance metadata", n)
			}
		})
	}
}
