package connect_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

const confirmKey = "a confirm-test app key of forty-eight characters."

func TestConfirmTokenRoundTrip(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	keys := connect.Keys{Current: confirmKey, Now: func() time.Time { return now }}
	for _, decision := range []string{connect.DecisionAccept, connect.DecisionReject} {
		tok, err := keys.ConfirmToken("result-id", "user-42", decision)
		if err != nil {
			t.Fatal(err)
		}
		got, err := keys.VerifyConfirm(tok)
		if err != nil || got.User != "user-42" || got.ID != "result-id" || got.Decision != decision ||
			got.ExpiresAt.Sub(got.IssuedAt) != connect.ConfirmLifetime {
			t.Errorf("VerifyConfirm = %+v, %v", got, err)
		}
		// A confirm token is no other statement, and no other is one.
		if _, err := keys.VerifyResult(tok); !isCheck(err, connect.CheckAudience) {
			t.Errorf("a confirm token as a result: %v, want an audience error", err)
		}
		if _, err := keys.VerifyToken(tok); !isCheck(err, connect.CheckAudience) {
			t.Errorf("a confirm token as a connect token: %v, want an audience error", err)
		}
	}
	result, _ := keys.SignResult(connect.Result{User: "user-42", AccountID: "1", Provider: "ringcentral", Status: connect.StatusPending})
	if _, err := keys.VerifyConfirm(result); !isCheck(err, connect.CheckAudience) {
		t.Errorf("a result as a confirm token: %v, want an audience error", err)
	}
	for name, args := range map[string][3]string{
		"no user":        {"id", "", connect.DecisionAccept},
		"no id":          {"", "user", connect.DecisionAccept},
		"other decision": {"id", "user", "maybe"},
		"long id":        {strings.Repeat("i", connect.MaxIDLen+1), "user", connect.DecisionAccept},
	} {
		if _, err := keys.ConfirmToken(args[0], args[1], args[2]); err == nil {
			t.Errorf("%s: ConfirmToken minted a token", name)
		}
	}
}

func isCheck(err error, check string) bool {
	var ce *connect.Error
	return errors.As(err, &ce) && ce.Check == check
}

// Confirm and Reject map each answer of POST /confirm (the server's side is
// tested against the real handler in pkg/oauth): the request they send, and
// what they return.
func TestConfirmAnswers(t *testing.T) {
	keys := connect.Keys{Current: confirmKey}
	pending := connect.Result{User: "user-42", AccountID: "1001", Provider: "ringcentral", Status: connect.StatusPending, ID: "result-id"}
	tests := []struct {
		name    string
		status  int
		body    string
		want    connect.Confirmation
		wantErr func(error) bool
	}{
		{"connected", 200, `{"status":"connected","provider":"ringcentral","account_id":"1001","end_user":"user-42"}`,
			connect.Confirmation{Status: "connected", Provider: "ringcentral", AccountID: "1001", EndUser: "user-42"}, func(err error) bool { return err == nil }},
		{"user mismatch", 409, `{"error":"user_mismatch"}`, connect.Confirmation{Status: "rejected"},
			func(err error) bool { return errors.Is(err, connect.ErrUserMismatch) }},
		{"not found", 404, `{"error":"not_found"}`, connect.Confirmation{},
			func(err error) bool { return errors.Is(err, connect.ErrNotPending) }},
		{"bad token", 401, `{"error":"invalid_confirm_token"}`, connect.Confirmation{}, func(err error) bool {
			var ce *connect.ConfirmError
			return errors.As(err, &ce) && ce.StatusCode == 401 && ce.Code == "invalid_confirm_token"
		}},
		{"server error", 500, `not json`, connect.Confirmation{}, func(err error) bool {
			var ce *connect.ConfirmError
			return errors.As(err, &ce) && ce.StatusCode == 500
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got connect.ConfirmRequest
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var body map[string]string
				b, _ := io.ReadAll(r.Body)
				if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &body) != nil || len(body) != 1 {
					t.Errorf("request: %s %s %q", r.Method, r.Header.Get("Content-Type"), b)
				}
				var err error
				if got, err = keys.VerifyConfirm(body["confirm"]); err != nil {
					t.Errorf("the confirm token does not verify: %v", err)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c, err := keys.Confirm(context.Background(), srv.URL, pending, "user-42")
			if !tt.wantErr(err) || c != tt.want {
				t.Errorf("Confirm = %+v, %v; want %+v", c, err, tt.want)
			}
			if got.User != "user-42" || got.ID != "result-id" || got.Decision != connect.DecisionAccept {
				t.Errorf("sent %+v, want accept of result-id as user-42", got)
			}
			if _, err := keys.Reject(context.Background(), srv.URL, pending); !tt.wantErr(err) {
				t.Errorf("Reject: %v", err)
			}
			if got.User != "user-42" || got.Decision != connect.DecisionReject {
				t.Errorf("Reject sent %+v, want reject as the result's user", got)
			}
		})
	}
}

// A result that is not pending needs no decision: Confirm and Reject refuse
// it without a call.
func TestConfirmNeedsPending(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	connected := connect.Result{User: "u", AccountID: "1", Provider: "ringcentral", Status: connect.StatusConnected, ID: "x"}
	if _, err := connect.Confirm(context.Background(), confirmKey, srv.URL, connected, "u"); err == nil {
		t.Error("Confirm of a connected result: no error")
	}
	if _, err := connect.Reject(context.Background(), confirmKey, srv.URL, connected); err == nil {
		t.Error("Reject of a connected result: no error")
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("calls = %d, want 0", n)
	}
}
