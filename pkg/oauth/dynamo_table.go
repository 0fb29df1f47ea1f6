package oauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// CreateTable creates the table DynamoStore expects (pay per request, pk/sk
// strings, the sparse due-index on due_shard/refresh_at projecting
// DueIndexAttributes, the sparse user-index on end_user projecting
// UserIndexAttributes, the stream with NEW_AND_OLD_IMAGES), waits until it
// is ACTIVE and enables TTL on the ttl attribute.
// For tests and the local dev server; production tables come from
// template.yaml.
//
// It is idempotent: a table of that name that already has this layout (keys,
// both indexes, the stream) is taken as it is. That is also how it survives
// its own lost reply: the SDK retries a CreateTable whose reply it did not
// read (a reset connection, a response checksum mismatch), and the retry
// finds the table the first attempt made. A table of that name with another
// layout is an error.
func CreateTable(ctx context.Context, client *dynamodb.Client, name string) error {
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(AttrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrSK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrDueShard), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrRefreshAt), AttributeType: types.ScalarAttributeTypeN},
			{AttributeName: aws.String(AttrEndUser), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(AttrSK), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(DueIndexName),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(AttrDueShard), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(AttrRefreshAt), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{
				ProjectionType:   types.ProjectionTypeInclude,
				NonKeyAttributes: DueIndexAttributes(),
			},
		}, userIndex()},
		// As template.yaml: the stream feeds the events function.
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
	})
	var inUse *types.ResourceInUseException
	if errors.As(err, &inUse) {
		err = checkTableLayout(ctx, client, name)
	}
	if err != nil {
		return fmt.Errorf("oauth: create table %s: %w", name, err)
	}
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = time.Second
		o.MaxDelay = 5 * time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 5*time.Minute); err != nil {
		return fmt.Errorf("oauth: create table %s: wait until active: %w", name, err)
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(AttrTTL),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("oauth: create table %s: enable ttl: %w", name, err)
	}
	return nil
}

// checkTableLayout accepts an existing table only if it has CreateTable's
// layout: the pk/sk key, the due-index and the user-index with their keys,
// and a NEW_AND_OLD_IMAGES stream.
func checkTableLayout(ctx context.Context, client *dynamodb.Client, name string) error {
	out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		return fmt.Errorf("exists, and cannot be described: %w", err)
	}
	t := out.Table
	keys := func(ks []types.KeySchemaElement) []string {
		var out []string
		for _, k := range ks {
			out = append(out, aws.ToString(k.AttributeName)+"/"+string(k.KeyType))
		}
		return out
	}
	want := map[string][]string{
		"":            {AttrPK + "/HASH", AttrSK + "/RANGE"},
		DueIndexName:  {AttrDueShard + "/HASH", AttrRefreshAt + "/RANGE"},
		UserIndexName: {AttrEndUser + "/HASH"},
	}
	got := map[string][]string{"": keys(t.KeySchema)}
	for _, g := range t.GlobalSecondaryIndexes {
		got[aws.ToString(g.IndexName)] = keys(g.KeySchema)
	}
	for index, ks := range want {
		if !slices.Equal(got[index], ks) {
			what := "key"
			if index != "" {
				what = "index " + index
			}
			return fmt.Errorf("exists with another layout: %s is %v, want %v", what, got[index], ks)
		}
	}
	if s := t.StreamSpecification; s == nil || !aws.ToBool(s.StreamEnabled) || s.StreamViewType != types.StreamViewTypeNewAndOldImages {
		return errors.New("exists with another layout: want a NEW_AND_OLD_IMAGES stream")
	}
	return nil
}
