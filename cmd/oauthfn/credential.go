package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// `oauthfn credential add|rotate`: connections made from a server
// credential (RingCentral's JWT credentials), read from standard input only,
// or from the deployment's own client (client_credentials).

const credentialSummary = "add or rotate a server credential (RingCentral JWT, read from standard input only; or client_credentials)"

const credentialAbout = `Makes a connection from a server credential, without a browser: RingCentral's
JWT credential of a private or server app (source jwt_bearer). The credential
is read from standard input only; one given as an argument or a flag is
refused (it would land in shell history and the process list) and nothing is
sent. The grant is made at once, so a bad credential fails here with the
provider's error and its fix; the connection is stored under the account the
provider names (RingCentral: owner_id), the credential sealed.

With -source client_credentials (RFC 6749 section 4.4) the credential is the
deployment's own client (OAUTH_CLIENT_ID and the client secret, from the
configuration): nothing is read from standard input (a credential there is
refused), the connection is stored under -account (a name you choose: the
provider names no account), and it is granted again before its access token
expires.

  oauthfn credential add [-end-user <app user>] < jwt.txt
  oauthfn credential add -source client_credentials -account <name> [-end-user <app user>]
  oauthfn credential rotate -account <id> < new-jwt.txt

add      grant with the credential and store the connection (a connection of
         the same account is replaced and its session revoked)
rotate   replace the credential of ACCOUNT's connection in place: the grant
         with the new credential is made first, so a bad one changes nothing

The deployment keeps the connection alive as any other; when its refresh
token is missing, expired or refused it grants again with the credential.
Only a refused credential makes it reauth_required (last error
credential_refused): then create a new credential and run rotate.`

// stdin is where the credential is read from (tests swap it).
var stdin io.Reader = os.Stdin

// credentialHandler builds the Handler (tests swap it for one on a memory
// store and the mock provider).
var credentialHandler = setupHandler

// maxCredential bounds what is read from standard input.
const maxCredential = 64 << 10

// credentialFlags are the subcommands' flags.
type credentialFlags struct {
	provider, source, endUser, account string
}

func credentialFlagSet(sub string, output io.Writer) (*flag.FlagSet, *credentialFlags) {
	f := &credentialFlags{}
	fs := flag.NewFlagSet("credential "+sub, flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&f.provider, "provider", "", "the provider's id (default: the deployment's OAUTH_PROVIDER)")
	if sub == "add" {
		fs.StringVar(&f.source, "source", oauth.SourceJWTBearer, "the credential's kind: jwt_bearer (a JWT on standard input) or client_credentials (the deployment's client; nothing on standard input)")
		fs.StringVar(&f.endUser, "end-user", "", "the app's user the connection belongs to (as a connect token's sub)")
		fs.StringVar(&f.account, "account", "", "client_credentials only (required there): the name the connection is stored under")
	} else {
		fs.StringVar(&f.account, "account", "", "the account whose credential is replaced (required; oauthfn list shows them)")
	}
	fs.Usage = func() {
		fmt.Fprintf(output, "usage: oauthfn credential add|rotate [flags] < credential-file\n\n%s\n\n%s\n\nflags of credential %s:\n", credentialAbout, envNote, sub)
		fs.PrintDefaults()
	}
	return fs, f
}

// errCredentialArgument is the refusal of a credential given on the
// command line; the value is never echoed.
const errCredentialArgument = "the credential is read from standard input only, never from an argument or a flag (it would land in shell history and the process list); nothing was sent: run `oauthfn credential %s [flags] < credential-file`"

// runCredential dispatches `credential add` and `credential rotate`. It
// refuses anything on the command line that is not a known flag (a
// credential there) before any configuration is read or anything is sent,
// then reads the credential from stdin, builds the Handler as the other
// operators' commands do, and runs the subcommand.
func runCredential(ctx context.Context, args []string, out, stderr io.Writer) error {
	if len(args) == 0 || wantsHelp(args[:1]) {
		w := stderr
		if len(args) > 0 {
			w = out
		}
		fs, _ := credentialFlagSet("add", w)
		fs.Usage()
		if len(args) == 0 {
			return errUsage
		}
		return flag.ErrHelp
	}
	sub := args[0]
	if sub != "add" && sub != "rotate" {
		// Not echoed: it may be the credential itself.
		fmt.Fprintln(stderr, "oauthfn credential: want a subcommand, add or rotate (oauthfn help credential)")
		return errUsage
	}
	fs, f := credentialFlagSet(sub, stderr)
	if wantsHelp(args[1:]) {
		fs.Usage()
		return flag.ErrHelp
	}
	for _, a := range args[1:] {
		if looksLikeCredential(a) {
			fmt.Fprintf(stderr, "oauthfn credential %s: "+errCredentialArgument+"\n", sub, sub)
			return errUsage
		}
	}
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage // the flag package printed the flag's name (never a value) and the usage
	}
	if fs.NArg() > 0 || looksLikeCredential(f.endUser) || looksLikeCredential(f.account) || looksLikeCredential(f.provider) {
		fmt.Fprintf(stderr, "oauthfn credential %s: "+errCredentialArgument+"\n", sub, sub)
		return errUsage
	}
	if sub == "rotate" && f.account == "" {
		fmt.Fprintln(stderr, "oauthfn credential rotate: -account is required (oauthfn list shows the accounts)")
		return errUsage
	}
	var credential string
	if sub == "add" && f.source == oauth.SourceClientCredentials {
		if f.account == "" {
			fmt.Fprintln(stderr, "oauthfn credential add: -source client_credentials needs -account <name> (the provider's answer names no account)")
			return errUsage
		}
		if err := noCredential(stdin); err != nil {
			return err
		}
	} else {
		var err error
		if credential, err = readCredential(stdin, stderr); err != nil {
			return err
		}
	}
	h, err := credentialHandler(ctx)
	if err != nil {
		return err
	}
	if sub == "add" {
		return credentialAdd(ctx, h, f, credential)
	}
	return credentialRotate(ctx, h, f, credential)
}

