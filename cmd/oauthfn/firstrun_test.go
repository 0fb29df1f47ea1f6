package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// Issue 16 item 6: the rough edges a new user hit on a first run.

// clearEnv empties every variable the commands read.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, name := range append(oauth.Variables, "OAUTHFN_DEV_ADDR", "OAUTHFN_DEV_PROVIDER", "OAUTHFN_DEV_STORE",
		"OAUTHFN_DEV_CREATE_TABLE", "OAUTHFN_DEV_SWEEP_EVERY", "APP_URL") {
		t.Setenv(name, "")
	}
}

// TestFirstRunCommandLine: help at the top level, one-line errors that name
// what is wrong, refused flags that used to be taken silently.
func TestFirstRunCommandLine(t *testing.T) {
	clearEnv(t)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"-h", []string{"-h"}, 0, "usage: oauthfn <command>", ""},
		{"-help", []string{"-help"}, 0, "usage: oauthfn <command>", ""},
		{"--help", []string{"--help"}, 0, "usage: oauthfn <command>", ""},
		// 127.0.0.2 is loopback, but the configuration takes plain http
		// only for localhost, 127.0.0.1 and ::1: refused up front, naming
		// the address.
		{"dev on 127.0.0.2", []string{"dev", "-addr", "127.0.0.2:0"}, 1, "", `oauthfn dev: -addr "127.0.0.2:0": listen on 127.0.0.1, [::1] or localhost`},
		{"dev with a negative sweep interval", []string{"dev", "-addr", "127.0.0.1:0", "-sweep-every", "-1m"}, 2, "", "-sweep-every: want 0 (off) or more, got -1m0s"},
		{"sweep with a negative timeout", []string{"sweep", "-timeout", "-1s"}, 2, "", "-timeout: want 0 or more, got -1s"},
		{"connect-url with a negative ttl", []string{"connect-url", "-user", "u", "-ttl", "-1m"}, 2, "", "-ttl: want 0 or more, got -1m0s"},
		{"dev -create-table on the memory store", []string{"dev", "-addr", "127.0.0.1:0", "-create-table"}, 2, "", "-create-table: only with -store dynamodb"},
		// Every bad variable on one line (it was one per line).
		{"dev -provider env without configuration", []string{"dev", "-addr", "127.0.0.1:0", "-provider", "env"}, 1, "", "oauthfn dev: bad configuration: OAUTH_PROVIDER: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Ended already: a dev server that starts in spite of a bad
			// flag stops at once (exit status 0) instead of serving on.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var stdout, stderr bytes.Buffer
			code := run(ctx, tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit status %d, want %d; stderr: %s", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout %q lacks %q", stdout.String(), tt.wantStdout)
			}
			first, _, _ := strings.Cut(stderr.String(), "\n")
			if !strings.Contains(first, tt.wantStderr) {
				t.Errorf("stderr's first line %q lacks %q", first, tt.wantStderr)
			}
			if tt.wantCode == 1 && strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("stderr is not one line: %q", stderr.String())
			}
		})
	}
}

// The dev server accepts exactly the hosts whose plain-http URLs the
// configuration accepts.
func TestDevAddrAgreesWithConfig(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "localhost", "::1", "127.0.0.2", "127.1.2.3", "LOCALHOST", "0.0.0.0"} {
		base := "http://" + net.JoinHostPort(host, "8080")
		env := map[string]string{"OAUTH_PROVIDER": "generic", "OAUTH_AUTH_URL": "https://p.example/a", "OAUTH_TOKEN_URL": "https://p.example/t",
			"OAUTH_CLIENT_ID": "c", "OAUTH_CLIENT_SECRET": "s", "OAUTH_TOKEN_KEY": strings.Repeat("k", oauth.MinTokenKeyLen),
			"OAUTH_APP_KEY": strings.Repeat("a", oauth.MinTokenKeyLen), "TABLE_NAME": "t", "OAUTH_REDIRECT_URL": base + "/callback", "OAUTH_ACCOUNT_FIELD": "sub"}
		_, cfgErr := oauth.LoadConfig(func(k string) string { return env[k] })
		if got := isLoopbackHost(host); got != (cfgErr == nil) {
			t.Errorf("%s: dev accepts it %v, the configuration's error %v", host, got, cfgErr)
		}
	}
}

// disconnect of an unknown account says it is not connected (not "connect
// it"); an empty list says so instead of printing a bare header.
func TestOpsUnknownAndEmpty(t *testing.T) {
	h, _ := connected(t)
	ctx := context.Background()
	out := capture(t)
	err := runDisconnect(ctx, h, []string{"9999"})
	if err == nil || !strings.Contains(err.Error(), "account 9999 is not connected") || strings.Contains(err.Error(), "connect it") {
		t.Errorf("disconnect 9999: %v, want it to say the account is not connected", err)
	}
	if err := runDisconnect(ctx, h, []string{"1001"}); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := runList(ctx, h, nil); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasPrefix(got, "no connections") || strings.Contains(got, "ACCOUNT") {
		t.Errorf("empty list printed %q, want it to say there are no connections", got)
	}
}

// connect-url refuses a -return-to that /authorize would refuse, and prints
// nothing.
func TestConnectURLReturnToChecked(t *testing.T) {
	h, _ := connected(t)
	h.Config.RequireConnectToken = true
	h.Config.AllowedReturn = []oauth.ReturnPrefix{{Scheme: "https", Host: "app.example", Path: "/done"}}
	out := capture(t)
	for _, rt := range []string{"https://evil.example/done", "https://app.example/done?a=1;b=2", "https://app.example/other"} {
		err := runConnectURL(context.Background(), h, []string{"-user", "u", "-return-to", rt})
		if err == nil || !strings.Contains(err.Error(), "ALLOWED_RETURN_URLS") {
			t.Errorf("connect-url -return-to %s: %v, want an error naming ALLOWED_RETURN_URLS", rt, err)
		}
	}
	if out.Len() != 0 {
		t.Errorf("printed %q for refused return addresses", out.String())
	}
}
