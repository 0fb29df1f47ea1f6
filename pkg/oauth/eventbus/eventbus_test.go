package eventbus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth"
	"github.com/oauthfn/oauthfn/pkg/oauth/connevent"
	"github.com/oauthfn/oauthfn/pkg/oauth/eventbus"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func conn(account string, version int64, status string) *oauth.Connection {
	return &oauth.Connection{Provider: "ringcentral", AccountID: account, AccessToken: "v1.sealed-" + account,
		RefreshToken: "v1.sealed-rt-" + account, Status: status, Version: version, CreatedAt: t0, UpdatedAt: t0}
}

// batch is n stream records: an insert for accounts whose index is even
// (an event each), a plain refresh for odd ones (no event). Sequence
// numbers are "seq-<i>".
func batch(n int) events.DynamoDBEvent {
	var b events.DynamoDBEvent
	for i := range n {
		account := fmt.Sprintf("acct-%02d", i)
		var rec events.DynamoDBEventRecord
		if i%2 == 0 {
			rec = oauth.StreamRecord(fmt.Sprintf("id-%d", i), nil, conn(account, 1, oauth.StatusActive), t0, false)
		} else {
			next := conn(account, 2, oauth.StatusActive)
			next.AccessToken = "v1.sealed-new"
			rec = oauth.StreamRecord(fmt.Sprintf("id-%d", i), conn(account, 1, oauth.StatusActive), next, t0, false)
		}
		rec.Change.SequenceNumber = fmt.Sprintf("seq-%d", i)
		b.Records = append(b.Records, rec)
	}
	return b
}

type rig struct {
	eb     *testenv.EventBridge
	h      *eventbus.Handler
	logs   *testenv.Buffer
	sleeps []time.Duration
}

func newRig(t *testing.T) *rig {
	r := &rig{eb: testenv.StartEventBridge(t), logs: &testenv.Buffer{}}
	client := eventbridge.New(eventbridge.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(r.eb.URL),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}, nil
		}),
		RetryMaxAttempts: 1, // the handler's own retries are under test
	})
	r.h = eventbus.New(client, eventbus.Config{BusName: "oauthfn-bus"}, slog.New(slog.NewJSONHandler(r.logs, nil)))
	r.h.Sleep = func(ctx context.Context, d time.Duration) error { r.sleeps = append(r.sleeps, d); return nil }
	return r
}

func accounts(es []testenv.PutEventsEntry) []string {
	var out []string
	for _, e := range es {
		var d connevent.Detail
		if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
			panic(err)
		}
		out = append(out, d.AccountID)
	}
	return out
}

func wantAccounts(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		if i%2 == 0 {
			out = append(out, fmt.Sprintf("acct-%02d", i))
		}
	}
	return out
}

func failures(resp events.DynamoDBEventResponse) []string {
	var out []string
	for _, f := range resp.BatchItemFailures {
		out = append(out, f.ItemIdentifier)
	}
	return out
}

