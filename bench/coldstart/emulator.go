package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oauthfn/oauthfn/internal/lambdatest"
	"github.com/oauthfn/oauthfn/internal/mockrc"
)

// coldStart launches a fresh emulator and times launch → first successful
// response. The emulator starts the bootstrap at the first invoke.
func coldStart(ctx context.Context, rie, bootstrap string, env []string, root string, f function) (time.Duration, time.Duration, error) {
	payload := []byte("{}")
	switch {
	case f.payload != nil:
		b, err := f.payload()
		if err != nil {
			return 0, 0, err
		}
		payload = b
	case f.event != "":
		b, err := os.ReadFile(filepath.Join(root, "events", f.event))
		if err != nil {
			return 0, 0, err
		}
		payload = b
	}
	e, err := lambdatest.Start(rie, bootstrap, env)
	if err != nil {
		return 0, 0, err
	}
	defer e.Stop()
	out, err := e.Invoke(ctx, payload)
	elapsed := time.Since(e.Started)
	if err == nil {
		err = f.ok(out)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w\n%s", f.name, err, e.Stdout())
	}
	return elapsed, e.InitDuration(), nil
}

// overlay returns environ with vars set (an empty value removes the
// variable).
func overlay(environ []string, vars map[string]string) []string {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, v := range vars {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	return lambdatest.Environ(env)
}

// environment is what lambdatest gives the functions: events/env.json
// (Parameters and the function's section) pointed at moto and mockrc, with
// the template's LoggingConfig and MemorySize. hello gets the same.
func environment(root string, f function, motoURL, rcURL, table string) ([]string, error) {
	env, err := lambdatest.EnvFile(filepath.Join(root, "events", "env.json"), f.logicalID)
	if err != nil {
		return nil, err
	}
	name := f.logicalID
	if name == "" {
		name = f.name
	}
	for k, v := range map[string]string{
		"OAUTH_SERVER_URL":                rcURL,
		"OAUTH_CLIENT_ID":                 mockrc.DefaultClientID,
		"OAUTH_CLIENT_SECRET":             mockrc.DefaultClientSecret,
		"TABLE_NAME":                      table,
		"AWS_ENDPOINT_URL":                motoURL,
		"AWS_ACCESS_KEY_ID":               "testing",
		"AWS_SECRET_ACCESS_KEY":           "testing",
		"AWS_REGION":                      "us-east-1",
		"AWS_EC2_METADATA_DISABLED":       "true",
		"AWS_LAMBDA_LOG_FORMAT":           "JSON",
		"AWS_LAMBDA_LOG_LEVEL":            "INFO",
		"LOG_LEVEL":                       "info",
		"AWS_LAMBDA_FUNCTION_NAME":        name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     "30",
		"PATH":                            os.Getenv("PATH"),
		"HOME":                            os.TempDir(),
	} {
		env[k] = v
	}
	return lambdatest.Environ(env), nil
}
