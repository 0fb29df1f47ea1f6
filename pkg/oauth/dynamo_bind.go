package oauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/oauthfn/oauthfn/pkg/oauth/internal/item"
)

// Pending connections: one PutItem at /callback; at /confirm a GetItem and
// either one TransactWriteItems (accept) or a conditional UpdateItem and a
// DeleteItem (reject, and the sweep's expiry).

const (
	attrBindEndUser = item.AttrBindEndUser
	attrReason      = item.AttrReason
	attrDecisionID  = "decision_id"
)

// PutPendingConnection implements Store with an unconditional PutItem (its
// key is new: a retry after a lost reply writes the same item again).
func (s *DynamoStore) PutPendingConnection(ctx context.Context, p *PendingConnection) error {
	if err := validPendingConnection(p); err != nil {
		return err
	}
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item:      pendingConnectionItem(p),
	})
	if err != nil {
		return fmt.Errorf("oauth: put pending connection: %w", err)
	}
	return nil
}

// GetPendingConnection implements Store with a strongly consistent GetItem.
func (s *DynamoStore) GetPendingConnection(ctx context.Context, key string) (*PendingConnection, error) {
	it, err := s.getItem(ctx, key, bindSK)
	if err != nil {
		return nil, fmt.Errorf("oauth: get pending connection: %w", err)
	}
	p, err := decodePendingConnection(it)
	if err != nil {
		return nil, fmt.Errorf("oauth: get pending connection: %w", err)
	}
	return p, nil
}

// AcceptPending implements Store with one TransactWriteItems: a conditional
// Delete of the pending connection and a conditional Put of the connection.
// The SDK gives the transaction a ClientRequestToken, so a retry after a
// lost reply is the same transaction to DynamoDB (idempotent for ten
// minutes), not a second one that would find the pending connection gone.
func (s *DynamoStore) AcceptPending(ctx context.Context, key, endUser string, now time.Time, c *Connection, replacedVersion int64) error {
	if err := validConnection(c); err != nil {
		return err
	}
	put := &types.Put{TableName: aws.String(s.table), Item: connectionItem(c)}
	if replacedVersion == 0 {
		put.ConditionExpression = aws.String("attribute_not_exists(#pk)")
		put.ExpressionAttributeNames = map[string]string{"#pk": AttrPK}
	} else {
		put.ConditionExpression = aws.String("#v = :v AND (attribute_not_exists(#lu) OR #lu <= :now)")
		put.ExpressionAttributeNames = map[string]string{"#v": attrVersion, "#lu": attrLeaseUntil}
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":v": numberValue(replacedVersion), ":now": numberValue(now.Unix())}
	}
	_, err := s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []types.TransactWriteItem{
			{Delete: &types.Delete{
				TableName:                aws.String(s.table),
				Key:                      itemKey(key, bindSK),
				ConditionExpression:      aws.String("#st = :pending AND #eu = :eu AND #exp > :now"),
				ExpressionAttributeNames: map[string]string{"#st": attrStatus, "#eu": attrBindEndUser, "#exp": attrExpiresAt},
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":pending": &types.AttributeValueMemberS{Value: StatusPending},
					":eu":      &types.AttributeValueMemberS{Value: endUser},
					":now":     numberValue(now.Unix()),
				},
			}},
			{Put: put},
		},
	})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		if r := tce.CancellationReasons; len(r) == 2 {
			switch {
			case aws.ToString(r[0].Code) == "ConditionalCheckFailed":
				return fmt.Errorf("oauth: accept pending connection: %w", ErrNotFound)
			case aws.ToString(r[1].Code) == "ConditionalCheckFailed", aws.ToString(r[1].Code) == "TransactionConflict",
				aws.ToString(r[0].Code) == "TransactionConflict":
				return fmt.Errorf("oauth: accept pending connection: %w", ErrConflict)
			}
		}
		return fmt.Errorf("oauth: accept pending connection: transaction canceled: %w", err)
	}
	if err != nil {
		return fmt.Errorf("oauth: accept pending connection: %w", err)
	}
	return nil
}

