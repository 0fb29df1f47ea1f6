package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/oauthfn/oauthfn/pkg/oauth/internal/item"
)

// The DynamoDB store, by concern: this file holds the type and the attribute
// names; dynamo_pending.go the pending authorizations, dynamo_conn.go the
// connections, dynamo_lease.go the leases and the due-index, dynamo_rate.go
// the token-call rate limiter, dynamo_item.go the item encoding and
// dynamo_table.go the table itself.
//
// Every request is written out by hand: fixed expression strings with
// placeholders, attribute maps built field by field. No expression builder
// and no reflective marshalling: they cost start-up time and allocations on
// every call, and the item shapes are fixed (docs/architecture.md, "What is
// stored").

// Attribute names of the items (docs/architecture.md). pk, sk, ttl,
// due_shard and refresh_at are exported in store.go. The connection
// attributes the stream mapping reads are defined once in internal/item
// (connevent reads them without linking this package).
const (
	attrBindingHash      = "binding_hash"
	attrVerifier         = "verifier"
	attrReturnTo         = "return_to"
	attrAppState         = "app_state"
	attrCreatedAt        = item.AttrCreatedAt
	attrExpiresAt        = "expires_at"
	attrProvider         = item.AttrProvider
	attrAccountID        = item.AttrAccountID
	attrAccessToken      = item.AttrAccessToken
	attrRefreshToken     = "refresh_token"
	attrKeyID            = "key_id"
	attrTokenType        = "token_type"
	attrScope            = "scope"
	attrAccessExpiresAt  = "access_expires_at"
	attrRefreshExpiresAt = "refresh_expires_at"
	attrStatus           = item.AttrStatus
	attrVersion          = item.AttrVersion
	attrLeaseOwner       = "lease_owner"
	attrLeaseUntil       = "lease_until"
	attrFailures         = item.AttrFailures
	attrLastError        = item.AttrLastError
	attrUpdatedAt        = item.AttrUpdatedAt
	attrLastRefreshAt    = "last_refresh_at"
	attrNextAtMS         = "next_at_ms"      // rate item: next free token-call slot
	attrPausedUntilMS    = "paused_until_ms" // rate item: 429 pause
	// attrRequestToken is, on a rate item, the random token of the request
	// that took the last slot, so that a retry of that request recognises
	// its own applied write; attrConsumedBy is, on a consumed pending
	// authorization, the token of the request that consumed it.
	attrRequestToken = "request_token"
	attrConsumedBy   = "consumed_by"
	// attrCompletedBy is, on a connection, the owner of the lease the last
	// CompleteLease ended.
	attrCompletedBy = "completed_by"
	// attrPendingKey is, on a spent jti, the pending authorization it was
	// spent for.
	attrPendingKey = "pending_key"
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
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

var _ Store = (*DynamoStore)(nil)

// DynamoStore is the production Store: one DynamoDB table laid out as
// docs/architecture.md ("What is stored") describes. Every conditional write is a single
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

// requestToken is a random token that tells one request's write from any
// other's (see attrRequestToken).
func requestToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// conditionFailed reports whether err is a failed condition, and returns
// the item as it was (ReturnValuesOnConditionCheckFailure=ALL_OLD; empty
// when there was none or it was not asked for).
func conditionFailed(err error) (map[string]types.AttributeValue, bool) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ccf.Item, true
	}
	return nil, false
}
