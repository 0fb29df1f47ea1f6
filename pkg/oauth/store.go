package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/oauthfn/oauthfn/pkg/oauth/internal/item"
)

// Table layout shared by the code, template.yaml and the tests. The names are
// documented (docs/architecture.md, "What is stored"); template_test.go holds the
// template to them.
const (
	AttrPK        = item.AttrPK
	AttrSK        = item.AttrSK
	AttrTTL       = "ttl"
	DueIndexName  = "due-index"
	AttrDueShard  = "due_shard"
	AttrRefreshAt = "refresh_at"
	// AttrEndUser is the app's user id from the connect token, on pending
	// authorizations and connections; UserIndexName is the sparse GSI on it
	// (only connections made with a connect token carry it). The index
	// projects keys and the non-secret fields ConnectionsByEndUser returns,
	// never sealed tokens.
	AttrEndUser   = item.AttrEndUser
	UserIndexName = "user-index"

	// DueShards is the number of partitions of the sparse due-index
	// (due#00 … due#15). Connections are spread over them by a hash of pk.
	DueShards = 16

	pendingPrefix    = "state#"
	pendingSK        = "state"
	connectionPrefix = item.ConnectionPrefix
	connectionSK     = item.ConnectionSK
	ratePrefix       = "rate#"
	rateSK           = "limit"
	jtiPrefix        = "jti#"
	jtiSK            = "jti"
)

// Connection statuses.
const (
	StatusActive         = item.StatusActive
	StatusReauthRequired = item.StatusReauthRequired
	StatusRevoked        = item.StatusRevoked
)

// Sentinel errors every Store returns (wrapped or not; test with errors.Is).
var (
	// ErrNotFound: no such item.
	ErrNotFound = errors.New("oauth: not found")
	// ErrPendingExpired: the pending authorization exists but its expires_at
	// has passed (DynamoDB's TTL deletes expired items only eventually).
	// The record is left in place.
	ErrPendingExpired = errors.New("oauth: authorization expired")
	// ErrBindingMismatch: the pending authorization exists and is live, but the
	// binding-cookie hash differs. The record is left in place.
	ErrBindingMismatch = errors.New("oauth: binding cookie does not match")
	// ErrConflict: a conditional write lost (version changed, a live lease is
	// held by someone else, or the lease is no longer ours).
	ErrConflict = errors.New("oauth: conflicting write")
	// ErrReplayed: PutPending refused a pending authorization because its
	// connect token's jti was used before (or is being used right now).
	ErrReplayed = errors.New("oauth: connect token already used")
)

// PendingAuth is an authorization in flight between /authorize and /callback.
// Stored under PendingKey(state) with a 10-minute TTL.
type PendingAuth struct {
	Key         string // pk: PendingKey(state)
	BindingHash string // base64url(sha256(binding cookie value))
	Verifier    string // PKCE verifier, sealed (never plaintext at rest)
	ReturnTo    string // validated return URL, or ""
	AppState    string // opaque app state, or ""
	EndUser     string // the connect token's sub, or "" (anonymous)
	// BFF: a sign-in of the backend for the frontend (GET
	// /bff/{provider}/login, attribute bff): the callback makes a browser
	// session of it rather than telling an app.
	BFF       bool
	CreatedAt time.Time // set by the handler
	ExpiresAt time.Time // checked in code on consume

	// JTI, when set, is the connect token's id: PutPending records it as
	// spent in the same atomic write that stores the pending authorization,
	// and refuses both with ErrReplayed if it was spent before. The record
	// is kept at least until JTIExpiresAt (after which the token itself is
	// refused), and then until the store deletes it (DynamoDB's TTL, some
	// hours later; MemoryStore, a day later): never forgotten at the moment
	// it expires (oauthtest holds every store to this).
	// Neither is stored on the pending authorization.
	JTI          string
	JTIExpiresAt time.Time
}

