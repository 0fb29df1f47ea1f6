package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/oauthfn/oauthfn/internal/awsenv"
	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth"
	"github.com/oauthfn/oauthfn/pkg/oauth/oauthtest"
)

// dynamoTable starts (once) the serialised moto server, creates a new table
// with oauth.CreateTable and returns a client and the table's name. The
// client is built as the functions build theirs (internal/awsenv), so the
// store conformance suite runs on that construction.
func dynamoTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	testenv.MotoSerial(t)
	cfg, err := awsenv.Load(os.Getenv, dynamodb.ServiceID)
	if err != nil {
		t.Fatalf("aws config: %v", err)
	}
	client := dynamodb.NewFromConfig(cfg)
	table := testenv.Name(t, "oauthfn")
	if err := oauth.CreateTable(t.Context(), client, table); err != nil {
		t.Fatal(err)
	}
	return client, table
}

func TestDynamoStore(t *testing.T) {
	oauthtest.RunStoreTests(t, func(t *testing.T) oauth.Store {
		client, table := dynamoTable(t)
		return oauth.NewDynamoStore(client, table)
	})
}

func TestCreateTable(t *testing.T) {
	client, table := dynamoTable(t)
	ctx := t.Context()
	desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("DescribeTable: %v", err)
	}
	td := desc.Table
	if td.TableStatus != types.TableStatusActive {
		t.Errorf("status: got %s, want ACTIVE", td.TableStatus)
	}
	if td.BillingModeSummary == nil || td.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("billing mode: got %+v, want PAY_PER_REQUEST", td.BillingModeSummary)
	}
	if got := keySchema(td.KeySchema); got != "pk:HASH sk:RANGE" {
		t.Errorf("key schema: got %q, want %q", got, "pk:HASH sk:RANGE")
	}
	if len(td.GlobalSecondaryIndexes) != 2 {
		t.Fatalf("global secondary indexes: got %d, want 2", len(td.GlobalSecondaryIndexes))
	}
	gsis := map[string]types.GlobalSecondaryIndexDescription{}
	for _, g := range td.GlobalSecondaryIndexes {
		gsis[aws.ToString(g.IndexName)] = g
	}
	user := gsis[oauth.UserIndexName]
	if got := keySchema(user.KeySchema); got != "end_user:HASH" {
		t.Errorf("user-index key schema: got %q, want end_user:HASH", got)
	}
	if p := user.Projection; p == nil || p.ProjectionType != types.ProjectionTypeInclude || slices.Contains(p.NonKeyAttributes, "access_token") ||
		slices.Contains(p.NonKeyAttributes, "refresh_token") || !slices.Contains(p.NonKeyAttributes, "status") {
		t.Errorf("user-index projection: got %+v, want INCLUDE of non-secret fields", p)
	}
	gsi := gsis[oauth.DueIndexName]
	if aws.ToString(gsi.IndexName) != oauth.DueIndexName {
		t.Errorf("index name: got %q, want %q", aws.ToString(gsi.IndexName), oauth.DueIndexName)
	}
	if got := keySchema(gsi.KeySchema); got != "due_shard:HASH refresh_at:RANGE" {
		t.Errorf("index key schema: got %q, want %q", got, "due_shard:HASH refresh_at:RANGE")
	}
	if gsi.Projection == nil || gsi.Projection.ProjectionType != types.ProjectionTypeInclude ||
		!slices.Equal(gsi.Projection.NonKeyAttributes, oauth.DueIndexAttributes()) {
		t.Errorf("index projection: got %+v, want INCLUDE %v", gsi.Projection, oauth.DueIndexAttributes())
	}
	types := map[string]types.ScalarAttributeType{}
	for _, a := range td.AttributeDefinitions {
		types[aws.ToString(a.AttributeName)] = a.AttributeType
	}
	for name, want := range map[string]string{"pk": "S", "sk": "S", "due_shard": "S", "refresh_at": "N", "end_user": "S"} {
		if got := string(types[name]); got != want {
			t.Errorf("attribute %s: got type %q, want %q", name, got, want)
		}
	}
	ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("DescribeTimeToLive: %v", err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != "ttl" || d.TimeToLiveStatus != "ENABLED" {
		t.Errorf("time to live: got %+v, want ttl ENABLED", d)
	}
	// Idempotent: the table is taken as it is (TestCreateTableIdempotent
	// covers a lost reply and a table of another layout).
	if err := oauth.CreateTable(ctx, client, table); err != nil {
		t.Errorf("CreateTable of an existing table of its layout: %v", err)
	}
}

func keySchema(ks []types.KeySchemaElement) string {
	s := ""
	for i, k := range ks {
		if i > 0 {
			s += " "
		}
		s += aws.ToString(k.AttributeName) + ":" + string(k.KeyType)
	}
	return s
}

