package oauth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// UserIndexAttributes returns the non-key attributes the user-index
// projects (INCLUDE): what ConnectionsByEndUser returns, never a sealed
// token, key id or lease. CreateTable and template.yaml project these;
// internal/deploytest holds the template to them.
func UserIndexAttributes() []string {
	return []string{
		attrProvider, attrAccountID, attrStatus, attrScope, attrTokenType, attrVersion,
		attrAccessExpiresAt, attrRefreshExpiresAt, attrLastRefreshAt, AttrRefreshAt,
		attrFailures, attrLastError, attrCreatedAt, attrUpdatedAt,
	}
}

// putPendingOnce stores a pending authorization and spends its connect
// token's jti in one TransactWriteItems: both puts are conditioned on
// attribute_not_exists(pk), so either both items are written or neither.
// A transaction rather than one combined item, because the two records live
// for different times: the pending authorization is usable until the
// callback consumes it (marking it consumed) or for 10 minutes, while the
// spent jti must stay until the token's own exp (up to 15 minutes), or the
// token could be replayed after its authorization finished.
//
// A retry of the same request after a lost reply: the SDK gives the
// transaction an idempotency token (ClientRequestToken) and sends it again
// with the retry, and DynamoDB answers a replay within ten minutes with
// success. Where that does not hold (a stand-in without idempotency, a
// replay later than that), both conditions fail on the items the first
// attempt wrote (ReturnValuesOnConditionCheckFailure=ALL_OLD): this very
// pending authorization, and a jti spent for its key. That is recognised as
// done too.
func (s *DynamoStore) putPendingOnce(ctx context.Context, p *PendingAuth) error {
	pending := pendingItem(p)
	jti := newEncoder(JTIKey(p.JTI), jtiSK, 5)
	jti.t(attrExpiresAt, p.JTIExpiresAt)
	jti.t(AttrTTL, p.JTIExpiresAt)
	jti.s(attrPendingKey, p.Key)
	allOld := types.ReturnValuesOnConditionCheckFailureAllOld
	_, err := s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String(s.table), Item: pending, ConditionExpression: aws.String(pendingFree),
				ExpressionAttributeNames: map[string]string{"#pk": AttrPK, "#used": attrConsumedBy}, ReturnValuesOnConditionCheckFailure: allOld}},
			{Put: &types.Put{TableName: aws.String(s.table), Item: jti, ConditionExpression: aws.String("attribute_not_exists(#pk)"),
				ExpressionAttributeNames: map[string]string{"#pk": AttrPK}, ReturnValuesOnConditionCheckFailure: allOld}},
		},
	})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		reasons := tce.CancellationReasons
		if len(reasons) == 2 {
			if aws.ToString(reasons[0].Code) == "ConditionalCheckFailed" && sameItem(reasons[0].Item, pending) &&
				aws.ToString(reasons[1].Code) == "ConditionalCheckFailed" && sameValue(reasons[1].Item[attrPendingKey], jti[attrPendingKey]) {
				return nil // this very request, applied by an earlier attempt
			}
			// The jti's put failed its condition (spent before), or
			// collided with a concurrent transaction on the same jti
			// (TransactionConflict): a replay either way.
			switch aws.ToString(reasons[1].Code) {
			case "ConditionalCheckFailed", "TransactionConflict":
				return fmt.Errorf("oauth: put pending: %w", ErrReplayed)
			}
			if aws.ToString(reasons[0].Code) == "ConditionalCheckFailed" {
				return fmt.Errorf("oauth: put pending: %w", ErrConflict)
			}
		}
		return fmt.Errorf("oauth: put pending: transaction canceled: %w", err)
	}
	if err != nil {
		return fmt.Errorf("oauth: put pending: %w", err)
	}
	return nil
}

// ConnectionsByEndUser implements Store with a paginated Query of the
// sparse user-index. The index projects no token, so the connections come
// back without them; it is eventually consistent, so an entry whose
// end_user no longer matches (the account just moved) is left out. Pending
// authorizations carry end_user too (in flight, or consumed and kept until
// their TTL): they are in the index and left out here.
func (s *DynamoStore) ConnectionsByEndUser(ctx context.Context, endUser string) ([]*Connection, error) {
	if endUser == "" {
		return nil, errors.New("oauth: connections by end user: empty end user")
	}
	pages := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(UserIndexName),
		KeyConditionExpression:    aws.String("#u = :u"),
		ExpressionAttributeNames:  map[string]string{"#u": AttrEndUser},
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": &types.AttributeValueMemberS{Value: endUser}},
	})
	out := []*Connection{}
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("oauth: connections by end user: %w", err)
		}
		for _, item := range page.Items {
			if pk, _ := item[AttrPK].(*types.AttributeValueMemberS); pk == nil || !strings.HasPrefix(pk.Value, connectionPrefix) {
				continue // a pending authorization carries the end user too
			}
			c, err := decodeConnection(item)
			if err != nil {
				return nil, fmt.Errorf("oauth: connections by end user: %w", err)
			}
			if c.EndUser == endUser {
				out = append(out, c)
			}
		}
	}
	sortConnections(out)
	return out, nil
}

// userIndex is the user-index as CreateTable makes it.
func userIndex() types.GlobalSecondaryIndex {
	return types.GlobalSecondaryIndex{
		IndexName: aws.String(UserIndexName),
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String(AttrEndUser), KeyType: types.KeyTypeHash}},
		Projection: &types.Projection{
			ProjectionType:   types.ProjectionTypeInclude,
			NonKeyAttributes: UserIndexAttributes(),
		},
	}
}
