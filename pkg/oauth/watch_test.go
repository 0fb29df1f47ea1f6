package oauth

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/pkg/oauth/connevent"
)

// TestWatchStore: the dev server's watched store turns the handler's real
// writes into stream records that connevent.Transition reads as the events function
// would: connect, a plain refresh (nothing), a dead refresh token,
// reconnect, disconnect.
func TestWatchStore(t *testing.T) {
	var mu sync.Mutex
	var got []string
	store := WatchStore(NewMemoryStore(), time.Now, func(rec events.DynamoDBEventRecord) {
		ev, err := connevent.Transition(rec)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			got = append(got, "error: "+err.Error())
		case ev != nil:
			got = append(got, ev.DetailType+" "+ev.Detail.Reason)
		}
	})
	r := newRCRig(t, store, mockrc.Options{})
	ctx := context.Background()
	r.connect(t, "1001")
	r.clock.Advance(59 * time.Minute)
	if _, err := r.h.TokenSource(ctx, "1001").Token(); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(59 * time.Minute)
	r.rc.Script(mockrc.TokenPath, mockrc.Fault{Status: 400, Body: `{"error":"invalid_grant"}`})
	if _, err := r.h.TokenSource(ctx, "1001").Token(); !errors.Is(err, ErrReauthRequired) {
		t.Fatalf("dead refresh token: got %v", err)
	}
	r.connect(t, "1001")
	if err := r.h.Disconnect(ctx, "1001"); err != nil {
		t.Fatal(err)
	}
	want := []string{connevent.Connected + " new", connevent.ReauthRequired + " invalid_grant", connevent.Connected + " reauthorized", connevent.Disconnected + " disconnect"}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("events: got %q\nwant %q", got, want)
	}
}
