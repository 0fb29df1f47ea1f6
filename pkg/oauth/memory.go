package oauth

import (
	"cmp"
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

var _ Store = (*MemoryStore)(nil)

// MemoryStore is an in-process Store for the local dev server and tests. It
// keeps DynamoStore's semantics: times are kept to the second (epoch seconds,
// as in the table), every conditional write is atomic, and the due-index is
// sparse (only connections with a non-zero RefreshAt are in it). Values are
// copied in and out, so callers never share memory with the store.
//
// The zero value is not usable; call NewMemoryStore.
type MemoryStore struct {
	mu          sync.Mutex
	pending     map[string]PendingAuth
	connections map[string]Connection
	rates       map[string]rateState
	jtis        map[string]time.Time // spent connect-token ids, until when
	binds       map[string]PendingConnection
	sessions    map[string]Session
	// completedBy is, per connection key, the owner of the lease the last
	// CompleteLease ended (DynamoStore's completed_by attribute).
	completedBy map[string]string
}

// spentJTIRetention is how long after its expiry the MemoryStore keeps a
// spent connect-token id (DynamoDB's TTL deletes expired items within
// days).
const spentJTIRetention = 24 * time.Hour

// rateState is the token-endpoint limiter of one provider, in milliseconds.
type rateState struct {
	nextMS, pausedMS int64
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		pending:     make(map[string]PendingAuth),
		connections: make(map[string]Connection),
		rates:       make(map[string]rateState),
		jtis:        make(map[string]time.Time),
		binds:       make(map[string]PendingConnection),
		sessions:    make(map[string]Session),
		completedBy: make(map[string]string),
	}
}

// PutPending implements Store.
func (s *MemoryStore) PutPending(ctx context.Context, p *PendingAuth) error {
	if err := validPending(p); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.pending[p.Key]; ok {
		if cur == normalPending(*p) {
			// This very record, put before (with its jti): a retried
			// request (see DynamoStore.PutPending).
			return nil
		}
		return fmt.Errorf("oauth: put pending: %w", ErrConflict)
	}
	if p.JTI != "" {
		// Spent ids leave a day after they expire, as DynamoDB's TTL
		// deletes them some time after theirs: never at the moment of
		// expiry (the conformance suite holds both stores to that). The
		// token is refused by its exp by then anyway.
		for k, until := range s.jtis {
			if until.Add(spentJTIRetention).Before(p.CreatedAt) {
				delete(s.jtis, k)
			}
		}
		key := JTIKey(p.JTI)
		if _, spent := s.jtis[key]; spent {
			return fmt.Errorf("oauth: put pending: %w", ErrReplayed)
		}
		s.jtis[key] = seconds(p.JTIExpiresAt)
	}
	s.pending[p.Key] = normalPending(*p)
	return nil
}

// ConsumePending implements Store.
func (s *MemoryStore) ConsumePending(ctx context.Context, key string, bindingHashes []string, now time.Time) (*PendingAuth, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[key]
	if !ok {
		return nil, fmt.Errorf("oauth: consume pending: %w", ErrNotFound)
	}
	if err := classifyPending(&p, bindingHashes, now); err != nil {
		return nil, fmt.Errorf("oauth: consume pending: %w", err)
	}
	delete(s.pending, key)
	return &p, nil
}

// PutConnection implements Store.
func (s *MemoryStore) PutConnection(ctx context.Context, c *Connection) (*Connection, error) {
	if err := validConnection(c); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := c.Key()
	old, had := s.connections[key]
	if c.EndUser == "" && had && old.EndUser != "" {
		c.EndUser = old.EndUser // an anonymous connect never changes the end user
	}
	s.connections[key] = normalConnection(*c)
	delete(s.completedBy, key)
	if !had || old == normalConnection(*c) {
		// Nothing replaced, or this very connection: a retried request
		// (see DynamoStore.PutConnection).
		return nil, nil
	}
	return &old, nil
}

