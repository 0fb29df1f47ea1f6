package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/oauthfn/oauthfn/internal/devlog"
	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/pkg/oauth"
	"github.com/oauthfn/oauthfn/pkg/oauth/apigw"
)

// Dev server choices (flags -provider and -store).
const (
	providerMock = "mock" // the built-in RingCentral-shaped provider under /mock/
	providerEnv  = "env"  // a real provider, configured by the environment

	storeMemory = "memory"   // oauth.MemoryStore, gone when the server stops
	storeDynamo = "dynamodb" // oauth.DynamoStore through the AWS SDK's default configuration
)

// Defaults the dev server fills in.
const (
	defaultAddr  = "127.0.0.1:8080"
	defaultTable = "oauthfn-dev"
	mockPrefix   = "/mock"
	demoAppState = "demo"
	shutdownWait = 5 * time.Second
)

const devHelp = `usage: oauthfn dev [flags]

Runs /authorize, /callback and POST /confirm through the same handlers as the Lambda
functions (over the API Gateway v2 adapter), a demo app at / and the /_dev
console (connections and recent logs; never tokens). Plain http on loopback.
The backend for the frontend (/bff/<provider>/login, /bff/session, /bff/logout,
/bff/api/...) runs through the bff function's handler, and /app/ is a static
single-page app that signs in and calls the provider's API through it.

-provider mock (default): the built-in RingCentral-shaped provider is served
under /mock/ on the same server. The dev server sets OAUTH_PROVIDER,
OAUTH_SERVER_URL, OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, OAUTH_REDIRECT_URL and
ALLOWED_RETURN_URLS itself and ignores any other OAUTH_* and
ALLOWED_RETURN_URLS in the environment. OAUTH_TOKEN_KEY is the environment's
when set (keep it to read a DynamoDB table across restarts), else random for
the run. The other variables (LOG_LEVEL, TABLE_NAME, REFRESH_MODE, ... and the
AWS SDK's AWS_*) are read from the environment.

-providers a,b (with -provider mock): several providers in one stack, as
OAUTH_PROVIDERS sets up in AWS: one built-in RingCentral-shaped mock per
provider id, under /mock/<id>/, each with its own client id and secret
(mockrc-client-<id>, mockrc-secret-<id>), called back at /callback/<id>. The
demo app then has a provider picker and connects through /authorize/<id>.

-provider env: everything comes from the environment, as in the Lambdas (a
real provider, e.g. OAUTH_PROVIDER=ringcentral with your own app's client id
and secret). Filled in only when unset: OAUTH_REDIRECT_URL=http://<addr>/callback
(register exactly that URL with the provider), ALLOWED_RETURN_URLS=http://<addr>/,
TABLE_NAME=oauthfn-dev, and OAUTH_TOKEN_KEY random for this run (set it to keep
DynamoDB connections readable across restarts). With OAUTH_PROVIDERS (several
providers; OAUTH_CLIENT_SECRET a JSON object of each provider's secret), each
entry without a redirect_url gets http://<addr>/callback/<id>. The demo app's own
http://<addr>/app/ is always added to ALLOWED_RETURN_URLS.

-store dynamodb uses TABLE_NAME through the AWS SDK's default configuration
(AWS_ENDPOINT_URL=http://127.0.0.1:5000 for moto_server); -create-table creates
the table if it is missing. With it, the operator commands (oauthfn list,
token, sweep, disconnect) work against this server: it prints the export
lines to run in their shell.

Flags (each also from the environment variable shown):
`

// devOptions configure a dev server.
type devOptions struct {
	// Addr is host:port the server listens on; its URLs use it, so it must
	// be concrete (the listener's address, port included).
	Addr     string
	Provider string // providerMock or providerEnv
	// Providers are the provider ids of -providers: with providerMock,
	// one mock provider each (several providers in one stack); none: one
	// mock provider, a single-provider stack.
	Providers   []string
	Store       string // storeMemory or storeDynamo
	CreateTable bool
	// SweepEvery runs the refresh sweep on a timer, as the EventBridge
	// schedule does in AWS; 0 turns the timer off (the console's button
	// still runs one).
	SweepEvery time.Duration
	// Getenv reads the environment (os.Getenv).
	Getenv func(string) string
	// LogOutput receives the JSON logs, besides the console's ring (os.Stderr).
	LogOutput io.Writer
	// Now is the clock of the handler, the mock provider and the console;
	// nil: time.Now.
	Now func() time.Time
}

