package oauth

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/oauthfn/oauthfn/internal/awsenv"
	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// countingAPI counts the DynamoDB calls made through it, by operation.
type countingAPI struct {
	DynamoAPI
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingAPI) count(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[op]++
}

func (c *countingAPI) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.calls))
	for k, v := range c.calls {
		out[k] = v
	}
	clear(c.calls)
	return out
}

func (c *countingAPI) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.count("GetItem")
	return c.DynamoAPI.GetItem(ctx, in, o...)
}

func (c *countingAPI) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.count("PutItem")
	return c.DynamoAPI.PutItem(ctx, in, o...)
}

func (c *countingAPI) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.count("UpdateItem")
	return c.DynamoAPI.UpdateItem(ctx, in, o...)
}

func (c *countingAPI) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.count("DeleteItem")
	return c.DynamoAPI.DeleteItem(ctx, in, o...)
}

func (c *countingAPI) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.count("Query")
	return c.DynamoAPI.Query(ctx, in, o...)
}

func (c *countingAPI) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	c.count("Scan")
	return c.DynamoAPI.Scan(ctx, in, o...)
}

// TestCallbackWarmCalls: the callback's happy path costs two DynamoDB calls
// (the conditional UpdateItem that consumes the pending authorization, the
// PutItem of the connection), one token call, and, warm, no Secrets Manager call. The
// store is the DynamoDB store on moto and the secrets come from Secrets
// Manager on moto, with the clients built as the functions build theirs
// (internal/awsenv).
func TestCallbackWarmCalls(t *testing.T) {
	testenv.MotoSerial(t)
	awsCfg, err := awsenv.Load(os.Getenv, dynamodb.ServiceID)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testenv.Context(t)
	client := dynamodb.NewFromConfig(awsCfg)
	table := testenv.Name(t, "oauthfn-calls")
	if err := CreateTable(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	db := &countingAPI{DynamoAPI: client, calls: map[string]int{}}
	sm := smClient(t)
	secrets := &countingSM{SecretsManagerAPI: sm}
	clientARN := createSecret(t, sm, "client-secret", testClientSecret)
	keyARN := createSecret(t, sm, "token-key", testKeyA.Reveal())
	appKeyARN := createSecret(t, sm, "app-key", testAppKey)

	prov := newFakeProvider(t)
	cfg, err := LoadConfig(env(with(baseEnv(), "OAUTH_PROVIDER", "generic", "OAUTH_AUTH_URL", "https://idp.example/authorize",
		"OAUTH_TOKEN_URL", prov.srv.URL+"/token", "OAUTH_REVOKE_URL", prov.srv.URL+"/revoke", "OAUTH_ACCOUNT_FIELD", "owner_id",
		"OAUTH_CLIENT_ID", testClientID, "OAUTH_CLIENT_SECRET", "", "OAUTH_TOKEN_KEY", "",
		"OAUTH_CLIENT_SECRET_ARN", clientARN, "OAUTH_TOKEN_KEY_ARN", keyARN, "TABLE_NAME", table,
		"OAUTH_APP_KEY", "", "OAUTH_APP_KEY_ARN", appKeyARN, "ALLOWED_RETURN_URLS", "https://app.example/done")))
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	store := NewDynamoStore(db, table)
	m := NewSecretsManager(secrets, clientARN, keyARN, 0)
	m.AppKeyARN = appKeyARN
	h := NewHandler(cfg, store, m)
	h.Log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	h.HTTPClient = &http.Client{Timeout: answerTimeout}

	for _, warm := range []bool{false, true} {
		tok, err := connect.Token(testAppKey, "user-1", connect.Options{ReturnTo: "https://app.example/done"})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := h.Authorize(ctx, apiRequest("/authorize", "connect="+tok))
		if err != nil || resp.StatusCode != http.StatusFound || len(resp.Cookies) != 1 {
			t.Fatalf("Authorize: %d, %v", resp.StatusCode, err)
		}
		c, err := http.ParseSetCookie(resp.Cookies[0])
		if err != nil {
			t.Fatal(err)
		}
		req := apiRequest("/callback", prov.approve(t, resp.Headers["Location"]), c.Name+"="+c.Value)
		// A fresh connection each time: no replaced session to revoke.
		if err := store.DeleteConnection(ctx, "generic", prov.account); err != nil {
			t.Fatal(err)
		}
		db.snapshot()
		smBefore, tokenBefore := secrets.calls.Load(), prov.tokenCalls.Load()

		out, err := h.Callback(ctx, req)
		if err != nil || out.StatusCode != http.StatusFound {
			t.Fatalf("Callback (warm %v): %d, %v; body %.300s", warm, out.StatusCode, err, out.Body)
		}
		calls := db.snapshot()
		smCalls, tokenCalls := secrets.calls.Load()-smBefore, prov.tokenCalls.Load()-tokenBefore
		if !warm {
			// The cold callback fetches the client secret: the counter sees it.
			if smCalls == 0 {
				t.Errorf("cold callback: no GetSecretValue call counted; want the client secret fetched")
			}
			continue
		}
		if len(calls) != 2 || calls["UpdateItem"] != 1 || calls["PutItem"] != 1 {
			t.Errorf("warm callback DynamoDB calls: got %v, want one UpdateItem (consume the pending authorization) and one PutItem", calls)
		}
		if tokenCalls != 1 {
			t.Errorf("warm callback token calls: got %d, want 1", tokenCalls)
		}
		if smCalls != 0 {
			t.Errorf("warm callback GetSecretValue calls: got %d, want 0", smCalls)
		}
		if n := prov.revokeCalls.Load(); n != 0 {
			t.Errorf("revocation calls: got %d, want 0", n)
		}
	}
}
