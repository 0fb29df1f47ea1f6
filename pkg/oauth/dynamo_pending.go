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
// UpdateItem at /callback that marks the record consumed (consumed_by, a
// token of that request) rather than deleting it, so that a retry of an
// applied consumption whose reply was lost finds the record and its own
// token: the SDK retries a call whose reply it did not get, and a deleted
// record would turn a good sign-in into "invalid state". A consumed record
// is consumed for every other request and may be replaced by PutPending; the
// table's TTL removes it with the unconsumed ones.

// pendingFree is PutPending's condition: no record, or a consumed one.
// attrBFF (the number 1, absent otherwise) marks a pending authorization
// started at /bff/{provider}/login. A number, not a BOOL: sameItem compares
// strings and numbers only.
const attrBFF = "bff"

const pendingFree = "attribute_not_exists(#pk) OR attribute_exists(#used)"

// PutPending implements Store with a PutItem conditioned on pendingFree,
// or, with a connect token's jti, with a transaction that also spends the
// jti (putPendingOnce, dynamo_user.go). When the condition fails and the
// record in place (ReturnValuesOnConditionCheckFailure=ALL_OLD) is exactly
// this one (its sealed verifier's fresh nonce makes it unique), an earlier
// attempt of the same request was applied and its reply lost: done.
func (s *DynamoStore) PutPending(ctx context.Context, p *PendingAuth) error {
	if err := validPending(p); err != nil {
		return err
	}
	if p.JTI != "" {
		return s.putPendingOnce(ctx, p)
	}
	item := pendingItem(p)
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(s.table),
		Item:                                item,
		ConditionExpression:                 aws.String(pendingFree),
		ExpressionAttributeNames:            map[string]string{"#pk": AttrPK, "#used": attrConsumedBy},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, ok := conditionFailed(err); ok {
		if sameItem(old, item) {
			return nil
		}
		return fmt.Errorf("oauth: put pending: %w", ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("oauth: put pending: %w", err)
	}
	return nil
}

// ConsumePending implements Store with one conditional UpdateItem that sets
// consumed_by to a random token of this call: the condition checks
// existence, that the record is not consumed, the binding hash and the
// expiry; ReturnValues=ALL_OLD returns the record. When the condition fails,
// ReturnValuesOnConditionCheckFailure=ALL_OLD returns the record (kept in
// place) so the cause can be told apart, and a record consumed with this
// call's own token is this call's: an earlier attempt applied, its reply
// lost.
func (s *DynamoStore) ConsumePending(ctx context.Context, key string, bindingHashes []string, now time.Time) (*PendingAuth, error) {
	if len(bindingHashes) == 0 || len(bindingHashes) > 16 {
		return nil, fmt.Errorf("oauth: consume pending: want 1 to 16 binding hashes, got %d", len(bindingHashes))
	}
	token := requestToken()
	values := make(map[string]types.AttributeValue, len(bindingHashes)+2)
	values[":now"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)}
	values[":used"] = &types.AttributeValueMemberS{Value: token}
	var cond string
	if len(bindingHashes) == 1 {
		cond = "attribute_exists(#pk) AND attribute_not_exists(#used) AND #bh = :b0 AND #exp > :now"
		values[":b0"] = &types.AttributeValueMemberS{Value: bindingHashes[0]}
	} else {
		var b strings.Builder
		b.WriteString("attribute_exists(#pk) AND attribute_not_exists(#used) AND #bh IN (")
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
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 itemKey(key, pendingSK),
		ConditionExpression: aws.String(cond),
		UpdateExpression:    aws.String("SET #used = :used"),
		ExpressionAttributeNames: map[string]string{
			"#pk": AttrPK, "#bh": attrBindingHash, "#exp": attrExpiresAt, "#used": attrConsumedBy,
		},
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
		if used, ok := item[attrConsumedBy]; ok {
			if sameValue(used, values[":used"]) {
				return p, nil // consumed by this call's earlier attempt
			}
			return nil, fmt.Errorf("oauth: consume pending: %w", ErrNotFound)
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
	if p.BFF {
		e.n(attrBFF, 1)
	}
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
		BFF:         d.n(attrBFF) == 1,
		CreatedAt:   d.t(attrCreatedAt),
		ExpiresAt:   d.t(attrExpiresAt),
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode pending %s: %w", p.Key, d.err)
	}
	return p, nil
}
