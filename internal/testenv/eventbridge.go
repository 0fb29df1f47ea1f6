package testenv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// PutEventsEntry is one entry of a PutEvents request as it crossed the wire.
type PutEventsEntry struct {
	Source       string   `json:"Source"`
	DetailType   string   `json:"DetailType"`
	Detail       string   `json:"Detail"`
	EventBusName string   `json:"EventBusName"`
	Time         *float64 `json:"Time,omitempty"` // epoch seconds
	Resources    []string `json:"Resources,omitempty"`
}

// EventBridge is a recording EventBridge endpoint: it speaks PutEvents'
// real wire format (awsJson1_1, X-Amz-Target AWSEvents.PutEvents), so the
// SDK's client talks to it through AWS_ENDPOINT_URL_EVENTBRIDGE or
// BaseEndpoint. It keeps every accepted entry and can refuse chosen ones
// (FailedEntryCount > 0), as EventBridge does under throttling.
type EventBridge struct {
	URL string

	mu       sync.Mutex
	accepted []PutEventsEntry
	calls    int
	sizes    []int
	// refuse, if set, is asked for every entry; a non-empty code fails it.
	refuse func(call int, e PutEventsEntry) (code string)
	seq    int
}

// StartEventBridge starts a recording endpoint, closed when the test ends.
func StartEventBridge(t testing.TB) *EventBridge {
	t.Helper()
	eb := &EventBridge{}
	srv := httptest.NewServer(eb)
	t.Cleanup(srv.Close)
	eb.URL = srv.URL
	return eb
}

// Refuse makes the endpoint ask f about every entry from now on (call
// counts PutEvents requests from 1); a non-empty answer is the entry's
// ErrorCode.
func (eb *EventBridge) Refuse(f func(call int, e PutEventsEntry) string) {
	eb.mu.Lock()
	defer eb.mu.Unlock()
	eb.refuse = f
}

// Accepted returns the entries accepted so far, in order.
func (eb *EventBridge) Accepted() []PutEventsEntry {
	eb.mu.Lock()
	defer eb.mu.Unlock()
	return append([]PutEventsEntry(nil), eb.accepted...)
}

// Calls returns the number of PutEvents requests and the entries each held.
func (eb *EventBridge) Calls() (int, []int) {
	eb.mu.Lock()
	defer eb.mu.Unlock()
	return eb.calls, append([]int(nil), eb.sizes...)
}

type putEventsResult struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

func (eb *EventBridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, typ, msg string) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":%q,"message":%q}`, typ, msg)
	}
	if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" ||
		r.Header.Get("Content-Type") != "application/x-amz-json-1.1" || r.Header.Get("Authorization") == "" {
		fail(http.StatusBadRequest, "UnknownOperationException", "want a signed AWSEvents.PutEvents request (awsJson1_1)")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		fail(http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	var in struct {
		Entries []PutEventsEntry `json:"Entries"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		fail(http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	if len(in.Entries) < 1 || len(in.Entries) > 10 {
		fail(http.StatusBadRequest, "ValidationException", fmt.Sprintf("%d entries: want 1 to 10", len(in.Entries)))
		return
	}
	eb.mu.Lock()
	defer eb.mu.Unlock()
	eb.calls++
	eb.sizes = append(eb.sizes, len(in.Entries))
	out := struct {
		FailedEntryCount int               `json:"FailedEntryCount"`
		Entries          []putEventsResult `json:"Entries"`
	}{Entries: []putEventsResult{}}
	for _, e := range in.Entries {
		code := ""
		if e.Source == "" || e.DetailType == "" || !json.Valid([]byte(e.Detail)) {
			code = "MalformedDetail"
		} else if eb.refuse != nil {
			code = eb.refuse(eb.calls, e)
		}
		if code != "" {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, putEventsResult{ErrorCode: code, ErrorMessage: "refused by the test"})
			continue
		}
		eb.seq++
		eb.accepted = append(eb.accepted, e)
		out.Entries = append(out.Entries, putEventsResult{EventID: fmt.Sprintf("evt-%06d", eb.seq)})
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}
