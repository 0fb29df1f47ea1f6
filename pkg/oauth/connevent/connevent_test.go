package connevent_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/oauthfn/oauthfn/pkg/oauth"
	"github.com/oauthfn/oauthfn/pkg/oauth/connevent"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// conn is a connection as the callback stores it.
func streamConn(mod ...func(*oauth.Connection)) *oauth.Connection {
	c := &oauth.Connection{
		Provider: "ringcentral", AccountID: "1001",
		AccessToken: "v1.sealed-access-A", RefreshToken: "v1.sealed-refresh-A", KeyID: "k1",
		TokenType: "bearer", Status: connevent.StatusActive, Version: 1,
		AccessExpiresAt: t0.Add(time.Hour), RefreshExpiresAt: t0.Add(7 * 24 * time.Hour),
		CreatedAt: t0, UpdatedAt: t0, RefreshAt: t0.Add(5 * 24 * time.Hour), TTL: t0.Add(8 * 24 * time.Hour),
	}
	for _, m := range mod {
		m(c)
	}
	return c
}

// refreshed is c after one successful refresh through the lease.
func refreshed(c *oauth.Connection) func(*oauth.Connection) {
	return func(n *oauth.Connection) {
		*n = *c
		n.AccessToken, n.RefreshToken = "v1.sealed-access-B", "v1.sealed-refresh-B"
		n.Version = c.Version + 1
		n.UpdatedAt = c.UpdatedAt.Add(time.Hour)
		n.LastRefreshAt = n.UpdatedAt
		n.Failures, n.LastError = 0, ""
	}
}

func withEndUsers(rec events.DynamoDBEventRecord, old, cur string) events.DynamoDBEventRecord {
	if old != "" && rec.Change.OldImage != nil {
		rec.Change.OldImage["end_user"] = events.NewStringAttribute(old)
	}
	if cur != "" && rec.Change.NewImage != nil {
		rec.Change.NewImage["end_user"] = events.NewStringAttribute(cur)
	}
	return rec
}