// rawItem reads an item as the table holds it.
func rawItem(t *testing.T, client *dynamodb.Client, table, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetItem(%s): %v", pk, err)
	}
	return out.Item
}

func attrString(av types.AttributeValue) string {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return "S:" + v.Value
	case *types.AttributeValueMemberN:
		return "N:" + v.Value
	case nil:
		return "absent"
	default:
		return "other"
	}
}

// TestDynamoItemLayout holds the items to their layout: names,
// types, epoch seconds, omitted empty attributes, the sparse index keys.
func TestDynamoItemLayout(t *testing.T) {
	client, table := dynamoTable(t)
	s := oauth.NewDynamoStore(client, table)
	ctx := t.Context()
	t0 := time.Unix(1_900_000_000, 0)

	p := &oauth.PendingAuth{
		Key: oauth.PendingKey("state"), BindingHash: "bh", Verifier: "sealed-v",
		CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute),
	}
	if err := s.PutPending(ctx, p); err != nil {
		t.Fatal(err)
	}
	c := &oauth.Connection{
		Provider: "rc", AccountID: "42", AccessToken: "sealed-a", RefreshToken: "sealed-r",
		KeyID: "k1", TokenType: "bearer", AccessExpiresAt: t0.Add(time.Hour),
		RefreshExpiresAt: t0.Add(7 * 24 * time.Hour), Status: oauth.StatusActive, Version: 3,
		CreatedAt: t0, UpdatedAt: t0, RefreshAt: t0.Add(5 * 24 * time.Hour), TTL: t0.Add(14 * 24 * time.Hour),
	}
	if _, err := s.PutConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	n := func(d time.Duration) string { return "N:" + strconv.FormatInt(t0.Add(d).Unix(), 10) }
	shard := "S:" + oauth.ShardName(oauth.ShardOf(c.Key()))

	type want map[string]string
	check := func(t *testing.T, item map[string]types.AttributeValue, w want) {
		t.Helper()
		for name, v := range w {
			if got := attrString(item[name]); got != v {
				t.Errorf("%s: got %s, want %s", name, got, v)
			}
		}
		for name := range item {
			if _, ok := w[name]; !ok {
				t.Errorf("unexpected attribute %s = %s", name, attrString(item[name]))
			}
		}
	}
	t.Run("pending", func(t *testing.T) {
		check(t, rawItem(t, client, table, p.Key, "state"), want{
			"pk": "S:" + p.Key, "sk": "S:state", "binding_hash": "S:bh", "verifier": "S:sealed-v",
			"created_at": n(0), "expires_at": n(10 * time.Minute), "ttl": n(10 * time.Minute),
		})
	})
	t.Run("active connection", func(t *testing.T) {
		check(t, rawItem(t, client, table, "conn#rc#42", "token"), want{
			"pk": "S:conn#rc#42", "sk": "S:token", "provider": "S:rc", "account_id": "S:42",
			"access_token": "S:sealed-a", "refresh_token": "S:sealed-r", "key_id": "S:k1", "token_type": "S:bearer",
			"access_expires_at": n(time.Hour), "refresh_expires_at": n(7 * 24 * time.Hour),
			"status": "S:active", "version": "N:3", "failures": "N:0",
			"created_at": n(0), "updated_at": n(0), "ttl": n(14 * 24 * time.Hour),
			"due_shard": shard, "refresh_at": n(5 * 24 * time.Hour),
		})
	})
	t.Run("bff pending", func(t *testing.T) {
		b := *p
		b.Key, b.BFF, b.ReturnTo = oauth.PendingKey("bff-state"), true, "https://app.example/"
		if err := s.PutPending(ctx, &b); err != nil {
			t.Fatal(err)
		}
		check(t, rawItem(t, client, table, b.Key, "state"), want{
			"pk": "S:" + b.Key, "sk": "S:state", "binding_hash": "S:bh", "verifier": "S:sealed-v", "return_to": "S:https://app.example/",
			"bff": "N:1", "created_at": n(0), "expires_at": n(10 * time.Minute), "ttl": n(10 * time.Minute),
		})
	})
	t.Run("session", func(t *testing.T) {
		sess := &oauth.Session{Key: oauth.SessionKey("cookie"), Provider: "rc", AccountID: "42", CreatedAt: t0,
			IdleUntil: t0.Add(8 * time.Hour), ExpiresAt: t0.Add(7 * 24 * time.Hour), ConnCreatedAt: t0.Add(-time.Hour)}
		if err := s.PutSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		// No due_shard and no end_user: neither index lists it.
		check(t, rawItem(t, client, table, sess.Key, "session"), want{
			"pk": "S:" + sess.Key, "sk": "S:session", "provider": "S:rc", "account_id": "S:42",
			"created_at": n(0), "idle_until": n(8 * time.Hour), "expires_at": n(7 * 24 * time.Hour),
			"conn_created_at": n(-time.Hour), "ttl": n(8 * 24 * time.Hour),
		})
	})
	t.Run("leased", func(t *testing.T) {
		if _, err := s.AcquireLease(ctx, "rc", "42", 3, "sweep-1", t0, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		item := rawItem(t, client, table, "conn#rc#42", "token")
		if got := attrString(item["lease_owner"]); got != "S:sweep-1" {
			t.Errorf("lease_owner: got %s, want S:sweep-1", got)
		}
		if got := attrString(item["lease_until"]); got != n(time.Minute) {
			t.Errorf("lease_until: got %s, want %s", got, n(time.Minute))
		}
	})
	t.Run("reauth_required", func(t *testing.T) {
		c.Status, c.LastError, c.Failures = oauth.StatusReauthRequired, "invalid_grant", 1
		c.AccessToken, c.RefreshToken, c.KeyID = "", "", ""
		c.AccessExpiresAt, c.RefreshExpiresAt, c.RefreshAt = time.Time{}, time.Time{}, time.Time{}
		c.UpdatedAt, c.LastRefreshAt = t0.Add(time.Second), t0.Add(time.Second)
		if err := s.CompleteLease(ctx, c, "sweep-1"); err != nil {
			t.Fatal(err)
		}
		check(t, rawItem(t, client, table, "conn#rc#42", "token"), want{
			"pk": "S:conn#rc#42", "sk": "S:token", "provider": "S:rc", "account_id": "S:42",
			"token_type": "S:bearer", "status": "S:reauth_required", "last_error": "S:invalid_grant",
			"version": "N:4", "failures": "N:1", "created_at": n(0), "updated_at": n(time.Second),
			"last_refresh_at": n(time.Second), "ttl": n(14 * 24 * time.Hour),
			"completed_by": "S:sweep-1", // a retry recognises its own completion
		})
	})
}

