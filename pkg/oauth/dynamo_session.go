package oauth

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Browser sessions: one PutItem at the callback, a GetItem on every use, a
// conditional UpdateItem when the idle expiry moves, a DeleteItem at
// logout. A session item has neither due_shard nor end_user, so neither
// index lists it, and its pk (sess#) is outside ListConnections' conn#
// prefix and the events function's stream filter (conn#, bind#).

const (
	attrIdleUntil     = "idle_until"
	attrConnCreatedAt = "conn_created_at"
)

// PutSession implements Store with an unconditional PutItem.
func (s *DynamoStore) PutSession(ctx context.Context, sess *Session) error {
	if err := validSession(sess); err != nil {
		return err
	}
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item:      sessionItem(sess),
	})
	if err != nil {
		return fmt.Errorf("oauth: put session: %w", err)
	}
	return nil
}

// GetSession implements Store with a strongly consistent GetItem.
func (s *DynamoStore) GetSession(ctx context.Context, key string) (*Session, error) {
	it, err := s.getItem(ctx, key, sessionSK)
	if err != nil {
		return nil, fmt.Errorf("oauth: get session: %w", err)
	}
	sess, err := decodeSession(it)
	if err != nil {
		return nil, fmt.Errorf("oauth: get session: %w", err)
	}
	return sess, nil
}

// TouchSession implements Store with an UpdateItem conditioned on the
// item's existence (an update would otherwise create a bare item).
func (s *DynamoStore) TouchSession(ctx context.Context, key string, idleUntil time.Time) error {
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       itemKey(key, sessionSK),
		ConditionExpression:       aws.String("attribute_exists(#pk)"),
		UpdateExpression:          aws.String("SET #idle = :idle"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrPK, "#idle": attrIdleUntil},
		ExpressionAttributeValues: map[string]types.AttributeValue{":idle": numberValue(idleUntil.Unix())},
	})
	if _, ok := conditionFailed(err); ok {
		return fmt.Errorf("oauth: touch session: %w", ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("oauth: touch session: %w", err)
	}
	return nil
}

// DeleteSession implements Store.
func (s *DynamoStore) DeleteSession(ctx context.Context, key string) error {
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table),
		Key:       itemKey(key, sessionSK),
	})
	if err != nil {
		return fmt.Errorf("oauth: delete session: %w", err)
	}
	return nil
}

// sessionItem is sess as a table item; its ttl is the absolute expiry plus
// SessionGrace.
func sessionItem(sess *Session) map[string]types.AttributeValue {
	e := newEncoder(sess.Key, sessionSK, 9)
	e.s(attrProvider, sess.Provider)
	e.s(attrAccountID, sess.AccountID)
	e.t(attrCreatedAt, sess.CreatedAt)
	e.t(attrIdleUntil, sess.IdleUntil)
	e.t(attrExpiresAt, sess.ExpiresAt)
	e.t(attrConnCreatedAt, sess.ConnCreatedAt)
	e.t(AttrTTL, sess.ExpiresAt.Add(SessionGrace))
	return e
}

func decodeSession(it map[string]types.AttributeValue) (*Session, error) {
	d := decoder{item: it}
	sess := &Session{
		Key:           d.s(AttrPK),
		Provider:      d.s(attrProvider),
		AccountID:     d.s(attrAccountID),
		CreatedAt:     d.t(attrCreatedAt),
		IdleUntil:     d.t(attrIdleUntil),
		ExpiresAt:     d.t(attrExpiresAt),
		ConnCreatedAt: d.t(attrConnCreatedAt),
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode session %s: %w", sess.Key, d.err)
	}
	return sess, nil
}
