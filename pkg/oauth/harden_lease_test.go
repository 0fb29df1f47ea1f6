package oauth

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/internal/mockrc"
)

// lostReplies applies a lease completion and then loses its reply (as a
// timeout after DynamoDB applied the write would), lose times.
type lostReplies struct {
	Store
	lose atomic.Int32
}

func (s *lostReplies) CompleteLease(ctx context.Context, c *Connection, owner string) error {
	if s.lose.Add(-1) >= 0 {
		applied := *c
		if err := s.Store.CompleteLease(ctx, &applied, owner); err != nil {
			return err
		}
		return errors.New("oauth: complete lease: operation error DynamoDB: UpdateItem, request timeout (reply lost)")
	}
	return s.Store.CompleteLease(ctx, c, owner)
}

// Issue 10 item 8: a lease completion that was applied but whose reply was
// lost comes back as a conflict on retry; the writer recognises its own
// write on re-read, so the refresh counts as done, the app gets its token,
// and nothing says the tokens could not be stored.
func TestCompleteLeaseRecognisesOwnWrite(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		for _, path := range []string{"sweep", "TokenSource"} {
			t.Run(path, func(t *testing.T) {
				ls := &lostReplies{Store: newStore(t)}
				r := newRCRig(t, ls, mockrc.Options{})
				r.connect(t, "1001")
				r.clock.Advance(5*24*time.Hour + time.Second)
				ls.lose.Store(1)
				var got string
				if path == "sweep" {
					if sum := sweepOnce(t, r.h); sum.Refreshed != 1 || sum.Failed != 0 {
						t.Fatalf("sweep: %+v, want one refreshed", sum)
					}
				} else {
					tok, err := r.h.TokenSource(context.Background(), "1001").Token()
					if err != nil {
						t.Fatalf("Token: %v", err)
					}
					got = tok.AccessToken
				}
				if strings.Contains(r.logs.String(), "could not be stored") {
					t.Errorf("logs report a lost write that was applied:\n%s", r.logs)
				}
				_, access, _ := r.get(t, "1001")
				if got != "" && got != access {
					t.Errorf("TokenSource handed out a token that is not the stored one")
				}
				useToken(t, r)
				noLeases(t, r.store)
			})
		}
	})
}
