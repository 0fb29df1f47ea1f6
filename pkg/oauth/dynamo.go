package oauth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute names of the items (DESIGN.md, "Data model"). pk, sk, ttl,
// due_shard and refresh_at are exported in store.go.
const (
	attrBindingHash      = "binding_hash"
	attrVerifier         = "verifier"
	attrReturnTo         = "return_to"
	attrAppState         = "app_state"
	attrCreatedAt        = "created_at"
	attrExpiresAt        = "expires_at"
	attrProvider         = "provider"
	attrAccountID        = "account_id"
	attrAccessToken      = "access_token"
	attrRefreshToken     = "refresh_token"
	attrKeyID            = "key_id"
	attrTokenType        = "token_type"
	attrScope            = "scope"
	attrAccessExpiresAt  = "access_expires_at"
	attrRefreshExpiresAt = "refresh_expires_at"
	attrStatus           = "status"
	attrVersion          = "version"
	attrLeaseOwner       = "lease_owner"
	attrLeaseUntil       = "lease_until"
	attrFailures         = "failures"
	attrLastError        = "last_error"
	attrUpdatedAt        = "updated_at"
	attrLastRefreshAt    = "last_refresh_at"
	attrNextAtMS         = "next_at_ms"      // rate item: next free token-call slot
	attrPausedUntilMS    = "paused_until_ms" // rate item: 429 pause
)

// DueIndexAttributes returns the non-key attributes the due-index projects
// (ProjectionType INCLUDE): exactly what QueryDue reads besides the keys
// (pk, sk, due_shard, refresh_at), never the sealed tokens. CreateTable and
// template.yaml project these; internal/deploytest holds the template to them.
func DueIndexAttributes() []string {
	return []string{attrProvider, attrAccountID, attrRefreshExpiresAt, attrVersion}
}

// DynamoAPI is the part of *dynamodb.Client that DynamoStore uses.
type DynamoAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

var _ Store = (*DynamoStore)(nil)

// DynamoStore is the production Store: one DynamoDB table laid out as
// DESIGN.md's "Data model" describes. Every conditional write is a single
// request, so it is atomic; times are stored as epoch seconds.
type DynamoStore struct {
	client DynamoAPI
	table  string
}

// NewDynamoStore returns a Store on table, reached through client (usually a
// *dynamodb.Client built once, outside the Lambda handler).
func NewDynamoStore(client DynamoAPI, table string) *DynamoStore {
	return &DynamoStore{client: client, table: table}
}

// PutPending implements Store with a PutItem conditioned on attribute_not_exists(pk).
func (s *DynamoStore) PutPending(ctx context.Context, p *PendingAuth) error {
	if err := validPending(p); err != nil {
		return err
	}
	cond := expression.AttributeNotExists(expression.Name(AttrPK))
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return fmt.Errorf("oauth: put pending: %w", err)
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 aws.String(s.table),
		Item:                      pendingItem(p),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
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
	var binding expression.ConditionBuilder
	if len(bindingHashes) == 1 {
		binding = expression.Name(attrBindingHash).Equal(expression.Value(bindingHashes[0]))
	} else {
		rest := make([]expression.OperandBuilder, 0, len(bindingHashes)-1)
		for _, h := range bindingHashes[1:] {
			rest = append(rest, expression.Value(h))
		}
		binding = expression.Name(attrBindingHash).In(expression.Value(bindingHashes[0]), rest...)
	}
	cond := expression.And(
		expression.AttributeExists(expression.Name(AttrPK)),
		binding,
		expression.Name(attrExpiresAt).GreaterThan(expression.Value(now.Unix())),
	)
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return nil, fmt.Errorf("oauth: consume pending: %w", err)
	}
	out, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 itemKey(key, pendingSK),
		ConditionExpression:                 expr.Condition(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValues:                        types.ReturnValueAllOld,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if len(ccf.Item) == 0 {
			return nil, fmt.Errorf("oauth: consume pending: %w", ErrNotFound)
		}
		p, derr := decodePending(ccf.Item)
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

// PutConnection implements Store with an unconditional PutItem that returns
// the replaced item (ReturnValues=ALL_OLD).
func (s *DynamoStore) PutConnection(ctx context.Context, c *Connection) (*Connection, error) {
	if err := validConnection(c); err != nil {
		return nil, err
	}
	out, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:    aws.String(s.table),
		Item:         connectionItem(c),
		ReturnValues: types.ReturnValueAllOld,
	})
	if err != nil {
		return nil, fmt.Errorf("oauth: put connection: %w", err)
	}
	if len(out.Attributes) == 0 {
		return nil, nil
	}
	old, err := decodeConnection(out.Attributes)
	if err != nil {
		return nil, fmt.Errorf("oauth: put connection: replaced item: %w", err)
	}
	return old, nil
}

