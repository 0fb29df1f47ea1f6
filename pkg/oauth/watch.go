package oauth

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// WatchStore wraps store so that every change of a connection is also
// handed to onChange as the stream record DynamoDB Streams would write for
// it (StreamRecord): what the dev server runs connevent.Transition on, so its console
// shows the events functions/events would send. Reads before a write are
// separate calls (not atomic with it): for local development only, where
// the table's real stream is not at hand. onChange runs after the write,
// on the writer's goroutine; it must not block.
func WatchStore(store Store, now func() time.Time, onChange func(events.DynamoDBEventRecord)) Store {
	return &watchStore{Store: store, now: now, onChange: onChange}
}

type watchStore struct {
	Store
	now      func() time.Time
	onChange func(events.DynamoDBEventRecord)
	seq      atomic.Int64
}

func (s *watchStore) emit(old, cur *Connection) {
	n := s.seq.Add(1)
	s.onChange(StreamRecord("dev-"+strconv.FormatInt(n, 10), old, cur, s.now(), false))
}

// current reads the connection as it is now (nil when there is none).
func (s *watchStore) current(ctx context.Context, provider, accountID string) *Connection {
	c, err := s.Store.GetConnection(ctx, provider, accountID)
	if err != nil {
		return nil
	}
	return c
}

func (s *watchStore) PutConnection(ctx context.Context, c *Connection) (*Connection, error) {
	replaced, err := s.Store.PutConnection(ctx, c)
	if err == nil {
		s.emit(replaced, s.current(ctx, c.Provider, c.AccountID))
	}
	return replaced, err
}

func (s *watchStore) ReplaceConnection(ctx context.Context, c, prev *Connection, now time.Time) (*Connection, error) {
	old := s.current(ctx, c.Provider, c.AccountID)
	replaced, err := s.Store.ReplaceConnection(ctx, c, prev, now)
	if err == nil {
		s.emit(old, s.current(ctx, c.Provider, c.AccountID))
	}
	return replaced, err
}

func (s *watchStore) CompleteLease(ctx context.Context, c *Connection, owner string) error {
	old := s.current(ctx, c.Provider, c.AccountID)
	err := s.Store.CompleteLease(ctx, c, owner)
	if err == nil && old != nil {
		s.emit(old, s.current(ctx, c.Provider, c.AccountID))
	}
	return err
}

func (s *watchStore) DeleteConnection(ctx context.Context, provider, accountID string) error {
	old := s.current(ctx, provider, accountID)
	err := s.Store.DeleteConnection(ctx, provider, accountID)
	if err == nil && old != nil {
		s.emit(old, nil)
	}
	return err
}

// RejectPending emits the pending connection's change to rejected (a
// Connection Rejected event).
func (s *watchStore) RejectPending(ctx context.Context, key, reason, decisionID string, now time.Time) (*PendingConnection, error) {
	old, _ := s.Store.GetPendingConnection(ctx, key)
	p, err := s.Store.RejectPending(ctx, key, reason, decisionID, now)
	if err == nil && old != nil && old.Status == StatusPending {
		n := s.seq.Add(1)
		s.onChange(PendingStreamRecord("dev-"+strconv.FormatInt(n, 10), old, p, s.now(), false))
	}
	return p, err
}

// AcceptPending emits the connection's change (a Connection Connected
// event).
func (s *watchStore) AcceptPending(ctx context.Context, key, endUser string, now time.Time, c *Connection, replacedVersion int64) error {
	old := s.current(ctx, c.Provider, c.AccountID)
	err := s.Store.AcceptPending(ctx, key, endUser, now, c, replacedVersion)
	if err == nil {
		s.emit(old, s.current(ctx, c.Provider, c.AccountID))
	}
	return err
}

var _ Store = (*watchStore)(nil)

// Unwrap returns the watched store.
func (s *watchStore) Unwrap() Store { return s.Store }
