package deploytest

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth"
	"github.com/oauthfn/oauthfn/pkg/oauth/oauthtest"
)

// templateTable creates, on the serialised moto server, a table exactly as
// template.yaml's Table defines it (keys, attribute types, indexes and their
// projections, billing mode, TTL) and returns a client and its name.
func templateTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	s := newStack(t, paramSets[0].overrides)
	props := asMap(t, s.resolve(mapAt(t, s.resource("Table"), "Properties")), "Table.Properties")
	// The CloudFormation property names are the DynamoDB API's.
	def := map[string]any{}
	for _, k := range []string{"AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode"} {
		def[k] = props[k]
	}
	b, err := json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	var in dynamodb.CreateTableInput
	if err := json.Unmarshal(b, &in); err != nil {
		t.Fatalf("Table properties as a CreateTable request: %v", err)
	}
	in.TableName = aws.String(testenv.Name(t, "oauthfn-template"))

	testenv.MotoSerial(t)
	cfg, err := config.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatalf("aws config: %v", err)
	}
	client := dynamodb.NewFromConfig(cfg)
	// The name is this test's own: a ResourceInUseException is the SDK's
	// retry finding the table its first attempt made (a lost reply).
	var inUse *types.ResourceInUseException
	if _, err := client.CreateTable(t.Context(), &in); err != nil && !errors.As(err, &inUse) {
		t.Fatalf("CreateTable from template.yaml: %v", err)
	}
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay, o.MaxDelay = time.Second, 2*time.Second })
	if err := waiter.Wait(t.Context(), &dynamodb.DescribeTableInput{TableName: in.TableName}, time.Minute); err != nil {
		t.Fatal(err)
	}
	ttl := mapAt(t, props, "TimeToLiveSpecification")
	_, err = client.UpdateTimeToLive(t.Context(), &dynamodb.UpdateTimeToLiveInput{
		TableName: in.TableName,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(s.str(ttl["AttributeName"])),
			Enabled:       aws.Bool(ttl["Enabled"] == true),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return client, aws.ToString(in.TableName)
}

// TestStoreOnTemplateTable runs the store conformance suite (pending
// authorizations, connections, leases, the sweep's due-index queries,
// concurrency) against a table built from template.yaml: the code works on
// the keys, indexes and projection that deploy, not only on the table
// oauth.CreateTable makes.
func TestStoreOnTemplateTable(t *testing.T) {
	oauthtest.RunStoreTests(t, func(t *testing.T) oauth.Store {
		client, table := templateTable(t)
		return oauth.NewDynamoStore(client, table)
	})
}

// TestTemplateTableProjection is the control for the test above: the
// table built from the template really projects only the listed attributes
// (the stand-in honours INCLUDE), so a missing one would be noticed.
func TestTemplateTableProjection(t *testing.T) {
	client, table := templateTable(t)
	desc, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(desc.Table.GlobalSecondaryIndexes); n == 0 {
		t.Fatal("template table: no global secondary index")
	}
	store := oauth.NewDynamoStore(client, table)
	now := time.Unix(1_800_000_000, 0).UTC()
	c := &oauth.Connection{
		Provider: "rc", AccountID: "42", AccessToken: "sealed-access", RefreshToken: "sealed-refresh",
		KeyID: "k1", TokenType: "Bearer", Status: oauth.StatusActive, Version: 3,
		AccessExpiresAt: now.Add(time.Hour), RefreshExpiresAt: now.Add(7 * 24 * time.Hour),
		CreatedAt: now, UpdatedAt: now, RefreshAt: now.Add(-time.Minute), TTL: now.Add(14 * 24 * time.Hour),
	}
	if _, err := store.PutConnection(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	out, err := client.Query(t.Context(), &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		IndexName:                 aws.String(oauth.DueIndexName),
		KeyConditionExpression:    aws.String("#s = :s"),
		ExpressionAttributeNames:  map[string]string{"#s": oauth.AttrDueShard},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: oauth.ShardName(oauth.ShardOf(c.Key()))}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 1 {
		t.Fatalf("due-index: got %d items, want 1", len(out.Items))
	}
	var got []string
	for k := range out.Items[0] {
		got = append(got, k)
	}
	want := append([]string{oauth.AttrPK, oauth.AttrSK, oauth.AttrDueShard, oauth.AttrRefreshAt}, oauth.DueIndexAttributes()...)
	if !sameSet(got, want) {
		t.Errorf("due-index item attributes: got %v, want exactly %v (no sealed tokens)", got, want)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]bool{}
	for _, x := range a {
		seen[x] = true
	}
	for _, x := range b {
		if !seen[x] {
			return false
		}
	}
	return true
}
