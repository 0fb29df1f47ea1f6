package eventbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
	"github.com/oauthfn/oauthfn/pkg/oauth/connevent"
	"github.com/oauthfn/oauthfn/pkg/oauth/eventbus"
)

// streamRig is the real table on moto (with its stream), a Handler on it
// with the RingCentral-shaped mock provider, and the events handler
// pointed at a recording EventBridge endpoint through the SDK's client.
type streamRig struct {
	h      *oauth.Handler
	rc     *mockrc.Server
	rcURL  string
	ddb    *dynamodb.Client
	st     *dynamodbstreams.Client
	table  string
	eb     *testenv.EventBridge
	events *eventbus.Handler
	logs   *testenv.Buffer

	mu  sync.Mutex
	now time.Time
}

func (r *streamRig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *streamRig) advance(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now = r.now.Add(d)
}

func newStreamRig(t *testing.T) *streamRig {
	t.Helper()
	testenv.MotoSerial(t)
	ctx := testenv.Context(t)
	r := &streamRig{logs: &testenv.Buffer{}, now: time.Now().Truncate(time.Second)}
	r.rc = mockrc.New(mockrc.Options{Now: r.clock})
	srv := httptest.NewServer(r.rc)
	t.Cleanup(srv.Close)
	r.rcURL = srv.URL
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r.ddb = dynamodb.NewFromConfig(awsCfg)
	r.st = dynamodbstreams.NewFromConfig(awsCfg)
	r.table = testenv.Name(t, "oauthfn-stream")
	if err := oauth.CreateTable(ctx, r.ddb, r.table); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"OAUTH_PROVIDER":      "ringcentral",
		"OAUTH_SERVER_URL":    r.rcURL,
		"OAUTH_CLIENT_ID":     mockrc.DefaultClientID,
		"OAUTH_CLIENT_SECRET": mockrc.DefaultClientSecret,
		"OAUTH_TOKEN_KEY":     strings.Repeat("k", 40),
		"OAUTH_APP_KEY":       appKey,
		"OAUTH_REDIRECT_URL":  "http://127.0.0.1/callback",
		"TABLE_NAME":          r.table,
		"TOKEN_RATE_PER_MIN":  "0",
		"ALLOWED_RETURN_URLS": "https://app.example/done",
	}
	cfg, err := oauth.LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := oauth.NewStaticSecrets(cfg.ClientSecret, cfg.TokenKey, cfg.AppKey)
	if err != nil {
		t.Fatal(err)
	}
	r.h = oauth.NewHandler(cfg, oauth.NewDynamoStore(r.ddb, r.table), secrets)
	r.h.Now = r.clock
	r.h.Sleep = func(ctx context.Context, d time.Duration) error { r.advance(d); return ctx.Err() }
	r.h.Log = slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	r.eb = testenv.StartEventBridge(t)
	eb := eventbridge.NewFromConfig(awsCfg, func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(r.eb.URL) })
	r.events = eventbus.New(eb, eventbus.Config{BusName: "oauthfn-events"}, slog.New(slog.NewJSONHandler(r.logs, nil)))
	r.events.Sleep = func(context.Context, time.Duration) error { return nil }
	return r
}

func apiRequest(path, rawQuery string, cookies ...string) events.APIGatewayV2HTTPRequest {
	return events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "GET " + path, RawPath: path, RawQueryString: rawQuery, Cookies: cookies,
		Headers: map[string]string{"accept": "text/html"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{DomainName: "auth.example", Stage: "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET", Path: path}},
	}
}

// appKey is the app key the app's backend signs connect tokens with.
var appKey = strings.Repeat("a", 48)

// connect runs the flow for account on behalf of the app's user: a connect
// token, /authorize, the provider's consent (mockrc's form), /callback.
func (r *streamRig) connect(t *testing.T, account, user string) {
	t.Helper()
	if status := r.connectAs(t, account, user, user); status != http.StatusOK {
		t.Fatalf("confirm: got %d, want 200", status)
	}
}

