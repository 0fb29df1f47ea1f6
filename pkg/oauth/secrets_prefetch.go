package oauth

import (
	"context"
	"errors"
	"sync"

	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// secretNeed names the secrets a request needs, for prefetch.
type secretNeed uint8

const (
	needClientSecret secretNeed = 1 << iota
	needTokenKey
	needAppKey
)

// prefetcher is implemented by Secrets that fetch over the network
// (SecretsManager): prefetch fetches what a request needs at the same time,
// so a cold execution environment waits on one round trip, not one per
// secret.
type prefetcher interface {
	prefetch(ctx context.Context, need secretNeed)
}

// prefetch fetches the secrets need names together, when h.Secrets fetches
// over the network; the calls that follow read them from the cache. Errors
// are not reported here: the call that needs the secret fetches again and
// reports its own.
func (h *Handler) prefetch(ctx context.Context, need secretNeed) {
	if p, ok := h.Secrets.(prefetcher); ok {
		p.prefetch(ctx, need)
	}
}

// prefetch runs the fetches of need whose cached value is missing or
// expired concurrently and waits for them; with fewer than two to fetch it
// does nothing (the caller's own call is as fast).
func (m *SecretsManager) prefetch(ctx context.Context, need secretNeed) {
	now, ttl := m.now(), m.ttl()
	var fetch []func()
	switch {
	case need&needClientSecret == 0:
	case m.ByProvider && !m.providerSecrets.fresh(now, ttl):
		fetch = append(fetch, func() { m.providerSecrets.get(ctx, m.now, ttl, m.fetchProviderSecrets) })
	case !m.ByProvider && !m.clientSecret.fresh(now, ttl):
		fetch = append(fetch, func() { m.ClientSecret(ctx) })
	}
	if need&needTokenKey != 0 && !m.sealer.fresh(now, ttl) {
		fetch = append(fetch, func() { m.Sealer(ctx) })
	}
	if need&needAppKey != 0 && m.AppKeyARN != "" && !m.appKeys.fresh(now, ttl) {
		fetch = append(fetch, func() { m.AppKeys(ctx) })
	}
	if len(fetch) < 2 {
		return
	}
	var wg sync.WaitGroup
	for _, f := range fetch {
		wg.Go(f)
	}
	wg.Wait()
}

// AppKeysRefresher is implemented by Secrets whose app key can change under
// them (SecretsManager): RefreshAppKeys fetches the key again with its
// AWSPREVIOUS version, bypassing the cache (at most once per 30 s).
type AppKeysRefresher interface {
	RefreshAppKeys(ctx context.Context) (connect.Keys, error)
}

// verifyAppSigned runs verify (a connect or confirm token's verification)
// with the app key, on the handler's clock. A signature that does not
// verify may be made with a version of the app key this environment does
// not hold (rotated since it cached the key, or AWSPREVIOUS, which is only
// fetched once needed): the key is then fetched again, bounded (see
// SecretsManager), and the token verified once more. A non-nil keyErr means
// the app key could not be had at all.
func (h *Handler) verifyAppSigned(ctx context.Context, verify func(connect.Keys) error) (err, keyErr error) {
	keys, keyErr := h.Secrets.AppKeys(ctx)
	if keyErr != nil {
		return nil, keyErr
	}
	keys.Now = h.Now
	err = verify(keys)
	var ce *connect.Error
	if err == nil || !errors.As(err, &ce) || ce.Check != connect.CheckSignature {
		return err, nil
	}
	r, ok := h.Secrets.(AppKeysRefresher)
	if !ok {
		return err, nil
	}
	if keys, keyErr = r.RefreshAppKeys(ctx); keyErr != nil {
		return nil, keyErr
	}
	keys.Now = h.Now
	return verify(keys), nil
}
