package lambdatest_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
	"github.com/oauthfn/oauthfn/pkg/oauth/connevent"
)

// TestAppSideUnderEmulator: the token and events functions' real bootstraps
// under aws-lambda-rie. Three accounts connect through the authorize and
// callback functions; a Python client (boto3 lambda.invoke through
// examples/python) gets tokens from two token-function emulators at once
// while the refresh function sweeps, then the expected failures; the
// events function turns the run's stream into EventBridge events; no log
// of any of them holds a token or secret.
func TestAppSideUnderEmulator(t *testing.T) {
	r := newRig(t)
	r.build(t, "authorize", "callback", "token", "refresh", "events")
	// keepalive: a new connection is not due for the sweep, so the sweep
	// refreshes only what the test makes due.
	keepalive := map[string]string{"REFRESH_MODE": "keepalive", "TOKEN_RATE_PER_MIN": "0"}
	r.startAs(t, "authorize", "authorize", "AuthorizeFunction", keepalive)
	r.startAs(t, "callback", "callback", "CallbackFunction", keepalive)
	for _, a := range []string{"1001", "1002", "1003"} {
		r.connectAs(t, a)
	}
	r.startAs(t, "token-a", "token", "TokenFunction", keepalive)
	r.startAs(t, "token-b", "token", "TokenFunction", keepalive)
	r.startAs(t, "refresh", "refresh", "RefreshFunction", keepalive)

	t.Run("two invokes and a sweep at once refresh once", func(t *testing.T) {
		before := r.version(t, "1001")
		r.expire(t, "1001")
		calls := r.rc.Calls(mockrc.TokenPath)
		var wg sync.WaitGroup
		var sweep []byte
		var sweepErr error
		wg.Add(1)
		go func() {
			defer wg.Done()
			sweep, sweepErr = r.emulators["refresh"].Invoke(testenv.Context(t), readFile(t, filepath.Join(r.root, "events", "refresh.json")))
		}()
		lines := r.python(t, "concurrent", r.emulators["token-a"].URL, r.emulators["token-b"].URL, "1001")
		wg.Wait()
		if sweepErr != nil {
			t.Fatalf("sweep: %v", sweepErr)
		}
		var answers []map[string]any
		if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &answers) != nil || len(answers) != 2 {
			t.Fatalf("python: got %q, want two answers", lines)
		}
		if got := r.rc.Calls(mockrc.TokenPath) - calls; got != 1 {
			t.Errorf("token endpoint calls: got %d, want 1 (one refresh for two invokes and a sweep); sweep %s", got, sweep)
		}
		if got := r.version(t, "1001"); got != before+1 {
			t.Errorf("version: got %d, want %d", got, before+1)
		}
		a, b := answers[0]["access_token"], answers[1]["access_token"]
		if a == nil || a != b {
			t.Errorf("the two invokes got different tokens (or none): %.20v / %.20v", a, b)
		}
	})

	t.Run("python: token, not_found, reauth_required, rate_limited, invalid_request", func(t *testing.T) {
		invalidGrant := mockrc.Fault{Status: 400, Body: `{"error":"invalid_grant","error_description":"Token is revoked"}`}
		r.expire(t, "1002")
		r.expire(t, "1003")
		r.rc.Script(mockrc.TokenPath, invalidGrant, mockrc.RateLimited("120"))
		calls := r.rc.Calls(mockrc.TokenPath)
		reqs := `[{"account_id":"1001"},{"account_id":"404"},{"account_id":"1002"},{"account_id":"1003"},{"account_id":"1001","end_user":"u"},{"acct":"1001"},{"end_user":"` + endUser + `"}]`
		lines := r.python(t, "cases", r.emulators["token-a"].URL, r.rcURL+mockrc.ExtensionPath, reqs)
		if len(lines) != 7 {
			t.Fatalf("python: got %d lines, want 7:\n%s", len(lines), strings.Join(lines, "\n"))
		}
		var got []pyResult
		for _, l := range lines {
			var one pyResult
			if err := json.Unmarshal([]byte(l), &one); err != nil {
				t.Fatalf("python line %q: %v", l, err)
			}
			got = append(got, one)
		}
		tok := got[0]
		if tok.Error != "" || tok.Answer["account_id"] != "1001" || tok.Answer["end_user"] != endUser || tok.Answer["token_type"] != "Bearer" || tok.APIStatus != 200 {
			t.Errorf("1001: got %+v (API %d), want a token the provider's API accepts", tok.Error, tok.APIStatus)
		}
		if _, err := time.Parse(time.RFC3339, str(tok.Answer["expires_at"])); err != nil {
			t.Errorf("1001: expires_at %v: want RFC 3339", tok.Answer["expires_at"])
		}
		want := []struct{ code, class string }{
			{}, {oauth.TokenNotFound, "NotConnected"}, {oauth.TokenReauthRequired, "ReauthRequired"},
			{oauth.TokenRateLimited, "TryLater"}, {oauth.TokenInvalidRequest, "InvalidRequest"}, {oauth.TokenInvalidRequest, "InvalidRequest"},
		}
		// The end user's connections (the user-index), without tokens.
		var conns []string
		for _, c := range got[6].Answer["connections"].([]any) {
			m := c.(map[string]any)
			conns = append(conns, str(m["account_id"])+"/"+str(m["status"]))
			if _, leak := m["access_token"]; leak {
				t.Error("a connection of the end_user answer holds an access token")
			}
		}
		slices.Sort(conns)
		if want := []string{"1001/active", "1002/reauth_required", "1003/active"}; !slices.Equal(conns, want) { // 1002: refused above
			t.Errorf("end_user %s: got %v, want %v", endUser, conns, want)
		}
		for i := 1; i < len(want); i++ {
			if got[i].Error != want[i].code || got[i].Class != want[i].class {
				t.Errorf("case %d: got %s (%s), want %s (%s)", i, got[i].Error, got[i].Class, want[i].code, want[i].class)
			}
		}
		if ra := got[3].RetryAfter; ra == nil || *ra < 100 || *ra > 120 {
			t.Errorf("rate_limited retry_after_s: got %v, want about 120 (the provider's Retry-After)", ra)
		}
		if got := r.rc.Calls(mockrc.TokenPath) - calls; got != 2 {
			t.Errorf("token endpoint calls: got %d, want 2 (1002's refused refresh, 1003's 429)", got)
		}
		if st := r.status(t, "1002"); st != oauth.StatusReauthRequired {
			t.Errorf("1002 status: got %s, want reauth_required", st)
		}
	})

	t.Run("node: token and reauth_required", func(t *testing.T) {
		for _, tc := range []struct{ req, want string }{
			{`{"account_id":"1001"}`, `"token_type":"Bearer"`},
			{`{"account_id":"1002"}`, `{"error":"reauth_required","retry_after_s":null}`},
			{`{"account_id":"404"}`, `{"error":"not_found","retry_after_s":null}`},
		} {
			out := r.node(t, r.emulators["token-b"].URL, tc.req)
			if !strings.Contains(out, tc.want) {
				t.Errorf("node get-token.mjs %s: got %.80s…, want %s", tc.req, out, tc.want)
			}
		}
	})

	t.Run("events function: the run's stream reaches EventBridge", func(t *testing.T) {
		eb := testenv.StartEventBridge(t)
		r.startAs(t, "events", "events", "EventsFunction", map[string]string{
			"AWS_ENDPOINT_URL_EVENTBRIDGE": eb.URL, "EVENT_BUS_NAME": "oauthfn-events"})
		cfg, err := config.LoadDefaultConfig(testenv.Context(t))
		if err != nil {
			t.Fatal(err)
		}
		recs := testenv.StreamRecords(t, r.db, dynamodbstreams.NewFromConfig(cfg), r.table)
		payload, err := json.Marshal(events.DynamoDBEvent{Records: recs})
		if err != nil {
			t.Fatal(err)
		}
		out, err := r.emulators["events"].Invoke(testenv.Context(t), payload)
		if err != nil {
			t.Fatalf("invoke events: %v", err)
		}
		var resp events.DynamoDBEventResponse
		if err := json.Unmarshal(out, &resp); err != nil || len(resp.BatchItemFailures) != 0 || !bytes.Contains(out, []byte(`"batchItemFailures":[]`)) {
			t.Fatalf("events answer %s: want {\"batchItemFailures\":[]}", out)
		}
		var got []string
		for _, e := range eb.Accepted() {
			var d connevent.Detail
			if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
				t.Fatal(err)
			}
			if e.Source != connevent.Source || e.EventBusName != "oauthfn-events" {
				t.Errorf("event %s: source %s on %s", e.DetailType, e.Source, e.EventBusName)
			}
			got = append(got, e.DetailType+" "+d.AccountID)
			if d.EndUser != endUser {
				t.Errorf("event %s %s: end_user %q, want %q", e.DetailType, d.AccountID, d.EndUser, endUser)
			}
		}
		want := []string{connevent.Connected + " 1001", connevent.Connected + " 1002", connevent.Connected + " 1003", connevent.ReauthRequired + " 1002"}
		if !slices.Equal(got, want) {
			t.Errorf("events: got %q\nwant %q", got, want)
		}
	})

	t.Run("logs", r.checkLogs)
}

