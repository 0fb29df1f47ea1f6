package oauth

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/oauthfn/oauthfn/pkg/oauth/internal/item"
)

// attrAnonymousConnect marks a connection whose latest connect had no
// connect token.
const attrAnonymousConnect = item.AttrAnonymousConnect

// Connections: written whole at /callback, read and deleted by key, listed
// for operators.

// PutConnection implements Store with a PutItem that returns the replaced
// item (ReturnValues=ALL_OLD). A connection with an end user is written
// unconditionally. One without (an anonymous connect) never changes the end
// user of the connection it replaces: it is written only if that has none,
// and otherwise again with that end user (a second PutItem, only in that
// case, conditioned on the end user being still the same).
//
// A replaced item that is this very item is not a replaced connection: an
// earlier attempt of the same request was applied and its reply lost (the
// SDK retried it), and the connection it replaced is unknown. Reporting the
// item itself would have the callback revoke the session it just stored.
func (s *DynamoStore) PutConnection(ctx context.Context, c *Connection) (*Connection, error) {
	if err := validConnection(c); err != nil {
		return nil, err
	}
	var out *dynamodb.PutItemOutput
	var err error
	var item map[string]types.AttributeValue
	for attempt := 1; ; attempt++ {
		item = connectionItem(c)
		in := &dynamodb.PutItemInput{
			TableName:    aws.String(s.table),
			Item:         item,
			ReturnValues: types.ReturnValueAllOld,
		}
		if attempt > 1 || c.EndUser == "" {
			in.ExpressionAttributeNames = map[string]string{"#eu": AttrEndUser}
			in.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
			if c.EndUser == "" {
				in.ConditionExpression = aws.String("attribute_not_exists(#eu)")
			} else {
				in.ConditionExpression = aws.String("#eu = :eu")
				in.ExpressionAttributeValues = map[string]types.AttributeValue{":eu": &types.AttributeValueMemberS{Value: c.EndUser}}
			}
		}
		out, err = s.client.PutItem(ctx, in)
		old, failed := conditionFailed(err)
		if !failed {
			break
		}
		if attempt == 3 {
			return nil, fmt.Errorf("oauth: put connection: its end user keeps changing: %w", ErrConflict)
		}
		prev, derr := decodeConnection(old)
		if derr != nil {
			return nil, fmt.Errorf("oauth: put connection: %w", derr)
		}
		c.EndUser = prev.EndUser // "" again if it was removed meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: put connection: %w", err)
	}
	if len(out.Attributes) == 0 || sameItem(out.Attributes, item) {
		return nil, nil
	}
	old, err := decodeConnection(out.Attributes)
	if err != nil {
		return nil, fmt.Errorf("oauth: put connection: replaced item: %w", err)
	}
	return old, nil
}

// ReplaceConnection implements Store with one conditional PutItem
// (ReturnValues=ALL_OLD, and ALL_OLD on a failed condition). A retry of an
// applied write (the SDK's, after a lost reply) finds its condition false
// and the item it wrote in place: sameItem tells it from a conflict.
func (s *DynamoStore) ReplaceConnection(ctx context.Context, c, prev *Connection, now time.Time) (*Connection, error) {
	if err := validConnection(c); err != nil {
		return nil, err
	}
	item := connectionItem(c)
	in := &dynamodb.PutItemInput{
		TableName:                           aws.String(s.table),
		Item:                                item,
		ReturnValues:                        types.ReturnValueAllOld,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	if prev == nil {
		in.ConditionExpression = aws.String("attribute_not_exists(#pk)")
		in.ExpressionAttributeNames = map[string]string{"#pk": AttrPK}
	} else {
		created := "attribute_not_exists(#ca)"
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":ver": numberValue(prev.Version), ":now": numberValue(now.Unix())}
		if !prev.CreatedAt.IsZero() {
			created = "#ca = :ca"
			in.ExpressionAttributeValues[":ca"] = numberValue(prev.CreatedAt.Unix())
		}
		in.ConditionExpression = aws.String("#ver = :ver AND " + created + " AND (attribute_not_exists(#lu) OR #lu <= :now)")
		in.ExpressionAttributeNames = map[string]string{"#ver": attrVersion, "#ca": attrCreatedAt, "#lu": attrLeaseUntil}
	}
	out, err := s.client.PutItem(ctx, in)
	if old, failed := conditionFailed(err); failed {
		if sameItem(old, item) {
			return copyConnection(prev), nil // this very write, applied earlier
		}
		return nil, fmt.Errorf("oauth: replace connection: %w", ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("oauth: replace connection: %w", err)
	}
	switch {
	case len(out.Attributes) == 0:
		return nil, nil
	case sameItem(out.Attributes, item):
		return copyConnection(prev), nil // this very write, applied earlier
	}
	old, err := decodeConnection(out.Attributes)
	if err != nil {
		return nil, fmt.Errorf("oauth: replace connection: replaced item: %w", err)
	}
	return old, nil
}

// GetConnection implements Store with a strongly consistent GetItem.
func (s *DynamoStore) GetConnection(ctx context.Context, provider, accountID string) (*Connection, error) {
	it, err := s.getItem(ctx, ConnectionKey(provider, accountID), connectionSK)
	if err != nil {
		return nil, fmt.Errorf("oauth: get connection: %w", err)
	}
	c, err := decodeConnection(it)
	if err != nil {
		return nil, fmt.Errorf("oauth: get connection: %w", err)
	}
	return c, nil
}

// DeleteConnection implements Store.
func (s *DynamoStore) DeleteConnection(ctx context.Context, provider, accountID string) error {
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table),
		Key:       itemKey(ConnectionKey(provider, accountID), connectionSK),
	})
	if err != nil {
		return fmt.Errorf("oauth: delete connection: %w", err)
	}
	return nil
}

