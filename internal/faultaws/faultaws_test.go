package faultaws_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/oauthfn/oauthfn/internal/faultaws"
)

// TestTransport: Fail never reaches the server, LoseReply reaches it (the
// whole body) and returns an error, scripts go per operation and in order,
// SetDecide picks for the rest, and every request is recorded.
func TestTransport(t *testing.T) {
	var seen atomic.Int32
	var lastBody atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		lastBody.Store(string(b))
		seen.Add(1)
		_, _ = io.WriteString(w, "{}")
	}))
	defer srv.Close()
	tr := faultaws.New()
	client := &http.Client{Transport: tr}
	send := func(op, body string) error {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}

	tr.Script("PutItem", faultaws.Fail, faultaws.LoseReply)
	if err := send("PutItem", "a"); !errors.Is(err, faultaws.ErrFailed) || seen.Load() != 0 {
		t.Errorf("Fail: err %v, server saw %d; want ErrFailed and nothing sent", err, seen.Load())
	}
	if err := send("GetItem", "b"); err != nil || seen.Load() != 1 {
		t.Errorf("GetItem (not scripted): err %v, server saw %d", err, seen.Load())
	}
	if err := send("PutItem", "c"); !errors.Is(err, faultaws.ErrLostReply) || seen.Load() != 2 || lastBody.Load() != "c" {
		t.Errorf("LoseReply: err %v, server saw %d (last body %v); want ErrLostReply after the request arrived whole", err, seen.Load(), lastBody.Load())
	}
	if err := send("PutItem", "d"); err != nil {
		t.Errorf("PutItem after the script: %v", err)
	}
	tr.SetDecide(func(op string, body []byte) faultaws.Fault {
		if string(body) == "e" {
			return faultaws.LoseReply
		}
		return faultaws.Pass
	})
	if err := send("Query", "e"); !errors.Is(err, faultaws.ErrLostReply) {
		t.Errorf("SetDecide's LoseReply: %v", err)
	}
	reqs := tr.Requests("PutItem")
	if len(reqs) != 3 || reqs[0].Fault != faultaws.Fail || reqs[1].Fault != faultaws.LoseReply || string(reqs[1].Body) != "c" || reqs[2].Fault != faultaws.Pass {
		t.Errorf("PutItem requests: %+v", reqs)
	}
	if c := tr.Counts(); c[faultaws.Fail] != 1 || c[faultaws.LoseReply] != 2 || c[faultaws.Pass] != 2 {
		t.Errorf("Counts: %v", c)
	}
	tr.Reset()
	if n := len(tr.Requests("")); n != 0 {
		t.Errorf("after Reset: %d requests recorded", n)
	}
}
