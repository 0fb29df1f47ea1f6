package oauth

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
	"github.com/oauthfn/oauthfn/pkg/oauth/connevent"
)

// transitions maps recorded stream records to their events.
func transitions(t *testing.T, recs []events.DynamoDBEventRecord) []connevent.Event {
	t.Helper()
	var got []connevent.Event
	for _, rec := range recs {
		ev, err := connevent.Transition(rec)
		if err != nil {
			t.Fatal(err)
		}
		if ev != nil {
			got = append(got, *ev)
		}
	}
	return got
}

// An accept that replaces a connection made in the same second (two
// flows of one account finished together) is still a Connection
// Connected, naming the end user the account moved from.
func TestAcceptSameSecondIsConnected(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := confirmRig(t, newStore)
		var recs []events.DynamoDBEventRecord
		r.h.Store = WatchStore(r.h.Store, func() time.Time { return r.now }, func(rec events.DynamoDBEventRecord) { recs = append(recs, rec) })
		r.connectedAs(t, "user-1", "2222")
		recs = nil
		r.connectedAs(t, "user-2", "2222") // the clock has not moved
		got := transitions(t, recs)
		if len(got) != 1 || got[0].DetailType != connevent.Connected || got[0].Detail.EndUser != "user-2" || got[0].Detail.PreviousEndUser != "user-1" {
			t.Errorf("events = %+v, want one Connection Connected for user-2, previous user-1", got)
		}
	})
}

// A confirm for another user that arrives after CONFIRM_TTL is answered as
// any late confirm (404, reason expired), the same answer and event as
// when the sweep got there first: the pending connection was no longer
// decidable.
func TestLateMismatchIsExpired(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := confirmRig(t, newStore)
		var recs []events.DynamoDBEventRecord
		r.h.Store = WatchStore(r.h.Store, func() time.Time { return r.now }, func(rec events.DynamoDBEventRecord) { recs = append(recs, rec) })
		res := r.finishAs(t, "7117")
		r.now = r.now.Add(DefaultConfirmTTL)
		wantAnswer(t, r.decide(t, res, "someone-else", connect.DecisionAccept), 404, "error", "not_found")
		if n := r.prov.revokeCalls.Load(); n != 1 {
			t.Errorf("revocations = %d, want 1", n)
		}
		got := transitions(t, recs)
		if len(got) != 1 || got[0].DetailType != connevent.Rejected || got[0].Detail.Reason != ReasonExpired {
			t.Errorf("events = %+v, want one Connection Rejected (expired)", got)
		}
	})
}

// An accept whose replaced connection is leased (a Disconnect revoking it,
// or a refresh rotating its tokens) waits for the lease to end: committing
// under it would let the Disconnect's delete remove the accepted
// connection (its new session then revoked by no one) or drop the tokens
// the refresh rotated. Here a Disconnect holds the lease and finishes
// (revokes, deletes) while the accept waits; the accept then connects the
// account afresh.
func TestAcceptWaitsForLease(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(*testing.T) Store) {
		r := confirmRig(t, newStore)
		r.connectedAs(t, "user-1", "3131")
		res := r.finishAs(t, "3131")
		ctx := context.Background()
		old, err := r.h.Store.GetConnection(ctx, "generic", "3131")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.h.Store.AcquireLease(ctx, "generic", "3131", old.Version, "disconnect-test", r.now, r.now.Add(LeaseDuration)); err != nil {
			t.Fatal(err)
		}
		disconnected := false
		disconnect := func() { // what disconnectLeased does once it revoked
			if !disconnected {
				disconnected = true
				if err := r.h.Store.DeleteConnection(ctx, "generic", "3131"); err != nil {
					t.Error(err)
				}
			}
		}
		r.h.Sleep = func(context.Context, time.Duration) error {
			disconnect()
			r.now = r.now.Add(pollInterval)
			return nil
		}
		wantAnswer(t, r.decide(t, res, "user-1", connect.DecisionAccept), 200, "status", "connected")
		disconnect() // if the accept did not wait, the Disconnect finishes now
		c, err := r.h.Store.GetConnection(ctx, "generic", "3131")
		if err != nil || c.EndUser != "user-1" || c.AccessToken == old.AccessToken {
			t.Fatalf("after the accept answered connected: %+v, %v; want the accepted connection", c, err)
		}
	})
}