// connectAs runs the flow with a connect link minted for user, finished
// with the provider account account, and confirmed by the app as signedIn
// (the app's user signed in where the result came back). It returns the
// confirm answer's status.
func (r *streamRig) connectAs(t *testing.T, account, user, signedIn string) int {
	t.Helper()
	ctx := testenv.Context(t)
	keys := connect.Keys{Current: appKey, Now: r.clock}
	tok, err := keys.Token(user, connect.Options{ReturnTo: "https://app.example/done"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := r.h.Authorize(ctx, apiRequest("/authorize", "connect="+url.QueryEscape(tok)))
	if err != nil || resp.StatusCode != http.StatusFound || len(resp.Cookies) != 1 {
		t.Fatalf("authorize: got %d %v, want 302 with a cookie", resp.StatusCode, err)
	}
	cookie, err := http.ParseSetCookie(resp.Cookies[0])
	if err != nil {
		t.Fatal(err)
	}
	loc, err := url.Parse(resp.Headers["Location"])
	if err != nil {
		t.Fatal(err)
	}
	form := loc.Query()
	form.Set("account", account)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	dec, err := client.PostForm(r.rcURL+mockrc.DecidePath, form)
	if err != nil {
		t.Fatal(err)
	}
	dec.Body.Close()
	back, err := url.Parse(dec.Header.Get("Location"))
	if err != nil || back.Query().Get("code") == "" {
		t.Fatalf("mockrc decide: got %d %q, want a redirect with a code", dec.StatusCode, dec.Header.Get("Location"))
	}
	cb, err := r.h.Callback(ctx, apiRequest("/callback", back.RawQuery, cookie.Name+"="+cookie.Value))
	if err != nil || cb.StatusCode != http.StatusFound {
		t.Fatalf("callback: got %d %v; body %.300s", cb.StatusCode, err, cb.Body)
	}
	ret, err := url.Parse(cb.Headers["Location"])
	if err != nil {
		t.Fatal(err)
	}
	res, err := keys.VerifyResult(ret.Query().Get("result"))
	if err != nil || res.Status != connect.StatusPending {
		t.Fatalf("result: %+v, %v; want pending", res, err)
	}
	ctok, err := keys.ConfirmToken(res.ID, signedIn, connect.DecisionAccept)
	if err != nil {
		t.Fatal(err)
	}
	req := apiRequest("/confirm", "")
	req.RequestContext.HTTP.Method, req.Body = http.MethodPost, `{"confirm":"`+ctok+`"}`
	answer, err := r.h.CallbackRoutes(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return answer.StatusCode
}

// records reads every record of the table's stream (testenv.StreamRecords).
func (r *streamRig) records(t *testing.T) []events.DynamoDBEventRecord {
	t.Helper()
	return testenv.StreamRecords(t, r.ddb, r.st, r.table)
}

func details(t *testing.T, es []testenv.PutEventsEntry) ([]string, []connevent.Detail) {
	t.Helper()
	var types []string
	var ds []connevent.Detail
	for _, e := range es {
		var d connevent.Detail
		dec := json.NewDecoder(strings.NewReader(e.Detail))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("detail %s: %v", e.Detail, err)
		}
		types = append(types, e.DetailType)
		ds = append(ds, d)
	}
	return types, ds
}

// TestStreamToEventBridge runs the flow, a refresh, a dead refresh token,
// a re-authorization, failing refreshes and a disconnect on the real table,
// reads the stream's records with the SDK, feeds them to the events
// handler, and checks what reached EventBridge. Then a delivery where
// EventBridge keeps refusing one entry: reported, and the redelivery
// completes the set with the same event ids.
func TestStreamToEventBridge(t *testing.T) {
	r := newStreamRig(t)
	ctx := testenv.Context(t)
	const account = "1001"

	r.connect(t, account, "user-7")
	r.advance(59 * time.Minute) // the access token is about to expire
	if _, err := r.h.TokenSource(ctx, account).Token(); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	r.advance(59 * time.Minute)
	r.rc.Script(mockrc.TokenPath, mockrc.Fault{Status: 400, Body: `{"error":"invalid_grant","error_description":"Token is revoked"}`})
	if _, err := r.h.TokenSource(ctx, account).Token(); !errors.Is(err, oauth.ErrReauthRequired) {
		t.Fatalf("dead refresh token: got %v, want ErrReauthRequired", err)
	}
	r.connect(t, account, "user-8") // another of the app's users connects the account
	// user-9's link, forwarded to user-8, finished with user-8's account:
	// the app's user signed in there is user-8, so it is rejected.
	if status := r.connectAs(t, account, "user-9", "user-8"); status != http.StatusConflict {
		t.Fatalf("forwarded link confirmed as another user: got %d, want 409", status)
	}
	r.advance(59 * time.Minute)
	r.rc.Script(mockrc.TokenPath, mockrc.Fault{Status: 503}, mockrc.Fault{Status: 503}, mockrc.Fault{Status: 503})
	for i := range 3 {
		if _, err := r.h.TokenSource(ctx, account).Token(); err == nil {
			t.Fatalf("failing refresh %d: got a token", i+1)
		}
	}
	if err := r.h.Disconnect(ctx, account); err != nil {
		t.Fatalf("disconnect: %v", err)
	}

	recs := r.records(t)
	if len(recs) < 8 {
		t.Fatalf("stream records: got %d, want the pending, connection and lease changes", len(recs))
	}
	resp, err := r.events.HandleStream(ctx, events.DynamoDBEvent{Records: recs})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("HandleStream: got %+v, %v; want no failures", resp, err)
	}
	gotTypes, ds := details(t, r.eb.Accepted())
	wantTypes := []string{connevent.Connected, connevent.ReauthRequired, connevent.Connected, connevent.Rejected, connevent.RefreshFailing, connevent.Disconnected}
	if !slices.Equal(gotTypes, wantTypes) {
		t.Fatalf("events: got %q\nwant %q", gotTypes, wantTypes)
	}
	wantReason := []string{"new", "invalid_grant", "reauthorized", oauth.ReasonUserMismatch, "provider_unavailable", "disconnect"}
	wantStatus := []string{oauth.StatusActive, oauth.StatusReauthRequired, oauth.StatusActive, connevent.StatusRejected, oauth.StatusActive, connevent.StatusDisconnected}
	wantUser := []string{"user-7", "user-7", "user-8", "user-9", "user-8", "user-8"}
	wantPrev := []string{"", "", "user-7", "", "", ""}
	ids := map[string]bool{}
	for i, d := range ds {
		if d.Provider != oauth.PresetRingCentral || d.AccountID != account || d.Reason != wantReason[i] || d.Status != wantStatus[i] {
			t.Errorf("event %d (%s): got %+v, want ringcentral/%s, status %s, reason %s", i, gotTypes[i], d, account, wantStatus[i], wantReason[i])
		}
		if _, err := time.Parse(time.RFC3339, d.At); err != nil || len(d.EventID) != 32 || ids[d.EventID] {
			t.Errorf("event %d: at %q, event_id %q: want RFC 3339 and a unique 32-character id", i, d.At, d.EventID)
		}
		ids[d.EventID] = true
		if d.EndUser != wantUser[i] || d.PreviousEndUser != wantPrev[i] {
			t.Errorf("event %d (%s): end_user %q, previous %q; want %q, %q", i, gotTypes[i], d.EndUser, d.PreviousEndUser, wantUser[i], wantPrev[i])
		}
	}
	for _, e := range r.eb.Accepted() {
		if e.Source != connevent.Source || e.EventBusName != "oauthfn-events" {
			t.Errorf("entry: source %q on %q, want %s on oauthfn-events", e.Source, e.EventBusName, connevent.Source)
		}
	}

	t.Run("refused entry: reported, then redelivered", func(t *testing.T) {
		eb := testenv.StartEventBridge(t)
		r.events.Client = eventbridge.New(eventbridge.Options{Region: "us-east-1", BaseEndpoint: aws.String(eb.URL),
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}, nil
			})})
		eb.Refuse(func(_ int, e testenv.PutEventsEntry) string {
			if e.DetailType == connevent.RefreshFailing {
				return "InternalFailure"
			}
			return ""
		})
		resp, err := r.events.HandleStream(ctx, events.DynamoDBEvent{Records: recs})
		if err != nil || len(resp.BatchItemFailures) != 1 {
			t.Fatalf("HandleStream: got %+v, %v; want one batch item failure", resp, err)
		}
		from := slices.IndexFunc(recs, func(rec events.DynamoDBEventRecord) bool {
			return rec.Change.SequenceNumber == resp.BatchItemFailures[0].ItemIdentifier
		})
		if from < 0 {
			t.Fatalf("reported %q: not a sequence number of the batch", resp.BatchItemFailures[0].ItemIdentifier)
		}
		if ev, _ := connevent.Transition(recs[from]); ev == nil || ev.DetailType != connevent.RefreshFailing {
			t.Errorf("reported record %d: want the one whose event was refused", from)
		}
		// Lambda delivers again from the reported record.
		eb.Refuse(nil)
		resp, err = r.events.HandleStream(ctx, events.DynamoDBEvent{Records: recs[from:]})
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("redelivery: got %+v, %v; want no failures", resp, err)
		}
		seen := map[string]string{}
		for _, e := range r.eb.Accepted() {
			_, d := details(t, []testenv.PutEventsEntry{e})
			seen[d[0].EventID] = e.DetailType
		}
		got := map[string]string{}
		for _, e := range eb.Accepted() {
			_, d := details(t, []testenv.PutEventsEntry{e})
			got[d[0].EventID] = e.DetailType
		}
		// Every event of the first run arrived, none with a new id
		// (duplicates share theirs, so the app can drop them).
		for id, typ := range seen {
			if got[id] != typ {
				t.Errorf("event %s (%s): not delivered with the same id", id, typ)
			}
		}
		for id := range got {
			if _, ok := seen[id]; !ok {
				t.Errorf("event id %s: new on redelivery", id)
			}
		}
	})

	for _, s := range []string{"mockrc_at_", "mockrc_rt_", "mockrc_code_"} {
		if strings.Contains(r.logs.String(), s) {
			t.Errorf("logs hold a token or sealed value (%s…)", s)
		}
	}
}
