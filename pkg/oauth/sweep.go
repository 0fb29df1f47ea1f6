package oauth

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SweepInput is the refresh function's event. The shard range (inclusive
// bounds) splits the sweep across several schedules; it is read from the
// event's top level ({"shard_from":0,"shard_to":7}) or, for an EventBridge
// event such as template.yaml's ScheduleV2 input (events/refresh.json), from
// its "detail". An event without those fields (a plain scheduled event)
// sweeps all DueShards shards. A missing bound defaults to the first or last
// shard.
type SweepInput struct {
	ShardFrom *int `json:"shard_from,omitempty"`
	ShardTo   *int `json:"shard_to,omitempty"`
}

// UnmarshalJSON reads the range from the top level, else from "detail".
func (in *SweepInput) UnmarshalJSON(b []byte) error {
	type shardRange SweepInput
	var ev struct {
		shardRange
		Detail *shardRange `json:"detail"`
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		return fmt.Errorf("oauth: sweep input: %w", err)
	}
	*in = SweepInput(ev.shardRange)
	if in.ShardFrom == nil && in.ShardTo == nil && ev.Detail != nil {
		*in = SweepInput(*ev.Detail)
	}
	return nil
}

// shards returns the inclusive shard range, or an error for a bad one.
func (in SweepInput) shards() (from, to int, err error) {
	from, to = 0, DueShards-1
	if in.ShardFrom != nil {
		from = *in.ShardFrom
	}
	if in.ShardTo != nil {
		to = *in.ShardTo
	}
	if from < 0 || to >= DueShards || from > to {
		return 0, 0, fmt.Errorf("oauth: sweep: bad shard range %d-%d: want 0 <= shard_from <= shard_to <= %d", from, to, DueShards-1)
	}
	return from, to, nil
}

// SweepSummary is the sweep's answer, also logged as EMF metrics.
//
// Due counts the due connections found; each ends in at most one of the
// other counts (none when the sweep stopped before reaching it: deadline,
// invalid client, rate budget). SkippedLeased counts connections another
// writer (a concurrent sweep or an app's TokenSource) held or had just
// refreshed.
type SweepSummary struct {
	Due            int `json:"due"`
	Refreshed      int `json:"refreshed"`
	Failed         int `json:"failed"`
	ReauthRequired int `json:"reauth_required"`
	RateLimited    int `json:"rate_limited"`
	SkippedLeased  int `json:"skipped_leased"`
	// Stopped says why the sweep stopped taking work early (deadline,
	// rate limit, the provider refusing the client), or is empty.
	Stopped string `json:"stopped,omitempty"`
	// Revoked counts revoked connections (Disconnect could not revoke
	// them) whose revocation the sweep retried with success, or gave up
	// because the refresh token expired; a failed retry counts in Failed.
	Revoked int `json:"revoked"`
	// PendingExpired counts pending connections no one confirmed within
	// CONFIRM_TTL: revoked at the provider and deleted (each a Connection
	// Rejected event, reason expired). They count in Due too.
	PendingExpired int   `json:"pending_expired"`
	DurationMS     int64 `json:"duration_ms"`
	// Providers, in a stack with several providers (OAUTH_PROVIDERS),
	// are each provider's counts (the fields above are their totals):
	// Due is the provider's connections taken into this sweep, Stopped
	// why its refreshes stopped early. A provider the configuration no
	// longer names appears with its Due and Stopped "provider not
	// configured": its connections are left alone. Behind a pointer, so
	// a SweepSummary stays comparable; nil in a single-provider stack.
	Providers *ProviderSummaries `json:"providers,omitempty"`
}

// ProviderSummaries are the counts of each provider of one sweep, by
// provider id.
type ProviderSummaries map[string]SweepSummary

// add adds o's counts to s.
func (s *SweepSummary) add(o SweepSummary) {
	s.Refreshed += o.Refreshed
	s.Failed += o.Failed
	s.ReauthRequired += o.ReauthRequired
	s.RateLimited += o.RateLimited
	s.SkippedLeased += o.SkippedLeased
	s.Revoked += o.Revoked
	s.PendingExpired += o.PendingExpired
}

