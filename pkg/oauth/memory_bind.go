package oauth

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Pending connections in memory, with DynamoStore's semantics.

// PutPendingConnection implements Store.
func (s *MemoryStore) PutPendingConnection(ctx context.Context, p *PendingConnection) error {
	if err := validPendingConnection(p); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.binds[p.Key] = normalPendingConnection(*p)
	return nil
}

// GetPendingConnection implements Store.
func (s *MemoryStore) GetPendingConnection(ctx context.Context, key string) (*PendingConnection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.binds[key]
	if !ok {
		return nil, fmt.Errorf("oauth: get pending connection: %w", ErrNotFound)
	}
	return &p, nil
}

// AcceptPending implements Store.
func (s *MemoryStore) AcceptPending(ctx context.Context, key, endUser string, now time.Time, c *Connection, replacedVersion int64) error {
	if err := validConnection(c); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.binds[key]
	if !ok || p.Status != StatusPending || p.Conn.EndUser != endUser || p.ExpiresAt.Unix() <= now.Unix() {
		return fmt.Errorf("oauth: accept pending connection: %w", ErrNotFound)
	}
	old, exists := s.connections[c.Key()]
	if (replacedVersion == 0 && exists) || (replacedVersion != 0 && (!exists || old.Version != replacedVersion || !leaseFree(old.LeaseUntil, now))) {
		return fmt.Errorf("oauth: accept pending connection: %w", ErrConflict)
	}
	delete(s.binds, key)
	s.connections[c.Key()] = normalConnection(*c)
	return nil
}

// RejectPending implements Store.
func (s *MemoryStore) RejectPending(ctx context.Context, key, reason, decisionID string, now time.Time) (*PendingConnection, error) {
	if reason == "" || decisionID == "" {
		return nil, errors.New("oauth: reject pending connection: empty reason or decision id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.binds[key]
	if !ok {
		return nil, fmt.Errorf("oauth: reject pending connection: %w", ErrNotFound)
	}
	if p.Status != StatusPending {
		if p.Status == StatusRejected && p.DecisionID == decisionID {
			return &p, nil
		}
		return nil, fmt.Errorf("oauth: reject pending connection: %w", ErrNotFound)
	}
	p.Status, p.Reason, p.DecisionID, p.UpdatedAt = StatusRejected, reason, decisionID, seconds(now)
	s.binds[key] = p
	return &p, nil
}

// DeletePendingConnection implements Store.
func (s *MemoryStore) DeletePendingConnection(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.binds, key)
	return nil
}

func normalPendingConnection(p PendingConnection) PendingConnection {
	c := Connection{
		Provider: p.Conn.Provider, AccountID: p.Conn.AccountID, EndUser: p.Conn.EndUser,
		AccessToken: p.Conn.AccessToken, RefreshToken: p.Conn.RefreshToken, KeyID: p.Conn.KeyID,
		TokenType: p.Conn.TokenType, Scope: p.Conn.Scope,
		AccessExpiresAt: p.Conn.AccessExpiresAt, RefreshExpiresAt: p.Conn.RefreshExpiresAt,
		CreatedAt: p.Conn.CreatedAt,
	}
	p.Conn = normalConnection(c) // only what the table keeps of it
	p.ExpiresAt = seconds(p.ExpiresAt)
	p.UpdatedAt = seconds(p.UpdatedAt)
	return p
}
