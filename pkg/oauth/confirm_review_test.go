package oauth

import (
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
