package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/oauthfn/oauthfn/pkg/oauth"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

var connectURLCmd = opsCommand{
	summary: "print a connect URL (single use, signed with the app key) for one of the app's users",
	about: `Prints a connect URL for one of your app's users on stdout, signed with the
deployment's app key (OAUTH_APP_KEY_ARN, or OAUTH_APP_KEY locally): for
scripts and support. The token in it is single use and expires after -ttl.

Whoever opens the link connects *their own* provider account, while the
link names -user: a link that reaches someone else would attach their
account to -user. So with REQUIRE_CONFIRM=true (the default) oauthfn
attaches nothing until your app confirms: -return-to is required, and the
page there must confirm only when the user signed in to your app in that
browser is -user (and reject otherwise). The person you send the link to
must therefore be signed in to your app, as -user, when they come back
(they can sign in then, within CONFIRM_TTL). Send a link only to the user
it names.`,
	flags: func(fs *flag.FlagSet) { connectURLFlags(fs) },
	run:   runConnectURL,
}

// connectURLOptions are connect-url's flags.
type connectURLOptions struct {
	user, authorize, returnTo, appState *string
	ttl                                 *time.Duration
	provider                            *string
}

func connectURLFlags(fs *flag.FlagSet) connectURLOptions {
	return connectURLOptions{
		user:      fs.String("user", "", "the app's user id (the token's sub, 1-128 printable characters)"),
		authorize: fs.String("authorize-url", "", "the deployment's /authorize URL (the AuthorizeUrl output); default: OAUTH_REDIRECT_URL with /callback replaced by /authorize"),
		returnTo:  fs.String("return-to", "", "where the browser goes back with the signed result (must be under ALLOWED_RETURN_URLS); the app page there confirms for the user signed in to it (required with REQUIRE_CONFIRM=true)"),
		appState:  fs.String("app-state", "", "opaque state handed back in the result"),
		ttl:       fs.Duration("ttl", connect.DefaultLifetime, "how long the link works (at most 15m)"),
		provider:  providerFlag(fs),
	}
}

// runConnectURL prints a connect URL for one of the app's users.
//
//	oauthfn connect-url -user ID [-provider ID] [-authorize-url URL] [-return-to URL] [-app-state S] [-ttl 10m]
func runConnectURL(ctx context.Context, h *oauth.Handler, args []string) error {
	fs := flag.NewFlagSet("connect-url", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // withHandler parsed them already, printing any problem
	o := connectURLFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *o.user == "" {
		return errors.New("-user is required")
	}
	if *o.returnTo == "" && h.Config.RequireConfirm {
		return errors.New("-return-to is required (REQUIRE_CONFIRM=true): the app page there confirms the connection for the user signed in to it")
	}
	if *o.returnTo != "" && !h.Config.ReturnAllowed(*o.returnTo) {
		// The same check as /authorize's: never sign a link it refuses.
		return fmt.Errorf("-return-to %q: /authorize would refuse it: want an address under ALLOWED_RETURN_URLS, without ';' in its query", *o.returnTo)
	}
	authorize := *o.authorize
	if authorize == "" {
		callback, route := "/callback", "/authorize"
		if h.Config.Named() {
			callback, route = callback+"/"+h.Config.Provider.Name, route+"/"+h.Config.Provider.Name
		}
		u, err := url.Parse(h.Config.RedirectURL)
		if h.Config.RedirectURL == "" || err != nil || !strings.HasSuffix(u.Path, callback) {
			return errors.New("set -authorize-url (the stack's AuthorizeUrl output, with /" + strings.TrimPrefix(route, "/") + "): the redirect URL does not name the callback")
		}
		u.Path = strings.TrimSuffix(u.Path, callback) + route
		authorize = u.String()
	}
	var provider string
	if h.Config.Named() {
		provider = h.Config.Provider.Name // the token is for this provider's route only
	}
	keys, err := h.Secrets.AppKeys(ctx)
	if err != nil {
		return fmt.Errorf("app key: %w", err)
	}
	keys.Now = h.Now
	link, err := keys.URL(authorize, *o.user, connect.Options{ReturnTo: *o.returnTo, AppState: *o.appState, Lifetime: *o.ttl, Provider: provider})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, link)
	return err
}