func TestTransition(t *testing.T) {
	at := t0.Add(2 * time.Hour)
	base := streamConn()
	leased := streamConn(func(c *oauth.Connection) { c.LeaseOwner, c.LeaseUntil = "sweep-1", at.Add(time.Minute) })
	failing := func(n int, code string) func(*oauth.Connection) {
		return func(c *oauth.Connection) {
			c.Version = int64(n + 1)
			c.Failures, c.LastError = n, code
		}
	}
	reauth := streamConn(func(c *oauth.Connection) {
		c.Version, c.Status, c.AccessToken, c.RefreshToken = 2, connevent.StatusReauthRequired, "", ""
		c.LastError, c.RefreshAt = "invalid_grant", time.Time{}
	})
	revoked := streamConn(func(c *oauth.Connection) { c.Version, c.Status = 2, connevent.StatusRevoked })
	again := streamConn(func(c *oauth.Connection) { c.CreatedAt, c.UpdatedAt, c.AccessToken = at, at, "v1.sealed-access-C" })
	// Reconnected within the same second as the first connect: only the
	// sealed token tells the replacement from a lease.
	sameSecond := streamConn(func(c *oauth.Connection) { c.AccessToken = "v1.sealed-access-D" })

	tests := []struct {
		name       string
		rec        events.DynamoDBEventRecord
		want       string // detail type, "" for no event
		wantStatus string
		wantReason string
		wantEnd    string
		wantPrev   string
		wantVer    int64
	}{
		{"insert: connected (new)", oauth.StreamRecord("e1", nil, base, at, false), connevent.Connected, connevent.StatusActive, "new", "", "", 1},
		{"insert with an end user", withEndUsers(oauth.StreamRecord("e1", nil, base, at, false), "", "user-7"), connevent.Connected, connevent.StatusActive, "new", "user-7", "", 1},
		{"re-authorized by the same end user", withEndUsers(oauth.StreamRecord("e2", streamConn(refreshed(base)), again, at, false), "user-7", "user-7"),
			connevent.Connected, connevent.StatusActive, "reauthorized", "user-7", "", 1},
		{"re-authorized by another end user", withEndUsers(oauth.StreamRecord("e2", streamConn(refreshed(base)), again, at, false), "user-7", "user-8"),
			connevent.Connected, connevent.StatusActive, "reauthorized", "user-8", "user-7", 1},
		{"re-authorized after reauth_required", oauth.StreamRecord("e2", reauth, again, at, false), connevent.Connected, connevent.StatusActive, "reauthorized", "", "", 1},
		{"re-authorized in the same second", oauth.StreamRecord("e2", base, sameSecond, at, false), connevent.Connected, connevent.StatusActive, "reauthorized", "", "", 1},
		{"active -> reauth_required", withEndUsers(oauth.StreamRecord("e3", base, reauth, at, false), "user-7", "user-7"),
			connevent.ReauthRequired, connevent.StatusReauthRequired, "invalid_grant", "user-7", "", 2},
		{"Disconnect whose revocation failed: active -> revoked", withEndUsers(oauth.StreamRecord("e3", base, revoked, at, false), "user-7", "user-7"),
			connevent.Disconnected, connevent.StatusDisconnected, "disconnect", "user-7", "", 2},
		{"revoked -> revoked (a revocation retry failed): nothing", oauth.StreamRecord("e3", revoked, streamConn(func(c *oauth.Connection) { c.Version, c.Status, c.Failures = 3, connevent.StatusRevoked, 1 }), at, false),
			"", "", "", "", "", 0},
		{"revoked deleted after its revocation succeeded: already told", oauth.StreamRecord("e5", revoked, nil, at, false), "", "", "", "", "", 0},
		{"revoked deleted by TTL: already told", oauth.StreamRecord("e6", revoked, nil, at, true), "", "", "", "", "", 0},
		{"failures 2 -> 3: failing", oauth.StreamRecord("e4", streamConn(failing(2, "provider_unavailable")), streamConn(failing(3, "provider_unavailable")), at, false),
			connevent.RefreshFailing, connevent.StatusActive, "provider_unavailable", "", "", 4},
		{"failures 3 -> 4: already told", oauth.StreamRecord("e4", streamConn(failing(3, "provider_unavailable")), streamConn(failing(4, "provider_unavailable")), at, false),
			"", "", "", "", "", 0},
		{"failures 1 -> 2: not yet", oauth.StreamRecord("e4", streamConn(failing(1, "provider_unavailable")), streamConn(failing(2, "provider_unavailable")), at, false),
			"", "", "", "", "", 0},
		{"delete by Disconnect", withEndUsers(oauth.StreamRecord("e5", base, nil, at, false), "user-7", ""), connevent.Disconnected, connevent.StatusDisconnected, "disconnect", "user-7", "", 1},
		{"TTL delete", oauth.StreamRecord("e6", reauth, nil, at, true), connevent.Expired, connevent.StatusExpired, "ttl", "", "", 2},
		{"plain refresh: nothing", oauth.StreamRecord("e7", base, streamConn(refreshed(base)), at, false), "", "", "", "", "", 0},
		{"recovered after failures: nothing", oauth.StreamRecord("e7", streamConn(failing(3, "provider_unavailable")), streamConn(refreshed(streamConn(failing(3, "x")))), at, false), "", "", "", "", "", 0},
		{"lease taken: nothing", oauth.StreamRecord("e8", base, leased, at, false), "", "", "", "", "", 0},
		{"lease released: nothing", oauth.StreamRecord("e8", leased, base, at, false), "", "", "", "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := connevent.Transition(tt.rec)
			if err != nil {
				t.Fatalf("Transition: %v", err)
			}
			if tt.want == "" {
				if ev != nil {
					t.Fatalf("got %s %+v, want no event", ev.DetailType, ev.Detail)
				}
				return
			}
			if ev == nil {
				t.Fatalf("got no event, want %s", tt.want)
			}
			d := ev.Detail
			checks := []struct{ name, got, want string }{
				{"detail type", ev.DetailType, tt.want},
				{"provider", d.Provider, "ringcentral"},
				{"account_id", d.AccountID, "1001"},
				{"status", d.Status, tt.wantStatus},
				{"reason", d.Reason, tt.wantReason},
				{"end_user", d.EndUser, tt.wantEnd},
				{"previous_end_user", d.PreviousEndUser, tt.wantPrev},
				{"at", d.At, at.Format(time.RFC3339)},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
				}
			}
			if d.Version != tt.wantVer {
				t.Errorf("version: got %d, want %d", d.Version, tt.wantVer)
			}
			if len(d.EventID) != 32 {
				t.Errorf("event_id %q: want 32 hex characters", d.EventID)
			}
			b, _ := json.Marshal(d)
			if strings.Contains(string(b), "sealed") {
				t.Errorf("detail holds a sealed value: %s", b)
			}
		})
	}
}

