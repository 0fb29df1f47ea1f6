package oauth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/oauthfn/oauthfn/internal/ctxtime"
)

// The lease protocol (docs/architecture.md, "Keeping tokens alive"), shared by the
// sweep and TokenSource:
//
//  1. lease: Store.AcquireLease (version unchanged, no live lease) sets
//     lease_owner and lease_until = now + LeaseDuration;
//  2. refresh at the provider through x/oauth2 (AuthStyleInHeader, or
//     AuthStyleInParams with OAUTH_AUTH_STYLE=post; bounded
//     by the provider timeout), after a token-endpoint slot is reserved;
//  3. write: Store.CompleteLease (lease_owner is us) stores the new tokens,
//     expiries, refresh_at, version+1, and clears the lease and failures.
//
// Every failure path ends the lease with a CompleteLease too (the stored
// values, changed or not), so no lease is left behind except when the store
// itself fails; such a lease ends on its own after LeaseDuration.

// Lease and refresh timing.
const (
	// LeaseDuration is how long a lease holds; no lease outlives it.
	LeaseDuration = 60 * time.Second
	// writeBudget is the time kept, after a token call, for the conditional
	// write (retries included, see completeLease).
	writeBudget = 5 * time.Second
	// stopMargin is extra time the sweep keeps before the Lambda deadline.
	stopMargin = 2 * time.Second

	// Backoff after a 5xx, timeout or bad response: refresh_at = now +
	// min(backoffBase·2^(failures−1), backoffCap), never later than
	// refresh_expires_at − expirySafety. The cap stays inside RingCentral's
	// 60-minute grace window, so a refresh that rotated the token at the
	// provider but never reached us is retried while the old refresh token
	// still works.
	backoffBase  = time.Minute
	backoffCap   = 30 * time.Minute
	expirySafety = 10 * time.Minute

	// defaultRetryAfter is the pause after a 429 without Retry-After.
	defaultRetryAfter = 30 * time.Second
	// MaxRetryAfter caps a 429's Retry-After (seconds or a date): a longer
	// one would stop every refresh, and refresh tokens would die meanwhile.
	MaxRetryAfter = 5 * time.Minute
	// tokenSkew: TokenSource refreshes an access token this long before it
	// expires, so a request never leaves with a token about to die.
	tokenSkew = 60 * time.Second
	// pollInterval: how often TokenSource re-reads a connection another
	// holder has leased.
	pollInterval = 100 * time.Millisecond
)

// Errors returned by TokenSource's tokens (test with errors.Is).
var (
	// ErrReauthRequired: the account's refresh token is dead (or there is
	// none); the user must authorize again.
	ErrReauthRequired = errors.New("oauth: the account must authorize again")
	// ErrRateLimited: the provider's token endpoint is rate limited (a 429,
	// or TOKEN_RATE_PER_MIN) for longer than the call can wait.
	ErrRateLimited = errors.New("oauth: token endpoint rate limited")
	// ErrBusy: another holder kept the connection's lease longer than the
	// call could wait.
	ErrBusy = errors.New("oauth: connection is being refreshed by another holder")
)

// outcome is what one refresh attempt came to.
type outcome int

const (
	outRefreshed   outcome = iota
	outFailed              // 5xx, timeout, bad response, store trouble: failures+1
	outReauth              // invalid_grant: reauth_required, tokens removed
	outRateLimited         // 429: nothing changed, calls paused
	outSkipped             // another writer held the lease or already won
	outStop                // invalid_client / unauthorized_client: stop the sweep
	outRevoked             // a revoked connection's session revoked at last (or expired): deleted
)

type refreshResult struct {
	outcome outcome
	token   *oauth2.Token // the new token, on outRefreshed only
	err     error
	failure tokenFailure // what the provider said, on outStop
}