// devServer is the dev server's http.Handler and what it is made of.
type devServer struct {
	http.Handler
	BaseURL string         // http://host:port, no trailing slash
	OAuth   *oauth.Handler // the same Handler the Lambdas run
	Mock    *mockrc.Server // nil unless -provider mock without -providers
	// Mocks are the mock providers of -providers, by provider id.
	Mocks   map[string]*mockrc.Server
	Logs    *devlog.Ring        // the console's recent log lines
	Log     *slog.Logger        // JSON to LogOutput and Logs
	KeyNote string              // how the token key was chosen (never the key)
	env     func(string) string // the environment LoadConfig read (see devEnv)
	// AppKeyNote says how the app key was chosen (never the key).
	AppKeyNote string
	Console    *devConsole // /_dev
	Events     *eventFeed  // connection events of the store's changes
	App        *demoApp    // the demo app's sessions and records
	table      string      // "" for the memory store
	awsRegion  string      // the AWS configuration's region, "" without one
	// standInCreds are the AWS credentials when every endpoint set is a
	// stand-in on loopback (nil otherwise): see ExportLines.
	standInCreds *aws.Credentials
	opts         devOptions
}

// devFlags parses the dev command's flags, defaults from the environment.
func devFlags(args []string, getenv func(string) string, output io.Writer) (devOptions, error) {
	opts := devOptions{Getenv: getenv}
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprint(output, devHelp)
		fs.PrintDefaults()
	}
	envOr := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	createDefault, err := strconv.ParseBool(envOr("OAUTHFN_DEV_CREATE_TABLE", "false"))
	if err != nil {
		return opts, fmt.Errorf("dev: OAUTHFN_DEV_CREATE_TABLE: want true or false, got %q", getenv("OAUTHFN_DEV_CREATE_TABLE"))
	}
	fs.StringVar(&opts.Addr, "addr", envOr("OAUTHFN_DEV_ADDR", defaultAddr), "listen `host:port`, loopback only (OAUTHFN_DEV_ADDR)")
	fs.StringVar(&opts.Provider, "provider", envOr("OAUTHFN_DEV_PROVIDER", providerMock), "`mock` (built-in RingCentral-shaped provider) or env (OAUTHFN_DEV_PROVIDER)")
	providers := fs.String("providers", envOr("OAUTHFN_DEV_PROVIDERS", ""), "with -provider mock: several providers in one stack, one mock each: comma-separated `ids` such as ringcentral,ringcentral-eu (OAUTHFN_DEV_PROVIDERS)")
	fs.StringVar(&opts.Store, "store", envOr("OAUTHFN_DEV_STORE", storeMemory), "`memory` or dynamodb (TABLE_NAME through the AWS SDK) (OAUTHFN_DEV_STORE)")
	fs.BoolVar(&opts.CreateTable, "create-table", createDefault, "with -store dynamodb: create TABLE_NAME if missing (OAUTHFN_DEV_CREATE_TABLE)")
	sweepDefault, err := time.ParseDuration(envOr("OAUTHFN_DEV_SWEEP_EVERY", "1m"))
	if err != nil || sweepDefault < 0 {
		return opts, fmt.Errorf("dev: OAUTHFN_DEV_SWEEP_EVERY: want a duration such as 1m or 0 (off), got %q", getenv("OAUTHFN_DEV_SWEEP_EVERY"))
	}
	fs.DurationVar(&opts.SweepEvery, "sweep-every", sweepDefault, "run the refresh sweep every `interval`; 0 turns the timer off (OAUTHFN_DEV_SWEEP_EVERY)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return opts, err
		}
		return opts, errUsage // the flag package printed the problem and usage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(output, "oauthfn dev: unexpected argument %q\n", fs.Arg(0))
		return opts, errUsage
	}
	if opts.SweepEvery < 0 {
		fmt.Fprintf(output, "oauthfn dev: -sweep-every: want 0 (off) or more, got %v\n", opts.SweepEvery)
		return opts, errUsage
	}
	if *providers != "" {
		ids, err := parseMockIDs(*providers)
		if err != nil {
			fmt.Fprintf(output, "oauthfn dev: -providers: %v\n", err)
			return opts, errUsage
		}
		opts.Providers = ids
	}
	if opts.CreateTable && opts.Store != storeDynamo {
		fmt.Fprintf(output, "oauthfn dev: -create-table: only with -store dynamodb (the %s store has no table; OAUTHFN_DEV_CREATE_TABLE sets it too)\n", opts.Store)
		return opts, errUsage
	}
	return opts, nil
}

