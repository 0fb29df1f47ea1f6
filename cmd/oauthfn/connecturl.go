package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"

	"github.com/oauthfn/oauthfn/pkg/oauth"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// runConnectURL prints a connect URL for one of the app's users, signed with
// the deployment's app key (OAUTH_APP_KEY_ARN, or OAUTH_APP_KEY locally):
// for scripts and support, e.g. to send a user a link that connects their
// account. The token in it is single use and expires after -ttl.
//
//	oauthfn connect-url -user ID [-authorize-url URL] [-return-to URL] [-app-state S] [-ttl 10m]
func runConnectURL(ctx context.Context, h *oauth.Handler, args []string) error {
	fs := flag.NewFlagSet("connect-url", flag.ContinueOnError)
	user := fs.String("user", "", "the app's user id (the token's sub, 1-128 printable characters)")
	authorize := fs.String("authorize-url", "", "the deployment's /authorize URL (the AuthorizeUrl output); default: OAUTH_REDIRECT_URL with /callback replaced by /authorize")
	returnTo := fs.String("return-to", "", "where the browser goes back with the signed result (must be under ALLOWED_RETURN_URLS)")
	appState := fs.String("app-state", "", "opaque state handed back in the result")
	ttl := fs.Duration("ttl", connect.DefaultLifetime, "how long the link works (at most 15m)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("connect-url: unexpected arguments %q", fs.Args())
	}
	if *user == "" {
		return errors.New("connect-url: -user is required")
	}
	if *authorize == "" {
		u, err := url.Parse(h.Config.RedirectURL)
		if h.Config.RedirectURL == "" || err != nil || !strings.HasSuffix(u.Path, "/callback") {
			return errors.New("connect-url: set -authorize-url (the stack's AuthorizeUrl output): OAUTH_REDIRECT_URL does not name the callback")
		}
		u.Path = strings.TrimSuffix(u.Path, "/callback") + "/authorize"
		*authorize = u.String()
	}
	keys, err := h.Secrets.AppKeys(ctx)
	if err != nil {
		return fmt.Errorf("connect-url: %w", err)
	}
	keys.Now = h.Now
	link, err := keys.URL(*authorize, *user, connect.Options{ReturnTo: *returnTo, AppState: *appState, Lifetime: *ttl})
	if err != nil {
		return fmt.Errorf("connect-url: %w", err)
	}
	_, err = fmt.Fprintln(stdout, link)
	return err
}
