package oauth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Pending authorizations: one PutItem at /authorize, one conditional
// DeleteItem at /callback.

// PutPending implements Store with a PutItem conditioned on
// attribute_not_exists(pk), or, with a connect token's jti, with a
// transaction that also spends the jti (putPendingOnce, dynamo_user.go).
func (s *DynamoStore) PutPending(ctx context.Context, p *PendingAuth) error {
	if err := validPending(p); err != nil {
		return err
	}
	if p.JTI != "" {
		return s.putPendingOnce(ctx, p)
	}
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     pendingItem(p),
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": AttrPK},
	})
	if _, ok := conditionFailed(err); ok {
		return fmt.Errorf("oauth: put pending: %w", ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("oauth: put pending: %w", err)
	}
	return nil
}

// ConsumePending implements Store with one conditional DeleteItem: the
// condition checks existence, the binding hash and the expiry; when it fails,
// ReturnValuesOnConditionCheckFailure=ALL_OLD returns the record (kept in
// place) so the cause can be told apart.
func (s *DynamoStore) ConsumePending(ctx context.Context, key string, bindingHashes []string, now time.Time) (*PendingAuth, error) {
	if len(bindingHashes) == 0 || len(bindingHashes) > 16 {
		return nil, fmt.Errorf("oauth: consume pending: want 1 to 16 binding hashes, got %d", len(bindingHashes))
	}
	values := make(map[string]types.AttributeValue, len(bindingHashes)+1)
	values[":now"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)}
	var cond string
	if len(bindingHashes) == 1 {
		cond = "attribute_exists(#pk) AND #bh = :b0 AND #exp > :now"
		values[":b0"] = &types.AttributeValueMemberS{Value: bindingHashes[0]}
	} else {
		var b strings.Builder
		b.WriteString("attribute_exists(#pk) AND #bh IN (")
		for i, h := range bindingHashes {
			p := ":b" + strconv.Itoa(i)
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(p)
			values[p] = &types.AttributeValueMemberS{Value: h}
		}
		b.WriteString(") AND #exp > :now")
		cond = b.String()
	}
	out, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 itemKey(key, pendingSK),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            map[string]string{"#pk": AttrPK, "#bh": attrBindingHash, "#exp": attrExpiresAt},
		ExpressionAttributeValues:           values,
		ReturnValues:                        types.ReturnValueAllOld,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if item, ok := conditionFailed(err); ok {
		if len(item) == 0 {
			return nil, fmt.Errorf("oauth: consume pending: %w", ErrNotFound)
		}
		p, derr := decodePending(item)
		if derr != nil {
			return nil, fmt.Errorf("oauth: consume pending: %w", derr)
		}
		cause := classifyPending(p, bindingHashes, now)
		if cause == nil {
			// The table refused a record that passes the same checks in
			// code; say so rather than guess a cause.
			return nil, errors.New("oauth: consume pending: condition failed on a consumable record")
		}
		return nil, fmt.Errorf("oauth: consume pending: %w", cause)
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: consume pending: %w", err)
	}
	if len(out.Attributes) == 0 {
		// Only reachable if the condition did not hold the item; never
		// report a consumption that did not happen.
		return nil, fmt.Errorf("oauth: consume pending: %w", ErrNotFound)
	}
	p, err := decodePending(out.Attributes)
	if err != nil {
		return nil, fmt.Errorf("oauth: consume pending: %w", err)
	}
	return p, nil
}

func pendingItem(p *PendingAuth) map[string]types.AttributeValue {
	e := newEncoder(p.Key, pendingSK, 11)
	e.s(attrBindingHash, p.BindingHash)
	e.s(attrVerifier, p.Verifier)
	e.s(attrReturnTo, p.ReturnTo)
	e.s(attrAppState, p.AppState)
	e.s(AttrEndUser, p.EndUser)
	e.t(attrCreatedAt, p.CreatedAt)
	e.t(attrExpiresAt, p.ExpiresAt)
	e.t(AttrTTL, p.ExpiresAt)
	return e
}

func decodePending(item map[string]types.AttributeValue) (*PendingAuth, error) {
	d := decoder{item: item}
	p := &PendingAuth{
		Key:         d.s(AttrPK),
		BindingHash: d.s(attrBindingHash),
		Verifier:    d.s(attrVerifier),
		ReturnTo:    d.s(attrReturnTo),
		AppState:    d.s(attrAppState),
		EndUser:     d.s(AttrEndUser),
		CreatedAt:   d.t(attrCreatedAt),
		ExpiresAt:   d.t(attrExpiresAt),
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode pending %s: %w", p.Key, d.err)
	}
	return p, nil
}