// TestDynamoConditionFailureReturnsItem pins the emulator trait the store
// relies on: a failed condition with ReturnValuesOnConditionCheckFailure
// =ALL_OLD carries the item in the ConditionalCheckFailedException (real
// DynamoDB does). Without it a binding mismatch would read as "not found".
func TestDynamoConditionFailureReturnsItem(t *testing.T) {
	client, table := dynamoTable(t)
	key := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "x"}, "sk": &types.AttributeValueMemberS{Value: "y"}}
	item := map[string]types.AttributeValue{"pk": key["pk"], "sk": key["sk"], "v": &types.AttributeValueMemberS{Value: "kept"}}
	if _, err := client.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		key      map[string]types.AttributeValue
		wantItem bool
	}{
		{"existing item", key, true},
		{"missing item", map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "none"}, "sk": key["sk"]}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.DeleteItem(t.Context(), &dynamodb.DeleteItemInput{
				TableName:                           aws.String(table),
				Key:                                 tt.key,
				ConditionExpression:                 aws.String("v = :no"),
				ExpressionAttributeValues:           map[string]types.AttributeValue{":no": &types.AttributeValueMemberS{Value: "no"}},
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			})
			var ccf *types.ConditionalCheckFailedException
			if !errors.As(err, &ccf) {
				t.Fatalf("DeleteItem: got %v, want ConditionalCheckFailedException", err)
			}
			if got := attrString(ccf.Item["v"]); tt.wantItem && got != "S:kept" {
				t.Errorf("exception item: got v=%s, want S:kept", got)
			}
			if !tt.wantItem && len(ccf.Item) != 0 {
				t.Errorf("exception item: got %v, want none", ccf.Item)
			}
		})
	}
}

// scanCounter counts the Scan pages a DynamoStore asks for.
type scanCounter struct {
	oauth.DynamoAPI
	scans int
}

func (c *scanCounter) Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	c.scans++
	return c.DynamoAPI.Scan(ctx, in, optFns...)
}

// TestDynamoListConnectionsPages checks that ListConnections follows
// LastEvaluatedKey: the table is larger than one 1 MB Scan page.
func TestDynamoListConnectionsPages(t *testing.T) {
	client, table := dynamoTable(t)
	counter := &scanCounter{DynamoAPI: client}
	s := oauth.NewDynamoStore(counter, table)
	big := strings.Repeat("x", 150<<10) // items may not exceed 400 KB
	const n = 8
	for i := range n {
		c := &oauth.Connection{Provider: "rc", AccountID: fmt.Sprintf("%02d", i), AccessToken: big, RefreshToken: big}
		if _, err := s.PutConnection(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListConnections(t.Context())
	if err != nil {
		t.Fatalf("ListConnections: %v", err)
	}
	if len(got) != n {
		t.Errorf("ListConnections: got %d connections, want %d", len(got), n)
	}
	if counter.scans < 2 {
		t.Errorf("Scan calls: got %d, want at least 2 (pages)", counter.scans)
	}
}
