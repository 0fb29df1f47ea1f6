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

// Leases (docs/architecture.md, "Keeping tokens alive") and the sparse due-index
// the sweep reads.

// AcquireLease implements Store with a conditional UpdateItem (item exists,
// version unchanged, no live lease). ReturnValuesOnConditionCheckFailure
// tells a lost race (ErrConflict) from a deleted connection (ErrNotFound),
// and from this very lease (same version, owner and end) written by an
// earlier attempt of the same request whose reply was lost: the SDK's retry
// of an applied write finds its condition false.
func (s *DynamoStore) AcquireLease(ctx context.Context, provider, accountID string, version int64, owner string, now, until time.Time) (*Connection, error) {
	if owner == "" {
		return nil, errors.New("oauth: acquire lease: empty owner")
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 itemKey(ConnectionKey(provider, accountID), connectionSK),
		ConditionExpression: aws.String("attribute_exists(#pk) AND #ver = :ver AND (attribute_not_exists(#lu) OR #lu <= :now)"),
		UpdateExpression:    aws.String("SET #lo = :owner, #lu = :until"),
		ExpressionAttributeNames: map[string]string{
			"#pk": AttrPK, "#ver": attrVersion, "#lo": attrLeaseOwner, "#lu": attrLeaseUntil,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":ver":   numberValue(version),
			":now":   numberValue(now.Unix()),
			":owner": &types.AttributeValueMemberS{Value: owner},
			":until": numberValue(until.Unix()),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if item, ok := conditionFailed(err); ok {
		if len(item) == 0 {
			return nil, fmt.Errorf("oauth: acquire lease: %w", ErrNotFound)
		}
		c, derr := decodeConnection(item)
		if derr == nil && ownLease(c, version, owner, until) {
			return c, nil
		}
		return nil, fmt.Errorf("oauth: acquire lease: %w", ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: acquire lease: %w", err)
	}
	c, err := decodeConnection(out.Attributes)
	if err != nil {
		return nil, fmt.Errorf("oauth: acquire lease: %w", err)
	}
	return c, nil
}

// CompleteLease implements Store with an UpdateItem conditioned on
// lease_owner = owner, which also records owner as completed_by. When the
// condition fails, the item as it was (ReturnValuesOnConditionCheckFailure=
// ALL_OLD) is compared with what this write makes of it: if it already holds
// every value the write sets (completed_by = owner and version c.Version+1
// included), an earlier attempt of the same write was applied and its reply
// lost, and the write is done. The lease fields are not compared: another
// holder may have leased the new version since. Empty tokens and strings and zero times are removed
// (a reauth_required connection keeps no tokens), and so are due_shard and
// refresh_at when c.RefreshAt is zero, which takes the connection out of the
// sparse due-index.
func (s *DynamoStore) CompleteLease(ctx context.Context, c *Connection, owner string) error {
	if owner == "" {
		return errors.New("oauth: complete lease: empty owner")
	}
	u := newUpdate(20)
	cond := u.name(attrLeaseOwner) + " = " + u.value(&types.AttributeValueMemberS{Value: owner})
	u.set(attrVersion, numberValue(c.Version+1))
	u.s(attrCompletedBy, owner)
	u.set(attrFailures, numberValue(int64(c.Failures)))
	u.remove(attrLeaseOwner)
	u.remove(attrLeaseUntil)
	u.s(attrAccessToken, c.AccessToken)
	u.s(attrRefreshToken, c.RefreshToken)
	u.s(attrCredential, c.Credential)
	u.s(attrKeyID, c.KeyID)
	u.s(attrTokenType, c.TokenType)
	u.s(attrScope, c.Scope)
	u.s(attrStatus, c.Status)
	u.s(attrLastError, c.LastError)
	u.t(attrAccessExpiresAt, c.AccessExpiresAt)
	u.t(attrRefreshExpiresAt, c.RefreshExpiresAt)
	u.t(attrUpdatedAt, c.UpdatedAt)
	u.t(attrLastRefreshAt, c.LastRefreshAt)
	u.t(AttrTTL, c.TTL)
	u.t(AttrRefreshAt, c.RefreshAt)
	if c.RefreshAt.IsZero() {
		u.remove(AttrDueShard)
	} else {
		u.s(AttrDueShard, ShardName(ShardOf(c.Key())))
	}
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       itemKey(c.Key(), connectionSK),
		ConditionExpression:       aws.String(cond),
		UpdateExpression:          aws.String(u.expression()),
		ExpressionAttributeNames:  u.names,
		ExpressionAttributeValues: u.values,

		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if item, ok := conditionFailed(err); ok {
		if !u.appliedTo(item, attrLeaseOwner, attrLeaseUntil) {
			return fmt.Errorf("oauth: complete lease: %w", ErrConflict)
		}
		err = nil
	}
	if err != nil {
		return fmt.Errorf("oauth: complete lease: %w", err)
	}
	c.Version++
	c.LeaseOwner = ""
	c.LeaseUntil = time.Time{}
	return nil
}

// QueryDue implements Store with Queries of the due-index (paged until limit
// entries are read or the shard has no more due ones). The index is
// eventually consistent: an entry may be a little stale, which the lease
// (conditioned on version) makes harmless.
func (s *DynamoStore) QueryDue(ctx context.Context, shard int, before time.Time, limit int) ([]DueEntry, error) {
	if err := validQueryDue(shard, limit); err != nil {
		return nil, err
	}
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		IndexName:                aws.String(DueIndexName),
		KeyConditionExpression:   aws.String("#shard = :shard AND #rat <= :before"),
		ExpressionAttributeNames: map[string]string{"#shard": AttrDueShard, "#rat": AttrRefreshAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":shard":  &types.AttributeValueMemberS{Value: ShardName(shard)},
			":before": numberValue(before.Unix()),
		},
		ScanIndexForward: aws.Bool(true),
	}
	// A page holds at most 1 MB: follow LastEvaluatedKey until limit
	// entries are read, asking each time for only what is still missing.
	var entries []DueEntry
	for {
		in.Limit = aws.Int32(int32(min(limit-len(entries), 1<<30)))
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("oauth: query due: %w", err)
		}
		for _, item := range out.Items {
			d := decoder{item: item}
			e := DueEntry{
				Key:       d.s(AttrPK),
				Provider:  d.s(attrProvider),
				AccountID: d.s(attrAccountID),
				RefreshAt: d.t(AttrRefreshAt),

				RefreshExpiresAt: d.t(attrRefreshExpiresAt),
				Version:          d.n(attrVersion),
			}
			if d.err != nil {
				return nil, fmt.Errorf("oauth: query due: %w", d.err)
			}
			entries = append(entries, e)
		}
		if len(entries) >= limit || len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	if entries == nil {
		entries = []DueEntry{}
	}
	return entries, nil
}
