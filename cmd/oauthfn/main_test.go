package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth"
)

func TestRunDispatch(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"no command", nil, 2, "", "usage: oauthfn <command>"},
		{"unknown command", []string{"serve"}, 2, "", `unknown command "serve"`},
		{"help", []string{"help"}, 0, "  dev ", ""},
		{"help help", []string{"help", "help"}, 0, "  help ", ""},
		{"help dev", []string{"help", "dev"}, 0, "-provider mock", ""},
		{"dev -h", []string{"dev", "-h"}, 0, "", "-create-table"},
		{"help for an unknown command", []string{"help", "serve"}, 2, "", `unknown command "serve"`},
		{"dev with a bad flag", []string{"dev", "-port", "1"}, 2, "", "flag provided but not defined: -port"},
		{"dev refuses a public address", []string{"dev", "-addr", "0.0.0.0:0"}, 1, "", "oauthfn dev: -addr \"0.0.0.0:0\": listen on 127.0.0.1, [::1] or localhost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit status %d, want %d; stderr: %s", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout %q lacks %q", stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}

// TestRunDevServesAndStops runs `oauthfn dev -addr 127.0.0.1:0` as main
// does, reads the startup line, uses the server, then ends the context as
// SIGINT does and expects a clean exit.
func TestRunDevServesAndStops(t *testing.T) {
	for _, name := range append(oauth.Variables, "OAUTHFN_DEV_ADDR", "OAUTHFN_DEV_PROVIDER", "OAUTHFN_DEV_STORE", "OAUTHFN_DEV_CREATE_TABLE") {
		t.Setenv(name, "")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	stderr := &testenv.Buffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dev", "-addr", "127.0.0.1:0"}, outW, stderr)
		outW.Close()
	}()

	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(outR).ReadString('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, outR)
	}()
	var line string
	select {
	case line = <-lines:
	case code := <-done:
		t.Fatalf("dev exited with %d before starting; stderr: %s", code, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("no startup line")
	}
	m := regexp.MustCompile(`^oauthfn dev: open (http://127\.0\.0\.1:\d+)/ \(console http://127\.0\.0\.1:\d+/_dev, browser-only app http://127\.0\.0\.1:\d+/app/\) — provider: built-in RingCentral mock at http://127\.0\.0\.1:\d+/mock/; store: memory \(gone on exit\); token key: random for this run; Ctrl-C stops\n$`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("startup line = %q", line)
	}
	resp, err := http.Get(m[1] + "/")
	if err != nil {
		t.Fatalf("GET %s/: %v", m[1], err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /: status %d, want 200", resp.StatusCode)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit status %d after shutdown, want 0; stderr: %s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("dev did not stop")
	}
	if _, err := http.Get(m[1] + "/"); err == nil {
		t.Error("server still answers after shutdown")
	}
	if !strings.Contains(stderr.String(), `"msg":"dev server stopping"`) {
		t.Errorf("stderr lacks the JSON log line for stopping: %s", stderr.String())
	}
}

// TestWithHandler: operators' commands get the Handler the Lambdas build,
// from the same environment variables; help and usage errors need no
// environment.
func TestWithHandler(t *testing.T) {
	for _, name := range oauth.Variables {
		t.Setenv(name, "")
	}
	var got *oauth.Handler
	var gotArgs []string
	calls := 0
	cmd := withHandler("probe", opsCommand{
		args: []string{"ACCOUNT"},
		run: func(ctx context.Context, h *oauth.Handler, args []string) error {
			calls++
			got, gotArgs = h, args
			return nil
		},
	})

	if err := cmd(context.Background(), []string{"-h"}, io.Discard, io.Discard); !errors.Is(err, flag.ErrHelp) || calls != 0 {
		t.Errorf("help: error %v, %d runs; want flag.ErrHelp and no run", err, calls)
	}
	if err := cmd(context.Background(), nil, io.Discard, io.Discard); !errors.Is(err, errUsage) || calls != 0 {
		t.Errorf("missing argument: error %v, %d runs; want errUsage and no run", err, calls)
	}
	if err := cmd(context.Background(), []string{"x"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "OAUTH_PROVIDER") {
		t.Errorf("without configuration: error %v, want one naming OAUTH_PROVIDER", err)
	}

	t.Setenv("OAUTH_PROVIDER", "ringcentral")
	t.Setenv("OAUTH_CLIENT_ID", "ops-client")
	t.Setenv("OAUTH_CLIENT_SECRET", "ops-secret")
	t.Setenv("OAUTH_TOKEN_KEY", strings.Repeat("k", oauth.MinTokenKeyLen))
	t.Setenv("OAUTH_APP_KEY", strings.Repeat("a", oauth.MinTokenKeyLen))
	t.Setenv("TABLE_NAME", "ops-table")
	testenv.AWSEnv(t, "http://127.0.0.1:1")
	if err := cmd(context.Background(), []string{"1"}, io.Discard, io.Discard); err != nil {
		t.Fatalf("configured: %v", err)
	}
	if got == nil || got.Config.ClientID != "ops-client" || got.Config.TableName != "ops-table" {
		t.Fatalf("handler config = %+v, want the environment's", got)
	}
	if _, ok := got.Store.(*oauth.DynamoStore); !ok {
		t.Errorf("store is %T, want *oauth.DynamoStore", got.Store)
	}
	if !slices.Equal(gotArgs, []string{"1"}) {
		t.Errorf("args = %q, want [1]", gotArgs)
	}
}

// TestCommandHelp: every command answers -h, -help, --help and `help
// <command>` with its usage, exit status 0, and needs no configuration
// (operators' commands used to run with a nil Handler and panic).
func TestCommandHelp(t *testing.T) {
	for _, name := range oauth.Variables {
		t.Setenv(name, "")
	}
	for _, c := range commands() {
		forms := [][]string{{c.name, "-h"}, {c.name, "-help"}, {c.name, "--help"}, {"help", c.name}}
		for _, args := range forms {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				code := run(context.Background(), args, &stdout, &stderr)
				if code != 0 {
					t.Errorf("exit status %d, want 0; stderr: %s", code, stderr.String())
				}
				out := stdout.String() + stderr.String()
				want := "usage: oauthfn " + c.name
				if c.name == "help" {
					want = "usage: oauthfn <command>"
				}
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
				if args[0] == "help" && stdout.Len() == 0 {
					t.Errorf("help %s wrote nothing to stdout", c.name)
				}
				if strings.Contains(out, "bad configuration") || strings.Contains(out, "panic") {
					t.Errorf("help needed a configuration:\n%s", out)
				}
			})
		}
	}
}

// TestCommandErrors: a failing command prints one line naming the command,
// what happened and what to do, without the stutter of wrapped prefixes.
func TestCommandErrors(t *testing.T) {
	for _, name := range oauth.Variables {
		t.Setenv(name, "")
	}
	tests := []struct {
		args       []string
		wantCode   int
		wantStderr string
	}{
		{[]string{"token", "alice"}, 1, "oauthfn token: bad configuration: OAUTH_PROVIDER: required"},
		{[]string{"list"}, 1, "oauthfn list: bad configuration: OAUTH_PROVIDER"},
		{[]string{"token"}, 2, "oauthfn token: want ACCOUNT"},
		{[]string{"disconnect", "a", "b"}, 2, "oauthfn disconnect: want ACCOUNT"},
		{[]string{"list", "x"}, 2, "oauthfn list: want no arguments"},
		{[]string{"sweep", "-shards", "1"}, 2, "flag provided but not defined: -shards"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit status %d, want %d", code, tt.wantCode)
			}
			first, _, _ := strings.Cut(stderr.String(), "\n")
			if !strings.Contains(first, tt.wantStderr) {
				t.Errorf("first line %q, want it to contain %q", first, tt.wantStderr)
			}
			if strings.Contains(stderr.String(), "oauth: ") || strings.Contains(stderr.String(), "oauthfn: oauth") {
				t.Errorf("stderr stutters: %q", stderr.String())
			}
			if tt.wantCode == 1 && strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("stderr is not one line: %q", stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q, want nothing", stdout.String())
			}
		})
	}
}

// TestLambdasDoNotImportDevServer: the console, the demo app and the mock
// provider are reachable only through this command. The Lambda functions
// and the library never link them.
func TestLambdasDoNotImportDevServer(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool not found: %v", err)
	}
	forbidden := []string{
		"github.com/oauthfn/oauthfn/cmd/oauthfn",
		"github.com/oauthfn/oauthfn/internal/mockrc",
		"github.com/oauthfn/oauthfn/internal/devlog",
	}
	for _, pattern := range []string{"./functions/...", "./pkg/..."} {
		t.Run(pattern, func(t *testing.T) {
			cmd := exec.Command(goTool, "list", "-deps", pattern)
			cmd.Dir = testenv.RepoRoot()
			out, err := cmd.Output()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				t.Fatalf("go list -deps %s: %v\n%s", pattern, err, stderr)
			}
			deps := strings.Fields(string(out))
			if !slices.Contains(deps, "github.com/oauthfn/oauthfn/pkg/oauth") {
				t.Fatalf("go list -deps %s does not list pkg/oauth: %q", pattern, deps)
			}
			for _, f := range forbidden {
				if slices.Contains(deps, f) {
					t.Errorf("%s depends on %s", pattern, f)
				}
			}
		})
	}
}