// TestTransitionEventID: the same record (a redelivery) gives the same
// event_id; another record gives another.
func TestTransitionEventID(t *testing.T) {
	rec := oauth.StreamRecord("evt-1", nil, streamConn(), t0, false)
	a, _ := connevent.Transition(rec)
	b, _ := connevent.Transition(rec)
	other, _ := connevent.Transition(oauth.StreamRecord("evt-2", nil, streamConn(), t0, false))
	if a == nil || b == nil || other == nil {
		t.Fatal("want events")
	}
	if a.Detail.EventID != b.Detail.EventID {
		t.Errorf("redelivery: event_id %q then %q, want the same", a.Detail.EventID, b.Detail.EventID)
	}
	if a.Detail.EventID == other.Detail.EventID {
		t.Errorf("two changes share event_id %q", a.Detail.EventID)
	}
}

func TestTransitionMalformed(t *testing.T) {
	good := func() events.DynamoDBEventRecord {
		return oauth.StreamRecord("e1", streamConn(), streamConn(refreshed(streamConn())), t0, false)
	}
	tests := []struct {
		name string
		mod  func(*events.DynamoDBEventRecord)
	}{
		{"no keys or images", func(r *events.DynamoDBEventRecord) { r.Change = events.DynamoDBStreamRecord{SequenceNumber: "1"} }},
		{"pk not a string", func(r *events.DynamoDBEventRecord) {
			r.Change.Keys["pk"] = events.NewNumberAttribute("1")
			r.Change.NewImage["pk"] = events.NewNumberAttribute("1")
			r.Change.OldImage["pk"] = events.NewNumberAttribute("1")
		}},
		{"no old image (KEYS_ONLY stream)", func(r *events.DynamoDBEventRecord) { r.Change.OldImage = nil }},
		{"no new image on insert", func(r *events.DynamoDBEventRecord) { r.EventName, r.Change.NewImage = "INSERT", nil }},
		{"version is a string", func(r *events.DynamoDBEventRecord) { r.Change.NewImage["version"] = events.NewStringAttribute("2") }},
		{"version not an integer", func(r *events.DynamoDBEventRecord) { r.Change.NewImage["version"] = events.NewNumberAttribute("2.5") }},
		{"status missing", func(r *events.DynamoDBEventRecord) { delete(r.Change.OldImage, "status") }},
		{"status is a map", func(r *events.DynamoDBEventRecord) {
			r.Change.NewImage["status"] = events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{})
		}},
		{"account does not match the key", func(r *events.DynamoDBEventRecord) {
			r.Change.NewImage["account_id"] = events.NewStringAttribute("9999")
		}},
		{"unknown event name", func(r *events.DynamoDBEventRecord) { r.EventName = "TRUNCATE" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := good()
			tt.mod(&rec)
			ev, err := connevent.Transition(rec)
			if !errors.Is(err, connevent.ErrMalformedRecord) {
				t.Fatalf("got %v, %v; want connevent.ErrMalformedRecord", ev, err)
			}
			if strings.Contains(err.Error(), "sealed") {
				t.Errorf("error holds a sealed value: %v", err)
			}
		})
	}
}