// ListConnections implements Store with a paginated Scan filtered on the
// "conn#" prefix. It reads the whole table: for operators' tools only, never
// for the sweep. The result is ordered by key.
func (s *DynamoStore) ListConnections(ctx context.Context) ([]*Connection, error) {
	pages := dynamodb.NewScanPaginator(s.client, &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		FilterExpression:          aws.String("begins_with(#pk, :prefix)"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":prefix": &types.AttributeValueMemberS{Value: connectionPrefix}},
		ConsistentRead:            aws.Bool(true),
	})
	var out []*Connection
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("oauth: list connections: %w", err)
		}
		for _, item := range page.Items {
			c, err := decodeConnection(item)
			if err != nil {
				return nil, fmt.Errorf("oauth: list connections: %w", err)
			}
			out = append(out, c)
		}
	}
	sortConnections(out)
	return out, nil
}

func connectionItem(c *Connection) map[string]types.AttributeValue {
	e := newEncoder(c.Key(), connectionSK, 27)
	e.s(attrProvider, c.Provider)
	e.s(attrAccountID, c.AccountID)
	e.s(AttrEndUser, c.EndUser)
	e.s(attrAccessToken, c.AccessToken)
	e.s(attrRefreshToken, c.RefreshToken)
	e.s(attrKeyID, c.KeyID)
	e.s(attrTokenType, c.TokenType)
	e.s(attrScope, c.Scope)
	e.t(attrAccessExpiresAt, c.AccessExpiresAt)
	e.t(attrRefreshExpiresAt, c.RefreshExpiresAt)
	e.s(attrStatus, c.Status)
	e.n(attrVersion, c.Version)
	e.s(attrLeaseOwner, c.LeaseOwner)
	e.t(attrLeaseUntil, c.LeaseUntil)
	e.n(attrFailures, int64(c.Failures))
	e.s(attrLastError, c.LastError)
	e.t(attrCreatedAt, c.CreatedAt)
	e.t(attrUpdatedAt, c.UpdatedAt)
	e.t(attrLastRefreshAt, c.LastRefreshAt)
	e.t(AttrTTL, c.TTL)
	if c.AnonymousConnect {
		e.n(attrAnonymousConnect, 1)
	}
	e.s(attrSource, c.Source)
	e.s(attrCredential, c.Credential)
	if !c.RefreshAt.IsZero() {
		e.s(AttrDueShard, ShardName(ShardOf(c.Key())))
		e.t(AttrRefreshAt, c.RefreshAt)
	}
	return e
}

func decodeConnection(item map[string]types.AttributeValue) (*Connection, error) {
	d := decoder{item: item}
	c := &Connection{
		Provider:         d.s(attrProvider),
		AccountID:        d.s(attrAccountID),
		EndUser:          d.s(AttrEndUser),
		AccessToken:      d.s(attrAccessToken),
		RefreshToken:     d.s(attrRefreshToken),
		KeyID:            d.s(attrKeyID),
		TokenType:        d.s(attrTokenType),
		Scope:            d.s(attrScope),
		AccessExpiresAt:  d.t(attrAccessExpiresAt),
		RefreshExpiresAt: d.t(attrRefreshExpiresAt),
		Status:           d.s(attrStatus),
		Version:          d.n(attrVersion),
		Failures:         int(d.n(attrFailures)),
		LastError:        d.s(attrLastError),
		LeaseOwner:       d.s(attrLeaseOwner),
		LeaseUntil:       d.t(attrLeaseUntil),
		CreatedAt:        d.t(attrCreatedAt),
		UpdatedAt:        d.t(attrUpdatedAt),
		LastRefreshAt:    d.t(attrLastRefreshAt),
		RefreshAt:        d.t(AttrRefreshAt),
		TTL:              d.t(AttrTTL),
		AnonymousConnect: d.n(attrAnonymousConnect) == 1,
		Source:           d.s(attrSource),
		Credential:       d.s(attrCredential),
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode connection %s: %w", d.s(AttrPK), d.err)
	}
	return c, nil
}

// getItem reads one item, strongly consistent; ErrNotFound when there is
// none.
func (s *DynamoStore) getItem(ctx context.Context, pk, sk string) (map[string]types.AttributeValue, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            itemKey(pk, sk),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	if len(out.Item) == 0 {
		return nil, ErrNotFound
	}
	return out.Item, nil
}
