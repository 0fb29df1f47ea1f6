package lambdatest_test

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// TestCredentialUnderEmulator: a connection made from a JWT credential
// (oauth.Handler.AddCredential with the functions' own configuration, on
// moto) whose access and refresh tokens have both died: two token-function
// invocations (boto3, two emulators) and a sweep (the refresh function) at
// once make exactly one grant with the credential, and both invocations
// get its token. No log holds the credential.
func TestCredentialUnderEmulator(t *testing.T) {
	r := newRig(t)
	r.rc.EnableJWT(true)
	r.build(t, "token", "refresh")
	keepalive := map[string]string{"REFRESH_MODE": "keepalive", "TOKEN_RATE_PER_MIN": "0"}

	// The operator's `oauthfn credential add`, configured as the functions are.
	env := r.env(t, "token", "TokenFunction", keepalive)
	ctx := testenv.Context(t)
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h, err := oauth.Setup(ctx, func(k string) string { return env[k] }, awsCfg)
	if err != nil {
		t.Fatal(err)
	}
	jwt := r.rc.IssueJWT("1001", 0)
	r.secrets = append(r.secrets, jwt)
	info, err := h.AddCredential(ctx, oauth.CredentialInput{Source: oauth.SourceJWTBearer, Credential: jwt})
	if err != nil || info.AccountID != "1001" {
		t.Fatalf("AddCredential: %+v, %v", info, err)
	}
	item := r.item(t, "1001")
	if attrString(item["source"]) != oauth.SourceJWTBearer || attrString(item["credential"]) == "" || strings.Contains(attrString(item["credential"]), jwt) {
		t.Fatalf("stored item: source %q, credential sealed: %v", attrString(item["source"]), !strings.Contains(attrString(item["credential"]), jwt))
	}

	// Both tokens dead, the connection due: what a week without sweeps leaves.
	past := &types.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)}
	if _, err := r.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(r.table),
		Key: map[string]types.AttributeValue{
			oauth.AttrPK: &types.AttributeValueMemberS{Value: oauth.ConnectionKey("ringcentral", "1001")},
			oauth.AttrSK: &types.AttributeValueMemberS{Value: "token"},
		},
		UpdateExpression:          aws.String("SET access_expires_at = :p, refresh_expires_at = :p, refresh_at = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": past},
	}); err != nil {
		t.Fatal(err)
	}

	r.startAs(t, "token-a", "token", "TokenFunction", keepalive)
	r.startAs(t, "token-b", "token", "TokenFunction", keepalive)
	r.startAs(t, "refresh", "refresh", "RefreshFunction", keepalive)
	calls := r.rc.Calls(mockrc.TokenPath)
	var wg sync.WaitGroup
	var sweep []byte
	var sweepErr error
	wg.Go(func() {
		sweep, sweepErr = r.emulators["refresh"].Invoke(testenv.Context(t), readFile(t, filepath.Join(r.root, "events", "refresh.json")))
	})
	lines := r.python(t, "concurrent", r.emulators["token-a"].URL, r.emulators["token-b"].URL, "1001")
	wg.Wait()
	if sweepErr != nil {
		t.Fatalf("sweep: %v", sweepErr)
	}
	var answers []map[string]any
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &answers) != nil || len(answers) != 2 {
		t.Fatalf("python: got %q, want two answers", lines)
	}
	if granted, refused := r.rc.JWTGrants(); granted != 2 || refused != 0 {
		t.Errorf("jwt-bearer grants: %d granted, %d refused; want 2 (the add and one more), 0; sweep %s", granted, refused, sweep)
	}
	if got := r.rc.Calls(mockrc.TokenPath) - calls; got != 1 {
		t.Errorf("token endpoint calls: %d, want 1 grant; sweep %s", got, sweep)
	}
	a, b := answers[0]["access_token"], answers[1]["access_token"]
	if a == nil || a != b {
		t.Errorf("the two invokes got different tokens (or none): %.20v / %.20v", a, b)
	}
	// (The add's session is still live at the mock: only the stored
	// expiries were moved. Two sessions, not three.)
	if r.status(t, "1001") != oauth.StatusActive || r.rc.Sessions("1001") != 2 {
		t.Errorf("after the grant: status %s, %d live sessions; want active, 2", r.status(t, "1001"), r.rc.Sessions("1001"))
	}
	for name, e := range r.emulators {
		for _, log := range []string{e.Stdout(), e.Stderr()} {
			if strings.Contains(log, jwt) || strings.Contains(log, jwt[strings.LastIndex(jwt, ".")+1:]) {
				t.Errorf("the credential appears in the %s function's log", name)
			}
		}
	}
}
