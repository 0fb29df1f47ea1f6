// Package connevent maps the table's DynamoDB stream to connection events
// (docs/connect-an-app.md, "Hear what happens"): Transition reads one stream record
// (NEW_AND_OLD_IMAGES) and returns the event it means for the app, if any.
// functions/events (through pkg/oauth/eventbus) sends them to EventBridge;
// the dev server shows them. An app in Go may decode an event's detail into
// Detail.
//
// It has no AWS SDK import and does not import pkg/oauth, so the events
// function links neither the DynamoDB nor the Secrets Manager client.
package connevent

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/oauthfn/oauthfn/pkg/oauth/internal/item"
)

// Every event has Source "oauthfn" and one of these detail types.
const (
	Source = "oauthfn"

	// Connected: a new connection, or an account authorized again (its
	// connection replaced, possibly by another end user).
	Connected = "Connection Connected"
	// ReauthRequired: the refresh token was refused; the user must
	// connect again.
	ReauthRequired = "Connection Reauth Required"
	// RefreshFailing: FailingThreshold refreshes failed in a row (the
	// provider is down or answering badly); the sweep keeps trying.
	RefreshFailing = "Connection Refresh Failing"
	// Disconnected: the connection was disconnected (oauth's
	// Handler.Disconnect): deleted, or kept as revoked when revocation at
	// the provider failed.
	Disconnected = "Connection Disconnected"
	// Expired: DynamoDB's TTL deleted the connection (its refresh token
	// had expired).
	Expired = "Connection Expired"

	// Rejected: a pending connection (made with a connect token, waiting
	// for the app's confirmation) was rejected: by the app (reason
	// app_rejected), because another user than the link's finished it
	// (user_mismatch), or because no one confirmed it in time (expired).
	// Its session was revoked at the provider; nothing was attached.
	Rejected = "Connection Rejected"

	// ReasonAnonymousKeptEndUser is a Connected event's reason when an
	// account was re-connected without a connect token: the connection
	// kept its end user (an anonymous flow never changes it).
	ReasonAnonymousKeptEndUser = "reauthorized_anonymously_end_user_kept"

	// FailingThreshold is the failures count at which RefreshFailing is
	// sent, once per run of failures.
	FailingThreshold = 3
)

// Statuses in Detail.Status: a connection's (the same as oauth.StatusActive
// and its kin), and those of a deleted one.
const (
	StatusActive         = item.StatusActive
	StatusReauthRequired = item.StatusReauthRequired
	StatusRevoked        = item.StatusRevoked
	StatusDisconnected   = "disconnected"
	StatusExpired        = "expired"
	StatusRejected       = item.StatusRejected
)

// Event is one event for EventBridge: its detail type and detail.
type Event struct {
	DetailType string
	Detail     Detail
}

// Detail is an event's detail (JSON). It never holds a token or a sealed
// value.
type Detail struct {
	Provider  string `json:"provider"`
	AccountID string `json:"account_id"`
	// EndUser is the app's user the connection belongs to ("" when it was
	// made without a connect token).
	EndUser string `json:"end_user"`
	// PreviousEndUser is set when a re-authorization moved the account to
	// another end user.
	PreviousEndUser string `json:"previous_end_user,omitempty"`
	// Status is the connection's status after the change: active,
	// reauth_required, revoked, or disconnected / expired once deleted.
	Status  string `json:"status"`
	Version int64  `json:"version"`
	// Reason is a short code: new, reauthorized, the last_error of the
	// connection (invalid_grant, provider_unavailable, …), disconnect, ttl.
	Reason string `json:"reason"`
	// At is when the change was made in the table (RFC 3339).
	At string `json:"at"`
	// EventID is the same on every delivery of the same change: deduplicate
	// on it.
	EventID string `json:"event_id"`
}

// ErrMalformedRecord: a stream record of a connection could not be read.
var ErrMalformedRecord = errors.New("connevent: malformed stream record")