// pyResult is one line of token_client.py's cases mode.
type pyResult struct {
	Answer     map[string]any `json:"answer"`
	APIStatus  int            `json:"api_status"`
	Error      string         `json:"error"`
	Class      string         `json:"class"`
	RetryAfter *float64       `json:"retry_after_s"`
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// connectAs runs the flow for a demo account through the authorize and
// callback functions.
func (r *rig) connectAs(t *testing.T, acct string) {
	t.Helper()
	resp, state, cookie := r.authorize(t)
	back := r.loginRedirectAs(t, resp.Headers["Location"], acct, false)
	q := back.Query()
	if q.Get("code") == "" || q.Get("state") != state {
		t.Fatalf("mockrc redirect %s: want a code and the state", back)
	}
	r.secrets = append(r.secrets, q.Get("code"))
	ev := fixture(t, r.root, "callback.json", url.Values{"code": {q.Get("code")}, "state": {state}}, cookie)
	out := r.invokeHTTP(t, "callback", ev)
	if out.StatusCode != 302 {
		t.Fatalf("callback for %s: got %d, want 302; body %.300s", acct, out.StatusCode, out.Body)
	}
	res, err := connect.VerifyResult(r.appKey, mustURL(t, out.Headers["Location"]).Query().Get("result"))
	if err != nil || res.Status != connect.StatusPending {
		t.Fatalf("callback result for %s: %+v, %v; want pending", acct, res, err)
	}
	if ans := r.invokeHTTP(t, "callback", r.confirmEvent(t, res.ID, res.User, connect.DecisionAccept)); ans.StatusCode != 200 {
		t.Fatalf("confirm for %s: got %d %s, want 200", acct, ans.StatusCode, ans.Body)
	}
}

// item reads the stored connection of the ringcentral account acct.
func (r *rig) item(t *testing.T, acct string) map[string]types.AttributeValue {
	t.Helper()
	return r.providerItem(t, "ringcentral", acct)
}

func (r *rig) version(t *testing.T, acct string) int {
	t.Helper()
	n, err := strconv.Atoi(attrString(r.item(t, acct)["version"]))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (r *rig) status(t *testing.T, acct string) string {
	t.Helper()
	return attrString(r.item(t, acct)["status"])
}

// expire makes acct's access token expired and the connection due for the
// sweep, as time passing would.
func (r *rig) expire(t *testing.T, acct string) {
	t.Helper()
	past := strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)
	_, err := r.db.UpdateItem(testenv.Context(t), &dynamodb.UpdateItemInput{
		TableName: aws.String(r.table),
		Key: map[string]types.AttributeValue{
			oauth.AttrPK: &types.AttributeValueMemberS{Value: oauth.ConnectionKey("ringcentral", acct)},
			oauth.AttrSK: &types.AttributeValueMemberS{Value: "token"},
		},
		UpdateExpression:          aws.String("SET access_expires_at = :p, refresh_at = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberN{Value: past}},
	})
	if err != nil {
		t.Fatalf("expire %s: %v", acct, err)
	}
}

// node runs examples/node/get-token.mjs (@aws-sdk/client-lambda, installed
// by scripts/test.sh) against the emulator at url and returns its output.
func (r *rig) node(t *testing.T, url, req string) string {
	t.Helper()
	dir := filepath.Join(r.root, "examples", "node")
	cmd := exec.CommandContext(testenv.Context(t), "node", "get-token.mjs", "function", req)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL_LAMBDA="+url, "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
		"AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", "HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node get-token.mjs: %v\n%s\n%s (scripts/test.sh installs examples/node's packages)", err, out, stderr.String())
	}
	return string(out)
}

// python runs internal/lambdatest/testdata/token_client.py (boto3 through
// examples/python/oauthfn_token.py) and returns its output lines.
func (r *rig) python(t *testing.T, args ...string) []string {
	t.Helper()
	script := filepath.Join(r.root, "internal", "lambdatest", "testdata", "token_client.py")
	cmd := exec.CommandContext(testenv.Context(t), "python3", append([]string{script}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3 token_client.py %s: %v\n%s\n%s", args[0], err, out, stderr.String())
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}