// ReplaceConnection implements Store.
func (s *MemoryStore) ReplaceConnection(ctx context.Context, c, prev *Connection, now time.Time) (*Connection, error) {
	if err := validConnection(c); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := c.Key()
	cur, had := s.connections[key]
	next := normalConnection(*c)
	if had && cur == next {
		// This very write again: a retried request (see
		// DynamoStore.ReplaceConnection).
		return copyConnection(prev), nil
	}
	if had != (prev != nil) || had && (cur.Version != prev.Version || cur.CreatedAt.Unix() != prev.CreatedAt.Unix() ||
		cur.CreatedAt.IsZero() != prev.CreatedAt.IsZero() || !leaseFree(cur.LeaseUntil, now)) {
		return nil, fmt.Errorf("oauth: replace connection: %w", ErrConflict)
	}
	s.connections[key] = next
	delete(s.completedBy, key)
	if !had {
		return nil, nil
	}
	return &cur, nil
}

// copyConnection returns a copy of c (nil for nil).
func copyConnection(c *Connection) *Connection {
	if c == nil {
		return nil
	}
	cp := *c
	return &cp
}

// GetConnection implements Store.
func (s *MemoryStore) GetConnection(ctx context.Context, provider, accountID string) (*Connection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.connections[ConnectionKey(provider, accountID)]
	if !ok {
		return nil, fmt.Errorf("oauth: get connection: %w", ErrNotFound)
	}
	return &c, nil
}

// DeleteConnection implements Store.
func (s *MemoryStore) DeleteConnection(ctx context.Context, provider, accountID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.connections, ConnectionKey(provider, accountID))
	delete(s.completedBy, ConnectionKey(provider, accountID))
	return nil
}

// ListConnections implements Store. The result is ordered by key.
func (s *MemoryStore) ListConnections(ctx context.Context) ([]*Connection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Connection, 0, len(s.connections))
	for _, c := range s.connections {
		out = append(out, &c)
	}
	sortConnections(out)
	return out, nil
}

