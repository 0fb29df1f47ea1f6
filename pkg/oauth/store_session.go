package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"time"
)

// Browser sessions of the backend for the frontend (DESIGN.md,
// "Browser-only apps"; bff.go). A session is a random cookie value in the
// browser and, in the table, an item keyed by that value's hash: the
// provider and account whose connection it uses, and when it ends. It
// holds no token: the connection's tokens serve every session of the
// account.

const (
	sessionPrefix = "sess#"
	sessionSK     = "session"

	// SessionGrace is how long DynamoDB keeps a session past its absolute
	// expiry (its ttl). Expiry is checked in code on every read; the TTL
	// only clears the table.
	SessionGrace = 24 * time.Hour
)

// Session is one browser's sign-in to the backend for the frontend, stored
// under SessionKey(cookie value).
type Session struct {
	Key       string // pk: SessionKey(the cookie's value)
	Provider  string
	AccountID string
	CreatedAt time.Time
	// IdleUntil ends the session unless it is used before (each use moves
	// it to now + BFF_IDLE_TIMEOUT, never past ExpiresAt).
	IdleUntil time.Time
	// ExpiresAt is the absolute end: sign-in + BFF_MAX_SESSION, never past
	// the connection's refresh-token expiry when known.
	ExpiresAt time.Time
	// ConnCreatedAt is the CreatedAt of the connection the session was
	// made with: a connection made anew since (a disconnect and a new
	// sign-in) ends the session.
	ConnCreatedAt time.Time
}

// EndsAt is the sooner of the idle and the absolute expiry.
func (s *Session) EndsAt() time.Time {
	if s.IdleUntil.Before(s.ExpiresAt) {
		return s.IdleUntil
	}
	return s.ExpiresAt
}

// LiveAt reports whether the session has not ended at now (both expiries
// lie after now, to the second as the table keeps them).
func (s *Session) LiveAt(now time.Time) bool {
	return s.EndsAt().Unix() > now.Unix()
}

// SessionKey is the pk of the session whose cookie holds value:
// "sess#" + unpadded base64url(sha256(value)). The cookie's value never
// reaches the table.
func SessionKey(value string) string {
	sum := sha256.Sum256([]byte(value))
	return sessionPrefix + base64.RawURLEncoding.EncodeToString(sum[:])
}

// IsSessionKey reports whether pk is a session's.
func IsSessionKey(pk string) bool {
	return len(pk) > len(sessionPrefix) && strings.HasPrefix(pk, sessionPrefix)
}

// SessionStore is the part of a Store that keeps browser sessions. Both
// DynamoStore and MemoryStore implement it (oauthtest.RunStoreTests).
// Sessions are never connections: ListConnections, the due-index and the
// user-index never show them. Expiry is the caller's to check (Session.LiveAt):
// the store returns a session until it is deleted, as DynamoDB's TTL
// deletes expired items only eventually.
type SessionStore interface {
	// PutSession writes s unconditionally (its key comes from a fresh
	// random cookie value; a retry writes the same item again).
	PutSession(ctx context.Context, s *Session) error
	// GetSession reads a session (strongly consistent); ErrNotFound.
	GetSession(ctx context.Context, key string) (*Session, error)
	// TouchSession sets the session's idle expiry to idleUntil, only if the
	// session exists (ErrNotFound otherwise: a touch never brings back a
	// deleted session).
	TouchSession(ctx context.Context, key string, idleUntil time.Time) error
	// DeleteSession deletes a session; deleting a missing one is not an
	// error.
	DeleteSession(ctx context.Context, key string) error
}

func validSession(s *Session) error {
	switch {
	case s == nil || !IsSessionKey(s.Key):
		return errors.New("oauth: put session: key is not a sess# key")
	case s.Provider == "" || s.AccountID == "":
		return errors.New("oauth: put session: empty provider or account id")
	case s.IdleUntil.IsZero() || s.ExpiresAt.IsZero():
		return errors.New("oauth: put session: no idle or absolute expiry")
	}
	return nil
}

func normalSession(s Session) Session {
	s.CreatedAt = seconds(s.CreatedAt)
	s.IdleUntil = seconds(s.IdleUntil)
	s.ExpiresAt = seconds(s.ExpiresAt)
	s.ConnCreatedAt = seconds(s.ConnCreatedAt)
	return s
}