// RejectPending implements Store with one conditional UpdateItem
// (ReturnValues=ALL_NEW; on a failed condition ALL_OLD tells a retry of
// this same decision from anything else).
func (s *DynamoStore) RejectPending(ctx context.Context, key, reason, decisionID string, now time.Time) (*PendingConnection, error) {
	if reason == "" || decisionID == "" {
		return nil, errors.New("oauth: reject pending connection: empty reason or decision id")
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 itemKey(key, bindSK),
		ConditionExpression: aws.String("#st = :pending"),
		UpdateExpression:    aws.String("SET #st = :rejected, #r = :r, #d = :d, #up = :now REMOVE #shard, #rat"),
		ExpressionAttributeNames: map[string]string{
			"#st": attrStatus, "#r": attrReason, "#d": attrDecisionID, "#up": attrUpdatedAt,
			"#shard": AttrDueShard, "#rat": AttrRefreshAt,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pending":  &types.AttributeValueMemberS{Value: StatusPending},
			":rejected": &types.AttributeValueMemberS{Value: StatusRejected},
			":r":        &types.AttributeValueMemberS{Value: reason},
			":d":        &types.AttributeValueMemberS{Value: decisionID},
			":now":      numberValue(now.Unix()),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, ok := conditionFailed(err); ok {
		if len(old) > 0 {
			p, derr := decodePendingConnection(old)
			if derr == nil && p.Status == StatusRejected && p.DecisionID == decisionID {
				return p, nil // our own earlier attempt, whose reply was lost
			}
		}
		return nil, fmt.Errorf("oauth: reject pending connection: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: reject pending connection: %w", err)
	}
	p, err := decodePendingConnection(out.Attributes)
	if err != nil {
		return nil, fmt.Errorf("oauth: reject pending connection: %w", err)
	}
	return p, nil
}

// DeletePendingConnection implements Store.
func (s *DynamoStore) DeletePendingConnection(ctx context.Context, key string) error {
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table),
		Key:       itemKey(key, bindSK),
	})
	if err != nil {
		return fmt.Errorf("oauth: delete pending connection: %w", err)
	}
	return nil
}

// pendingConnectionItem is p as a table item. The end user is kept under
// bind_end_user (the user-index never lists a pending connection); while
// pending, due_shard and refresh_at (its expiry) put it in the due-index.
func pendingConnectionItem(p *PendingConnection) map[string]types.AttributeValue {
	c := &p.Conn
	e := newEncoder(p.Key, bindSK, 22)
	e.s(attrProvider, c.Provider)
	e.s(attrAccountID, c.AccountID)
	e.s(attrBindEndUser, c.EndUser)
	e.s(attrAccessToken, c.AccessToken)
	e.s(attrRefreshToken, c.RefreshToken)
	e.s(attrKeyID, c.KeyID)
	e.s(attrTokenType, c.TokenType)
	e.s(attrScope, c.Scope)
	e.t(attrAccessExpiresAt, c.AccessExpiresAt)
	e.t(attrRefreshExpiresAt, c.RefreshExpiresAt)
	e.s(attrAppState, p.AppState)
	e.s(attrStatus, p.Status)
	e.s(attrReason, p.Reason)
	e.s(attrDecisionID, p.DecisionID)
	e.t(attrCreatedAt, c.CreatedAt)
	e.t(attrUpdatedAt, p.UpdatedAt)
	e.t(attrExpiresAt, p.ExpiresAt)
	e.t(AttrTTL, p.ExpiresAt.Add(PendingGrace))
	if p.Status == StatusPending {
		e.s(AttrDueShard, ShardName(ShardOf(p.Key)))
		e.t(AttrRefreshAt, p.ExpiresAt)
	}
	return e
}

func decodePendingConnection(it map[string]types.AttributeValue) (*PendingConnection, error) {
	d := decoder{item: it}
	p := &PendingConnection{
		Key: d.s(AttrPK),
		Conn: Connection{
			Provider:         d.s(attrProvider),
			AccountID:        d.s(attrAccountID),
			EndUser:          d.s(attrBindEndUser),
			AccessToken:      d.s(attrAccessToken),
			RefreshToken:     d.s(attrRefreshToken),
			KeyID:            d.s(attrKeyID),
			TokenType:        d.s(attrTokenType),
			Scope:            d.s(attrScope),
			AccessExpiresAt:  d.t(attrAccessExpiresAt),
			RefreshExpiresAt: d.t(attrRefreshExpiresAt),
			CreatedAt:        d.t(attrCreatedAt),
		},
		AppState:   d.s(attrAppState),
		Status:     d.s(attrStatus),
		Reason:     d.s(attrReason),
		DecisionID: d.s(attrDecisionID),
		UpdatedAt:  d.t(attrUpdatedAt),
		ExpiresAt:  d.t(attrExpiresAt),
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode pending connection %s: %w", p.Key, d.err)
	}
	return p, nil
}
