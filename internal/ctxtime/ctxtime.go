// Package ctxtime waits as long as a context lets it. It is a leaf
// (standard library only), shared by pkg/oauth (oauth.SleepContext) and
// pkg/oauth/eventbus, so that functions/events links neither pkg/oauth nor
// the SDK clients it imports.
package ctxtime

import (
	"context"
	"time"
)

// Sleep waits d, or less if ctx ends first (then it returns ctx's error).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
