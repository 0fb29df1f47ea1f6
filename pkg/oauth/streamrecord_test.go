package oauth

import (
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/oauthfn/oauthfn/pkg/oauth/connevent"
)

// TestStreamOtherItems: the stream records of the items that are not
// connections (as DynamoStore writes them) mean no connection event.
// connevent's own tests cover the connections.
func TestStreamOtherItems(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	pending := func(name string) events.DynamoDBEventRecord {
		img := StreamImage(pendingItem(&PendingAuth{Key: PendingKey("s"), BindingHash: "h", Verifier: "v1.sealed-verifier",
			CreatedAt: at, ExpiresAt: at.Add(10 * time.Minute)}))
		rec := events.DynamoDBEventRecord{EventID: "p1", EventName: name, Change: events.DynamoDBStreamRecord{
			Keys: StreamImage(itemKey(PendingKey("s"), pendingSK)), SequenceNumber: "9"}}
		if name == "INSERT" {
			rec.Change.NewImage = img
		} else {
			rec.Change.OldImage = img
		}
		return rec
	}
	rate := func() events.DynamoDBEventRecord {
		img := func(ms string) map[string]events.DynamoDBAttributeValue {
			m := StreamImage(itemKey(ratePrefix+"ringcentral", rateSK))
			m[attrNextAtMS] = events.NewNumberAttribute(ms)
			return m
		}
		return events.DynamoDBEventRecord{EventID: "r1", EventName: "MODIFY", Change: events.DynamoDBStreamRecord{
			Keys: StreamImage(itemKey(ratePrefix+"ringcentral", rateSK)), OldImage: img("1"), NewImage: img("2"), SequenceNumber: "10"}}
	}
	tests := []struct {
		name string
		rec  events.DynamoDBEventRecord
	}{
		{"pending authorization written", pending("INSERT")},
		{"pending authorization consumed", pending("REMOVE")},
		{"rate limiter item", rate()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := connevent.Transition(tt.rec)
			if ev != nil || err != nil {
				t.Errorf("got %+v, %v; want no event and no error", ev, err)
			}
		})
	}
}