// maxDue bounds the entries one sweep reads from one shard.
const maxDue = 10_000

// noDeadlineBudget is the time a sweep plans for when ctx has no deadline
// (the CLI): Lambda's longest run.
const noDeadlineBudget = 15 * time.Minute

// Sweep refreshes the connections that are due, for the EventBridge
// schedule (functions/refresh) and the CLI.
//
// It Queries the shards of the sparse due-index in parallel (never a Scan),
// reading no more entries than it can serve before its deadline, and serves
// them closest-to-losing-the-refresh-token first. Each connection goes
// through the lease protocol (lease.go) with SWEEP_CONCURRENCY workers; with
// TOKEN_RATE_PER_MIN > 0 one dispatcher takes a deployment-wide slot, then
// the lease, in priority order, so the limit is never exceeded and the
// slots go to the most urgent connections. Duplicate or concurrent sweeps
// are safe: the lease (conditioned on version) lets one writer refresh each
// connection.
//
// It stops taking work when the time left before ctx's deadline is less
// than the provider timeout plus a write plus a margin, and at once when the
// provider refuses the client (invalid_client: it logs the fix). Expected
// failures are counted in the summary, not returned: an error means the
// sweep could not run (bad shard range, store unavailable).
func (h *Handler) Sweep(ctx context.Context, in SweepInput) (SweepSummary, error) {
	start := h.Now()
	from, to, err := in.shards()
	if err != nil {
		return SweepSummary{}, err
	}
	s := &sweeper{h: h, owner: newOwner("sweep")}
	s.budget = h.providerTimeout() + writeBudget + stopMargin
	if d, ok := ctx.Deadline(); ok {
		s.deadline = d
	} else {
		s.deadline = start.Add(noDeadlineBudget)
	}

	entries, due, err := s.collect(ctx, from, to, start)
	if err != nil {
		return SweepSummary{}, err
	}
	s.sum.Due = due
	entries, binds := splitPending(entries)
	s.expirePending(ctx, binds)
	var perProvider ProviderSummaries
	if h.needsProvider() {
		perProvider = s.runProviders(ctx, entries)
	} else {
		s.run(ctx, entries)
	}

	sum := s.summary()
	sum.Stopped = s.stopReason()
	for _, p := range perProvider {
		sum.add(p)
	}
	if perProvider != nil {
		sum.Providers = &perProvider
	}
	sum.DurationMS = h.Now().Sub(start).Milliseconds()
	h.writeMetrics(sum, h.Now())
	h.Log.InfoContext(ctx, "sweep done", "shard_from", from, "shard_to", to,
		"due", sum.Due, "refreshed", sum.Refreshed, "failed", sum.Failed,
		"reauth_required", sum.ReauthRequired, "rate_limited", sum.RateLimited,
		"skipped_leased", sum.SkippedLeased, "revoked", sum.Revoked, "pending_expired", sum.PendingExpired, "duration_ms", sum.DurationMS, "stopped", s.stopReason())
	for _, id := range slices.Sorted(maps.Keys(perProvider)) {
		p := perProvider[id]
		h.Log.InfoContext(ctx, "sweep done for a provider", "provider", id, "due", p.Due, "refreshed", p.Refreshed, "failed", p.Failed,
			"reauth_required", p.ReauthRequired, "rate_limited", p.RateLimited, "skipped_leased", p.SkippedLeased, "revoked", p.Revoked, "stopped", p.Stopped)
	}
	return sum, nil
}

type sweeper struct {
	h        *Handler
	owner    string
	deadline time.Time
	budget   time.Duration // time kept before the deadline for one refresh

	stopped    atomic.Bool
	stopOnce   sync.Once
	reason     atomic.Value // string
	clientOnce sync.Once

	mu  sync.Mutex
	sum SweepSummary
}

func (s *sweeper) count(o outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch o {
	case outRefreshed:
		s.sum.Refreshed++
	case outFailed, outStop:
		s.sum.Failed++
	case outReauth:
		s.sum.ReauthRequired++
	case outRateLimited:
		s.sum.RateLimited++
	case outSkipped:
		s.sum.SkippedLeased++
	case outRevoked:
		s.sum.Revoked++
	}
}

