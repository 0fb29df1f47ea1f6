// Command oauthfn is the local side of oauthfn: the dev server, and
// operators' commands against a deployment's table.
//
//	go run ./cmd/oauthfn dev                  the local dev server (see dev.go)
//	go run ./cmd/oauthfn sweep|list           one sweep now; the connections
//	go run ./cmd/oauthfn token|disconnect ACCOUNT
//	go run ./cmd/oauthfn credential add|rotate < credential-file
//	go run ./cmd/oauthfn help [command]       usage; every command also answers -h
//
// It is never part of a Lambda function: the functions under functions/
// import pkg/oauth and internal/awsenv only (a test checks that). Unlike the
// functions, it reads the AWS configuration with the SDK's config package.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// command is one subcommand. run gets the arguments after the command name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is the dispatch table, in the order help lists them. Operators'
// commands that work on a deployment take a *oauth.Handler built from the
// environment exactly as the Lambdas build theirs; each is an opsCommand
// (ops.go) behind withHandler. Every command answers -h, -help, --help and
// `oauthfn help <command>`.
func commands() []command {
	return []command{
		{"dev", "run the local dev server: /authorize, /callback, a demo app, the mock provider and the /_dev console", runDev},
		{"sweep", sweepCmd.summary, withHandler("sweep", sweepCmd)},
		{"list", listCmd.summary, withHandler("list", listCmd)},
		{"token", tokenCmd.summary, withHandler("token", tokenCmd)},
		{"disconnect", disconnectCmd.summary, withHandler("disconnect", disconnectCmd)},
		{"connect-url", connectURLCmd.summary, withHandler("connect-url", connectURLCmd)},
		{"credential", credentialSummary, runCredential},
		{"help", "show this help, or a command's usage and flags: oauthfn help <command>", runHelp},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// errUsage marks a usage error (exit status 2); the message was printed.
var errUsage = errors.New("oauthfn: usage")

// run dispatches args and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	if wantsHelp(args[:1]) {
		usage(stdout)
		return 0
	}
	cmd, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "oauthfn: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		// One line: what happened and what to do (see explain); every
		// problem of a joined error (a bad configuration) on it.
		msg := strings.ReplaceAll(strings.TrimPrefix(destutter(err), cmd.name+": "), "\n", "; ")
		fmt.Fprintf(stderr, "oauthfn %s: %s\n", cmd.name, msg)
		return 1
	}
}

func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: oauthfn <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "run `oauthfn help <command>` (or `oauthfn <command> -h`) for a command's usage and flags")
}

func runHelp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || wantsHelp(args[:1]) {
		usage(stdout)
		return nil
	}
	c, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "oauthfn: unknown command %q\n\n", args[0])
		usage(stderr)
		return errUsage
	}
	// Every command answers -h with its usage and flags (and a nil error or
	// flag.ErrHelp).
	if err := c.run(ctx, []string{"-h"}, stdout, stdout); err != nil && !errors.Is(err, flag.ErrHelp) {
		return err
	}
	return nil
}

// withHandler adapts an operators' command to the dispatch table. It
// parses the arguments first, so help (-h, -help, --help: usage and flags
// on stderr, or stdout for `oauthfn help`) and usage errors (exit status 2)
// need no configured environment; then it builds the Handler the way the
// Lambda functions do (oauth.Setup: same variables, DynamoDB store, Secrets
// Manager; the AWS configuration from the SDK's default chain, so profiles
// and SSO work here, unlike in the functions) and runs the command.
func withHandler(name string, c opsCommand) func(context.Context, []string, io.Writer, io.Writer) error {
	return func(ctx context.Context, args []string, _, stderr io.Writer) error {
		fs := c.flagSet(name, stderr)
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return errUsage // the flag package printed the problem and the usage
		}
		if err := negativeDurations(fs); err != nil {
			fmt.Fprintf(stderr, "oauthfn %s: %v\n", name, err)
			return errUsage
		}
		if fs.NArg() != len(c.args) {
			want := "no arguments"
			if len(c.args) > 0 {
				want = strings.Join(c.args, " ")
			}
			fmt.Fprintf(stderr, "oauthfn %s: want %s, got %q\n", name, want, fs.Args())
			fs.Usage()
			return errUsage
		}
		h, err := setupHandler(ctx)
		if err != nil {
			return err
		}
		if f := fs.Lookup("provider"); f != nil {
			v, err := forProvider(h, f.Value.String())
			if err != nil {
				fmt.Fprintf(stderr, "oauthfn %s: %v\n", name, err)
				return errUsage
			}
			h = v
			if len(c.args) > 0 {
				args = fs.Args() // the positional arguments; the flag is used
			}
		}
		return c.run(ctx, h, args)
	}
}

// setupHandler builds the Handler from the environment the way the Lambda
// functions do (see withHandler), logging to stderr.
func setupHandler(ctx context.Context) (*oauth.Handler, error) {
	// The configuration first: its problems need no AWS call.
	if _, err := oauth.LoadConfig(os.Getenv); err != nil {
		return nil, configError(err)
	}
	awsCfg, err := loadAWSConfig(ctx, os.Getenv, true)
	if err != nil {
		return nil, err
	}
	h, err := oauth.Setup(ctx, os.Getenv, awsCfg)
	if err != nil {
		return nil, configError(err)
	}
	// stdout is the command's output (a token for scripts, a table):
	// logs and metric lines go to stderr.
	h.Log = slog.New(oauth.LevelFilter(slog.NewJSONHandler(os.Stderr, nil), h.Config.LogLevel))
	h.Metrics = os.Stderr
	return h, nil
}

func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			return true
		case "--":
			return false
		}
	}
	return false
}

// negativeDurations refuses a negative value of any duration flag that was
// set (a timeout, an interval, a lifetime): time.ParseDuration takes "-1m".
func negativeDurations(fs *flag.FlagSet) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		g, ok := f.Value.(flag.Getter)
		if !ok || err != nil {
			return
		}
		if d, ok := g.Get().(time.Duration); ok && d < 0 {
			err = fmt.Errorf("-%s: want 0 or more, got %v", f.Name, d)
		}
	})
	return err
}
