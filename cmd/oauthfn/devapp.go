package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// The demo app plays a real app on the dev server: its users sign in (one of
// demoUsers, no password), its backend mints a connect token for the
// signed-in user (never the browser), and it believes only a result it
// verified with the app key. A typed /app/connected?account_id=… changes
// nothing. A pending result (a connect link can be forwarded) is confirmed
// only for the demo user signed in in the browser that brought it back, and
// only when that is the user the link was made for; otherwise the app
// rejects it. A browser that comes back signed out signs in first: the
// pending result waits in its session (server side, never in a URL).

// demoUsers are the demo app's own users (not provider accounts).
var demoUsers = []string{"ana", "ben", "cleo"}

// demoSessionCookie holds the demo app's session id.
const demoSessionCookie = "demo_session"

// confirmTimeout bounds the demo app's POST /confirm.
const confirmTimeout = 10 * time.Second

// demoApp is the demo app's state: sessions and what it learned from
// verified results (which of its users owns which provider account).
type demoApp struct {
	mu       sync.Mutex
	sessions map[string]*demoSession // session id -> session
	owners   map[ownedAccount]string // account -> user, from confirmed results only
}

// demoSession is one browser's session: its signed-in user ("" before
// sign-in) and a pending result that came back before anyone signed in.
type demoSession struct {
	user    string
	pending *connect.Result
}

// ownedAccount is an account at a provider: the same account id at two
// providers is two accounts.
type ownedAccount struct{ provider, account string }

func newDemoApp() *demoApp {
	return &demoApp{sessions: map[string]*demoSession{}, owners: map[ownedAccount]string{}}
}

// register mounts the demo app on mux; its POSTs are behind the standard
// library's cross-origin protection, like the console's.
func (ds *devServer) registerDemoApp(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", ds.home)
	mux.HandleFunc("GET /app/connected", ds.connected)
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ds.Log.Warn("demo app: cross-origin request refused", "path", r.URL.Path)
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
	}))
	mux.Handle("POST /app/signin", csrf.Handler(http.HandlerFunc(ds.signIn)))
	mux.Handle("POST /app/signout", csrf.Handler(http.HandlerFunc(ds.signOut)))
	mux.Handle("POST /app/connect", csrf.Handler(http.HandlerFunc(ds.connectStart)))
}

// user is the signed-in demo user, or "".
func (ds *devServer) user(r *http.Request) string {
	c, err := r.Cookie(demoSessionCookie)
	if err != nil {
		return ""
	}
	ds.App.mu.Lock()
	defer ds.App.mu.Unlock()
	if s := ds.App.sessions[c.Value]; s != nil {
		return s.user
	}
	return ""
}