func (s *sweeper) summary() SweepSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sum
}

func (s *sweeper) stop(reason string) {
	s.stopOnce.Do(func() {
		s.reason.Store(reason)
		s.stopped.Store(true)
	})
}

func (s *sweeper) stopReason() string {
	r, _ := s.reason.Load().(string)
	return r
}

// canTake reports whether one more refresh fits before the deadline.
func (s *sweeper) canTake(ctx context.Context) bool {
	if s.stopped.Load() {
		return false
	}
	if ctx.Err() != nil {
		s.stop("context ended")
		return false
	}
	if s.deadline.Sub(s.h.Now()) < s.budget {
		s.stop("deadline near")
		return false
	}
	return true
}

// capacity is how many refreshes the sweep could make in the time it has:
// the rate limit's slots, or SWEEP_CONCURRENCY workers at one refresh a
// second each (a slow provider's pace; a faster one leaves the rest for the
// next sweep). It sizes the reads of the due-index.
func (s *sweeper) capacity(now time.Time) int {
	left := s.deadline.Sub(now) - s.budget
	if left <= 0 {
		return 0
	}
	c := s.h.Config
	one := func(rate int) int {
		if rate > 0 {
			return int(left/time.Minute+1)*rate + 1
		}
		return max(c.SweepConcurrency, 1) * int(left/time.Second+1)
	}
	if !s.h.needsProvider() {
		return min(one(c.TokenRatePerMin), maxDue)
	}
	n := 0
	for _, p := range c.Providers {
		n += one(p.TokenRatePerMin)
	}
	return min(n, maxDue)
}