// GetConnection implements Store with a strongly consistent GetItem.
func (s *DynamoStore) GetConnection(ctx context.Context, provider, accountID string) (*Connection, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            itemKey(ConnectionKey(provider, accountID), connectionSK),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("oauth: get connection: %w", err)
	}
	if len(out.Item) == 0 {
		return nil, fmt.Errorf("oauth: get connection: %w", ErrNotFound)
	}
	c, err := decodeConnection(out.Item)
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
	filter := expression.Name(AttrPK).BeginsWith(connectionPrefix)
	expr, err := expression.NewBuilder().WithFilter(filter).Build()
	if err != nil {
		return nil, fmt.Errorf("oauth: list connections: %w", err)
	}
	pages := dynamodb.NewScanPaginator(s.client, &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
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

// AcquireLease implements Store with a conditional UpdateItem (item exists,
// version unchanged, no live lease). ReturnValuesOnConditionCheckFailure
// tells a lost race (ErrConflict) from a deleted connection (ErrNotFound).
func (s *DynamoStore) AcquireLease(ctx context.Context, provider, accountID string, version int64, owner string, now, until time.Time) (*Connection, error) {
	if owner == "" {
		return nil, errors.New("oauth: acquire lease: empty owner")
	}
	lease := expression.Name(attrLeaseUntil)
	cond := expression.And(
		expression.AttributeExists(expression.Name(AttrPK)),
		expression.Name(attrVersion).Equal(expression.Value(version)),
		expression.Or(lease.AttributeNotExists(), lease.LessThanEqual(expression.Value(now.Unix()))),
	)
	update := expression.Set(expression.Name(attrLeaseOwner), expression.Value(owner)).
		Set(lease, expression.Value(until.Unix()))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(update).Build()
	if err != nil {
		return nil, fmt.Errorf("oauth: acquire lease: %w", err)
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 itemKey(ConnectionKey(provider, accountID), connectionSK),
		ConditionExpression:                 expr.Condition(),
		UpdateExpression:                    expr.Update(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if len(ccf.Item) == 0 {
			return nil, fmt.Errorf("oauth: acquire lease: %w", ErrNotFound)
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
// lease_owner = owner. Empty tokens and strings and zero times are removed
// (a reauth_required connection keeps no tokens), and so are due_shard and
// refresh_at when c.RefreshAt is zero, which takes the connection out of the
// sparse due-index.
func (s *DynamoStore) CompleteLease(ctx context.Context, c *Connection, owner string) error {
	if owner == "" {
		return errors.New("oauth: complete lease: empty owner")
	}
	cond := expression.Name(attrLeaseOwner).Equal(expression.Value(owner))
	u := expression.Set(expression.Name(attrVersion), expression.Value(c.Version+1)).
		Set(expression.Name(attrFailures), expression.Value(c.Failures)).
		Remove(expression.Name(attrLeaseOwner)).
		Remove(expression.Name(attrLeaseUntil))
	setS := func(name, v string) {
		if v == "" {
			u = u.Remove(expression.Name(name))
		} else {
			u = u.Set(expression.Name(name), expression.Value(v))
		}
	}
	setT := func(name string, t time.Time) {
		if t.IsZero() {
			u = u.Remove(expression.Name(name))
		} else {
			u = u.Set(expression.Name(name), expression.Value(t.Unix()))
		}
	}
	setS(attrAccessToken, c.AccessToken)
	setS(attrRefreshToken, c.RefreshToken)
	setS(attrKeyID, c.KeyID)
	setS(attrTokenType, c.TokenType)
	setS(attrScope, c.Scope)
	setS(attrStatus, c.Status)
	setS(attrLastError, c.LastError)
	setT(attrAccessExpiresAt, c.AccessExpiresAt)
	setT(attrRefreshExpiresAt, c.RefreshExpiresAt)
	setT(attrUpdatedAt, c.UpdatedAt)
	setT(attrLastRefreshAt, c.LastRefreshAt)
	setT(AttrTTL, c.TTL)
	setT(AttrRefreshAt, c.RefreshAt)
	if c.RefreshAt.IsZero() {
		u = u.Remove(expression.Name(AttrDueShard))
	} else {
		u = u.Set(expression.Name(AttrDueShard), expression.Value(ShardName(ShardOf(c.Key()))))
	}
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(u).Build()
	if err != nil {
		return fmt.Errorf("oauth: complete lease: %w", err)
	}
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       itemKey(c.Key(), connectionSK),
		ConditionExpression:       expr.Condition(),
		UpdateExpression:          expr.Update(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("oauth: complete lease: %w", ErrConflict)
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
	key := expression.Key(AttrDueShard).Equal(expression.Value(ShardName(shard))).
		And(expression.Key(AttrRefreshAt).LessThanEqual(expression.Value(before.Unix())))
	expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return nil, fmt.Errorf("oauth: query due: %w", err)
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(DueIndexName),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ScanIndexForward:          aws.Bool(true),
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

// ReserveTokenCall implements Store with one conditional UpdateItem on the
// provider's rate item: the condition (no slot taken after now, no pause
// after now) and the write of the next slot are one atomic step, so two
// reservers can never both take a slot. When the condition fails,
// ReturnValuesOnConditionCheckFailure=ALL_OLD says when to ask again.
func (s *DynamoStore) ReserveTokenCall(ctx context.Context, provider string, now time.Time, interval time.Duration) (time.Time, error) {
	if err := validReserve(provider, interval); err != nil {
		return time.Time{}, err
	}
	nowMS := expression.Value(now.UnixMilli())
	next, paused := expression.Name(attrNextAtMS), expression.Name(attrPausedUntilMS)
	cond := expression.And(
		expression.Or(next.AttributeNotExists(), next.LessThanEqual(nowMS)),
		expression.Or(paused.AttributeNotExists(), paused.LessThanEqual(nowMS)),
	)
	update := expression.Set(next, expression.Value(now.UnixMilli()+interval.Milliseconds()))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(update).Build()
	if err != nil {
		return time.Time{}, fmt.Errorf("oauth: reserve token call: %w", err)
	}
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 itemKey(ratePrefix+provider, rateSK),
		ConditionExpression:                 expr.Condition(),
		UpdateExpression:                    expr.Update(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		d := decoder{item: ccf.Item}
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
// pause (a shorter one loses its condition, which is not an error).
func (s *DynamoStore) PauseTokenCalls(ctx context.Context, provider string, until time.Time) error {
	if provider == "" {
		return errors.New("oauth: pause token calls: empty provider")
	}
	paused := expression.Name(attrPausedUntilMS)
	v := expression.Value(until.UnixMilli())
	cond := expression.Or(paused.AttributeNotExists(), paused.LessThan(v))
	expr, err := expression.NewBuilder().WithCondition(cond).WithUpdate(expression.Set(paused, v)).Build()
	if err != nil {
		return fmt.Errorf("oauth: pause token calls: %w", err)
	}
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       itemKey(ratePrefix+provider, rateSK),
		ConditionExpression:       expr.Condition(),
		UpdateExpression:          expr.Update(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("oauth: pause token calls: %w", err)
	}
	return nil
}

// CreateTable creates the table DynamoStore expects (pay per request, pk/sk
// strings, the sparse due-index on due_shard/refresh_at projecting
// DueIndexAttributes, the stream with NEW_AND_OLD_IMAGES), waits until it
// is ACTIVE and enables TTL on the ttl attribute.
// For tests and the local dev server; production tables come from
// template.yaml.
func CreateTable(ctx context.Context, client *dynamodb.Client, name string) error {
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(AttrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrSK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrDueShard), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrRefreshAt), AttributeType: types.ScalarAttributeTypeN},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(AttrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(AttrSK), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(DueIndexName),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(AttrDueShard), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(AttrRefreshAt), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{
				ProjectionType:   types.ProjectionTypeInclude,
				NonKeyAttributes: DueIndexAttributes(),
			},
		}},
		// As template.yaml: the stream feeds the events function.
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages},
	})
	if err != nil {
		return fmt.Errorf("oauth: create table %s: %w", name, err)
	}
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = time.Second
		o.MaxDelay = 5 * time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 5*time.Minute); err != nil {
		return fmt.Errorf("oauth: create table %s: wait until active: %w", name, err)
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(AttrTTL),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("oauth: create table %s: enable ttl: %w", name, err)
	}
	return nil
}

// Item encoding. Strings are S, times epoch seconds (N), counters N; empty
// strings and zero times are left out.

func itemKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttrPK: &types.AttributeValueMemberS{Value: pk},
		AttrSK: &types.AttributeValueMemberS{Value: sk},
	}
}

