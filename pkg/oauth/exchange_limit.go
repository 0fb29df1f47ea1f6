package oauth

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// exchangeLimiter is the suffix of the rate item of code exchanges:
// "rate#<provider>#exchange", beside the refreshes' "rate#<provider>".
const exchangeLimiter = "#exchange"

// exchangeBusyUntil reports when a code exchange may go, or a zero time if
// it may go now. A person is waiting, so an exchange never waits: during a
// 429 pause (here or, with TOKEN_RATE_PER_MIN > 0, shared by any execution
// environment) or when the exchanges' own budget is spent, the callback
// answers "provider busy" and nothing is sent to the provider.
//
// The budget is half of TOKEN_RATE_PER_MIN (one exchange every two of the
// refreshes' intervals), on a rate item of its own: exchanges never take the
// refreshes' slots, and a flood of callbacks cannot use more than that.
// With TOKEN_RATE_PER_MIN=0 only the pause applies.
func (h *Handler) exchangeBusyUntil(ctx context.Context) (time.Time, error) {
	now := h.Now()
	if p := h.localPause(); p.After(now) {
		return p, nil
	}
	rate := h.Config.TokenRatePerMin
	if rate <= 0 {
		return time.Time{}, nil
	}
	interval := 2 * (time.Minute / time.Duration(rate))
	retry, err := h.Store.ReserveTokenCall(ctx, h.Config.Provider.Name+exchangeLimiter, now, interval)
	if err != nil {
		return time.Time{}, fmt.Errorf("oauth: exchange budget: %w", err)
	}
	return retry, nil
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