// runProviders serves the entries of a stack with several providers: each
// provider's connections by its own sweeper, at the same time, with the
// provider's settings, client and rate bucket, so a provider that refuses
// its client or is rate limited stops only its own refreshes. The
// connections of a provider the configuration no longer names are left
// alone, logged once per sweep. It returns each provider's summary.
func (s *sweeper) runProviders(ctx context.Context, entries []DueEntry) ProviderSummaries {
	groups := map[string][]DueEntry{}
	for _, e := range entries {
		groups[e.Provider] = append(groups[e.Provider], e)
	}
	out := make(ProviderSummaries, len(groups))
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, id := range slices.Sorted(maps.Keys(groups)) {
		group := groups[id]
		v, ok := s.h.ForProvider(id)
		if !ok {
			s.h.Log.WarnContext(ctx, "sweep: connections of a provider the configuration does not name are left alone",
				"provider", id, "due", len(group), "fix", "add the provider back to OAUTH_PROVIDERS to keep them alive, or disconnect them")
			out[id] = SweepSummary{Due: len(group), Stopped: "provider not configured"}
			continue
		}
		sub := &sweeper{h: v, owner: s.owner, deadline: s.deadline, budget: s.budget}
		sub.sum.Due = len(group)
		wg.Go(func() {
			sub.run(ctx, group)
			sum := sub.summary()
			sum.Stopped = sub.stopReason()
			mu.Lock()
			out[id] = sum
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// collect queries shards from..to in parallel for entries due at now and
// returns them in service order (earliest refresh-token expiry first, an
// unknown expiry last; then earliest refresh_at), at most capacity of them,
// and how many were found.
func (s *sweeper) collect(ctx context.Context, from, to int, now time.Time) ([]DueEntry, int, error) {
	limit := s.capacity(now)
	if limit == 0 {
		s.stop("deadline near")
		return nil, 0, nil
	}
	n := to - from + 1
	results := make([][]DueEntry, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = s.h.Store.QueryDue(ctx, from+i, now, limit)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, 0, fmt.Errorf("oauth: sweep: %w", err)
	}
	var all []DueEntry
	for _, r := range results {
		all = append(all, r...)
	}
	slices.SortFunc(all, func(a, b DueEntry) int {
		return cmp.Or(
			compareExpiry(a.RefreshExpiresAt, b.RefreshExpiresAt),
			a.RefreshAt.Compare(b.RefreshAt),
			strings.Compare(a.Key, b.Key))
	})
	found := len(all)
	if len(all) > limit {
		all = all[:limit]
	}
	return all, found, nil
}

// compareExpiry orders refresh-token expiries, a zero (unknown) one last.
func compareExpiry(a, b time.Time) int {
	switch {
	case a.IsZero() && b.IsZero():
		return 0
	case a.IsZero():
		return 1
	case b.IsZero():
		return -1
	}
	return a.Compare(b)
}

// job is one connection for a worker: leased already (rate-limited mode)
// or to be leased by the worker. In rate-limited mode the worker closes
// called when its token call is over.
type job struct {
	entry  DueEntry
	conn   *Connection
	called chan struct{}
}

func (s *sweeper) run(ctx context.Context, entries []DueEntry) {
	h := s.h
	limited := h.Config.TokenRatePerMin > 0
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range max(h.Config.SweepConcurrency, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				s.work(ctx, j)
			}
		}()
	}
	defer func() {
		close(jobs)
		wg.Wait()
	}()

	permit := false // rate-limited mode: a slot reserved and not yet used
	for _, e := range entries {
		if !s.canTake(ctx) {
			return
		}
		if limited {
			if !permit {
				if err := h.waitTokenCall(ctx, s.deadline.Add(-s.budget)); err != nil {
					s.stop("rate budget: " + err.Error())
					return
				}
				permit = true
			}
			c := s.lease(ctx, e)
			if c == nil {
				continue // the slot serves the next entry
			}
			permit = false
			// One token call at a time: the next slot is reserved only
			// when this call is over, so calls (not just reservations)
			// keep to the limit and go in priority order. The limit, not
			// SWEEP_CONCURRENCY, bounds this mode's pace; the workers
			// still overlap the writes.
			j := job{entry: e, conn: c, called: make(chan struct{})}
			jobs <- j
			<-j.called
			continue
		}
		// Unlimited: wait out a 429 pause here, not in every worker.
		if p := h.localPause(); p.After(h.Now()) {
			if p.After(s.deadline.Add(-s.budget)) {
				s.stop("rate limited until " + p.UTC().Format(time.RFC3339))
				return
			}
			if err := h.sleep(ctx, p.Sub(h.Now())); err != nil {
				s.stop("context ended")
				return
			}
		}
		jobs <- job{entry: e}
	}
}

// work refreshes one connection.
func (s *sweeper) work(ctx context.Context, j job) {
	h := s.h
	var once sync.Once
	called := func(refused string) {
		if refused != "" {
			// Stopped before the dispatcher hears the call is over: it
			// must not reserve (and wait for) another call slot.
			s.stop("provider refused the client: " + refused)
		}
		if j.called != nil {
			once.Do(func() { close(j.called) })
		}
	}
	defer called("")
	c := j.conn
	if c == nil {
		if !s.canTake(ctx) {
			return
		}
		if c = s.lease(ctx, j.entry); c == nil {
			return
		}
		// A 429 seen by another worker since: wait it out if the lease
		// allows, else hand the connection back untouched.
		notAfter := c.LeaseUntil.Add(-h.providerTimeout() - writeBudget)
		if err := h.waitTokenCall(ctx, notAfter); err != nil {
			h.release(ctx, c, s.owner)
			if errors.Is(err, ErrRateLimited) {
				s.count(outRateLimited)
			}
			return
		}
	}
	if s.stopped.Load() { // invalid_client seen meanwhile
		h.release(ctx, c, s.owner)
		return
	}
	if c.Status == StatusRevoked {
		res := h.retryRevocation(ctx, c, s.owner)
		s.count(res.outcome)
		return
	}
	if h.Config.RefreshMode == ModeKeepalive && c.RefreshExpiresAt.IsZero() && !c.HasCredential() {
		// Unknown lifetime: keepalive does not refresh it (its access
		// token is refreshed on demand); look again in modeRecheck.
		h.park(ctx, c, s.owner)
		return
	}
	res := h.refreshLeased(ctx, c, s.owner, called)
	s.count(res.outcome)
	if res.outcome == outFailed && res.err != nil {
		// The cause, for the operator (error texts carry no token).
		h.Log.WarnContext(ctx, "sweep: connection not refreshed", "provider", c.Provider, "account_id", c.AccountID, "err", res.err)
	}
	if res.outcome == outStop {
		f := res.failure
		s.stop("provider refused the client: " + f.kind)
		s.clientOnce.Do(func() {
			h.Log.ErrorContext(ctx, "sweep stopped: the provider refused the client; the next scheduled sweep tries again",
				append([]any{"outcome", f.kind, "account_id", c.AccountID}, f.logAttrs()...)...)
		})
	}
}

// lease takes the lease on a due entry for the sweep, or returns nil (and
// counts why) when it cannot or should not.
func (s *sweeper) lease(ctx context.Context, e DueEntry) *Connection {
	h := s.h
	version := e.Version
	for attempt := 0; ; attempt++ {
		now := h.Now()
		c, err := h.Store.AcquireLease(ctx, e.Provider, e.AccountID, version, s.owner, now, now.Add(LeaseDuration))
		if err == nil {
			if !dueAt(c, now) && !revocationDue(c, now) { // refreshed between the index read and the lease
				h.release(ctx, c, s.owner)
				s.count(outSkipped)
				return nil
			}
			return c
		}
		if errors.Is(err, ErrNotFound) { // disconnected meanwhile
			return nil
		}
		if !errors.Is(err, ErrConflict) {
			h.Log.ErrorContext(ctx, "could not lease a due connection", "account_id", e.AccountID, "err", err)
			s.count(outFailed)
			return nil
		}
		// Lost: the index entry was stale or another writer holds it.
		cur, err := h.Store.GetConnection(ctx, e.Provider, e.AccountID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			h.Log.ErrorContext(ctx, "could not re-read a due connection", "account_id", e.AccountID, "err", err)
			s.count(outFailed)
			return nil
		}
		if !leaseFree(cur.LeaseUntil, now) || (!dueAt(cur, now) && !revocationDue(cur, now)) || attempt > 0 {
			s.count(outSkipped)
			return nil
		}
		version = cur.Version
	}
}

// dueAt reports whether the sweep should refresh c at now.
func dueAt(c *Connection, now time.Time) bool {
	return c.Status == StatusActive && (c.RefreshToken != "" || c.HasCredential()) && !c.RefreshAt.IsZero() && !c.RefreshAt.After(now)
}

// park hands back a leased connection of unknown refresh-token lifetime in
// keepalive mode, due again in modeRecheck, unrefreshed.
func (h *Handler) park(ctx context.Context, c *Connection, owner string) {
	next := *c
	next.RefreshAt = unknownLifetimeRecheck(h.Now())
	if err := h.completeLease(ctx, &next, owner); err != nil && !errors.Is(err, ErrConflict) {
		h.Log.WarnContext(ctx, "could not re-schedule a connection of unknown refresh-token lifetime; its lease ends on its own", "account_id", c.AccountID, "err", err)
	}
}

// splitPending separates the due entries of pending connections (due at
// their expiry) from the connections'.
func splitPending(entries []DueEntry) (conns, binds []DueEntry) {
	for _, e := range entries {
		if IsBindKey(e.Key) {
			binds = append(binds, e)
		} else {
			conns = append(conns, e)
		}
	}
	return conns, binds
}

// expirePending ends the pending connections no one confirmed in time: each
// is rejected (reason expired), its session revoked at the provider, and
// deleted. One decided meanwhile (a stale index entry) is left alone.
// Revocation is not a token-endpoint call, so it takes no rate slot.
func (s *sweeper) expirePending(ctx context.Context, binds []DueEntry) {
	for _, e := range binds {
		if !s.canTake(ctx) {
			return
		}
		if _, err := s.h.rejectPending(ctx, e.Key, ReasonExpired); err == nil {
			s.mu.Lock()
			s.sum.PendingExpired++
			s.mu.Unlock()
		} else if !errors.Is(err, ErrNotFound) {
			s.count(outFailed)
		}
	}
}
