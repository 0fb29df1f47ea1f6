package oauth

import (
	"context"
	"slices"
	"testing"

	"github.com/oauthfn/oauthfn/internal/mockrc"
)

// TestTokenFunctionEndUser: {"end_user"} lists that user's connections,
// without tokens; an unknown user has none; the account answer carries the
// end user.
func TestTokenFunctionEndUser(t *testing.T) {
	r := newRCRig(t, NewMemoryStore(), mockrc.Options{})
	ctx := context.Background()
	for _, a := range []struct{ account, user, status string }{
		{"1001", "user-7", StatusActive}, {"1002", "user-7", StatusReauthRequired}, {"1003", "user-8", StatusActive},
	} {
		c := r.connect(t, a.account)
		c.EndUser, c.Status = a.user, a.status
		if _, err := r.store.PutConnection(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name, payload string
		want          []string // account/status, in order
	}{
		{"two connections", `{"end_user":"user-7"}`, []string{"1001/active", "1002/reauth_required"}},
		{"one", `{"end_user":"user-8"}`, []string{"1003/active"}},
		{"unknown user: none", `{"end_user":"user-9"}`, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := invokeToken(t, r.h, tt.payload)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(keys(got), []string{"connections"}) {
				t.Fatalf("answer %v: want only connections", got)
			}
			list := []string{}
			for _, c := range got["connections"].([]any) {
				m := c.(map[string]any)
				for k := range m {
					if !slices.Contains([]string{"provider", "account_id", "status", "access_expires_at", "refresh_expires_at"}, k) {
						t.Errorf("connection field %s: not in the contract (never a token)", k)
					}
				}
				list = append(list, m["account_id"].(string)+"/"+m["status"].(string))
			}
			if !slices.Equal(list, tt.want) {
				t.Errorf("connections: got %v, want %v", list, tt.want)
			}
		})
	}
	got, err := invokeToken(t, r.h, `{"account_id":"1001"}`)
	if err != nil || got["end_user"] != "user-7" {
		t.Errorf("account answer: got %v, %v; want end_user user-7", got, err)
	}
}
