package oauth

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/oauthfn/oauthfn/internal/awsenv"
	"github.com/oauthfn/oauthfn/internal/faultaws"
	"github.com/oauthfn/oauthfn/internal/testenv"
)

// CreateTable survives its own lost reply (the SDK retries it and finds
// the table the first attempt made: seen on moto as a response checksum
// mismatch), takes an existing table of its layout as it is, and refuses
// one of another layout.
func TestCreateTableIdempotent(t *testing.T) {
	testenv.MotoSerial(t)
	cfg, err := awsenv.Load(os.Getenv, dynamodb.ServiceID)
	if err != nil {
		t.Fatal(err)
	}
	tr := faultaws.New()
	tr.Configure(&cfg)
	client := dynamodb.NewFromConfig(cfg)
	ctx := context.Background()

	table := testenv.Name(t, "oauthfn-create")
	tr.Script("CreateTable", faultaws.LoseReply)
	if err := CreateTable(ctx, client, table); err != nil {
		t.Fatalf("CreateTable with its reply lost: %v", err)
	}
	lostOnce(t, tr, "CreateTable")
	if err := CreateTable(ctx, client, table); err != nil {
		t.Errorf("CreateTable of an existing table of its layout: %v", err)
	}

	other := testenv.Name(t, "oauthfn-other")
	if _, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(other),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := CreateTable(ctx, client, other); err == nil || !strings.Contains(err.Error(), "another layout") {
		t.Errorf("CreateTable over a table of another layout: %v, want an error naming the layout", err)
	}
}
