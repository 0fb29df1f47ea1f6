// Command hellosdk is the second baseline of bench/coldstart: hello plus the
// AWS SDK clients the contract chose (default config, DynamoDB, Secrets
// Manager), built once outside the handler, and one DynamoDB GetItem per
// invoke — the floor any function of this design pays before its own code.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func main() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		panic(err)
	}
	db := dynamodb.NewFromConfig(cfg)
	_ = secretsmanager.NewFromConfig(cfg)
	table := os.Getenv("TABLE_NAME")
	lambda.Start(func(ctx context.Context) (string, error) {
		_, err := db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(table),
			Key: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: "hello"},
				"sk": &types.AttributeValueMemberS{Value: "hello"},
			},
		})
		return "hello", err
	})
}
