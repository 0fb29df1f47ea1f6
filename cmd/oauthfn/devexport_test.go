package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// parseExports reads `export NAME='value'` lines (shellQuote's quoting).
func parseExports(t *testing.T, lines string) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, line := range strings.Split(lines, "\n") {
		rest, ok := strings.CutPrefix(line, "export ")
		if !ok {
			continue
		}
		name, quoted, ok := strings.Cut(rest, "=")
		if !ok || len(quoted) < 2 || quoted[0] != '\'' || quoted[len(quoted)-1] != '\'' {
			t.Fatalf("export line %q: want NAME='value'", line)
		}
		env[name] = strings.ReplaceAll(quoted[1:len(quoted)-1], `'\''`, "'")
	}
	return env
}

// TestDevOperatorCommands: against a dev server on DynamoDB, the export
// lines it prints are the one step the operator commands need: after
// running them, `oauthfn list` and `oauthfn token` (a process of their own
// in real use: here run() with only that environment) see and use the
// connection made through the dev server's flow.
func TestDevOperatorCommands(t *testing.T) {
	testenv.Moto(t)
	for _, tc := range []struct {
		name     string
		tokenKey string // OAUTH_TOKEN_KEY in the dev server's environment
	}{
		{"random token key", ""},
		{"token key from the environment", "dev token key from the environment, 40+ chars"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			table := testenv.Name(t, "oauthfn-dev-ops")
			env := map[string]string{"TABLE_NAME": table, "OAUTH_TOKEN_KEY": tc.tokenKey}
			for _, name := range append(awsExported, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION") {
				env[name] = os.Getenv(name)
			}
			ds, _ := startDev(t, devOptions{Provider: providerMock, Store: storeDynamo, CreateTable: true, Now: fixedClock, Getenv: envMap(env)})
			b := newBrowser(t, ds.BaseURL)
			connectFlow(t, b, ds, ds.BaseURL+mockPrefix+mockrc.AuthorizePath, "1001")

			lines := ds.ExportLines()
			exports := parseExports(t, lines)
			if tc.tokenKey != "" {
				if strings.Contains(lines, tc.tokenKey) || exports["OAUTH_TOKEN_KEY"] != "" {
					t.Errorf("export lines print the environment's token key:\n%s", lines)
				}
				if !strings.Contains(lines, "# OAUTH_TOKEN_KEY: export the value this server was started with") {
					t.Errorf("export lines do not say where the token key comes from:\n%s", lines)
				}
				exports["OAUTH_TOKEN_KEY"] = tc.tokenKey // the operator's own shell has it
			}
			// moto_server on loopback: the lines carry its credentials and
			// the region (both names, for boto3), so the operator's shell
			// needs nothing else (issue 16: `oauthfn list` fell through
			// the SDK's chain to instance metadata).
			for _, name := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION"} {
				if exports[name] != os.Getenv(name) && !(name == "AWS_DEFAULT_REGION" && exports[name] == os.Getenv("AWS_REGION")) {
					t.Errorf("export %s = %q, want this server's", name, exports[name])
				}
			}
			// The operator's shell: only what the lines set.
			awsEnvWithFakeMetadata(t)
			for _, name := range append(oauth.Variables, append(awsExported, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION")...) {
				t.Setenv(name, exports[name])
			}

			out := capture(t)
			var stdoutArg, stderr bytes.Buffer
			if code := run(context.Background(), []string{"list"}, &stdoutArg, &stderr); code != 0 {
				t.Fatalf("oauthfn list: exit %d: %s", code, stderr.String())
			}
			if !strings.Contains(out.String(), "1001") || !strings.Contains(out.String(), "active") {
				t.Errorf("oauthfn list: got %q, want the dev server's connection 1001", out.String())
			}
			out.Reset()
			if code := run(context.Background(), []string{"token", "1001"}, &stdoutArg, &stderr); code != 0 {
				t.Fatalf("oauthfn token: exit %d: %s", code, stderr.String())
			}
			tok := strings.TrimSpace(out.String())
			req, _ := http.NewRequest(http.MethodGet, ds.BaseURL+mockPrefix+mockrc.ExtensionPath, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("the token oauthfn token printed: mock answers %d, want 200", resp.StatusCode)
			}
		})
	}
}

// TestDevExportLinesMemory: the memory store cannot be reached by another
// process: the lines say so instead of exporting anything.
func TestDevExportLinesMemory(t *testing.T) {
	ds, _ := startDev(t, devOptions{Provider: providerMock, Store: storeMemory, Now: fixedClock})
	lines := ds.ExportLines()
	if strings.Contains(lines, "export ") || !strings.Contains(lines, "-store dynamodb") {
		t.Errorf("memory store export lines = %q, want a note naming -store dynamodb", lines)
	}
}