// parseMockIDs reads -providers: comma-separated provider ids, each
// well-formed and named once.
func parseMockIDs(v string) ([]string, error) {
	var ids []string
	for _, id := range strings.Split(v, ",") {
		id = strings.TrimSpace(id)
		switch {
		case !oauth.ValidProviderID(id):
			return nil, fmt.Errorf("provider id %q: want 1-32 lower-case letters, digits and hyphens, starting with a letter", id)
		case slices.Contains(ids, id):
			return nil, fmt.Errorf("provider id %q named twice", id)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// runDev is `oauthfn dev`: it serves until ctx ends (SIGINT, SIGTERM), then
// shuts down gracefully.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := devFlags(args, os.Getenv, stderr)
	if err != nil {
		return err
	}
	opts.LogOutput = stderr
	l, err := listenLoopback(opts.Addr)
	if err != nil {
		return err
	}
	defer l.Close()
	opts.Addr = publicAddr(opts.Addr, l.Addr())

	ds, err := newDevServer(ctx, opts)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           ds,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(ds.Log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintln(stdout, ds.StartupLine())
	fmt.Fprint(stdout, ds.ExportLines())

	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	if opts.SweepEvery > 0 {
		go ds.sweepEvery(ctx, opts.SweepEvery)
	}
	select {
	case err := <-served:
		return fmt.Errorf("dev: serve: %w", err)
	case <-ctx.Done():
	}
	ds.Log.Info("dev server stopping")
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownWait)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("dev: shutdown: %w", err)
	}
	return nil
}

// StartupLine is the one line printed when the server is ready.
func (ds *devServer) StartupLine() string {
	provider := "provider " + ds.OAuth.Config.Provider.Name + " at " + ds.OAuth.Config.Provider.Endpoint.AuthURL
	switch cfg := ds.OAuth.Config; {
	case ds.Mock != nil:
		provider = "provider: built-in RingCentral mock at " + ds.BaseURL + mockPrefix + "/"
	case len(ds.Mocks) > 0:
		provider = "providers " + strings.Join(cfg.ProviderIDs(), ", ") + ": built-in RingCentral mocks at " + ds.BaseURL + mockPrefix + "/<id>/"
	case cfg.Named():
		var ps []string
		for _, id := range cfg.ProviderIDs() {
			v, _ := ds.OAuth.ForProvider(id)
			ps = append(ps, id+" at "+v.Config.Provider.Endpoint.AuthURL)
		}
		provider = "providers " + strings.Join(ps, ", ")
	}
	store := "store: memory (gone on exit)"
	if ds.table != "" {
		store = "store: DynamoDB table " + ds.table
	}
	return fmt.Sprintf("oauthfn dev: open %s/ (console %s/_dev, browser-only app %s%s) — %s; %s; token key: %s; Ctrl-C stops",
		ds.BaseURL, ds.BaseURL, ds.BaseURL, spaPath, provider, store, ds.KeyNote)
}

// listenLoopback listens on addr, which must name a loopback host: the dev
// server speaks plain http, which the configuration and browsers' Secure
// cookies accept only on loopback.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dev: -addr %q: want host:port such as %s", addr, defaultAddr)
	}
	if !isLoopbackHost(host) {
		return nil, fmt.Errorf("dev: -addr %q: listen on 127.0.0.1, [::1] or localhost: the dev server speaks plain http and holds live tokens, and the configuration takes plain http URLs on those hosts only", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dev: listen: %w", err)
	}
	return l, nil
}

