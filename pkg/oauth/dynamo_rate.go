package oauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The deployment-wide token-call rate limiter: one item per provider, pk
// "rate#<provider>", sk "limit", times in epoch milliseconds.

// ReserveTokenCall implements Store with one conditional UpdateItem on the
// provider's rate item: the condition (no slot taken after now, no pause
// after now) and the write of the next slot are one atomic step, so two
// reservers can never both take a slot. When the condition fails,
// ReturnValuesOnConditionCheckFailure=ALL_OLD says when to ask again, or,
// when the item holds this call's own request token with its slot, that an
// earlier attempt of the same request took the slot and its reply was lost
// (the SDK's retry of an applied write finds its condition false): the slot
// is ours.
func (s *DynamoStore) ReserveTokenCall(ctx context.Context, provider string, now time.Time, interval time.Duration) (time.Time, error) {
	if err := validReserve(provider, interval); err != nil {
		return time.Time{}, err
	}
	next, token := now.UnixMilli()+interval.Milliseconds(), requestToken()
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      itemKey(ratePrefix+provider, rateSK),
		ConditionExpression:      aws.String("(attribute_not_exists(#next) OR #next <= :now) AND (attribute_not_exists(#paused) OR #paused <= :now)"),
		UpdateExpression:         aws.String("SET #next = :next, #by = :by"),
		ExpressionAttributeNames: map[string]string{"#next": attrNextAtMS, "#paused": attrPausedUntilMS, "#by": attrRequestToken},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now":  numberValue(now.UnixMilli()),
			":next": numberValue(next),
			":by":   &types.AttributeValueMemberS{Value: token},
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if item, ok := conditionFailed(err); ok {
		d := decoder{item: item}
		if d.s(attrRequestToken) == token && d.n(attrNextAtMS) == next && d.err == nil {
			return time.Time{}, nil // our own slot, taken by an earlier attempt
		}
		wait := max(d.n(attrNextAtMS), d.n(attrPausedUntilMS))
		if d.err != nil {
			return time.Time{}, fmt.Errorf("oauth: reserve token call: %w", d.err)
		}
		if wait <= now.UnixMilli() { // cannot happen: the condition held
			wait = now.UnixMilli() + 1
		}
		return time.UnixMilli(wait).UTC(), nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("oauth: reserve token call: %w", err)
	}
	return time.Time{}, nil
}

// PauseTokenCalls implements Store with an UpdateItem that only extends the
// pause (a shorter one loses its condition, which is not an error), or
// replaces one more than MaxRetryAfter after until.
func (s *DynamoStore) PauseTokenCalls(ctx context.Context, provider string, until time.Time) error {
	if provider == "" {
		return errors.New("oauth: pause token calls: empty provider")
	}
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      itemKey(ratePrefix+provider, rateSK),
		ConditionExpression:      aws.String("attribute_not_exists(#paused) OR #paused < :until OR #paused > :overlong"),
		UpdateExpression:         aws.String("SET #paused = :until"),
		ExpressionAttributeNames: map[string]string{"#paused": attrPausedUntilMS},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":until":    numberValue(until.UnixMilli()),
			":overlong": numberValue(until.UnixMilli() + MaxRetryAfter.Milliseconds()),
		},
	})
	if _, ok := conditionFailed(err); err != nil && !ok {
		return fmt.Errorf("oauth: pause token calls: %w", err)
	}
	return nil
}