type encoder map[string]types.AttributeValue

func (e encoder) s(name, v string) {
	if v != "" {
		e[name] = &types.AttributeValueMemberS{Value: v}
	}
}

func (e encoder) n(name string, v int64) {
	e[name] = &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func (e encoder) t(name string, t time.Time) {
	if !t.IsZero() {
		e.n(name, t.Unix())
	}
}

func pendingItem(p *PendingAuth) map[string]types.AttributeValue {
	e := encoder(itemKey(p.Key, pendingSK))
	e.s(attrBindingHash, p.BindingHash)
	e.s(attrVerifier, p.Verifier)
	e.s(attrReturnTo, p.ReturnTo)
	e.s(attrAppState, p.AppState)
	e.t(attrCreatedAt, p.CreatedAt)
	e.t(attrExpiresAt, p.ExpiresAt)
	e.t(AttrTTL, p.ExpiresAt)
	return e
}

func connectionItem(c *Connection) map[string]types.AttributeValue {
	e := encoder(itemKey(c.Key(), connectionSK))
	e.s(attrProvider, c.Provider)
	e.s(attrAccountID, c.AccountID)
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
	if !c.RefreshAt.IsZero() {
		e.s(AttrDueShard, ShardName(ShardOf(c.Key())))
		e.t(AttrRefreshAt, c.RefreshAt)
	}
	return e
}

// decoder reads attributes, keeping the first error.
type decoder struct {
	item map[string]types.AttributeValue
	err  error
}

func (d *decoder) s(name string) string {
	av, ok := d.item[name]
	if !ok {
		return ""
	}
	v, ok := av.(*types.AttributeValueMemberS)
	if !ok {
		d.fail(fmt.Errorf("attribute %s is %T, want a string", name, av))
		return ""
	}
	return v.Value
}

func (d *decoder) n(name string) int64 {
	av, ok := d.item[name]
	if !ok {
		return 0
	}
	v, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		d.fail(fmt.Errorf("attribute %s is %T, want a number", name, av))
		return 0
	}
	i, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		d.fail(fmt.Errorf("attribute %s: %w", name, err))
	}
	return i
}

func (d *decoder) t(name string) time.Time {
	if _, ok := d.item[name]; !ok {
		return time.Time{}
	}
	return time.Unix(d.n(name), 0).UTC()
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func decodePending(item map[string]types.AttributeValue) (*PendingAuth, error) {
	d := decoder{item: item}
	p := &PendingAuth{
		Key:         d.s(AttrPK),
		BindingHash: d.s(attrBindingHash),
		Verifier:    d.s(attrVerifier),
		ReturnTo:    d.s(attrReturnTo),
		AppState:    d.s(attrAppState),
		CreatedAt:   d.t(attrCreatedAt),
		ExpiresAt:   d.t(attrExpiresAt),
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode pending %s: %w", p.Key, d.err)
	}
	return p, nil
}

func decodeConnection(item map[string]types.AttributeValue) (*Connection, error) {
	d := decoder{item: item}
	c := &Connection{
		Provider:         d.s(attrProvider),
		AccountID:        d.s(attrAccountID),
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
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode connection %s: %w", d.s(AttrPK), d.err)
	}
	return c, nil
}
