package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// The sweep in the dev server: quiet while idle, and a way to watch a
// refresh happen.

// devMetrics is where the sweep's CloudWatch Embedded Metric Format lines
// go in the dev server: nowhere, except on standard error at
// LOG_LEVEL=debug. The "sweep done" line and the console's summary carry
// the same counts; the raw JSON blobs only buried the flow in the console.
func devMetrics(level slog.Level, logOutput io.Writer) io.Writer {
	if level <= slog.LevelDebug {
		return logOutput
	}
	return io.Discard
}

// quietIdleSweep demotes an idle sweep's "sweep done" line (nothing due,
// not stopped) to DEBUG: the dev server's timer sweeps every minute, and
// two lines a minute of nothing crowded the console's log. A sweep that
// found work logs as usual.
type quietIdleSweep struct{ slog.Handler }

func (h quietIdleSweep) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelInfo && r.Message == "sweep done" && idleSweep(r) {
		if !h.Handler.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r = r.Clone()
		r.Level = slog.LevelDebug
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietIdleSweep) WithAttrs(as []slog.Attr) slog.Handler {
	return quietIdleSweep{h.Handler.WithAttrs(as)}
}

func (h quietIdleSweep) WithGroup(name string) slog.Handler {
	return quietIdleSweep{h.Handler.WithGroup(name)}
}

// idleSweep reports whether a "sweep done" record says due=0 and no stop.
func idleSweep(r slog.Record) bool {
	due, stopped := int64(-1), ""
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "due":
			due = a.Value.Int64()
		case "stopped":
			stopped = a.Value.String()
		}
		return true
	})
	return due == 0 && stopped == ""
}

// dueOwner is the lease owner of the console's "Make due now".
const dueOwner = "dev-console"

// makeDue makes account's connection due now, so the next sweep (the
// console's button, or the timer) refreshes it: a way to see a refresh
// happen locally without waiting for the provider's lifetimes. It writes
// like every other writer, under the lease: lease the current version, set
// refresh_at to now, end the lease. provider is the connection's provider
// id ("" in a single-provider stack: its provider).
func (ds *devServer) makeDue(ctx context.Context, provider, account string) (string, error) {
	h, err := ds.providerView(provider)
	if err != nil {
		return "", err
	}
	provider = h.Config.Provider.Name
	c, err := h.Store.GetConnection(ctx, provider, account)
	if errors.Is(err, oauth.ErrNotFound) {
		return "", fmt.Errorf("no connection for account %q at provider %s: connect it from the demo app first", account, provider)
	}
	if err != nil {
		return "", err
	}
	switch {
	case c.Status != oauth.StatusActive:
		return "", fmt.Errorf("account %s is %s: it cannot be refreshed; connect it again from the demo app", account, c.Status)
	case c.RefreshToken == "" && !c.HasCredential():
		return "", fmt.Errorf("account %s has no refresh token (the provider issued none): there is nothing to refresh", account)
	}
	now := ds.opts.Now()
	leased, err := h.Store.AcquireLease(ctx, provider, account, c.Version, dueOwner, now, now.Add(oauth.LeaseDuration))
	if errors.Is(err, oauth.ErrConflict) {
		return "", fmt.Errorf("account %s is being refreshed right now: try again in a moment", account)
	}
	if err != nil {
		return "", err
	}
	next := *leased
	next.RefreshAt = now
	if err := h.Store.CompleteLease(ctx, &next, dueOwner); err != nil {
		return "", err
	}
	ds.Log.InfoContext(ctx, "connection made due now from the console", "provider", provider, "account_id", account)
	return fmt.Sprintf("account %s is due now: press \"Run sweep now\" (or wait for the timer) to watch it refresh", account), nil
}

// due serves POST /_dev/due (form field account), the console's per-row
// "Make due now" button.
func (c *devConsole) due(w http.ResponseWriter, r *http.Request) {
	provider, account := r.PostFormValue("provider"), r.PostFormValue("account")
	c.finish(w, r, "Make due now", dueAction, func(ctx context.Context) (string, error) {
		return c.ds.makeDue(ctx, provider, account)
	})
}

// providerView is the handler of provider id: the stack's own in a
// single-provider stack ("" or its provider's name), else the provider's
// view; an error names the ids the stack serves.
func (ds *devServer) providerView(id string) (*oauth.Handler, error) {
	if id == "" && ds.OAuth.Config.Named() {
		return nil, fmt.Errorf("a provider is required: this stack serves %s", strings.Join(ds.OAuth.Config.ProviderIDs(), ", "))
	}
	v, ok := ds.OAuth.ForProvider(id)
	if !ok {
		return nil, fmt.Errorf("unknown provider %q: this stack serves %s", id, strings.Join(ds.OAuth.Config.ProviderIDs(), ", "))
	}
	return v, nil
}

const dueAction = "due"