// TestDevExportLinesEnvProvider: with a real provider the client secret and
// the token key are never printed; the lines say to export the same values.
func TestDevExportLinesEnvProvider(t *testing.T) {
	const secret, key = "real-client-secret-value", "real token key, at least thirty-two characters"
	env := map[string]string{
		"OAUTH_PROVIDER": "ringcentral", "OAUTH_CLIENT_ID": "real-client", "OAUTH_CLIENT_SECRET": secret,
		"OAUTH_TOKEN_KEY": key, "TABLE_NAME": "prod-like", "AWS_REGION": "eu-west-1",
		"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "aws-secret-example",
	}
	ds := &devServer{table: "prod-like", awsRegion: "eu-west-1", env: envMap(env), opts: devOptions{Getenv: envMap(env)}}
	lines := ds.ExportLines()
	for _, s := range []string{secret, key, "AKIAEXAMPLE", "aws-secret-example"} {
		if strings.Contains(lines, s) {
			t.Errorf("export lines print %q:\n%s", s, lines)
		}
	}
	got := parseExports(t, lines)
	for k, want := range map[string]string{"OAUTH_PROVIDER": "ringcentral", "OAUTH_CLIENT_ID": "real-client", "TABLE_NAME": "prod-like", "AWS_REGION": "eu-west-1"} {
		if got[k] != want {
			t.Errorf("export %s = %q, want %q", k, got[k], want)
		}
	}
	for _, note := range []string{"# OAUTH_CLIENT_SECRET: export the value", "# OAUTH_TOKEN_KEY: export the value", "# AWS credentials"} {
		if !strings.Contains(lines, note) {
			t.Errorf("export lines lack %q:\n%s", note, lines)
		}
	}
}

// TestDevExportLinesMockSecrets: in mock mode the lines print only the
// secrets the dev server made up (mockrc's public client secret, random
// keys), never one from the environment, whatever its name.
func TestDevExportLinesMockSecrets(t *testing.T) {
	shell := map[string]string{"OAUTH_CLIENT_SECRET": "the shell's real secret", "OAUTH_TOKEN_KEY": "the shell's own token key, 32+ characters"}
	effective := map[string]string{"OAUTH_PROVIDER": "ringcentral", "OAUTH_CLIENT_SECRET": mockrc.DefaultClientSecret,
		"OAUTH_TOKEN_KEY": shell["OAUTH_TOKEN_KEY"], "TABLE_NAME": "t"}
	ds := &devServer{table: "t", Mock: mockrc.New(mockrc.Options{}), env: envMap(effective), opts: devOptions{Getenv: envMap(shell)}}
	lines := ds.ExportLines()
	got := parseExports(t, lines)
	if got["OAUTH_CLIENT_SECRET"] != mockrc.DefaultClientSecret || strings.Contains(lines, shell["OAUTH_CLIENT_SECRET"]) {
		t.Errorf("client secret: got %q, want the mock's public one only:\n%s", got["OAUTH_CLIENT_SECRET"], lines)
	}
	if strings.Contains(lines, shell["OAUTH_TOKEN_KEY"]) || !strings.Contains(lines, "# OAUTH_TOKEN_KEY: export the value") {
		t.Errorf("the environment's token key printed, or no note:\n%s", lines)
	}
}

// TestDevExportLinesSeveralMocks: with -providers the lines carry
// OAUTH_PROVIDERS and the mocks' client secrets (made up by the dev server,
// like the single mock's), so the operator commands reach every provider.
func TestDevExportLinesSeveralMocks(t *testing.T) {
	providers, secrets := mockProviders([]string{"a", "b"}, "http://127.0.0.1:8080")
	effective := map[string]string{"OAUTH_PROVIDERS": providers, "OAUTH_CLIENT_SECRET": secrets, "TABLE_NAME": "t"}
	ds := &devServer{table: "t", Mocks: map[string]*mockrc.Server{"a": mockrc.New(mockrc.Options{}), "b": mockrc.New(mockrc.Options{})},
		env: envMap(effective), opts: devOptions{Getenv: envMap(nil)}}
	got := parseExports(t, ds.ExportLines())
	if got["OAUTH_PROVIDERS"] != providers || got["OAUTH_CLIENT_SECRET"] != secrets {
		t.Errorf("export lines %v, want OAUTH_PROVIDERS and the mocks' secrets", got)
	}
}
