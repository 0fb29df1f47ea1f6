// Package eventbus is functions/events' answer to a batch of the table's
// stream records: each record is mapped to a connection event by
// connevent.Transition and the events go to EventBridge with PutEvents, in
// order, ten per call. Entries EventBridge refuses are retried; what still
// fails is reported as a batch item failure (events.DynamoDBEventResponse),
// so Lambda delivers that record and every later one again. Nothing is
// dropped: delivery is at least once, and a redelivered change carries the
// same event_id.
//
// It is a package of its own so that only functions/events links the
// EventBridge client, and it does not import pkg/oauth, so functions/events
// links neither the DynamoDB nor the Secrets Manager client
// (internal/lambdatest TestFunctionDeps holds it to that).
package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/oauthfn/oauthfn/internal/ctxtime"
	"github.com/oauthfn/oauthfn/internal/loglevel"
	"github.com/oauthfn/oauthfn/pkg/oauth/connevent"
)

// MaxEntries is the most entries one PutEvents call takes.
const MaxEntries = 10

// DefaultAttempts is how often an entry is sent before its record is
// reported as failed.
const DefaultAttempts = 4

// PutEventsAPI is the part of *eventbridge.Client the Handler uses.
type PutEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Variables are the environment variables LoadConfig reads.
var Variables = []string{"EVENT_BUS_NAME", "LOG_LEVEL"}

// Config is the events function's configuration.
type Config struct {
	BusName  string // EVENT_BUS_NAME, default "default"
	LogLevel slog.Level
}

// LoadConfig reads EVENT_BUS_NAME (a bus name or ARN, default "default")
// and LOG_LEVEL. The events function needs no provider settings or secrets.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{BusName: strings.TrimSpace(getenv("EVENT_BUS_NAME")), LogLevel: slog.LevelInfo}
	var errs []error
	if c.BusName == "" {
		c.BusName = "default"
	}
	if !validBusName(c.BusName) {
		errs = append(errs, fmt.Errorf("EVENT_BUS_NAME: want an event bus name or ARN, got %q", c.BusName))
	}
	if l, ok := loglevel.Parse(getenv("LOG_LEVEL")); ok {
		c.LogLevel = l
	} else {
		errs = append(errs, fmt.Errorf("LOG_LEVEL: want debug, info, warn or error, got %q", getenv("LOG_LEVEL")))
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("eventbus: configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

// validBusName: 1 to 1000 of A-Z a-z 0-9 . _ - / : (a name or an ARN). No
// regexp: nothing is compiled at start-up.
func validBusName(s string) bool {
	if s == "" || len(s) > 1000 {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-/:", r)
		if !ok {
			return false
		}
	}
	return true
}

// Handler publishes the connection events of stream batches. Build it once
// per execution environment.
type Handler struct {
	Client  PutEventsAPI
	BusName string
	Log     *slog.Logger
	// Attempts per entry (DefaultAttempts when 0).
	Attempts int
	// Sleep waits between attempts (nil: a timer); tests inject their own.
	Sleep func(ctx context.Context, d time.Duration) error
}

// New returns a Handler on client for cfg.
func New(client PutEventsAPI, cfg Config, log *slog.Logger) *Handler {
	return &Handler{Client: client, BusName: cfg.BusName, Log: log}
}

// pending is one event waiting for EventBridge, with the record it came from.
type pending struct {
	record int
	ev     *connevent.Event
	entry  types.PutEventsRequestEntry
}

// HandleStream is the Lambda handler (FunctionResponseTypes:
// [ReportBatchItemFailures]). Records are handled in order up to the first
// that cannot be read or whose event EventBridge did not take; that
// record's sequence number is reported, so Lambda retries from it. A
// function error is returned only when that record has no sequence number
// to report.
func (h *Handler) HandleStream(ctx context.Context, batch events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	stop := len(batch.Records) // index of the first record not done
	var out []pending
	for i, rec := range batch.Records {
		ev, err := connevent.Transition(rec)
		if err != nil {
			h.Log.ErrorContext(ctx, "stream record not understood; reported for retry", "sequence_number", rec.Change.SequenceNumber,
				"event_name", rec.EventName, "err", err)
			stop = i
			break
		}
		if ev == nil {
			continue
		}
		entry, err := h.entry(ev)
		if err != nil {
			h.Log.ErrorContext(ctx, "event not encodable; reported for retry", "sequence_number", rec.Change.SequenceNumber, "err", err)
			stop = i
			break
		}
		out = append(out, pending{record: i, ev: ev, entry: entry})
	}
	for start := 0; start < len(out); start += MaxEntries {
		chunk := out[start:min(start+MaxEntries, len(out))]
		if failed := h.put(ctx, chunk); failed >= 0 {
			stop = min(stop, failed)
			break
		}
	}
	published := 0
	for _, p := range out {
		if p.record < stop {
			published++
		}
	}
	h.Log.InfoContext(ctx, "stream batch handled", "records", len(batch.Records), "events", published, "failed_from", failedFrom(batch, stop))
	if stop == len(batch.Records) {
		return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}, nil
	}
	seq := batch.Records[stop].Change.SequenceNumber
	if seq == "" {
		return events.DynamoDBEventResponse{}, fmt.Errorf("eventbus: record %d failed and has no sequence number to report", stop)
	}
	return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: seq}}}, nil
}

