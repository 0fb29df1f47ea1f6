package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// Operator commands. None of them ever prints a refresh token; only
// `token` prints an access token, on purpose, for scripts.

// stdout is where the commands write (tests swap it).
var stdout io.Writer = os.Stdout

// runSweep runs one sweep now and prints its JSON summary.
//
//	oauthfn sweep [-shard-from N] [-shard-to M] [-timeout 14m]
func runSweep(ctx context.Context, h *oauth.Handler, args []string) error {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	from := fs.Int("shard-from", 0, "first shard (0-15)")
	to := fs.Int("shard-to", oauth.DueShards-1, "last shard (0-15)")
	timeout := fs.Duration("timeout", 14*time.Minute, "stop taking work before this much time has passed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("sweep: unexpected arguments %q", fs.Args())
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	sum, err := h.Sweep(ctx, oauth.SweepInput{ShardFrom: from, ShardTo: to})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(sum)
}

// runList prints every connection with its status and expiries as a table
// (never tokens).
//
//	oauthfn list
func runList(ctx context.Context, h *oauth.Handler, args []string) error {
	if len(args) != 0 {
		return fmt.Errorf("list: unexpected arguments %q", args)
	}
	infos, err := h.Connections(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ACCOUNT\tSTATUS\tACCESS EXPIRES\tREFRESH EXPIRES\tNEXT REFRESH\tLAST REFRESH\tFAILURES\tLAST ERROR")
	for _, c := range infos {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", c.AccountID, c.Status,
			when(c.AccessExpiresAt), refreshExpires(c), when(c.NextRefreshAt), when(c.LastRefreshAt),
			c.Failures, dash(c.LastError))
	}
	return w.Flush()
}

// runToken prints a working access token for ACCOUNT (refreshing it under
// the lease if needed), for scripts: curl -H "Authorization: Bearer $(oauthfn token 1001)".
//
//	oauthfn token ACCOUNT
func runToken(ctx context.Context, h *oauth.Handler, args []string) error {
	if len(args) != 1 {
		return errors.New("token: want exactly one ACCOUNT")
	}
	tok, err := h.TokenSource(ctx, args[0]).Token()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok.AccessToken)
	return err
}

// runDisconnect revokes ACCOUNT's session at the provider and deletes the
// connection. When the revocation fails the connection is kept as revoked
// and the sweep retries it (the error says so); an unknown ACCOUNT is an
// error.
//
//	oauthfn disconnect ACCOUNT
func runDisconnect(ctx context.Context, h *oauth.Handler, args []string) error {
	if len(args) != 1 {
		return errors.New("disconnect: want exactly one ACCOUNT")
	}
	if err := h.Disconnect(ctx, args[0]); err != nil {
		if errors.Is(err, oauth.ErrNotFound) {
			return fmt.Errorf("disconnect: no connection for account %s: %w", args[0], err)
		}
		return err
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