// isLoopbackHost accepts exactly the hosts whose plain-http URLs the
// configuration accepts (OAUTH_REDIRECT_URL, ALLOWED_RETURN_URLS): not the
// rest of 127.0.0.0/8, which would pass here and then fail the configuration
// with a message about URLs rather than the address.
func isLoopbackHost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// publicAddr is the address the server's URLs use: the host as given (so
// "localhost" stays localhost) with the port actually bound (for port 0).
func publicAddr(requested string, bound net.Addr) string {
	host, _, _ := net.SplitHostPort(requested)
	_, port, err := net.SplitHostPort(bound.String())
	if err != nil {
		return requested
	}
	return net.JoinHostPort(host, port)
}

// newDevServer builds the dev server for opts.Addr (already bound or about
// to be). It makes network calls only for -store dynamodb (and Secrets
// Manager ARNs in env mode).
func newDevServer(ctx context.Context, opts devOptions) (*devServer, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.LogOutput == nil {
		opts.LogOutput = io.Discard
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil || !isLoopbackHost(host) {
		return nil, fmt.Errorf("dev: address %q: want a loopback host:port", opts.Addr)
	}
	ds := &devServer{BaseURL: "http://" + opts.Addr, opts: opts}

	if len(opts.Providers) > 0 && opts.Provider != providerMock {
		return nil, fmt.Errorf("dev: -providers: only with -provider %s (with -provider %s, set OAUTH_PROVIDERS)", providerMock, providerEnv)
	}
	getenv, notes, err := devEnv(opts.Provider, opts.Providers, ds.BaseURL, opts.Getenv)
	if err != nil {
		return nil, err
	}
	ds.KeyNote, ds.AppKeyNote, ds.env = notes.tokenKey, notes.appKey, getenv
	cfg, err := oauth.LoadConfig(getenv)
	if err != nil {
		return nil, fmt.Errorf("dev: %w", err)
	}
	if cfg.NeedsDiscovery() { // as Setup does
		dctx, cancel := context.WithTimeout(ctx, oauth.DiscoveryTimeout)
		err := cfg.Discover(dctx, nil)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("dev: %w", err)
		}
	}

	ds.Logs = devlog.New(devlog.DefaultLines)
	ds.Log = slog.New(quietIdleSweep{requestIDHandler{slog.NewJSONHandler(io.MultiWriter(ds.Logs, opts.LogOutput), &slog.HandlerOptions{Level: cfg.LogLevel})}})

	store, smClient, err := ds.backends(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// Connection events as functions/events would send them (console).
	ds.Events = &eventFeed{}
	store = oauth.WatchStore(store, opts.Now, ds.onStoreChange)
	secrets, err := oauth.SecretsFromConfig(cfg, smClient)
	if err != nil {
		return nil, fmt.Errorf("dev: %w", err)
	}
	h := oauth.NewHandler(cfg, store, secrets)
	h.Log = ds.Log
	if m, ok := secrets.(*oauth.SecretsManager); ok {
		m.Log = ds.Log
	}
	h.Metrics = devMetrics(cfg.LogLevel, opts.LogOutput) // see devsweep.go
	h.Now = opts.Now
	ds.OAuth = h

	mux := http.NewServeMux()
	// The same handlers as functions/authorize and functions/callback.
	mux.Handle("GET /authorize", apigw.Handler(h.Authorize))
	mux.Handle("GET /callback", apigw.Handler(h.Callback))
	// Several providers: /authorize/{provider} and /callback/{provider},
	// the provider id in pathParameters as API Gateway passes it.
	mux.Handle("GET /authorize/{provider}", providerRoute("GET /authorize/{provider}", h.Authorize))
	mux.Handle("GET /callback/{provider}", providerRoute("GET /callback/{provider}", h.Callback))
	// POST /confirm: the app's backend confirms or rejects a pending
	// connection (functions/callback serves both routes).
	mux.Handle("POST /confirm", apigw.Handler(h.CallbackRoutes))
	// The demo app, and the demo single-page app (the BFF's client).
	ds.App = newDemoApp()
	ds.registerDemoApp(mux)
	ds.registerSPA(mux)
	// The console (dev server only).
	ds.Console = newDevConsole(ds, devActions(ds))
	ds.Console.register(mux)
	switch {
	case opts.Provider == providerMock && len(opts.Providers) > 0:
		ds.Mocks = map[string]*mockrc.Server{}
		for _, id := range opts.Providers {
			v, _ := h.ForProvider(id)
			clientID, secret := mockClient(id)
			m := mockrc.New(mockrc.Options{
				ClientID: clientID, ClientSecret: secret,
				RedirectURIs: []string{v.Config.RedirectURL},
				Now:          opts.Now,
			})
			ds.Mocks[id] = m
			prefix := mockPrefix + "/" + id
			mux.Handle(prefix+"/", http.StripPrefix(prefix, m))
		}
	case opts.Provider == providerMock:
		ds.Mock = mockrc.New(mockrc.Options{
			RedirectURIs: []string{cfg.RedirectURL},
			Now:          opts.Now,
			JWTFlow:      true, // `oauthfn credential add` with a credential from /mock/restapi/mock/jwt
		})
		mux.Handle(mockPrefix+"/", http.StripPrefix(mockPrefix, ds.Mock))
	}
	// /bff/*: the same handler as functions/bff, ahead of the mux (see
	// bffFirst).
	bff := bffHandler(h.BFFRoutes)
	ds.Handler = ds.canonicalHost(ds.accessLog(bffFirst(bff, ds.notFoundPage(mux))))
	ds.Log.Info("dev server ready", "url", ds.BaseURL+"/", "provider", opts.Provider, "providers", cfg.ProviderIDs(), "store", opts.Store)
	return ds, nil
}

// providerRoute serves a route with the provider id in the path through
// fn, as API Gateway calls the Lambda for it: routeKey is the route's, and
// pathParameters carries "provider" (decoded, as API Gateway decodes it).
func providerRoute(routeKey string, fn apigw.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveRoute(w, r, routeKey, map[string]string{"provider": r.PathValue("provider")}, fn)
	})
}