// Connection is one provider account's tokens and refresh bookkeeping.
// Token fields hold sealed values (see Sealer); the store never sees plaintext.
type Connection struct {
	Provider  string
	AccountID string

	AccessToken      string // sealed
	RefreshToken     string // sealed, "" when the provider issued none
	KeyID            string
	TokenType        string
	Scope            string
	AccessExpiresAt  time.Time // zero: unknown
	RefreshExpiresAt time.Time // zero: unknown or no refresh token

	// EndUser is the app's user who connected the account (the connect
	// token's sub), or "" for an anonymous connection. A re-connection by
	// another end user moves the account to that user.
	EndUser string

	Status    string // StatusActive, StatusReauthRequired, StatusRevoked
	Version   int64
	Failures  int
	LastError string // a short code, never provider bodies or tokens

	LeaseOwner string
	LeaseUntil time.Time

	CreatedAt     time.Time
	UpdatedAt     time.Time
	LastRefreshAt time.Time

	// AnonymousConnect: the latest connect had no connect token
	// (REQUIRE_CONNECT_TOKEN=false). It never changes EndUser; the
	// Connection Connected event says the end user was kept.
	AnonymousConnect bool

	// Source is how the connection was made (SourceBrowser, or "" for
	// one stored before sources existed; SourceJWTBearer or
	// SourceClientCredentials: from a server credential, see
	// credential.go).
	Source string
	// Credential is the sealed server credential (field "credential"),
	// "" for a browser or a client_credentials connection. It is kept when the connection becomes
	// reauth_required, so that `credential rotate` can replace it.
	Credential string

	// RefreshAt is when the sweep should next refresh this connection. Zero
	// keeps the connection out of the due-index (no due_shard attribute):
	// connections without a refresh token, reauth_required and revoked ones.
	RefreshAt time.Time
	// TTL is when DynamoDB may delete the item (refresh expiry plus grace).
	// Zero: no ttl attribute.
	TTL time.Time
}

// Key is the connection's pk.
func (c *Connection) Key() string { return ConnectionKey(c.Provider, c.AccountID) }

// DueEntry is one row of the due-index (the index projects the keys and
// DueIndexAttributes; an entry may be a little stale, which the lease,
// conditioned on Version, makes harmless).
type DueEntry struct {
	Key       string // pk
	Provider  string
	AccountID string
	RefreshAt time.Time
	// RefreshExpiresAt is when the refresh token dies (zero: unknown). The
	// sweep serves the connections closest to losing it first.
	RefreshExpiresAt time.Time
	// Version is the connection's version as the index saw it.
	Version int64
}

