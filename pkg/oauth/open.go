package oauth

import (
	"context"
	"errors"
	"fmt"
)

// SealerRefresher is implemented by Secrets whose token key can change
// under them (SecretsManager): RefreshSealer fetches the key again,
// bypassing the cache.
type SealerRefresher interface {
	RefreshSealer(ctx context.Context) (*Sealer, error)
}

// errKeyUnavailable: the token key could not be fetched (nothing is known
// about the sealed value).
var errKeyUnavailable = errors.New("oauth: token key unavailable")

// openSealed opens a sealed value of field in the item pk. A value sealed
// with a key id this environment does not know may come from another
// execution environment that already holds a rotated token key (the cache
// here is up to DefaultSecretsTTL old): the key is then fetched again once,
// bypassing the cache, before the value is called unopenable.
func (h *Handler) openSealed(ctx context.Context, sealed, pk, field string) (string, error) {
	sealer, err := h.Secrets.Sealer(ctx)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errKeyUnavailable, err)
	}
	v, err := sealer.OpenField(sealed, pk, field)
	if err == nil || !errors.Is(err, ErrUnknownKeyID) {
		return v, err
	}
	r, ok := h.Secrets.(SealerRefresher)
	if !ok {
		return "", err
	}
	fresh, ferr := r.RefreshSealer(ctx)
	if ferr != nil {
		return "", fmt.Errorf("%w: %w", errKeyUnavailable, ferr)
	}
	return fresh.OpenField(sealed, pk, field)
}

// localKeyMismatch reports whether err says a value names a key id this
// process does not hold while its key is a local one (OAUTH_TOKEN_KEY): then
// the local key is wrong, not the stored value.
func (h *Handler) localKeyMismatch(err error) bool {
	_, managed := h.Secrets.(SealerRefresher)
	return errors.Is(err, ErrUnknownKeyID) && !managed
}

// keyFix is the advice for a stored value that does not open, worded for
// where this process's token key comes from.
func (h *Handler) keyFix() string {
	if _, managed := h.Secrets.(SealerRefresher); managed {
		return "the value was sealed with a token key that is neither AWSCURRENT nor AWSPREVIOUS of OAUTH_TOKEN_KEY_ARN (rotated twice within a refresh-token lifetime), or altered in the table; the account must authorize again"
	}
	return "the value fails authentication with OAUTH_TOKEN_KEY (altered in the table, or moved from another item); the account must authorize again"
}
