// Package item names the parts of the table's connection item that are read
// outside the DynamoDB store: its key, the attributes the stream mapping
// (connevent.Transition) reads, and the connection statuses
// (docs/architecture.md, "What is stored"). It is a leaf with no SDK import, so that functions/events
// reads stream records without linking pkg/oauth and its DynamoDB and
// Secrets Manager clients. pkg/oauth defines its names of these as aliases:
// each name has this one definition.
package item

// Key of every item, and of a connection.
const (
	AttrPK = "pk"
	AttrSK = "sk"

	// ConnectionPrefix starts the pk of every connection (ConnectionKey);
	// ConnectionSK is its sk.
	ConnectionPrefix = "conn#"
	ConnectionSK     = "token"

	// BindPrefix starts the pk of every pending connection (a connection
	// made with a connect token, waiting for the app's confirmation);
	// BindSK is its sk.
	BindPrefix = "bind#"
	BindSK     = "bind"
)

// Attributes of a pending connection that the stream mapping reads (with
// AttrProvider, AttrAccountID, AttrStatus, AttrCreatedAt, AttrUpdatedAt).
const (
	// AttrBindEndUser is the end user a pending connection waits to be
	// confirmed for: not AttrEndUser, so that user-index never lists it.
	AttrBindEndUser = "bind_end_user"
	// AttrReason is why a pending connection was rejected.
	AttrReason = "reason"
)

// Pending connection statuses, and why one was rejected.
const (
	StatusPending  = "pending"
	StatusRejected = "rejected"

	ReasonAppRejected  = "app_rejected"
	ReasonUserMismatch = "user_mismatch"
	ReasonExpired      = "expired"
)

// Attributes of a connection that the stream mapping reads.
const (
	// AttrEndUser is the app's user id from the connect token (also on
	// pending authorizations).
	AttrEndUser     = "end_user"
	AttrProvider    = "provider"
	AttrAccountID   = "account_id"
	AttrStatus      = "status"
	AttrLastError   = "last_error"
	AttrVersion     = "version"
	AttrFailures    = "failures"
	AttrCreatedAt   = "created_at"
	AttrUpdatedAt   = "updated_at"
	AttrAccessToken = "access_token" // sealed; compared, never copied out
	// AttrAnonymousConnect is 1 on a connection whose latest connect had no
	// connect token (it kept the end user it had).
	AttrAnonymousConnect = "anonymous_connect"
)

// Connection statuses.
const (
	StatusActive         = "active"
	StatusReauthRequired = "reauth_required"
	StatusRevoked        = "revoked"
)

// ConnectionKey is the pk of a connection: "conn#<provider>#<account>".
func ConnectionKey(provider, accountID string) string {
	return ConnectionPrefix + provider + "#" + accountID
}