// newSession stores s under a fresh id and sets the session cookie.
func (ds *devServer) newSession(w http.ResponseWriter, s *demoSession) {
	b := make([]byte, 24)
	rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	ds.App.mu.Lock()
	ds.App.sessions[id] = s
	ds.App.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: demoSessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// signIn starts a new session (a fresh id: the signed-out one is dropped)
// for user. A pending result the signed-out session kept moves along, and
// the browser goes back to /app/connected to decide it.
func (ds *devServer) signIn(w http.ResponseWriter, r *http.Request) {
	user := r.PostFormValue("user")
	if !slices.Contains(demoUsers, user) {
		http.Error(w, "unknown demo user", http.StatusBadRequest)
		return
	}
	var pending *connect.Result
	if c, err := r.Cookie(demoSessionCookie); err == nil {
		ds.App.mu.Lock()
		if old := ds.App.sessions[c.Value]; old != nil {
			pending = old.pending
			delete(ds.App.sessions, c.Value)
		}
		ds.App.mu.Unlock()
	}
	ds.newSession(w, &demoSession{user: user, pending: pending})
	ds.Log.Info("demo app: signed in", "end_user", user)
	if pending != nil {
		http.Redirect(w, r, "/app/connected", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// keepPending keeps res in the browser's session until someone signs in.
func (ds *devServer) keepPending(w http.ResponseWriter, r *http.Request, res connect.Result) {
	if c, err := r.Cookie(demoSessionCookie); err == nil {
		ds.App.mu.Lock()
		s := ds.App.sessions[c.Value]
		if s != nil {
			s.pending = &res
		}
		ds.App.mu.Unlock()
		if s != nil {
			return
		}
	}
	ds.newSession(w, &demoSession{pending: &res})
}

// takePending removes and returns the pending result the browser's session
// kept, or nil.
func (ds *devServer) takePending(r *http.Request) *connect.Result {
	c, err := r.Cookie(demoSessionCookie)
	if err != nil {
		return nil
	}
	ds.App.mu.Lock()
	defer ds.App.mu.Unlock()
	s := ds.App.sessions[c.Value]
	if s == nil || s.user == "" {
		return nil
	}
	res := s.pending
	s.pending = nil
	return res
}

func (ds *devServer) signOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(demoSessionCookie); err == nil {
		ds.App.mu.Lock()
		delete(ds.App.sessions, c.Value)
		ds.App.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: demoSessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// connectStart is the app's backend starting a connection for its
// signed-in user: it mints the connect token with the app key and sends the
// browser to /authorize?connect=…. With end=oauthfn there is no return_to:
// the flow ends on oauthfn's own success page. With several providers the
// form names one (the picker): the token carries it in its provider claim
// and the link goes to /authorize/<provider>.
func (ds *devServer) connectStart(w http.ResponseWriter, r *http.Request) {
	user := ds.user(r)
	if user == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	keys, err := ds.OAuth.Secrets.AppKeys(r.Context())
	if err != nil {
		ds.Log.Error("demo app: app key unavailable", "err", err)
		http.Error(w, "app key unavailable", http.StatusInternalServerError)
		return
	}
	keys.Now = ds.opts.Now
	opts := connect.Options{ReturnTo: ds.BaseURL + "/app/connected", AppState: r.PostFormValue("app_state")}
	if r.PostFormValue("end") == "oauthfn" {
		opts = connect.Options{}
	}
	authorize := ds.BaseURL + "/authorize"
	if ds.OAuth.Config.Named() {
		provider := r.PostFormValue("provider")
		if !slices.Contains(ds.OAuth.Config.ProviderIDs(), provider) {
			http.Error(w, "pick one of the providers: "+strings.Join(ds.OAuth.Config.ProviderIDs(), ", "), http.StatusBadRequest)
			return
		}
		opts.Provider = provider
		authorize += "/" + provider
	}
	link, err := keys.URL(authorize, user, opts)
	if err != nil {
		http.Error(w, "cannot start: "+err.Error(), http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, link, http.StatusSeeOther)
}

// connected is return_to: the app verifies the result, and confirms a
// pending one only for the user signed in here when the link was made for
// that user (else it rejects it); only then it records which of its users
// owns the account. Anything else changes nothing.
func (ds *devServer) connected(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	data := ds.appData(r)
	status := http.StatusOK
	switch result := q.Get("result"); {
	case result != "":
		keys, err := ds.appKeys(r)
		if err != nil {
			http.Error(w, "app key unavailable", http.StatusInternalServerError)
			return
		}
		res, err := keys.VerifyResult(result)
		if err == nil && !slices.Contains(ds.OAuth.Config.ProviderIDs(), res.Provider) {
			err = errors.New("the result is for provider " + res.Provider)
		}
		if err != nil {
			var ce *connect.Error
			data.Refused = "the result failed verification"
			if errors.As(err, &ce) {
				data.Refused += " (" + ce.Check + ")"
			}
			status = http.StatusBadRequest
			ds.Log.Warn("demo app: result refused", "err", err)
			break
		}
		ds.Log.Info("demo app: result verified", "end_user", res.User, "provider", res.Provider, "account_id", res.AccountID, "status", res.Status)
		status = ds.decide(w, r, &data, res)
	case len(q) > 0:
		data.Refused = "the address carries no signed result"
		status = http.StatusBadRequest
		ds.Log.Warn("demo app: unsigned return refused", "params", sortedKeys(q))
	default:
		// Back from signing in with a pending result kept in the session.
		if res := ds.takePending(r); res != nil {
			if ds.opts.Now().After(res.IssuedAt.Add(ds.OAuth.Config.ConfirmTTL)) {
				data.Refused = "the connection waited longer than CONFIRM_TTL (" + ds.OAuth.Config.ConfirmTTL.String() + ") for a sign-in, and oauthfn dropped it; connect again"
				status = http.StatusConflict
				break
			}
			status = ds.decide(w, r, &data, *res)
		}
	}
	data.Owners = ds.owners(r)
	ds.appPage(w, status, connectedTmpl, data)
}

// appKeys is the app key on the dev server's clock; Confirm and Reject
// call the dev server's own POST /confirm over HTTP, as an app's backend
// calls the ConfirmUrl.
func (ds *devServer) appKeys(r *http.Request) (connect.Keys, error) {
	keys, err := ds.OAuth.Secrets.AppKeys(r.Context())
	if err != nil {
		ds.Log.Error("demo app: app key unavailable", "err", err)
		return keys, err
	}
	keys.Now = ds.opts.Now
	keys.Client = &http.Client{Timeout: confirmTimeout}
	return keys, nil
}

// decide is the app's part after a verified result: a connected one is
// recorded; a pending one is confirmed when the signed-in user is the one
// the link was made for, rejected when someone else is signed in, and kept
// in the session when no one is (sign in first). It fills data and returns
// the page's status.
func (ds *devServer) decide(w http.ResponseWriter, r *http.Request, data *appView, res connect.Result) int {
	if res.Status != connect.StatusPending {
		data.Result = &res
		if res.User != "" {
			ds.record(res.Provider, res.AccountID, res.User)
		}
		return http.StatusOK
	}
	if data.User == "" {
		ds.keepPending(w, r, res)
		data.SignInToFinish = &res
		return http.StatusOK
	}
	keys, err := ds.appKeys(r)
	if err != nil {
		data.Refused = "the app key is unavailable"
		return http.StatusInternalServerError
	}
	confirmURL := ds.BaseURL + "/confirm"
	if data.User != res.User {
		// A forwarded link: whoever finished it brought their own account.
		data.OtherUser = &res
		if _, err := keys.Reject(r.Context(), confirmURL, res); err != nil && !errors.Is(err, connect.ErrNotPending) {
			ds.Log.Error("demo app: reject failed", "err", err)
			data.OtherUser, data.Refused = nil, "the rejection failed ("+err.Error()+"); oauthfn drops the connection after CONFIRM_TTL"
			return http.StatusBadGateway
		}
		ds.Log.Warn("demo app: rejected a result made for another user", "end_user", res.User, "signed_in", data.User, "account_id", res.AccountID)
		return http.StatusConflict
	}
	got, err := keys.Confirm(r.Context(), confirmURL, res, data.User)
	switch {
	case errors.Is(err, connect.ErrUserMismatch):
		data.OtherUser = &res
		return http.StatusConflict
	case errors.Is(err, connect.ErrNotPending):
		data.Refused = "nothing to confirm: this result was already decided, or waited too long"
		return http.StatusConflict
	case err != nil:
		ds.Log.Error("demo app: confirm failed", "err", err)
		data.Refused = "the confirmation failed (" + err.Error() + ")"
		return http.StatusBadGateway
	}
	res.Status = got.Status
	data.Result = &res
	ds.record(res.Provider, got.AccountID, got.EndUser)
	ds.Log.Info("demo app: connection confirmed", "end_user", got.EndUser, "provider", res.Provider, "account_id", got.AccountID)
	return http.StatusOK
}

// record notes that user owns account at provider (from a confirmed
// result).
func (ds *devServer) record(provider, account, user string) {
	ds.App.mu.Lock()
	ds.App.owners[ownedAccount{provider, account}] = user
	ds.App.mu.Unlock()
}

// accountLabel is how the demo app shows an account: its id, and with
// several providers provider/id.
func (ds *devServer) accountLabel(provider, account string) string {
	if ds.OAuth.Config.Named() {
		return provider + "/" + account
	}
	return account
}

// appView is what the demo app's pages show.
type appView struct {
	User     string
	Users    []string
	Mock     bool
	Accounts []mockrc.Account
	Provider string
	Redirect string
	// Providers is the picker of a stack with several providers (nil with
	// one): each id, and its redirect URL.
	Providers []providerChoice
	Required  bool
	AppState  string
	Result    *connect.Result
	Refused   string
	// OtherUser is a pending result made for another user than the one
	// signed in: rejected. SignInToFinish is one waiting for a sign-in.
	OtherUser, SignInToFinish *connect.Result
	// Confirm: REQUIRE_CONFIRM; a connect token needs a return_to.
	Confirm   bool
	Owners    []ownerRow
	UnknownAt string
}

// providerChoice is one provider of the demo app's picker.
type providerChoice struct{ ID, Redirect string }

// ownerRow is one demo user's accounts: as the app recorded them from
// verified results, and as oauthfn's user-index has them.
type ownerRow struct {
	User          string
	App, Oauthfn  []string
	IndexReadFail bool
}

func (ds *devServer) appData(r *http.Request) appView {
	v := appView{
		User: ds.user(r), Users: demoUsers, Mock: ds.mocked(),
		Provider: ds.OAuth.Config.Provider.Name, Redirect: ds.OAuth.Config.RedirectURL,
		Required: ds.OAuth.Config.RequireConnectToken, AppState: demoAppState, Confirm: ds.OAuth.Config.RequireConfirm,
	}
	if v.Mock {
		v.Accounts = mockrc.DemoAccounts()
	}
	if ds.OAuth.Config.Named() {
		for _, id := range ds.OAuth.Config.ProviderIDs() {
			p, _ := ds.OAuth.ForProvider(id)
			v.Providers = append(v.Providers, providerChoice{ID: id, Redirect: p.Config.RedirectURL})
		}
	}
	return v
}

func (ds *devServer) owners(r *http.Request) []ownerRow {
	ds.App.mu.Lock()
	byUser := map[string][]string{}
	for a, user := range ds.App.owners {
		byUser[user] = append(byUser[user], ds.accountLabel(a.provider, a.account))
	}
	ds.App.mu.Unlock()
	rows := make([]ownerRow, 0, len(demoUsers))
	for _, u := range demoUsers {
		row := ownerRow{User: u, App: byUser[u]}
		sort.Strings(row.App)
		infos, err := ds.OAuth.ConnectionsForUser(r.Context(), u)
		if err != nil {
			row.IndexReadFail = true
			ds.Log.Error("demo app: connections for user", "end_user", u, "err", err)
		}
		for _, in := range infos {
			row.Oauthfn = append(row.Oauthfn, ds.accountLabel(in.Provider, in.AccountID))
		}
		sort.Strings(row.Oauthfn)
		rows = append(rows, row)
	}
	return rows
}

func (ds *devServer) home(w http.ResponseWriter, r *http.Request) {
	data := ds.appData(r)
	data.Owners = ds.owners(r)
	ds.appPage(w, http.StatusOK, homeTmpl, data)
}

// appPage writes a demo app page. Its Connect form is answered with
// redirects to /authorize and on to the provider, and browsers check a
// form's redirects against CSP form-action too: the provider's origin is
// allowed besides 'self'.
func (ds *devServer) appPage(w http.ResponseWriter, status int, t *template.Template, data any) {
	sources := []string{"'self'"}
	for _, id := range ds.OAuth.Config.ProviderIDs() {
		p, _ := ds.OAuth.ForProvider(id)
		if u, err := url.Parse(p.Config.Provider.Endpoint.AuthURL); err == nil && u.Host != "" {
			if src := u.Scheme + "://" + u.Host; !slices.Contains(sources, src) {
				sources = append(sources, src)
			}
		}
	}
	formAction := strings.Join(sources, " ")
	writePageFormAction(w, status, t, data, formAction)
}

func sortedKeys(q url.Values) []string {
	out := make([]string, 0, len(q))
	for k := range q {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
