// Command hellolit is the third baseline of bench/coldstart: hellosdk
// without the SDK's config package. hello plus the DynamoDB and Secrets
// Manager clients built from the Lambda environment by internal/awsenv, as
// the functions build theirs, and one DynamoDB GetItem per invoke: the floor
// of this design with lean client construction.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/oauthfn/oauthfn/internal/awsenv"
)

func main() {
	cfg, err := awsenv.Load(os.Getenv, dynamodb.ServiceID, secretsmanager.ServiceID)
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