// serveRoute serves r through fn as API Gateway calls the Lambda for the
// route routeKey: the event carries routeKey and the path parameters.
func serveRoute(w http.ResponseWriter, r *http.Request, routeKey string, params map[string]string, fn apigw.HandlerFunc) {
	apigw.Handler(func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		ev.RouteKey, ev.RequestContext.RouteKey, ev.PathParameters = routeKey, routeKey, params
		return fn(ctx, ev)
	}).ServeHTTP(w, r)
}

// mocked reports whether the providers are the built-in mocks.
func (ds *devServer) mocked() bool { return ds.Mock != nil || len(ds.Mocks) > 0 }

// devActions lists the console's POST buttons (see consoleAction).
func devActions(ds *devServer) []consoleAction {
	return []consoleAction{{
		Name:  "sweep",
		Label: "Run sweep now",
		Help:  "refreshes every due connection, as the scheduled refresh function does",
		Run: func(ctx context.Context) (string, error) {
			s, err := ds.sweep(ctx)
			if err != nil {
				return "", err
			}
			b, _ := json.Marshal(s)
			return "Sweep summary: " + string(b), nil
		},
	}}
}

// devSweepTimeout bounds one dev sweep, like the refresh function's timeout.
const devSweepTimeout = 5 * time.Minute

// sweep runs one sweep over every shard, as the refresh function does.
func (ds *devServer) sweep(ctx context.Context) (oauth.SweepSummary, error) {
	ctx, cancel := context.WithTimeout(ctx, devSweepTimeout)
	defer cancel()
	return ds.OAuth.Sweep(ctx, oauth.SweepInput{})
}

// sweepEvery runs a sweep every interval until ctx ends.
func (ds *devServer) sweepEvery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := ds.sweep(ctx); err != nil {
				ds.Log.Error("dev sweep failed", "err", err)
			}
		}
	}
}
