package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"

	"github.com/oauthfn/oauthfn/pkg/oauth/internal/item"
)

// Pending connections (DESIGN.md, "Confirmation"). A connect link is a
// bearer URL: whoever finishes the flow brings their own provider account,
// while the link names the app user who minted it. So a connection made
// with a connect token is not attached at the callback: its tokens wait,
// sealed, in a pending connection until the app's backend confirms (POST
// /confirm) that the user signed in to it in the browser that came back is
// the one the link was made for.

const (
	bindPrefix = item.BindPrefix
	bindSK     = item.BindSK

	// StatusPending and StatusRejected are a pending connection's statuses.
	StatusPending  = item.StatusPending
	StatusRejected = item.StatusRejected

	// Why a pending connection was rejected (its reason, and the
	// Connection Rejected event's).
	ReasonAppRejected  = item.ReasonAppRejected
	ReasonUserMismatch = item.ReasonUserMismatch
	ReasonExpired      = item.ReasonExpired

	// PendingGrace is how long DynamoDB keeps a pending connection past its
	// expiry (its ttl): the sweep, not the TTL, ends an undecided one, so
	// that its session is revoked at the provider first.
	PendingGrace = 24 * time.Hour
)

// PendingConnection is a connection waiting for the app's confirmation,
// stored under BindKey(result jti).
type PendingConnection struct {
	Key string // pk: BindKey(the result's jti)
	// Conn is the connection it becomes when accepted: provider, account,
	// end user (the connect token's sub), token type, scope, lifetimes,
	// created_at, and the tokens sealed with Key as additional data (the
	// accept re-seals them for the connection's own key).
	Conn      Connection
	AppState  string
	ExpiresAt time.Time // now + CONFIRM_TTL at the callback
	Status    string    // StatusPending, or StatusRejected once decided so
	Reason    string    // ReasonAppRejected, ReasonUserMismatch, ReasonExpired
	// DecisionID names the request that rejected it, so that a retried
	// write whose first reply was lost recognises its own work.
	DecisionID string
	UpdatedAt  time.Time
}

// BindKey is the pk of the pending connection a result names:
// "bind#" + unpadded base64url(sha256(jti)).
func BindKey(jti string) string {
	sum := sha256.Sum256([]byte(jti))
	return bindPrefix + base64.RawURLEncoding.EncodeToString(sum[:])
}

// IsBindKey reports whether pk is a pending connection's.
func IsBindKey(pk string) bool {
	return len(pk) > len(bindPrefix) && pk[:len(bindPrefix)] == bindPrefix
}

// BindStore is the part of a Store that keeps pending connections. Both
// DynamoStore and MemoryStore implement it (oauthtest.RunStoreTests).
type BindStore interface {
	// PutPendingConnection writes p (status pending) unconditionally: its
	// key comes from a fresh random jti. It is in the due-index at its
	// expiry, so the sweep finds it, and out of the user-index.
	PutPendingConnection(ctx context.Context, p *PendingConnection) error
	// GetPendingConnection reads one (strongly consistent); ErrNotFound.
	GetPendingConnection(ctx context.Context, key string) (*PendingConnection, error)
	// AcceptPending turns a pending connection into c in one transaction:
	// it deletes the pending connection, only if it is still pending, for
	// endUser and live at now, and writes c, only if the connection it
	// replaces still has version replacedVersion (0: there is none) and no
	// lease live at now (a Disconnect or a refresh holding it).
	// ErrNotFound when the pending connection is not acceptable any more,
	// ErrConflict when the connection changed meanwhile (read it again).
	AcceptPending(ctx context.Context, key, endUser string, now time.Time, c *Connection, replacedVersion int64) error
	// RejectPending marks a pending connection rejected for reason (out of
	// the due-index), only if it is still pending, and returns it with its
	// sealed tokens, for revocation. decisionID names this decision: a
	// retry that finds the connection rejected by the same decisionID
	// succeeds. ErrNotFound otherwise.
	RejectPending(ctx context.Context, key, reason, decisionID string, now time.Time) (*PendingConnection, error)
	// DeletePendingConnection deletes one; a missing one is not an error.
	DeletePendingConnection(ctx context.Context, key string) error
}

func validPendingConnection(p *PendingConnection) error {
	switch {
	case p == nil || !IsBindKey(p.Key):
		return errors.New("oauth: put pending connection: key is not a bind# key")
	case p.Conn.Provider == "" || p.Conn.AccountID == "" || p.Conn.EndUser == "":
		return errors.New("oauth: put pending connection: empty provider, account id or end user")
	case p.ExpiresAt.IsZero():
		return errors.New("oauth: put pending connection: no expiry")
	}
	return nil
}
