package main

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/oauthfn/oauthfn/pkg/oauth"
	"github.com/oauthfn/oauthfn/pkg/oauth/connevent"
)

// maxConsoleEvents is how many connection events the console keeps.
const maxConsoleEvents = 50

// eventView is one connection event as the console shows it: the event
// functions/events would send to EventBridge for a change of the store.
type eventView struct {
	At, DetailType, Provider, Account, EndUser, PreviousEndUser, Status, Reason, EventID string
	Version                                                                              int64
}

// eventFeed keeps the recent connection events, newest first.
type eventFeed struct {
	mu   sync.Mutex
	list []eventView
}

func (f *eventFeed) add(v eventView) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.list = append([]eventView{v}, f.list...)
	if len(f.list) > maxConsoleEvents {
		f.list = f.list[:maxConsoleEvents]
	}
}

func (f *eventFeed) recent() []eventView {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]eventView(nil), f.list...)
}

// onStoreChange runs the events function's mapping (connevent.Transition) on a
// change of the dev server's store, as the real function does on the
// table's stream, and shows the event in the console and the log.
func (ds *devServer) onStoreChange(rec events.DynamoDBEventRecord) {
	ev, err := connevent.Transition(rec)
	if err != nil {
		ds.Log.Error("connection event: stream record not understood", "err", err)
		return
	}
	if ev == nil {
		return
	}
	d := ev.Detail
	ds.Log.Info("connection event", "detail_type", ev.DetailType, "source", connevent.Source, "provider", d.Provider, "account_id", d.AccountID,
		"end_user", d.EndUser, "status", d.Status, "reason", d.Reason, "event_id", d.EventID)
	ds.Events.add(eventView{At: d.At, DetailType: ev.DetailType, Provider: d.Provider, Account: d.Provider + "/" + d.AccountID, EndUser: d.EndUser,
		PreviousEndUser: d.PreviousEndUser, Status: d.Status, Reason: d.Reason, EventID: d.EventID, Version: d.Version})
}

// tokenView is the console's account of a token-function answer. It never
// holds the token: only its length.
type tokenView struct {
	Request, Outcome string
	Rows             []infoRow
	Failed           bool
}

// tokenTimeout bounds one console call of the token handler (it may wait
// for another holder's refresh, then refresh).
const tokenTimeout = time.Minute

// token answers POST /_dev/token: the token function's handler
// (Handler.AnswerToken, as functions/token runs it) for the form's
// account_id and, with several providers, provider.
func (c *devConsole) token(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), tokenTimeout)
	defer cancel()
	req := oauth.TokenRequest{Provider: r.PostFormValue("provider"), AccountID: r.PostFormValue("account_id")}
	resp, err := c.ds.OAuth.AnswerToken(ctx, req)
	v := &tokenView{Request: `{"account_id": "` + req.AccountID + `"}`}
	if req.Provider != "" {
		v.Request = `{"provider": "` + req.Provider + `", "account_id": "` + req.AccountID + `"}`
	}
	switch {
	case err != nil:
		v.Failed, v.Outcome = true, "function error (an internal fault): "+err.Error()
	case resp.Error != "":
		v.Failed, v.Outcome = true, resp.Error
		v.Rows = []infoRow{{"error_description", resp.ErrorDescription}}
		if resp.RetryAfterS > 0 {
			v.Rows = append(v.Rows, infoRow{"retry_after_s", strconv.Itoa(resp.RetryAfterS)})
		}
	default:
		v.Outcome = "a working access token"
		exp := "unknown"
		if !resp.ExpiresAt.IsZero() {
			exp = stamp(resp.ExpiresAt, c.ds.opts.Now())
		}
		v.Rows = []infoRow{
			{"access_token", "(" + strconv.Itoa(len(resp.AccessToken)) + " characters, not shown)"},
			{"token_type", resp.TokenType}, {"expires_at", exp}, {"account_id", resp.AccountID},
			{"end_user", resp.EndUser}, {"scope", resp.Scope},
		}
		if req.Provider != "" {
			v.Rows = append(v.Rows, infoRow{"provider (asked for)", req.Provider})
		}
	}
	c.ds.Log.Info("console: token function called", "provider", req.Provider, "account_id", req.AccountID, "outcome", v.Outcome)
	http.Redirect(w, r, c.keep(shownResult{token: v}, "token"), http.StatusSeeOther)
}