// Store persists pending authorizations and connections. Implementations:
// DynamoStore (production) and MemoryStore (dev server, tests); both pass
// oauthtest.RunStoreTests.
type Store interface {
	BindStore
	SessionStore

	// PutPending stores a new pending authorization; it fails with
	// ErrConflict if the key holds another one not yet consumed. Putting
	// the very same record again succeeds (a retried request).
	PutPending(ctx context.Context, p *PendingAuth) error
	// ConsumePending consumes and returns the pending authorization under
	// key (deleted, or marked consumed), atomically, only if its binding hash is one of bindingHashes (a browser
	// may hold several bindings, one per tab) and it has not expired at now.
	// The returned PendingAuth's BindingHash is the one that matched.
	// Otherwise nothing is deleted and the error is ErrNotFound (missing or
	// already consumed), ErrPendingExpired, or ErrBindingMismatch.
	ConsumePending(ctx context.Context, key string, bindingHashes []string, now time.Time) (*PendingAuth, error)

	// PutConnection writes c (re-authorization replaces a connection) and
	// returns the connection it replaced, or nil (also when the connection
	// in place was this very one: a retried request). A c without an end
	// user (an anonymous connect) keeps the replaced connection's end
	// user: PutConnection sets c.EndUser to it.
	PutConnection(ctx context.Context, c *Connection) (replaced *Connection, err error)
	// ReplaceConnection writes c only if the connection in place is still
	// prev as read: the same version and created_at, and no lease live at
	// now (a Disconnect or a refresh holding it); with prev nil, only if
	// there is none. It returns the connection it replaced (nil when prev
	// is nil), or ErrConflict when the connection changed meanwhile (read
	// it again). Finding c itself in place is a retried request whose
	// earlier attempt was applied and its reply lost: that succeeds and
	// returns prev, which the earlier attempt replaced. c is written as it
	// is (an anonymous c does not take prev's end user: the caller, who
	// read prev, sets it). The caller gives c a version other than prev's,
	// so that a retry never meets its own condition.
	ReplaceConnection(ctx context.Context, c, prev *Connection, now time.Time) (replaced *Connection, err error)
	// GetConnection reads a connection (strongly consistent); ErrNotFound.
	GetConnection(ctx context.Context, provider, accountID string) (*Connection, error)
	// DeleteConnection deletes a connection; deleting a missing one is not an error.
	DeleteConnection(ctx context.Context, provider, accountID string) error
	// ListConnections returns every connection (for operators' tools, never
	// for the sweep).
	ListConnections(ctx context.Context) ([]*Connection, error)
	// ConnectionsByEndUser returns the connections of one end user, ordered
	// by key, from the user-index: without tokens (AccessToken,
	// RefreshToken, KeyID, TTL and the lease are empty), possibly a moment
	// stale.
	ConnectionsByEndUser(ctx context.Context, endUser string) ([]*Connection, error)

	// AcquireLease sets lease_owner=owner and lease_until=until if the
	// connection's version is still version and no lease is live at now, and
	// returns the connection as written. ErrConflict otherwise, ErrNotFound if
	// the connection is gone. The very same lease (version, owner and until)
	// already in place is returned as written (a retried request).
	AcquireLease(ctx context.Context, provider, accountID string, version int64, owner string, now, until time.Time) (*Connection, error)
	// CompleteLease writes c's token, expiry, status and bookkeeping fields,
	// sets version to c.Version+1 and clears the lease, only if lease_owner is
	// still owner, or if this very completion by owner was already applied (a
	// retried request). ErrConflict otherwise. On success c.Version is
	// incremented and the lease fields of c are cleared.
	CompleteLease(ctx context.Context, c *Connection, owner string) error

	// QueryDue returns up to limit index entries of one shard whose
	// refresh_at <= before, earliest first.
	QueryDue(ctx context.Context, shard int, before time.Time, limit int) ([]DueEntry, error)

	// ReserveTokenCall takes the deployment-wide token-endpoint slot for
	// provider: if no slot is taken after now and calls are not paused, it
	// reserves the next one (the following call may go at now+interval) and
	// returns a zero time: call now. Otherwise it reserves nothing and
	// returns when to ask again. Concurrent reservers never take the same
	// slot (one conditional write on the item pk "rate#<provider>", sk
	// "limit"). Times are kept to the millisecond.
	ReserveTokenCall(ctx context.Context, provider string, now time.Time, interval time.Duration) (retryAt time.Time, err error)
	// PauseTokenCalls makes every ReserveTokenCall for provider wait until
	// until (a 429's Retry-After). It only ever extends a pause, except a
	// pause more than MaxRetryAfter after until, which it replaces (no
	// pause is that long: it was stored before Retry-After was capped).
	PauseTokenCalls(ctx context.Context, provider string, until time.Time) error
}

// PendingKey is the pk of the pending authorization for state:
// "state#" + unpadded base64url(sha256(state)). The raw state never reaches
// the table.
func PendingKey(state string) string {
	sum := sha256.Sum256([]byte(state))
	return pendingPrefix + base64.RawURLEncoding.EncodeToString(sum[:])
}

// JTIKey is the pk of the record that spends a connect token's jti:
// "jti#" + unpadded base64url(sha256(jti)).
func JTIKey(jti string) string {
	sum := sha256.Sum256([]byte(jti))
	return jtiPrefix + base64.RawURLEncoding.EncodeToString(sum[:])
}

// ConnectionKey is the pk of a connection: "conn#<provider>#<account>".
func ConnectionKey(provider, accountID string) string { return item.ConnectionKey(provider, accountID) }

// ShardOf maps a pk to its due-index shard, 0 … DueShards-1.
func ShardOf(pk string) int {
	sum := sha256.Sum256([]byte(pk))
	return int(binary.BigEndian.Uint32(sum[:4]) % DueShards)
}

// ShardName is the due_shard value of shard i: "due#00" … "due#15".
func ShardName(i int) string { return fmt.Sprintf("due#%02d", i) }
