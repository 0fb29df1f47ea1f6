// Package faultaws injects network faults between the AWS SDK and a stand-in
// (moto_server) for tests: a request that fails before the service sees it,
// and a reply lost after the service applied the request. The second is the
// case a retrying client must survive: the SDK sends the same request again,
// and a conditional write finds its own earlier attempt in place.
//
// A Transport is an http.RoundTripper; Configure puts it under an aws.Config
// with the SDK's standard retryer (same attempts, same retryable errors) and
// no backoff delay or retry quota, so that a test with many faults neither
// sleeps nor runs out of retries by chance.
package faultaws

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// Fault is what happens to one request.
type Fault int

const (
	// Pass forwards the request and returns the reply.
	Pass Fault = iota
	// Fail returns an error without forwarding: the service never sees the
	// request (a refused connection, a DNS failure).
	Fail
	// LoseReply forwards the request, reads the whole reply (the service
	// has applied the request by then), and returns an error instead of it
	// (a connection reset after the write committed).
	LoseReply
)

func (f Fault) String() string {
	switch f {
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	case LoseReply:
		return "lose-reply"
	}
	return "fault?"
}

// ErrFailed and ErrLostReply are the errors a faulted request fails with.
// The SDK retries both (any transport error is a connection error to it).
var (
	ErrFailed    = errors.New("faultaws: connection refused (injected before the request was sent)")
	ErrLostReply = errors.New("faultaws: connection reset by peer (injected after the request was applied)")
)

// Request is one request as the Transport saw it.
type Request struct {
	Op    string // the operation, e.g. "PutItem" (from X-Amz-Target)
	Body  []byte
	Fault Fault
}

// Transport forwards requests to Base, applying scripted faults first (see
// Script) and otherwise those SetDecide's function picks. It records every
// request. Its methods are safe for concurrent use.
type Transport struct {
	// Base sends the requests that reach the service; nil:
	// http.DefaultTransport.
	Base http.RoundTripper

	mu     sync.Mutex
	decide func(op string, body []byte) Fault
	script map[string][]Fault
	log    []Request
}

// SetDecide makes f pick the fault of each request no script claims (op is
// the operation, body the request's JSON); nil: Pass. f is called with the
// Transport's lock held, one request at a time.
func (t *Transport) SetDecide(f func(op string, body []byte) Fault) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.decide = f
}

// New returns a Transport to http.DefaultTransport with no faults.
func New() *Transport { return &Transport{} }

// Script queues faults for op: each following request for op takes the
// next one, in order; once they are used up, SetDecide's function (or
// Pass) applies.
func (t *Transport) Script(op string, faults ...Fault) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.script == nil {
		t.script = map[string][]Fault{}
	}
	t.script[op] = append(t.script[op], faults...)
}

// Requests returns the requests seen for op ("" for all), in order.
func (t *Transport) Requests(op string) []Request {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Request
	for _, r := range t.log {
		if op == "" || r.Op == op {
			out = append(out, r)
		}
	}
	return out
}

// Counts returns how many requests met each fault.
func (t *Transport) Counts() map[Fault]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[Fault]int{}
	for _, r := range t.log {
		out[r.Fault]++
	}
	return out
}

// Reset forgets the recorded requests and any unused script.
func (t *Transport) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.log, t.script = nil, nil
}

// Configure makes cfg's clients send through t, with the standard retryer
// (its attempts and retryable errors) without backoff delays or a retry
// quota.
func (t *Transport) Configure(cfg *aws.Config) {
	cfg.HTTPClient = &http.Client{Transport: t}
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			o.RateLimiter = ratelimit.None
		})
	}
}

// Op is the operation a request names in X-Amz-Target
// ("DynamoDB_20120810.PutItem" is "PutItem"), or "".
func Op(r *http.Request) string {
	target := r.Header.Get("X-Amz-Target")
	return target[strings.LastIndexByte(target, '.')+1:]
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	op := Op(r)
	t.mu.Lock()
	fault := Pass
	if q := t.script[op]; len(q) > 0 {
		fault, t.script[op] = q[0], q[1:]
	} else if t.decide != nil {
		fault = t.decide(op, body)
	}
	t.log = append(t.log, Request{Op: op, Body: body, Fault: fault})
	t.mu.Unlock()

	if fault == Fail {
		return nil, ErrFailed
	}
	fwd := r.Clone(r.Context())
	fwd.Body = io.NopCloser(bytes.NewReader(body))
	fwd.ContentLength = int64(len(body))
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(fwd)
	if err != nil || fault != LoseReply {
		return resp, err
	}
	// Read the reply to its end: the service has answered, so the request
	// was applied (or refused) before the error is returned.
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil, ErrLostReply
}
