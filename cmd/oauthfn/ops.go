package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// Operator commands. None of them ever prints a refresh token; only
// `token` prints an access token, on purpose, for scripts.

// stdout is where the commands write (tests swap it).
var stdout io.Writer = os.Stdout

// opsCommand is an operators' command: what help prints, the positional
// arguments it takes, its flags, and what it does with a Handler built from
// the environment (see withHandler).
type opsCommand struct {
	summary string   // one line for `oauthfn help`
	args    []string // positional arguments, e.g. ACCOUNT
	about   string   // what it does and prints, for `oauthfn help <command>`
	flags   func(fs *flag.FlagSet)
	run     func(ctx context.Context, h *oauth.Handler, args []string) error
}

// envNote ends every operators' command's help.
const envNote = `Configured by the same environment variables as the Lambda functions
(OAUTH_*, TABLE_NAME, AWS credentials or AWS_ENDPOINT_URL). Against the dev
server: run the export lines it prints at start-up (oauthfn dev).`

// flagSet is c's flag set, printing its usage to output.
func (c opsCommand) flagSet(name string, output io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(output)
	if c.flags != nil {
		c.flags(fs)
	}
	fs.Usage = func() {
		synopsis := name
		if c.flags != nil {
			synopsis += " [flags]"
		}
		if len(c.args) > 0 {
			synopsis += " " + strings.Join(c.args, " ")
		}
		fmt.Fprintf(output, "usage: oauthfn %s\n\n%s\n\n%s\n", synopsis, c.about, envNote)
		if c.flags != nil {
			fmt.Fprintln(output, "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

var sweepCmd = opsCommand{
	summary: "run one refresh sweep now against the configured store; print its summary",
	about: `Runs one refresh sweep now, as the scheduled refresh function does, and
prints its JSON summary (due, refreshed, failed, reauth_required,
rate_limited, skipped_leased, duration_ms) on stdout.`,
	flags: func(fs *flag.FlagSet) { sweepFlags(fs) },
	run:   runSweep,
}

// sweepFlags declares the sweep command's flags.
func sweepFlags(fs *flag.FlagSet) (from, to *int, timeout *time.Duration) {
	from = fs.Int("shard-from", 0, "first shard (0-15)")
	to = fs.Int("shard-to", oauth.DueShards-1, "last shard (0-15)")
	timeout = fs.Duration("timeout", 14*time.Minute, "stop taking work before this much time has passed")
	return from, to, timeout
}

// runSweep runs one sweep now and prints its JSON summary.
//
//	oauthfn sweep [-shard-from N] [-shard-to M] [-timeout 14m]
func runSweep(ctx context.Context, h *oauth.Handler, args []string) error {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // withHandler parsed them already, printing any problem
	from, to, timeout := sweepFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	sum, err := h.Sweep(ctx, oauth.SweepInput{ShardFrom: from, ShardTo: to})
	if err != nil {
		return explain("", err)
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(sum)
}

var listCmd = opsCommand{
	summary: "list connections with status and expiries (never tokens)",
	about: `Lists every connection as a table: account, status, source (browser, or
jwt_bearer for one made from a server credential), access and refresh
token expiry, next and last refresh, failures in a row, last error. Never
a token. It reads the whole table: for operators, not for request paths.`,
	run: runList,
}

// runList prints every connection with its status and expiries as a table
// (never tokens).
//
//	oauthfn list
func runList(ctx context.Context, h *oauth.Handler, args []string) error {
	if len(args) != 0 {
		return fmt.Errorf("unexpected arguments %q", args)
	}
	infos, err := h.Connections(ctx)
	if err != nil {
		return explain("", err)
	}
	if len(infos) == 0 {
		_, err := fmt.Fprintf(stdout, "no connections in table %s\n", h.Config.TableName)
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	// Several providers (OAUTH_PROVIDERS): a provider column first.
	named := h.Config.Named()
	if named {
		fmt.Fprint(w, "PROVIDER\t")
	}
	fmt.Fprintln(w, "ACCOUNT\tSTATUS\tSOURCE\tACCESS EXPIRES\tREFRESH EXPIRES\tNEXT REFRESH\tLAST REFRESH\tFAILURES\tLAST ERROR")
	for _, c := range infos {
		if named {
			fmt.Fprintf(w, "%s\t", c.Provider)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", c.AccountID, c.Status, c.Source,
			when(c.AccessExpiresAt), refreshExpires(c), when(c.NextRefreshAt), when(c.LastRefreshAt),
			c.Failures, dash(c.LastError))
	}
	return w.Flush()
}

// providerFlag declares -provider, on the commands that act on one
// provider's account.
func providerFlag(fs *flag.FlagSet) *string {
	return fs.String("provider", "", "the provider id, as in OAUTH_PROVIDERS (required when it names several; a single-provider stack needs none)")
}

// forProvider returns the handler of provider id: the stack's own with one
// provider ("" or its preset's name), a provider's view with several
// (OAUTH_PROVIDERS), where id is required.
func forProvider(h *oauth.Handler, id string) (*oauth.Handler, error) {
	ids := strings.Join(h.Config.ProviderIDs(), ", ")
	if id == "" && h.Config.Named() {
		return nil, fmt.Errorf("-provider is required: OAUTH_PROVIDERS names %s", ids)
	}
	v, ok := h.ForProvider(id)
	if !ok {
		return nil, fmt.Errorf("-provider %q: want one of %s", id, ids)
	}
	return v, nil
}

var tokenCmd = opsCommand{
	summary: "print a working access token for ACCOUNT, for scripts",
	args:    []string{"ACCOUNT"},
	about: `Prints a working access token for ACCOUNT on stdout (refreshing it under
the lease if needed), for scripts:

  curl -H "Authorization: Bearer $(oauthfn token 1001)" https://…

Nothing else goes to stdout; logs go to stderr.`,
	flags: func(fs *flag.FlagSet) { providerFlag(fs) },
	run:   runToken,
}

// runToken prints a working access token for ACCOUNT (refreshing it under
// the lease if needed), for scripts: curl -H "Authorization: Bearer $(oauthfn token 1001)".
//
//	oauthfn token ACCOUNT
func runToken(ctx context.Context, h *oauth.Handler, args []string) error {
	if len(args) != 1 {
		return errors.New("want exactly one ACCOUNT")
	}
	tok, err := h.TokenSource(ctx, args[0]).Token()
	if err != nil {
		return explain(args[0], err)
	}
	_, err = fmt.Fprintln(stdout, tok.AccessToken)
	return err
}

var disconnectCmd = opsCommand{
	summary: "revoke ACCOUNT's session at the provider and delete its connection",
	args:    []string{"ACCOUNT"},
	about: `Revokes ACCOUNT's session at the provider (its refresh token) and deletes
its connection. If the provider does not revoke it, the connection is kept
as revoked (out of every token path) and the sweep retries the revocation;
the command then fails, saying so. An unknown ACCOUNT fails too.`,
	flags: func(fs *flag.FlagSet) { providerFlag(fs) },
	run:   runDisconnect,
}

// runDisconnect revokes ACCOUNT's session at the provider and deletes the
// connection. When the revocation fails the connection is kept as revoked
// and the sweep retries it (the error says so); an unknown ACCOUNT is an
// error.
//
//	oauthfn disconnect ACCOUNT
func runDisconnect(ctx context.Context, h *oauth.Handler, args []string) error {
	if len(args) != 1 {
		return errors.New("want exactly one ACCOUNT")
	}
	if err := h.Disconnect(ctx, args[0]); err != nil {
		if errors.Is(err, oauth.ErrNotFound) {
			return fmt.Errorf("account %s is not connected: nothing to disconnect (oauthfn list shows the connections)", args[0])
		}
		return explain(args[0], err)
	}
	_, err := fmt.Fprintf(stdout, "disconnected %s\n", args[0])
	return err
}

// refreshExpires tells "no refresh token" from "unknown lifetime".
func refreshExpires(c oauth.ConnectionInfo) string {
	switch c.RefreshState() {
	case oauth.RefreshNone:
		return "none (no refresh token)"
	case oauth.RefreshUnknown:
		return "unknown (lifetime not given)"
	}
	return when(c.RefreshExpiresAt)
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
