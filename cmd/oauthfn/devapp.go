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
	"sync"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// The demo app plays a real app on the dev server: its users sign in (one of
// demoUsers, no password), its backend mints a connect token for the
// signed-in user (never the browser), and it believes only a result it
// verified with the app key. A typed /app/connected?account_id=… changes
// nothing.

// demoUsers are the demo app's own users (not provider accounts).
var demoUsers = []string{"ana", "ben", "cleo"}

// demoSessionCookie holds the demo app's session id.
const demoSessionCookie = "demo_session"

// demoApp is the demo app's state: sessions and what it learned from
// verified results (which of its users owns which provider account).
type demoApp struct {
	mu       sync.Mutex
	sessions map[string]string // session id -> user
	owners   map[string]string // account id -> user, from verified results only
}

func newDemoApp() *demoApp {
	return &demoApp{sessions: map[string]string{}, owners: map[string]string{}}
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
	return ds.App.sessions[c.Value]
}

func (ds *devServer) signIn(w http.ResponseWriter, r *http.Request) {
	user := r.PostFormValue("user")
	if !slices.Contains(demoUsers, user) {
		http.Error(w, "unknown demo user", http.StatusBadRequest)
		return
	}
	b := make([]byte, 24)
	rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	ds.App.mu.Lock()
	ds.App.sessions[id] = user
	ds.App.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: demoSessionCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	ds.Log.Info("demo app: signed in", "end_user", user)
	http.Redirect(w, r, "/", http.StatusSeeOther)
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
// the flow ends on oauthfn's own success page.
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
	link, err := keys.URL(ds.BaseURL+"/authorize", user, opts)
	if err != nil {
		http.Error(w, "cannot start: "+err.Error(), http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, link, http.StatusSeeOther)
}

// connected is return_to: the app verifies the result and only then records
// which of its users owns the account. Anything else changes nothing.
func (ds *devServer) connected(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	data := ds.appData(r)
	status := http.StatusOK
	switch result := q.Get("result"); {
	case result != "":
		keys, err := ds.OAuth.Secrets.AppKeys(r.Context())
		if err != nil {
			http.Error(w, "app key unavailable", http.StatusInternalServerError)
			return
		}
		keys.Now = ds.opts.Now
		res, err := keys.VerifyResult(result)
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
		data.Result = &res
		if res.User != "" {
			ds.App.mu.Lock()
			ds.App.owners[res.AccountID] = res.User
			ds.App.mu.Unlock()
		}
		ds.Log.Info("demo app: result verified", "end_user", res.User, "account_id", res.AccountID)
	case len(q) > 0:
		data.Refused = "the address carries no signed result"
		status = http.StatusBadRequest
		ds.Log.Warn("demo app: unsigned return refused", "params", sortedKeys(q))
	}
	data.Owners = ds.owners(r)
	ds.appPage(w, status, connectedTmpl, data)
}

// appView is what the demo app's pages show.
type appView struct {
	User      string
	Users     []string
	Mock      bool
	Accounts  []mockrc.Account
	Provider  string
	Redirect  string
	Required  bool
	AppState  string
	Result    *connect.Result
	Refused   string
	Owners    []ownerRow
	UnknownAt string
}

// ownerRow is one demo user's accounts: as the app recorded them from
// verified results, and as oauthfn's user-index has them.
type ownerRow struct {
	User          string
	App, Oauthfn  []string
	IndexReadFail bool
}

func (ds *devServer) appData(r *http.Request) appView {
	v := appView{
		User: ds.user(r), Users: demoUsers, Mock: ds.Mock != nil,
		Provider: ds.OAuth.Config.Provider.Name, Redirect: ds.OAuth.Config.RedirectURL,
		Required: ds.OAuth.Config.RequireConnectToken, AppState: demoAppState,
	}
	if v.Mock {
		v.Accounts = mockrc.DemoAccounts()
	}
	return v
}

func (ds *devServer) owners(r *http.Request) []ownerRow {
	ds.App.mu.Lock()
	byUser := map[string][]string{}
	for account, user := range ds.App.owners {
		byUser[user] = append(byUser[user], account)
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
			row.Oauthfn = append(row.Oauthfn, in.AccountID)
		}
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
	formAction := "'self'"
	if u, err := url.Parse(ds.OAuth.Config.Provider.Endpoint.AuthURL); err == nil && u.Host != "" {
		formAction += " " + u.Scheme + "://" + u.Host
	}
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
