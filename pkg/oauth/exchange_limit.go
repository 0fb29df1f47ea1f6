package oauth

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Code exchanges have a budget of their own, on rate items of their own
// ("rate#<provider>#exchange#0" … "#4"), beside the refreshes'
// "rate#<provider>": exchangeBuckets items, each allowing one exchange every
// exchangeBuckets × 2 refresh intervals. So up to exchangeBuckets sign-ins
// can go at once, and on average half of TOKEN_RATE_PER_MIN a minute.
const (
	exchangeLimiter = "#exchange#"
	exchangeBuckets = 5
)

// exchangeLimiters names the exchange budget's rate items.
func exchangeLimiters(provider string) []string {
	out := make([]string, exchangeBuckets)
	for i := range out {
		out[i] = provider + exchangeLimiter + strconv.Itoa(i)
	}
	return out
}

// exchangeBusyUntil reports when a code exchange may go, or a zero time if
// it may go now (it then has taken its place in the budget). A person is
// waiting, so an exchange never waits: during a 429 pause (here or, with
// TOKEN_RATE_PER_MIN > 0, shared by any execution environment: pause writes
// it on every rate item) or when the exchanges' budget is spent, the
// callback answers "provider busy" and nothing is sent to the provider.
// Exchanges never take the refreshes' slots, so a flood of callbacks cannot
// starve the sweep. With TOKEN_RATE_PER_MIN=0 only the pause applies.
func (h *Handler) exchangeBusyUntil(ctx context.Context) (time.Time, error) {
	now := h.Now()
	if p := h.localPause(); p.After(now) {
		return p, nil
	}
	rate := h.Config.TokenRatePerMin
	if rate <= 0 {
		return time.Time{}, nil
	}
	interval := exchangeBuckets * 2 * (time.Minute / time.Duration(rate))
	names := exchangeLimiters(h.Config.Provider.Name)
	start := rand.IntN(len(names)) // spread concurrent callers over the items
	var earliest time.Time
	for i := range names {
		retry, err := h.Store.ReserveTokenCall(ctx, names[(start+i)%len(names)], now, interval)
		if err != nil {
			return time.Time{}, fmt.Errorf("oauth: exchange budget: %w", err)
		}
		if retry.IsZero() {
			return time.Time{}, nil
		}
		if earliest.IsZero() || retry.Before(earliest) {
			earliest = retry
		}
	}
	return earliest, nil
}

// busyAnswer tells the person when to try again.
func busyAnswer(req events.APIGatewayV2HTTPRequest, now, until time.Time, retry string, cookies ...string) events.APIGatewayV2HTTPResponse {
	secs := int((until.Sub(now) + time.Second - 1) / time.Second)
	secs = max(secs, 1)
	a := ansBusy
	a.next = fmt.Sprintf("Wait a moment, then try again in %d s.", secs)
	if retry == "" { // nothing was consumed: the same page works again
		a.next = fmt.Sprintf("Wait a moment, then try again in %d s: reload this page.", secs)
	}
	a.retry = retry
	resp := render(req, a, cookies...)
	resp.Headers["Retry-After"] = strconv.Itoa(secs)
	return resp
}
