package oauth

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/internal/mockrc"
)

// invokeToken calls the token function with payload and decodes its answer
// as the caller would see it.
func invokeToken(t *testing.T, h *Handler, payload string) (map[string]any, error) {
	t.Helper()
	resp, err := h.TokenFunction(context.Background(), json.RawMessage(payload))
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out, nil
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestTokenFunction(t *testing.T) {
	invalidGrant := mockrc.Fault{Status: 400, Body: `{"error":"invalid_grant","error_description":"Token is revoked"}`}
	tests := []struct {
		name      string
		setup     func(t *testing.T, r *rcRig)
		payload   string
		wantError string // "" for a token
		wantRetry float64
		wantCalls int // token endpoint calls
	}{
		{name: "fresh token: served as stored", payload: `{"account_id":"1001"}`},
		{name: "near expiry: refreshed once", payload: `{"account_id":"1001"}`, wantCalls: 1,
			setup: func(t *testing.T, r *rcRig) { r.clock.Advance(59 * time.Minute) }},
		{name: "unknown account", payload: `{"account_id":"404"}`, wantError: TokenNotFound},
		{name: "dead refresh token", payload: `{"account_id":"1001"}`, wantError: TokenReauthRequired, wantCalls: 1,
			setup: func(t *testing.T, r *rcRig) {
				r.clock.Advance(59 * time.Minute)
				r.rc.Script(mockrc.TokenPath, invalidGrant)
			}},
		{name: "429 from the provider", payload: `{"account_id":"1001"}`, wantError: TokenRateLimited, wantRetry: 120, wantCalls: 1,
			setup: func(t *testing.T, r *rcRig) {
				r.clock.Advance(59 * time.Minute)
				r.rc.Script(mockrc.TokenPath, mockrc.RateLimited("120"))
			}},
		{name: "expired, leased by another holder", payload: `{"account_id":"1001"}`, wantError: TokenBusy, wantRetry: busyRetryAfter,
			setup: func(t *testing.T, r *rcRig) {
				r.clock.Advance(61 * time.Minute)
				c, _, _ := r.get(t, "1001")
				now := r.clock.Now()
				if _, err := r.store.AcquireLease(context.Background(), c.Provider, "1001", c.Version, "other", now, now.Add(LeaseDuration)); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRCRig(t, NewMemoryStore(), mockrc.Options{})
			r.connect(t, "1001")
			_, stored, _ := r.get(t, "1001")
			if tt.setup != nil {
				tt.setup(t, r)
			}
			calls := r.rc.Calls(mockrc.TokenPath)
			got, err := invokeToken(t, r.h, tt.payload)
			if err != nil {
				t.Fatalf("function error: %v", err)
			}
			if n := r.rc.Calls(mockrc.TokenPath) - calls; n != tt.wantCalls {
				t.Errorf("token endpoint calls: got %d, want %d", n, tt.wantCalls)
			}
			if tt.wantError != "" {
				want := []string{"error", "error_description"}
				if tt.wantRetry > 0 {
					want = append(want, "retry_after_s")
				}
				if got["error"] != tt.wantError || !slices.Equal(keys(got), want) {
					t.Fatalf("got %v, want error %s with fields %v", got, tt.wantError, want)
				}
				if tt.wantRetry > 0 && got["retry_after_s"] != tt.wantRetry {
					t.Errorf("retry_after_s: got %v, want %v", got["retry_after_s"], tt.wantRetry)
				}
				return
			}
			want := []string{"access_token", "account_id", "end_user", "expires_at", "scope", "token_type"}
			if !slices.Equal(keys(got), want) {
				t.Fatalf("answer fields: got %v, want %v", keys(got), want)
			}
			c, access, _ := r.get(t, "1001")
			if got["access_token"] != access || got["token_type"] != "Bearer" || got["account_id"] != "1001" || got["scope"] != mockrc.DefaultScope {
				t.Errorf("answer %v: want the stored access token, Bearer, 1001, the scope", got)
			}
			if (tt.wantCalls == 0) != (access == stored) {
				t.Errorf("access token changed: %t, want %t", access != stored, tt.wantCalls > 0)
			}
			if got["expires_at"] != c.AccessExpiresAt.UTC().Format(time.RFC3339) {
				t.Errorf("expires_at: got %v, want %s", got["expires_at"], c.AccessExpiresAt.UTC().Format(time.RFC3339))
			}
			if strings.Contains(r.logs.String(), access) {
				t.Error("logs hold the access token")
			}
		})
	}
}

// TestTokenFunctionInvalidRequest: every malformed request is an
// invalid_request answer (not a function error) and touches neither the
// store nor the provider.
func TestTokenFunctionInvalidRequest(t *testing.T) {
	tests := []struct{ name, payload string }{
		{"empty object", `{}`},
		{"both", `{"account_id":"1001","end_user":"u1"}`},
		{"unknown field", `{"account":"1001"}`},
		{"a key in another case", `{"Account_ID":"1001"}`},
		{"a key in upper case", `{"END_USER":"u1"}`},
		{"a duplicate key", `{"account_id":"1001","account_id":"1002"}`},
		{"a duplicate key, first empty", `{"end_user":"","end_user":"u1"}`},
		{"a duplicate null key", `{"account_id":null,"account_id":"1001"}`},
		{"not JSON", `account_id=1001`},
		{"an array", `["1001"]`},
		{"a number id", `{"account_id":1001}`},
		{"trailing data", `{"account_id":"1001"} {}`},
		{"control character", `{"account_id":"10\u000001"}`},
		{"account too long", `{"account_id":"` + strings.Repeat("1", maxAccountLen+1) + `"}`},
		{"end user too long", `{"end_user":"` + strings.Repeat("u", maxEndUserLen+1) + `"}`},
		{"oversized payload", `{"account_id":"1001","x":"` + strings.Repeat("x", maxTokenRequest) + `"}`},
		{"null", `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &readCountingStore{Store: NewMemoryStore()}
			r := newRCRig(t, store, mockrc.Options{})
			got, err := invokeToken(t, r.h, tt.payload)
			if err != nil {
				t.Fatalf("function error: %v", err)
			}
			if got["error"] != TokenInvalidRequest || got["error_description"] == "" {
				t.Errorf("got %v, want invalid_request with a description", got)
			}
			if n := store.reads.Load(); n != 0 {
				t.Errorf("store calls: got %d, want 0", n)
			}
			if n := r.rc.Calls(mockrc.TokenPath); n != 0 {
				t.Errorf("token endpoint calls: got %d, want 0", n)
			}
		})
	}
}

// TestTokenFunctionInternalFault: a provider that is down is not one of the
// expected answers: a function error, with nothing secret in it.
func TestTokenFunctionInternalFault(t *testing.T) {
	r := newRCRig(t, NewMemoryStore(), mockrc.Options{})
	r.connect(t, "1001")
	r.clock.Advance(59 * time.Minute)
	r.rc.Script(mockrc.TokenPath, mockrc.Fault{Status: 503})
	_, err := invokeToken(t, r.h, `{"account_id":"1001"}`)
	if err == nil {
		t.Fatal("provider down: got an answer, want a function error")
	}
	_, access, refresh := r.get(t, "1001")
	if strings.Contains(err.Error(), access) || strings.Contains(err.Error(), refresh) {
		t.Errorf("function error holds a token: %v", err)
	}
}

// readCountingStore counts the reads the token function starts with.
type readCountingStore struct {
	Store
	reads atomic.Int32
}

func (s *readCountingStore) GetConnection(ctx context.Context, provider, accountID string) (*Connection, error) {
	s.reads.Add(1)
	return s.Store.GetConnection(ctx, provider, accountID)
}