// credentialAdd grants with the credential and stores the connection.
func credentialAdd(ctx context.Context, h *oauth.Handler, f *credentialFlags, credential string) error {
	info, err := h.AddCredential(ctx, oauth.CredentialInput{Provider: f.provider, Source: f.source, Credential: credential, EndUser: f.endUser, Account: f.account})
	if err != nil {
		return explain("", err)
	}
	_, err = fmt.Fprintf(stdout, "added account %s (source %s, end user %s): %s\n", info.AccountID, info.Source, dash(info.EndUser), connectionLine(info))
	return err
}

// credentialRotate replaces the credential of an account's connection.
func credentialRotate(ctx context.Context, h *oauth.Handler, f *credentialFlags, credential string) error {
	info, err := h.RotateCredential(ctx, f.provider, f.account, credential)
	if err != nil {
		if errors.Is(err, oauth.ErrNotFound) {
			return fmt.Errorf("account %s is not connected: nothing to rotate (oauthfn credential add makes the connection)", f.account)
		}
		return explain(f.account, err)
	}
	_, err = fmt.Fprintf(stdout, "rotated the credential of account %s: %s\n", info.AccountID, connectionLine(info))
	return err
}

func connectionLine(info oauth.ConnectionInfo) string {
	return fmt.Sprintf("%s, access token expires %s, refresh token expires %s", info.Status, when(info.AccessExpiresAt), refreshExpires(info))
}

// readCredential reads the credential from r: one value, surrounding
// space trimmed. A terminal gets a prompt on stderr.
func readCredential(r io.Reader, stderr io.Writer) (string, error) {
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprintln(stderr, "paste the credential, then press Enter and Ctrl-D (or run the command with < credential-file):")
		}
	}
	b, err := io.ReadAll(io.LimitReader(r, maxCredential+1))
	if err != nil {
		return "", fmt.Errorf("reading the credential from standard input: %w", err)
	}
	if len(b) > maxCredential {
		return "", fmt.Errorf("standard input holds more than %d bytes: want one credential", maxCredential)
	}
	cred := strings.TrimSpace(string(b))
	switch {
	case cred == "":
		return "", errors.New("no credential on standard input: run `oauthfn credential add < credential-file`")
	case strings.ContainsAny(cred, " \t\r\n"):
		return "", errors.New("standard input holds more than one value: want the credential alone")
	}
	return cred, nil
}

// noCredential checks that standard input holds nothing for a
// client_credentials add (whose credential is the deployment's client): a
// terminal is not read; anything else must be empty, so that a secret piped
// in by mistake is refused rather than silently ignored (never echoed).
func noCredential(r io.Reader) error {
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return nil
		}
	}
	b, err := io.ReadAll(io.LimitReader(r, maxCredential+1))
	if err != nil {
		return fmt.Errorf("reading standard input: %w", err)
	}
	if strings.TrimSpace(string(b)) != "" {
		return errors.New("client_credentials takes nothing on standard input: its credential is the deployment's client (OAUTH_CLIENT_ID and the client secret, from the configuration); nothing was sent")
	}
	return nil
}

// looksLikeCredential reports whether a command-line value may be a
// credential: a JWT (three base64url parts, "eyJ…"), or any long value
// without spaces (an account id, a provider id or an end user is short).
func looksLikeCredential(v string) bool {
	v = v[strings.IndexByte(v, '=')+1:] // -flag=value
	if strings.HasPrefix(v, "eyJ") && strings.Count(v, ".") >= 2 {
		return true
	}
	return len(v) >= 200 && !strings.ContainsAny(v, " \t")
}
