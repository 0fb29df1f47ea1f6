package oauth

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/oauthfn/oauthfn/internal/awsenv"
	"github.com/oauthfn/oauthfn/internal/faultaws"
	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/internal/testenv"
)

// Issue 16 item 1: a DynamoDB reply lost after the write was applied. The
// SDK retries the request; each conditional write must recognise its own
// earlier attempt instead of reporting its condition as failed.

// faultDynamo is a DynamoStore on the serialised moto server whose client
// (built as the functions build theirs, internal/awsenv) sends through a
// faultaws.Transport. The table is made before any fault applies.
func faultDynamo(t testing.TB) (*DynamoStore, *faultaws.Transport) {
	t.Helper()
	testenv.MotoSerial(t)
	cfg, err := awsenv.Load(os.Getenv, dynamodb.ServiceID)
	if err != nil {
		t.Fatalf("aws config: %v", err)
	}
	tr := faultaws.New()
	tr.Configure(&cfg)
	client := dynamodb.NewFromConfig(cfg)
	table := testenv.Name(t, "oauthfn-idem")
	if err := CreateTable(context.Background(), client, table); err != nil {
		t.Fatal(err)
	}
	tr.Reset()
	return NewDynamoStore(client, table), tr
}

// lostOnce checks that exactly one request for op lost its reply and that
// the SDK sent it again, and returns op's requests.
func lostOnce(t *testing.T, tr *faultaws.Transport, op string) []faultaws.Request {
	t.Helper()
	reqs := tr.Requests(op)
	lost := 0
	for i, r := range reqs {
		if r.Fault == faultaws.LoseReply {
			lost++
			if i+1 == len(reqs) || string(reqs[i+1].Body) != string(r.Body) {
				t.Errorf("%s: the lost request was not sent again as it was", op)
			}
		}
	}
	if lost != 1 {
		t.Errorf("%s: %d replies lost, want 1 (the fault was not applied)", op, lost)
	}
	return reqs
}

// TestLostReplyFlow: each DynamoDB write of /authorize and /callback loses
// its reply once after it was applied; the SDK retries it, and the sign-in
// still succeeds: one token call, the connection stored and usable, no
// session revoked, and the state consumed (a replay of the callback is
// refused).
func TestLostReplyFlow(t *testing.T) {
	for _, tt := range []struct {
		name    string
		connect bool   // with a connect token (its jti is spent in a transaction)
		op      string // the write that loses its reply
		at      string // in "authorize" or "callback"
	}{
		{"authorize PutItem (pending authorization)", false, "PutItem", "authorize"},
		{"authorize TransactWriteItems (pending authorization and jti)", true, "TransactWriteItems", "authorize"},
		{"callback UpdateItem (consume the pending authorization)", true, "UpdateItem", "callback"},
		{"callback PutItem (the connection)", true, "PutItem", "callback"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store, tr := faultDynamo(t)
			require := "true"
			if !tt.connect {
				require = "false"
			}
			r := newRig(t, func(*testing.T) Store { return store }, "REQUIRE_CONNECT_TOKEN", require)
			if tt.at == "authorize" {
				tr.Script(tt.op, faultaws.LoseReply)
			}
			resp, cookie := r.start(t, "")
			if resp.StatusCode != 302 {
				t.Fatalf("authorize: %d %s", resp.StatusCode, resp.Body)
			}
			if tt.at == "callback" {
				tr.Script(tt.op, faultaws.LoseReply)
			}
			query := r.prov.approve(t, resp.Headers["Location"])
			cb := r.callback(t, query, cookie)
			if cb.StatusCode != 200 || !strings.Contains(cb.Body, "Your account is connected") {
				t.Fatalf("callback: %d %.300s", cb.StatusCode, cb.Body)
			}
			reqs := lostOnce(t, tr, tt.op)
			if tt.op == "TransactWriteItems" {
				// The SDK's idempotency token goes with the retry.
				var tokens []string
				for _, req := range reqs {
					var in struct{ ClientRequestToken string }
					if err := json.Unmarshal(req.Body, &in); err != nil {
						t.Fatal(err)
					}
					tokens = append(tokens, in.ClientRequestToken)
				}
				if len(tokens) != 2 || tokens[0] == "" || tokens[0] != tokens[1] {
					t.Errorf("ClientRequestToken of the transaction and its retry: %q, want one token twice", tokens)
				}
			}
			if n := r.prov.tokenCalls.Load(); n != 1 {
				t.Errorf("token calls: %d, want 1", n)
			}
			if n := r.prov.revokeCalls.Load(); n != 0 {
				t.Errorf("revocations: %d, want 0 (the new session is not a replaced one)", n)
			}
			c, err := store.GetConnection(context.Background(), "generic", "1001")
			if err != nil || c.Status != StatusActive || c.RefreshToken == "" {
				t.Fatalf("connection: %+v, %v", c, err)
			}
			// The state stays consumed.
			if again := r.callback(t, query, cookie); again.StatusCode != 400 {
				t.Errorf("replayed callback: %d, want 400", again.StatusCode)
			}
		})
	}
}

// TestLostReplyLease: each conditional write of a refresh (AcquireLease,
// the token-call slot of ReserveTokenCall, CompleteLease) loses its reply
// once, in the sweep and in TokenSource: the refresh still counts as done,
// with one token call, the lease released and the stored token usable.
func TestLostReplyLease(t *testing.T) {
	for _, path := range []string{"sweep", "TokenSource"} {
		t.Run(path, func(t *testing.T) {
			store, tr := faultDynamo(t)
			r := newRCRig(t, store, mockrc.Options{})
			r.h.Config.TokenRatePerMin = 60
			r.connect(t, "1001")
			refresh := func(what string) {
				t.Helper()
				r.clock.Advance(5*24*time.Hour + time.Second) // due, and the access token expired
				before := r.rc.Calls(mockrc.TokenPath)
				if path == "sweep" {
					if sum := sweepOnce(t, r.h); sum.Refreshed != 1 || sum.Failed != 0 {
						t.Fatalf("%s: sweep %+v, want one refreshed\n%s", what, sum, r.logs)
					}
				} else if _, err := r.h.TokenSource(context.Background(), "1001").Token(); err != nil {
					t.Fatalf("%s: Token: %v\n%s", what, err, r.logs)
				}
				if n := r.rc.Calls(mockrc.TokenPath) - before; n != 1 {
					t.Errorf("%s: %d token calls, want 1", what, n)
				}
				noLeases(t, store)
				useToken(t, r)
			}
			tr.Reset()
			refresh("no fault")
			writes := len(tr.Requests("UpdateItem"))
			if writes != 3 {
				t.Fatalf("a refresh made %d UpdateItem calls, want 3 (lease, slot, completion)", writes)
			}
			for k, name := range []string{"AcquireLease", "ReserveTokenCall", "CompleteLease"} {
				tr.Reset()
				faults := make([]faultaws.Fault, k+1)
				faults[k] = faultaws.LoseReply
				tr.Script("UpdateItem", faults...)
				refresh(name + " reply lost")
				lostOnce(t, tr, "UpdateItem")
				if n := len(tr.Requests("UpdateItem")); n != writes+1 {
					t.Errorf("%s: %d UpdateItem calls, want %d (one retry)", name, n, writes+1)
				}
				if strings.Contains(r.logs.String(), "could not be stored") {
					t.Errorf("%s: logs report a lost write that was applied", name)
				}
			}
		})
	}
}