// ConnectionsByEndUser implements Store.
func (s *MemoryStore) ConnectionsByEndUser(ctx context.Context, endUser string) ([]*Connection, error) {
	if endUser == "" {
		return nil, errors.New("oauth: connections by end user: empty end user")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []*Connection{}
	for _, c := range s.connections {
		if c.EndUser == endUser {
			out = append(out, withoutTokens(c))
		}
	}
	sortConnections(out)
	return out, nil
}

// withoutTokens is c as the user-index projects it: no sealed tokens, key
// id, ttl or lease.
func withoutTokens(c Connection) *Connection {
	c.AccessToken, c.RefreshToken, c.KeyID, c.TTL = "", "", "", time.Time{}
	c.Credential = ""
	c.LeaseOwner, c.LeaseUntil = "", time.Time{}
	return &c
}

// AcquireLease implements Store.
func (s *MemoryStore) AcquireLease(ctx context.Context, provider, accountID string, version int64, owner string, now, until time.Time) (*Connection, error) {
	if owner == "" {
		return nil, errors.New("oauth: acquire lease: empty owner")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := ConnectionKey(provider, accountID)
	c, ok := s.connections[key]
	if !ok {
		return nil, fmt.Errorf("oauth: acquire lease: %w", ErrNotFound)
	}
	if ownLease(&c, version, owner, until) {
		return &c, nil // this very lease: a retried request (see DynamoStore)
	}
	if c.Version != version || !leaseFree(c.LeaseUntil, now) {
		return nil, fmt.Errorf("oauth: acquire lease: %w", ErrConflict)
	}
	c.LeaseOwner = owner
	c.LeaseUntil = seconds(until)
	s.connections[key] = c
	return &c, nil
}

// CompleteLease implements Store.
func (s *MemoryStore) CompleteLease(ctx context.Context, c *Connection, owner string) error {
	if owner == "" {
		return errors.New("oauth: complete lease: empty owner")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := c.Key()
	cur, ok := s.connections[key]
	in := normalConnection(*c)
	if ok && s.completedBy[key] == owner && holdsCompletion(cur, in) {
		// This very write, applied before: a retried request (see
		// DynamoStore.CompleteLease).
		c.Version++
		c.LeaseOwner = ""
		c.LeaseUntil = time.Time{}
		return nil
	}
	if !ok || cur.LeaseOwner != owner {
		return fmt.Errorf("oauth: complete lease: %w", ErrConflict)
	}
	cur.AccessToken = in.AccessToken
	cur.RefreshToken = in.RefreshToken
	cur.Credential = in.Credential
	cur.KeyID = in.KeyID
	cur.TokenType = in.TokenType
	cur.Scope = in.Scope
	cur.AccessExpiresAt = in.AccessExpiresAt
	cur.RefreshExpiresAt = in.RefreshExpiresAt
	cur.Status = in.Status
	cur.Failures = in.Failures
	cur.LastError = in.LastError
	cur.UpdatedAt = in.UpdatedAt
	cur.LastRefreshAt = in.LastRefreshAt
	cur.RefreshAt = in.RefreshAt
	cur.TTL = in.TTL
	cur.Version = c.Version + 1
	cur.LeaseOwner = ""
	cur.LeaseUntil = time.Time{}
	s.connections[key] = cur
	s.completedBy[key] = owner

	c.Version++
	c.LeaseOwner = ""
	c.LeaseUntil = time.Time{}
	return nil
}

// QueryDue implements Store.
func (s *MemoryStore) QueryDue(ctx context.Context, shard int, before time.Time, limit int) ([]DueEntry, error) {
	if err := validQueryDue(shard, limit); err != nil {
		return nil, err
	}
	cutoff := before.Unix()
	s.mu.Lock()
	var out []DueEntry
	for key, c := range s.connections {
		if c.RefreshAt.IsZero() || c.RefreshAt.Unix() > cutoff || ShardOf(key) != shard {
			continue
		}
		out = append(out, DueEntry{Key: key, Provider: c.Provider, AccountID: c.AccountID, RefreshAt: c.RefreshAt,
			RefreshExpiresAt: c.RefreshExpiresAt, Version: c.Version})
	}
	for key, p := range s.binds { // pending connections, due at their expiry
		if p.Status != StatusPending || p.ExpiresAt.Unix() > cutoff || ShardOf(key) != shard {
			continue
		}
		out = append(out, DueEntry{Key: key, Provider: p.Conn.Provider, AccountID: p.Conn.AccountID, RefreshAt: p.ExpiresAt,
			RefreshExpiresAt: p.Conn.RefreshExpiresAt})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b DueEntry) int {
		return cmp.Or(a.RefreshAt.Compare(b.RefreshAt), strings.Compare(a.Key, b.Key))
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// ReserveTokenCall implements Store.
func (s *MemoryStore) ReserveTokenCall(ctx context.Context, provider string, now time.Time, interval time.Duration) (time.Time, error) {
	if err := validReserve(provider, interval); err != nil {
		return time.Time{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rates[provider]
	nowMS := now.UnixMilli()
	if wait := max(r.nextMS, r.pausedMS); wait > nowMS {
		return time.UnixMilli(wait).UTC(), nil
	}
	r.nextMS = nowMS + interval.Milliseconds()
	s.rates[provider] = r
	return time.Time{}, nil
}

// PauseTokenCalls implements Store.
func (s *MemoryStore) PauseTokenCalls(ctx context.Context, provider string, until time.Time) error {
	if provider == "" {
		return errors.New("oauth: pause token calls: empty provider")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rates[provider]
	if u := until.UnixMilli(); r.pausedMS < u || r.pausedMS > u+MaxRetryAfter.Milliseconds() {
		r.pausedMS = u
	}
	s.rates[provider] = r
	return nil
}

// Helpers shared by MemoryStore and DynamoStore, so that both stores answer
// alike.

func validPending(p *PendingAuth) error {
	switch {
	case p == nil || p.Key == "":
		return errors.New("oauth: put pending: empty key")
	case p.BindingHash == "":
		return errors.New("oauth: put pending: empty binding hash")
	case p.ExpiresAt.IsZero():
		return errors.New("oauth: put pending: no expiry")
	case p.JTI != "" && p.JTIExpiresAt.IsZero():
		return errors.New("oauth: put pending: a jti without an expiry")
	}
	return nil
}

func validConnection(c *Connection) error {
	if c == nil || c.Provider == "" || c.AccountID == "" {
		return errors.New("oauth: put connection: empty provider or account id")
	}
	return nil
}

func validQueryDue(shard, limit int) error {
	if shard < 0 || shard >= DueShards {
		return fmt.Errorf("oauth: query due: shard %d out of range 0-%d", shard, DueShards-1)
	}
	if limit <= 0 {
		return fmt.Errorf("oauth: query due: limit %d is not positive", limit)
	}
	return nil
}

func validReserve(provider string, interval time.Duration) error {
	if provider == "" {
		return errors.New("oauth: reserve token call: empty provider")
	}
	if interval < time.Millisecond {
		return fmt.Errorf("oauth: reserve token call: interval %v is under a millisecond", interval)
	}
	return nil
}

// classifyPending tells why a pending authorization cannot be consumed, or
// returns nil if it can. Expiry is checked first, so an expired record never
// reveals whether the binding matched.
func classifyPending(p *PendingAuth, bindingHashes []string, now time.Time) error {
	if p.ExpiresAt.Unix() <= now.Unix() {
		return ErrPendingExpired
	}
	for _, h := range bindingHashes {
		if h != "" && hmac.Equal([]byte(p.BindingHash), []byte(h)) {
			return nil
		}
	}
	return ErrBindingMismatch
}

// ownLease reports whether c is leased by owner until until at version:
// the lease a request for exactly that wrote.
func ownLease(c *Connection, version int64, owner string, until time.Time) bool {
	return c.Version == version && c.LeaseOwner == owner && c.LeaseUntil.Unix() == until.Unix() && !c.LeaseUntil.IsZero()
}

// holdsCompletion reports whether the stored connection cur already holds every
// field a CompleteLease of in writes (in normalised, at in.Version+1): what
// DynamoStore finds when a retry meets its own applied write (the caller
// checks the owner). The lease fields are not compared.
func holdsCompletion(cur, in Connection) bool {
	return cur.Version == in.Version+1 &&
		cur.AccessToken == in.AccessToken && cur.RefreshToken == in.RefreshToken && cur.KeyID == in.KeyID &&
		cur.Credential == in.Credential &&
		cur.TokenType == in.TokenType && cur.Scope == in.Scope && cur.Status == in.Status &&
		cur.Failures == in.Failures && cur.LastError == in.LastError &&
		cur.AccessExpiresAt.Equal(in.AccessExpiresAt) && cur.RefreshExpiresAt.Equal(in.RefreshExpiresAt) &&
		cur.UpdatedAt.Equal(in.UpdatedAt) && cur.LastRefreshAt.Equal(in.LastRefreshAt) &&
		cur.RefreshAt.Equal(in.RefreshAt) && cur.TTL.Equal(in.TTL)
}

// leaseFree reports whether a lease ending at until is no longer live at now.
func leaseFree(until, now time.Time) bool {
	return until.IsZero() || until.Unix() <= now.Unix()
}

// seconds truncates t to the epoch second the table stores; zero stays zero.
func seconds(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.Unix(t.Unix(), 0).UTC()
}

func normalPending(p PendingAuth) PendingAuth {
	p.CreatedAt = seconds(p.CreatedAt)
	p.ExpiresAt = seconds(p.ExpiresAt)
	p.JTI, p.JTIExpiresAt = "", time.Time{} // not part of the stored record
	return p
}

func normalConnection(c Connection) Connection {
	c.AccessExpiresAt = seconds(c.AccessExpiresAt)
	c.RefreshExpiresAt = seconds(c.RefreshExpiresAt)
	c.LeaseUntil = seconds(c.LeaseUntil)
	c.CreatedAt = seconds(c.CreatedAt)
	c.UpdatedAt = seconds(c.UpdatedAt)
	c.LastRefreshAt = seconds(c.LastRefreshAt)
	c.RefreshAt = seconds(c.RefreshAt)
	c.TTL = seconds(c.TTL)
	return c
}

func sortConnections(cs []*Connection) {
	slices.SortFunc(cs, func(a, b *Connection) int { return strings.Compare(a.Key(), b.Key()) })
}