// newOwner is a random lease owner id, e.g. "sweep-1f2e3d4c5b6a7988".
func newOwner(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

func (h *Handler) providerTimeout() time.Duration {
	if h.HTTPClient != nil && h.HTTPClient.Timeout > 0 {
		return h.HTTPClient.Timeout
	}
	return ProviderTimeout
}

func (h *Handler) sleep(ctx context.Context, d time.Duration) error {
	if h.Sleep != nil {
		return h.Sleep(ctx, d)
	}
	return SleepContext(ctx, d)
}

// SleepContext waits d, or less if ctx ends first (then it returns ctx's
// error).
func SleepContext(ctx context.Context, d time.Duration) error { return ctxtime.Sleep(ctx, d) }

// localPause is the end of this environment's 429 pause (zero: none).
func (h *Handler) localPause() time.Time {
	if ms := h.pausedUntil.Load(); ms > 0 {
		return time.UnixMilli(ms)
	}
	return time.Time{}
}

// pause stops token calls until until: here, and for the whole deployment
// through the store when the limiter is on. A non-zero refreshExpires (the
// refresh token the 429 was met for) ends the pause early enough for one
// more attempt before that token dies.
func (h *Handler) pause(ctx context.Context, until, refreshExpires time.Time) time.Time {
	if !refreshExpires.IsZero() {
		if latest := refreshExpires.Add(-h.providerTimeout() - writeBudget); until.After(latest) {
			until = latest
		}
	}
	if now := h.Now(); until.Before(now) {
		until = now
	}
	for {
		cur := h.pausedUntil.Load()
		if cur >= until.UnixMilli() || h.pausedUntil.CompareAndSwap(cur, until.UnixMilli()) {
			break
		}
	}
	if h.Config.TokenRatePerMin > 0 {
		// Refreshes' and code exchanges' rate items both hold the pause.
		for _, limiter := range append([]string{h.Config.Provider.Name}, exchangeLimiters(h.Config.Provider.Name)...) {
			if err := h.Store.PauseTokenCalls(context.WithoutCancel(ctx), limiter, until); err != nil {
				h.Log.WarnContext(ctx, "could not share the rate-limit pause; it holds in this environment only", "err", err)
			}
		}
	}
	return until
}

// rateWaitError says the token endpoint is closed until until, later than
// the caller could wait.
type rateWaitError struct{ until time.Time }

func (e *rateWaitError) Error() string {
	return fmt.Sprintf("oauth: token endpoint closed until %s", e.until.UTC().Format(time.RFC3339))
}
func (e *rateWaitError) Unwrap() error { return ErrRateLimited }

// waitTokenCall waits until this caller may make one token-endpoint call:
// after any 429 pause and, with TOKEN_RATE_PER_MIN > 0, once it holds a
// deployment-wide slot (Store.ReserveTokenCall, one slot every
// 1/TOKEN_RATE_PER_MIN). It returns a *rateWaitError, without waiting, if
// the call could not go before notAfter. TOKEN_RATE_PER_MIN=0 makes no store
// calls at all.
func (h *Handler) waitTokenCall(ctx context.Context, notAfter time.Time) error {
	for {
		now := h.Now()
		if p := h.localPause(); p.After(now) {
			if p.After(notAfter) {
				return &rateWaitError{until: p}
			}
			if err := h.sleep(ctx, p.Sub(now)); err != nil {
				return err
			}
			continue
		}
		rate := h.Config.TokenRatePerMin
		if rate <= 0 {
			return nil
		}
		interval := time.Minute / time.Duration(rate)
		retry, err := h.Store.ReserveTokenCall(ctx, h.Config.Provider.Name, now, interval)
		if err != nil {
			return err
		}
		if retry.IsZero() {
			return nil
		}
		if retry.After(now.Add(MaxRetryAfter + interval + time.Second)) {
			// Longer than any pause this version makes: one stored before
			// Retry-After was capped. Shorten it (the store replaces a
			// pause more than MaxRetryAfter after the new one).
			h.Log.WarnContext(ctx, "a stored rate-limit pause is longer than MaxRetryAfter; ending it",
				"paused_until", retry.UTC().Format(time.RFC3339), "max_retry_after_s", int(MaxRetryAfter/time.Second))
			if err := h.Store.PauseTokenCalls(ctx, h.Config.Provider.Name, now); err != nil {
				return err
			}
			continue
		}
		if retry.After(notAfter) {
			return &rateWaitError{until: retry}
		}
		if err := h.sleep(ctx, retry.Sub(now)); err != nil {
			return err
		}
	}
}

// errLeaseTooShort: too little of the lease was left for a token call and
// a write.
var errLeaseTooShort = errors.New("oauth: refresh: lease too short for a token call")

// refreshLeased runs steps 2 and 3 of the protocol on a connection leased
// by owner, and ends the lease whatever happens. afterCall, if not nil, runs
// once when the token call is over (or was never made); refused is the
// failure's kind when the provider refused the client (invalid_client,
// unauthorized_client: the sweep stops before it reserves another call),
// else "".
func (h *Handler) refreshLeased(ctx context.Context, c *Connection, owner string, afterCall func(refused string)) refreshResult {
	called := onceAfterCall(afterCall)
	defer called("")
	if h.grantFirst(c) { // a connection from a credential, without a usable refresh token (credential.go)
		return h.grantLeased(ctx, c, owner, called)
	}
	log := h.Log.With("provider", c.Provider, "account_id", c.AccountID)
	h.prefetch(ctx, needTokenKey|needClientSecret)
	refreshToken, err := h.openSealed(ctx, c.RefreshToken, c.Key(), attrRefreshToken)
	if err != nil {
		if h.localKeyMismatch(err) {
			// This process's own key (OAUTH_TOKEN_KEY, e.g. the CLI's) is
			// not the one the deployment seals with: not the connection's
			// fault, so nothing is recorded on the shared item.
			h.release(ctx, c, owner)
			log.ErrorContext(ctx, "the local token key does not open this connection's tokens", "outcome", "failed", "err", err,
				"fix", "set OAUTH_TOKEN_KEY to the deployment's token key (or use OAUTH_TOKEN_KEY_ARN)")
			return refreshResult{outcome: outFailed, err: fmt.Errorf("oauth: refresh: %w: the local OAUTH_TOKEN_KEY is not the deployment's token key", err)}
		}
		if errors.Is(err, errKeyUnavailable) {
			h.release(ctx, c, owner) // the key could not be fetched: try again later
			return refreshResult{outcome: outFailed, err: fmt.Errorf("oauth: refresh: %w", err)}
		}
		// The stored value does not open with any key this deployment
		// holds, or fails authentication: record it on the connection,
		// with backoff, so the operator sees it in last_error.
		log.ErrorContext(ctx, "stored refresh token does not open", "outcome", "failed", "err", err, "fix", h.keyFix())
		return h.refreshFailed(ctx, c, owner, tokenFailure{kind: failTokenKey}, h.Now())
	}
	sealer, err := h.Secrets.Sealer(ctx)
	if err != nil {
		h.release(ctx, c, owner)
		return refreshResult{outcome: outFailed, err: fmt.Errorf("oauth: refresh: token key: %w", err)}
	}
	secret, err := h.clientSecret(ctx)
	if err != nil {
		h.release(ctx, c, owner)
		return refreshResult{outcome: outFailed, err: fmt.Errorf("oauth: refresh: client secret: %w", err)}
	}

	// Never start a token call the lease may not outlive: once the lease
	// lapses another writer can lease the same version and spend the same
	// refresh token. The connection stays due for the next sweep.
	if h.Now().Add(h.providerTimeout() + writeBudget).After(c.LeaseUntil) {
		h.release(ctx, c, owner)
		return refreshResult{outcome: outSkipped, err: errLeaseTooShort}
	}

	// The token call. oauth2Config sets the auth style explicitly (OAUTH_AUTH_STYLE): auto-detection
	// would re-send a refused refresh the other way and could burn it.
	conf := h.oauth2Config("", secret)
	callCtx, cancel := context.WithTimeout(h.clientContext(ctx), h.providerTimeout())
	tok, err := conf.TokenSource(callCtx, &oauth2.Token{RefreshToken: refreshToken}).Token()
	cancel()
	now := h.Now()
	sent := h.sentBy(secret, refreshToken)
	if err == nil && !h.Config.Provider.bearerType(tok.TokenType) {
		err = fmt.Errorf("oauth: refresh: unsupported token type %q", sent.code(tok.TokenType))
	}
	if err != nil {
		f := h.tokenFailure(err, grantRefresh, sent)
		called(f.clientRefused())
		return h.refreshFailed(ctx, c, owner, f, now)
	}
	called("")

	next := *c
	if extraString(tok, "refresh_token") == "" {
		// No refresh token in the response (x/oauth2 copies the old one
		// into tok): keep the stored one and its expiry.
		kept := *tok
		kept.RefreshToken = ""
		tok = &kept
	}
	if err := h.applyToken(&next, sealer, tok, now); err != nil {
		h.release(ctx, c, owner)
		return refreshResult{outcome: outFailed, err: fmt.Errorf("oauth: refresh: seal tokens: %w", err)}
	}
	next.TokenType = "Bearer"
	if s := extraString(tok, "scope"); s != "" {
		next.Scope = s
	}
	next.Status = StatusActive
	next.Failures = 0
	next.LastError = ""
	next.LastRefreshAt = now
	next.UpdatedAt = now
	next.RefreshAt = h.Config.refreshAt(&next)
	h.warnIfAlwaysDue(ctx, &next, now)
	if err := h.completeLease(ctx, &next, owner); err != nil {
		// The provider rotated the tokens and we could not store them.
		// They are dropped on purpose, and not handed to the app: the
		// stored refresh token stays usable at RingCentral for up to 60
		// minutes while the new access token is unused, so the next
		// sweep's refresh with it recovers the connection.
		log.ErrorContext(ctx, "refreshed at the provider but the new tokens could not be stored; the next sweep retries with the stored refresh token (the provider's grace window for a rotated refresh token)",
			"outcome", "write_failed", "err", err)
		return refreshResult{outcome: outFailed, err: fmt.Errorf("oauth: refresh: store new tokens: %w", err)}
	}
	log.DebugContext(ctx, "connection refreshed", "outcome", "refreshed")
	return refreshResult{outcome: outRefreshed, token: &oauth2.Token{
		AccessToken: tok.AccessToken,
		TokenType:   "Bearer",
		Expiry:      next.AccessExpiresAt,
	}}
}

// refreshFailed handles a failed token call on a leased connection.
func (h *Handler) refreshFailed(ctx context.Context, c *Connection, owner string, f tokenFailure, now time.Time) refreshResult {
	log := h.Log.With("provider", c.Provider, "account_id", c.AccountID)
	switch f.kind {
	case failInvalidGrant:
		// Re-read first: if the refresh token changed (or the lease is no
		// longer ours), another writer rotated it and won. Not an error.
		cur, err := h.Store.GetConnection(ctx, c.Provider, c.AccountID)
		if errors.Is(err, ErrNotFound) {
			return refreshResult{outcome: outSkipped}
		}
		if err != nil {
			h.release(ctx, c, owner)
			return refreshResult{outcome: outFailed, err: fmt.Errorf("oauth: refresh: re-read after invalid_grant: %w", err)}
		}
		if cur.RefreshToken != c.RefreshToken || cur.LeaseOwner != owner {
			log.InfoContext(ctx, "refresh token already rotated by another writer", "outcome", "skipped")
			if cur.LeaseOwner == owner {
				h.release(ctx, cur, owner)
			}
			return refreshResult{outcome: outSkipped}
		}
		if c.HasCredential() { // grant again with the credential, under this lease (credential.go)
			return h.grantAgain(ctx, c, owner, now)
		}
		next := *c
		next.Status = StatusReauthRequired
		next.AccessToken, next.RefreshToken = "", ""
		next.LastError = failInvalidGrant
		next.UpdatedAt = now
		next.RefreshAt = time.Time{} // out of the due-index
		if err := h.completeLease(ctx, &next, owner); err != nil {
			return refreshResult{outcome: outFailed, err: fmt.Errorf("oauth: refresh: mark reauth_required: %w", err)}
		}
		log.WarnContext(ctx, "refresh token refused: the account must authorize again", append(f.logAttrs(), "outcome", StatusReauthRequired)...)
		return refreshResult{outcome: outReauth, err: ErrReauthRequired}

	case failInvalidClient, failUnauthorizedClient:
		// Not the connection's fault, so no failure is counted and it
		// stays due; the refusal is recorded as its last_error so that
		// `list` and the console show why the sweep stopped.
		next := *c
		next.LastError = f.kind
		if err := h.completeLease(ctx, &next, owner); err != nil && !errors.Is(err, ErrConflict) {
			h.Log.WarnContext(ctx, "could not record the refusal on the connection; its lease ends on its own", "account_id", c.AccountID, "err", err)
		}
		return refreshResult{outcome: outStop, failure: f, err: fmt.Errorf("oauth: refresh: provider refused the client (%s)", f.kind)}

	case failRateLimited:
		wait := f.retryAfter
		if wait <= 0 {
			wait = defaultRetryAfter
		}
		until := h.pause(ctx, now.Add(wait), c.RefreshExpiresAt)
		h.release(ctx, c, owner)
		log.WarnContext(ctx, "token endpoint rate limited; no token call until the pause ends",
			append(f.logAttrs(), "outcome", failRateLimited, "paused_until", until.UTC().Format(time.RFC3339))...)
		return refreshResult{outcome: outRateLimited, err: &rateWaitError{until: until}}

	default: // provider_unavailable, provider_bad_response
		next := *c
		next.Failures++
		next.LastError = f.kind
		next.UpdatedAt = now
		next.RefreshAt = backoff(next.Failures, next.RefreshExpiresAt, now)
		if err := h.completeLease(ctx, &next, owner); err != nil {
			return refreshResult{outcome: outFailed, err: fmt.Errorf("oauth: refresh: record failure: %w", err)}
		}
		log.WarnContext(ctx, "refresh failed; retrying later", append(f.logAttrs(), "outcome", "failed",
			"failures", next.Failures, "retry_at", next.RefreshAt.UTC().Format(time.RFC3339))...)
		return refreshResult{outcome: outFailed, err: fmt.Errorf("oauth: refresh: %s", f.kind)}
	}
}

// onceAfterCall wraps a token call's afterCall so that it runs at most
// once (nil: never).
func onceAfterCall(afterCall func(refused string)) func(refused string) {
	var once sync.Once
	return func(refused string) {
		if afterCall != nil {
			once.Do(func() { afterCall(refused) })
		}
	}
}

// clientRefused is the failure's kind when the provider refused the
// client itself (the sweep stops), else "".
func (f tokenFailure) clientRefused() string {
	if f.kind == failInvalidClient || f.kind == failUnauthorizedClient {
		return f.kind
	}
	return ""
}

// backoff is the refresh_at after the failures-th failure in a row:
// now + min(backoffBase·2^(failures−1), backoffCap), never later than
// refreshExpires − expirySafety (and never before now).
func backoff(failures int, refreshExpires, now time.Time) time.Time {
	d := backoffCap
	if failures < 1 {
		failures = 1
	}
	if failures <= 16 {
		d = min(backoffBase<<(failures-1), backoffCap)
	}
	at := now.Add(d)
	if !refreshExpires.IsZero() {
		if limit := refreshExpires.Add(-expirySafety); at.After(limit) {
			at = limit
		}
	}
	if at.Before(now) {
		at = now
	}
	return at
}

// release ends owner's lease on c, leaving the stored values as they were
// (the version moves on). A failure is logged: the lease ends on its own.
func (h *Handler) release(ctx context.Context, c *Connection, owner string) {
	same := *c
	if err := h.completeLease(ctx, &same, owner); err != nil && !errors.Is(err, ErrConflict) {
		h.Log.WarnContext(ctx, "could not release a lease; it ends on its own", "account_id", c.AccountID, "err", err)
	}
}

// completeLease is Store.CompleteLease, retried with backoff while the lease
// lasts: the tokens it carries may be the only copy of a rotation. It runs
// even when ctx is cancelled (an app that gave up must not lose a rotated
// token). ErrConflict (the lease is no longer ours) is not retried.
func (h *Handler) completeLease(ctx context.Context, c *Connection, owner string) error {
	leaseEnd := c.LeaseUntil
	if leaseEnd.IsZero() {
		leaseEnd = h.Now().Add(LeaseDuration)
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(leaseEnd.Sub(h.Now()), time.Second))
	defer cancel()
	delay := 100 * time.Millisecond
	for {
		// An earlier attempt that was applied and whose reply was lost
		// (ours, or the SDK's own retry) is recognised by the store: the
		// write is done.
		err := h.Store.CompleteLease(wctx, c, owner)
		if err == nil || errors.Is(err, ErrConflict) {
			return err
		}
		if !h.Now().Add(delay).Before(leaseEnd) || wctx.Err() != nil {
			return err
		}
		h.Log.WarnContext(ctx, "conditional write failed; retrying", "account_id", c.AccountID, "err", err)
		if serr := h.sleep(wctx, delay); serr != nil {
			return err
		}
		delay = min(2*delay, 2*time.Second)
	}
}