func TestHandleStream(t *testing.T) {
	tests := []struct {
		name          string
		records       int
		refuse        func(call int, e testenv.PutEventsEntry) string
		malformed     int // index of a malformed record, -1 none
		wantFailures  []string
		wantPublished []string // accounts, in order
		wantSleeps    int
	}{
		{name: "25 records, 13 events in calls of at most 10", records: 25, malformed: -1,
			wantPublished: wantAccounts(0, 25)},
		{name: "refused once (throttled), then taken", records: 6, malformed: -1,
			refuse: func(call int, e testenv.PutEventsEntry) string {
				if call == 1 && strings.Contains(e.Detail, "acct-02") {
					return "ThrottlingException"
				}
				return ""
			},
			wantPublished: []string{"acct-00", "acct-04", "acct-02"}, wantSleeps: 1},
		{name: "refused every time: reported from its record", records: 30, malformed: -1,
			refuse: func(call int, e testenv.PutEventsEntry) string {
				if strings.Contains(e.Detail, "acct-24") {
					return "InternalFailure"
				}
				return ""
			},
			// acct-24 is in the third call (events 10..14): the first two
			// calls' events went out, and the third's others too.
			wantFailures:  []string{"seq-24"},
			wantPublished: slices.DeleteFunc(wantAccounts(0, 30), func(a string) bool { return a == "acct-24" }),
			wantSleeps:    eventbus.DefaultAttempts - 1},
		{name: "malformed record: reported, later records wait", records: 12, malformed: 7,
			wantFailures: []string{"seq-7"}, wantPublished: wantAccounts(0, 7)},
		{name: "malformed first record", records: 4, malformed: 0,
			wantFailures: []string{"seq-0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			if tt.refuse != nil {
				r.eb.Refuse(tt.refuse)
			}
			b := batch(tt.records)
			if tt.malformed >= 0 {
				b.Records[tt.malformed].Change.NewImage["version"] = events.NewStringAttribute("v1.sealed-bogus")
			}
			resp, err := r.h.HandleStream(testenv.Context(t), b)
			if err != nil {
				t.Fatalf("HandleStream: %v", err)
			}
			if got := failures(resp); !slices.Equal(got, tt.wantFailures) {
				t.Errorf("batch item failures: got %v, want %v", got, tt.wantFailures)
			}
			if resp.BatchItemFailures == nil {
				t.Error("batchItemFailures is null: want [] (Lambda reads null as success too, but be explicit)")
			}
			got := accounts(r.eb.Accepted())
			if !slices.Equal(got, tt.wantPublished) {
				t.Errorf("published: got %v\nwant %v", got, tt.wantPublished)
			}
			if len(r.sleeps) != tt.wantSleeps {
				t.Errorf("sleeps between attempts: got %v, want %d", r.sleeps, tt.wantSleeps)
			}
			_, sizes := r.eb.Calls()
			for _, n := range sizes {
				if n > eventbus.MaxEntries {
					t.Errorf("a PutEvents call held %d entries, want at most %d", n, eventbus.MaxEntries)
				}
			}
			for _, e := range r.eb.Accepted() {
				if e.Source != connevent.Source || e.EventBusName != "oauthfn-bus" || e.DetailType != connevent.Connected || e.Time == nil {
					t.Errorf("entry %+v: want Source %s on oauthfn-bus, %s, a Time", e, connevent.Source, connevent.Connected)
				}
			}
			if strings.Contains(r.logs.String(), "sealed") {
				t.Errorf("logs hold a sealed value:\n%s", r.logs.String())
			}
		})
	}
}

// TestHandleStreamEndpointDown: PutEvents itself fails (no endpoint): the
// first record with an event is reported, nothing is dropped silently.
func TestHandleStreamEndpointDown(t *testing.T) {
	r := newRig(t)
	client := eventbridge.New(eventbridge.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"), RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing"}, nil
		}),
	})
	r.h.Client = client
	b := batch(5)
	b.Records = b.Records[1:] // starts with a refresh (no event): the first event is seq-2
	resp, err := r.h.HandleStream(testenv.Context(t), b)
	if err != nil {
		t.Fatalf("HandleStream: %v", err)
	}
	if got := failures(resp); !slices.Equal(got, []string{"seq-2"}) {
		t.Errorf("batch item failures: got %v, want [seq-2]", got)
	}
	if len(r.sleeps) != eventbus.DefaultAttempts-1 {
		t.Errorf("attempts: got %d sleeps, want %d", len(r.sleeps), eventbus.DefaultAttempts-1)
	}
	// Without a sequence number to report, the whole batch fails.
	b.Records[1].Change.SequenceNumber = ""
	if _, err := r.h.HandleStream(testenv.Context(t), b); err == nil {
		t.Error("failed record without a sequence number: got no error, want a function error")
	}
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantBus string
		wantErr string
	}{
		{"defaults", map[string]string{}, "default", ""},
		{"named bus", map[string]string{"EVENT_BUS_NAME": "oauthfn"}, "oauthfn", ""},
		{"bus ARN", map[string]string{"EVENT_BUS_NAME": "arn:aws:events:us-east-1:123456789012:event-bus/oauthfn"},
			"arn:aws:events:us-east-1:123456789012:event-bus/oauthfn", ""},
		{"bad bus", map[string]string{"EVENT_BUS_NAME": "my bus"}, "", "EVENT_BUS_NAME"},
		{"bad level", map[string]string{"LOG_LEVEL": "loud"}, "", "LOG_LEVEL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := eventbus.LoadConfig(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || c.BusName != tt.wantBus {
				t.Errorf("got %+v, %v; want bus %s", c, err, tt.wantBus)
			}
		})
	}
}