func failedFrom(batch events.DynamoDBEvent, stop int) string {
	if stop == len(batch.Records) {
		return ""
	}
	return batch.Records[stop].Change.SequenceNumber
}

func (h *Handler) entry(ev *connevent.Event) (types.PutEventsRequestEntry, error) {
	detail, err := json.Marshal(ev.Detail)
	if err != nil {
		return types.PutEventsRequestEntry{}, fmt.Errorf("eventbus: encode detail: %w", err)
	}
	e := types.PutEventsRequestEntry{
		EventBusName: aws.String(h.BusName),
		Source:       aws.String(connevent.Source),
		DetailType:   aws.String(ev.DetailType),
		Detail:       aws.String(string(detail)),
	}
	if at, err := time.Parse(time.RFC3339, ev.Detail.At); err == nil {
		e.Time = aws.Time(at)
	}
	return e, nil
}

// put sends chunk (at most MaxEntries), retrying the entries EventBridge
// did not take. It returns the record index of the first entry still not
// taken after the last attempt, or -1 when all were.
func (h *Handler) put(ctx context.Context, chunk []pending) int {
	attempts := h.Attempts
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	left := chunk
	for attempt := 1; ; attempt++ {
		entries := make([]types.PutEventsRequestEntry, len(left))
		for i, p := range left {
			entries[i] = p.entry
		}
		resp, err := h.Client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		var again []pending
		switch {
		case err != nil:
			h.Log.WarnContext(ctx, "PutEvents failed", "attempt", attempt, "entries", len(left), "err", err)
			again = left
		case len(resp.Entries) != len(left):
			h.Log.WarnContext(ctx, "PutEvents answered a different number of entries", "attempt", attempt,
				"sent", len(left), "answered", len(resp.Entries))
			again = left
		default:
			for i, r := range resp.Entries {
				p := left[i]
				if r.ErrorCode != nil || r.EventId == nil {
					h.Log.WarnContext(ctx, "EventBridge refused an event", "attempt", attempt, "detail_type", p.ev.DetailType,
						"event_id", p.ev.Detail.EventID, "error_code", aws.ToString(r.ErrorCode), "error_message", aws.ToString(r.ErrorMessage))
					again = append(again, p)
					continue
				}
				h.Log.InfoContext(ctx, "connection event published", "detail_type", p.ev.DetailType, "provider", p.ev.Detail.Provider,
					"account_id", p.ev.Detail.AccountID, "event_id", p.ev.Detail.EventID)
			}
		}
		if len(again) == 0 {
			return -1
		}
		if attempt >= attempts || ctx.Err() != nil {
			return again[0].record
		}
		if err := h.sleep(ctx, backoff(attempt)); err != nil {
			return again[0].record
		}
		left = again
	}
}

// backoff before attempt n+1: 100 ms, 200 ms, 400 ms, … at most 2 s.
func backoff(n int) time.Duration {
	return min(100*time.Millisecond<<(n-1), 2*time.Second)
}

func (h *Handler) sleep(ctx context.Context, d time.Duration) error {
	if h.Sleep != nil {
		return h.Sleep(ctx, d)
	}
	return ctxtime.Sleep(ctx, d)
}