// Transition maps one record of the table's stream (NEW_AND_OLD_IMAGES) to
// the connection event it means, from the record's images alone. It returns
// nil, nil for a change that means nothing to the app (a refresh, a lease,
// a pending authorization, the rate limiter) and an error wrapping
// ErrMalformedRecord for a connection record it cannot read. It never
// panics on a record's content.
func Transition(rec events.DynamoDBEventRecord) (*Event, error) {
	pk, ok := stringAttr(rec.Change.Keys, item.AttrPK)
	if !ok {
		pk, ok = stringAttr(rec.Change.NewImage, item.AttrPK)
	}
	if !ok {
		pk, ok = stringAttr(rec.Change.OldImage, item.AttrPK)
	}
	if !ok {
		return nil, fmt.Errorf("%w: no %s key", ErrMalformedRecord, item.AttrPK)
	}
	var ev *Event
	var at time.Time
	switch {
	case strings.HasPrefix(pk, item.BindPrefix):
		var err error
		if ev, at, err = pendingTransition(pk, rec); ev == nil || err != nil {
			return nil, err
		}
	case strings.HasPrefix(pk, item.ConnectionPrefix):
		var err error
		if ev, at, err = connTransition(pk, rec); ev == nil || err != nil {
			return nil, err
		}
	default:
		return nil, nil // pending authorizations, the rate limiter, others
	}
	ev.Detail.At = at.UTC().Format(time.RFC3339)
	id := rec.EventID
	if id == "" {
		id = rec.Change.SequenceNumber
	}
	if id == "" {
		return nil, fmt.Errorf("%w: no eventID or sequence number", ErrMalformedRecord)
	}
	sum := sha256.Sum256([]byte(id + "\n" + ev.DetailType))
	ev.Detail.EventID = hex.EncodeToString(sum[:16])
	return ev, nil
}

