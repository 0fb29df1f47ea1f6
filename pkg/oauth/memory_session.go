package oauth

import (
	"context"
	"fmt"
	"time"
)

// Browser sessions in memory, with DynamoStore's semantics.

// PutSession implements Store.
func (s *MemoryStore) PutSession(ctx context.Context, sess *Session) error {
	if err := validSession(sess); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[sess.Key] = normalSession(*sess)
	return nil
}

// GetSession implements Store.
func (s *MemoryStore) GetSession(ctx context.Context, key string) (*Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[key]
	if !ok {
		return nil, fmt.Errorf("oauth: get session: %w", ErrNotFound)
	}
	return &sess, nil
}

// TouchSession implements Store.
func (s *MemoryStore) TouchSession(ctx context.Context, key string, idleUntil time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[key]
	if !ok {
		return fmt.Errorf("oauth: touch session: %w", ErrNotFound)
	}
	sess.IdleUntil = seconds(idleUntil)
	s.sessions[key] = sess
	return nil
}

// DeleteSession implements Store.
func (s *MemoryStore) DeleteSession(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, key)
	return nil
}
