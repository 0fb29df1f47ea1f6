package testenv

import (
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	stypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// StreamRecords reads every record of table's stream with the SDK's
// DynamoDB Streams client and returns them as Lambda delivers them to a
// function (events.DynamoDBEventRecord). The table must have a
// NEW_AND_OLD_IMAGES stream.
func StreamRecords(t testing.TB, ddb *dynamodb.Client, st *dynamodbstreams.Client, table string) []events.DynamoDBEventRecord {
	t.Helper()
	ctx := Context(t)
	desc, err := ddb.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(desc.Table.LatestStreamArn)
	if arn == "" || desc.Table.StreamSpecification == nil || desc.Table.StreamSpecification.StreamViewType != "NEW_AND_OLD_IMAGES" {
		t.Fatalf("table stream: arn %q, spec %+v; want NEW_AND_OLD_IMAGES", arn, desc.Table.StreamSpecification)
	}
	sd, err := st.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	var out []events.DynamoDBEventRecord
	for _, sh := range sd.StreamDescription.Shards {
		it, err := st.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
			StreamArn: aws.String(arn), ShardId: sh.ShardId, ShardIteratorType: stypes.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			got, err := st.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range got.Records {
				out = append(out, lambdaRecord(rec, arn))
			}
			if len(got.Records) == 0 {
				break
			}
			iter = got.NextShardIterator
		}
	}
	return out
}

// lambdaRecord is the record as Lambda hands it to the function.
func lambdaRecord(rec stypes.Record, arn string) events.DynamoDBEventRecord {
	d := rec.Dynamodb
	out := events.DynamoDBEventRecord{
		AWSRegion: aws.ToString(rec.AwsRegion), EventID: aws.ToString(rec.EventID), EventName: string(rec.EventName),
		EventSource: aws.ToString(rec.EventSource), EventVersion: aws.ToString(rec.EventVersion), EventSourceArn: arn,
		Change: events.DynamoDBStreamRecord{
			Keys: streamImage(d.Keys), NewImage: streamImage(d.NewImage), OldImage: streamImage(d.OldImage),
			SequenceNumber: aws.ToString(d.SequenceNumber), StreamViewType: string(d.StreamViewType),
		},
	}
	if d.ApproximateCreationDateTime != nil {
		out.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
	}
	if d.SizeBytes != nil {
		out.Change.SizeBytes = *d.SizeBytes
	}
	if rec.UserIdentity != nil {
		out.UserIdentity = &events.DynamoDBUserIdentity{Type: aws.ToString(rec.UserIdentity.Type), PrincipalID: aws.ToString(rec.UserIdentity.PrincipalId)}
	}
	return out
}

func streamImage(m map[string]stypes.AttributeValue) map[string]events.DynamoDBAttributeValue {
	if m == nil {
		return nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case *stypes.AttributeValueMemberS:
			out[k] = events.NewStringAttribute(x.Value)
		case *stypes.AttributeValueMemberN:
			out[k] = events.NewNumberAttribute(x.Value)
		case *stypes.AttributeValueMemberBOOL:
			out[k] = events.NewBooleanAttribute(x.Value)
		default:
			out[k] = events.NewNullAttribute()
		}
	}
	return out
}