// connTransition maps a connection's record.
func connTransition(pk string, rec events.DynamoDBEventRecord) (*Event, time.Time, error) {
	var old, cur *connImage
	var err error
	switch rec.EventName {
	case "INSERT":
		cur, err = readConnImage(pk, rec.Change.NewImage, "NewImage")
	case "MODIFY":
		if old, err = readConnImage(pk, rec.Change.OldImage, "OldImage"); err == nil {
			cur, err = readConnImage(pk, rec.Change.NewImage, "NewImage")
		}
	case "REMOVE":
		old, err = readConnImage(pk, rec.Change.OldImage, "OldImage")
	default:
		err = fmt.Errorf("%w: event name %q", ErrMalformedRecord, rec.EventName)
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	ev := transition(old, cur, byTTL(rec))
	if ev == nil {
		return nil, time.Time{}, nil
	}
	return ev, changeTime(rec, old, cur), nil
}

// pendingTransition maps a pending connection's record: rejected (by the
// app, for a user mismatch, or expired by the sweep), or deleted by its TTL
// while still pending, is Connection Rejected. Its creation, an accept (the
// transaction deletes it; the connection's own record says Connected) and
// the deletion of a rejected one mean nothing more.
func pendingTransition(pk string, rec events.DynamoDBEventRecord) (*Event, time.Time, error) {
	var p *pendingImage
	var err error
	switch {
	case rec.EventName == "MODIFY":
		var old *pendingImage
		if old, err = readPendingImage(pk, rec.Change.OldImage, "OldImage"); err == nil {
			p, err = readPendingImage(pk, rec.Change.NewImage, "NewImage")
		}
		if err != nil {
			return nil, time.Time{}, err
		}
		if old.status != item.StatusPending || p.status != item.StatusRejected {
			return nil, time.Time{}, nil
		}
	case rec.EventName == "REMOVE" && byTTL(rec):
		if p, err = readPendingImage(pk, rec.Change.OldImage, "OldImage"); err != nil {
			return nil, time.Time{}, err
		}
		if p.status != item.StatusPending {
			return nil, time.Time{}, nil
		}
		p.reason = item.ReasonExpired
	case rec.EventName == "INSERT", rec.EventName == "REMOVE":
		return nil, time.Time{}, nil
	default:
		return nil, time.Time{}, fmt.Errorf("%w: event name %q", ErrMalformedRecord, rec.EventName)
	}
	at := rec.Change.ApproximateCreationDateTime.Time
	if at.IsZero() || at.Unix() <= 0 {
		at = p.updatedAt
	}
	return &Event{DetailType: Rejected, Detail: Detail{
		Provider:  p.provider,
		AccountID: p.accountID,
		EndUser:   p.endUser,
		Status:    StatusRejected,
		Reason:    orCode(p.reason, item.StatusRejected),
	}}, at, nil
}

// pendingImage is what the mapping reads of a pending connection image.
type pendingImage struct {
	provider, accountID, endUser, status, reason string
	updatedAt                                    time.Time
}

func readPendingImage(pk string, img map[string]events.DynamoDBAttributeValue, which string) (*pendingImage, error) {
	if len(img) == 0 {
		return nil, fmt.Errorf("%w: %s of %s missing (the stream must be NEW_AND_OLD_IMAGES)", ErrMalformedRecord, which, pk)
	}
	r := imageReader{img: img}
	p := &pendingImage{
		provider:  r.s(item.AttrProvider, true),
		accountID: r.s(item.AttrAccountID, true),
		endUser:   r.s(item.AttrBindEndUser, false),
		status:    r.s(item.AttrStatus, true),
		reason:    r.s(item.AttrReason, false),
		updatedAt: time.Unix(r.n(item.AttrUpdatedAt, false), 0),
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %s of %s: %v", ErrMalformedRecord, which, pk, r.err)
	}
	return p, nil
}

// transition is the decision itself: old is nil for an insert, cur nil for
// a delete.
func transition(old, cur *connImage, ttl bool) *Event {
	switch {
	case old == nil && cur == nil:
		return nil
	case cur == nil:
		if old.status == StatusRevoked {
			// Disconnect announced it when it marked the connection
			// revoked (its revocation at the provider had failed); this
			// delete only follows the revocation's retry, or its TTL.
			return nil
		}
		ev := old.event(Disconnected, StatusDisconnected, "disconnect")
		if ttl {
			ev = old.event(Expired, StatusExpired, "ttl")
		}
		return ev
	case old == nil:
		if cur.status != StatusActive {
			return nil
		}
		return cur.event(Connected, cur.status, "new")
	case replaced(old, cur):
		if cur.status != StatusActive {
			return nil
		}
		ev := cur.event(Connected, cur.status, "reauthorized")
		if old.endUser != cur.endUser {
			ev.Detail.PreviousEndUser = old.endUser
		}
		if cur.anonymous && cur.endUser != "" {
			// Re-connected without a connect token: the end user was kept.
			ev.Detail.Reason = ReasonAnonymousKeptEndUser
		}
		return ev
	case old.status != StatusRevoked && cur.status == StatusRevoked:
		// Disconnect could not revoke at the provider: the connection is
		// kept, out of every token path, until a retry revokes it. For the
		// app it is disconnected now.
		return cur.event(Disconnected, StatusDisconnected, "disconnect")
	case old.status == StatusActive && cur.status != StatusActive:
		return cur.event(ReauthRequired, cur.status, orCode(cur.lastError, cur.status))
	case cur.status == StatusActive && old.failures < FailingThreshold && cur.failures >= FailingThreshold:
		return cur.event(RefreshFailing, cur.status, orCode(cur.lastError, "refresh_failed"))
	}
	return nil
}

// replaced reports whether cur is a new connection written over old (a
// re-authorization: oauth's Store.PutConnection, or an accepted pending
// connection) rather than an update of old. The lease protocol bumps the
// version by one with every token change and keeps created_at; a
// re-authorization at the callback starts again at version 1 with a new
// created_at and freshly sealed tokens; an accept skips a version (old+2),
// so that it is told from a refresh even when both connections were made
// in the same second.
func replaced(old, cur *connImage) bool {
	return cur.version < old.version || cur.version > old.version+1 || !cur.createdAt.Equal(old.createdAt) ||
		(cur.version == old.version && cur.sealedAccess != old.sealedAccess)
}

func orCode(code, fallback string) string {
	if code != "" {
		return code
	}
	return fallback
}

func byTTL(rec events.DynamoDBEventRecord) bool {
	u := rec.UserIdentity
	return u != nil && u.Type == "Service" && u.PrincipalID == "dynamodb.amazonaws.com"
}

// changeTime is when the change happened: the stream's creation time, or
// the item's updated_at when the record has none.
func changeTime(rec events.DynamoDBEventRecord, old, cur *connImage) time.Time {
	if t := rec.Change.ApproximateCreationDateTime.Time; !t.IsZero() && t.Unix() > 0 {
		return t
	}
	if cur != nil {
		return cur.updatedAt
	}
	return old.updatedAt
}

// connImage is what the mapping reads of a connection image. sealedAccess
// is compared, never copied out.
type connImage struct {
	provider, accountID, endUser string
	status, lastError            string
	version                      int64
	failures                     int64
	createdAt, updatedAt         time.Time
	sealedAccess                 string
	anonymous                    bool
}

func (c *connImage) event(detailType, status, reason string) *Event {
	return &Event{DetailType: detailType, Detail: Detail{
		Provider:  c.provider,
		AccountID: c.accountID,
		EndUser:   c.endUser,
		Status:    status,
		Version:   c.version,
		Reason:    reason,
	}}
}

func readConnImage(pk string, img map[string]events.DynamoDBAttributeValue, which string) (*connImage, error) {
	if len(img) == 0 {
		return nil, fmt.Errorf("%w: %s of %s missing (the stream must be NEW_AND_OLD_IMAGES)", ErrMalformedRecord, which, pk)
	}
	r := imageReader{img: img}
	c := &connImage{
		provider:     r.s(item.AttrProvider, true),
		accountID:    r.s(item.AttrAccountID, true),
		endUser:      r.s(item.AttrEndUser, false),
		status:       r.s(item.AttrStatus, true),
		lastError:    r.s(item.AttrLastError, false),
		version:      r.n(item.AttrVersion, true),
		failures:     r.n(item.AttrFailures, false),
		createdAt:    time.Unix(r.n(item.AttrCreatedAt, false), 0),
		updatedAt:    time.Unix(r.n(item.AttrUpdatedAt, false), 0),
		sealedAccess: r.s(item.AttrAccessToken, false),
		anonymous:    r.n(item.AttrAnonymousConnect, false) == 1,
	}
	if r.err == nil && item.ConnectionKey(c.provider, c.accountID) != pk {
		r.err = fmt.Errorf("provider and account_id do not match the key")
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %s of %s: %v", ErrMalformedRecord, which, pk, r.err)
	}
	return c, nil
}

// imageReader reads typed attributes without panicking, keeping the first
// error.
type imageReader struct {
	img map[string]events.DynamoDBAttributeValue
	err error
}

func (r *imageReader) s(name string, required bool) string {
	v, ok := r.img[name]
	switch {
	case !ok || v.IsNull():
		if required && r.err == nil {
			r.err = fmt.Errorf("no %s", name)
		}
		return ""
	case v.DataType() != events.DataTypeString:
		if r.err == nil {
			r.err = fmt.Errorf("%s is not a string", name)
		}
		return ""
	}
	return v.String()
}

func (r *imageReader) n(name string, required bool) int64 {
	v, ok := r.img[name]
	switch {
	case !ok || v.IsNull():
		if required && r.err == nil {
			r.err = fmt.Errorf("no %s", name)
		}
		return 0
	case v.DataType() != events.DataTypeNumber:
		if r.err == nil {
			r.err = fmt.Errorf("%s is not a number", name)
		}
		return 0
	}
	n, err := strconv.ParseInt(v.Number(), 10, 64)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("%s is not an integer", name)
	}
	return n
}

func stringAttr(img map[string]events.DynamoDBAttributeValue, name string) (string, bool) {
	v, ok := img[name]
	if !ok || v.DataType() != events.DataTypeString {
		return "", false
	}
	return v.String(), true
}
