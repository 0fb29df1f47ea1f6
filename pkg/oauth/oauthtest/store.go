// Package oauthtest holds test helpers for pkg/oauth: the Store conformance
// suite every Store implementation passes. This file runs it and holds its
// fixtures; one file per concern of the Store: pending.go, session.go, connection.go, replace.go,
// lease.go, due.go, rate.go, and concurrency.go for concurrent writers.
package oauthtest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// t0 is the suite's clock: every time is a fixed offset from it, never the
// wall clock. Whole seconds, as the table stores.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// RunStoreTests runs the Store conformance suite. newStore returns a new,
// empty store for each subtest (for DynamoStore: a store on a new table).
func RunStoreTests(t *testing.T, newStore func(t *testing.T) oauth.Store) {
	t.Run("Pending", func(t *testing.T) { testPending(t, newStore) })
	t.Run("Connection", func(t *testing.T) { testConnection(t, newStore) })
	t.Run("Replace", func(t *testing.T) { testReplace(t, newStore) })
	t.Run("Lease", func(t *testing.T) { testLease(t, newStore) })
	t.Run("Due", func(t *testing.T) { testDue(t, newStore) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, newStore) })
	t.Run("Rate", func(t *testing.T) { testRate(t, newStore) })
	t.Run("EndUser", func(t *testing.T) { testEndUser(t, newStore) })
	t.Run("Bind", func(t *testing.T) { testBind(t, newStore) })
	t.Run("Session", func(t *testing.T) { testSession(t, newStore) })
}

func newPending(state string) *oauth.PendingAuth {
	return &oauth.PendingAuth{
		Key:         oauth.PendingKey(state),
		BindingHash: "binding-" + state,
		Verifier:    "sealed-verifier-" + state,
		ReturnTo:    "https://app.example.com/done",
		AppState:    "app-state-" + state,
		CreatedAt:   at(0),
		ExpiresAt:   at(10 * time.Minute),
	}
}

func newConnection(provider, account string) *oauth.Connection {
	return &oauth.Connection{
		Provider:         provider,
		AccountID:        account,
		AccessToken:      "sealed-access-" + account,
		RefreshToken:     "sealed-refresh-" + account,
		KeyID:            "k1",
		TokenType:        "bearer",
		Scope:            "ReadAccounts ReadMessages",
		AccessExpiresAt:  at(time.Hour),
		RefreshExpiresAt: at(7 * 24 * time.Hour),
		Status:           oauth.StatusActive,
		Version:          1,
		CreatedAt:        at(0),
		UpdatedAt:        at(0),
		LastRefreshAt:    at(0),
		RefreshAt:        at(5 * 24 * time.Hour),
		TTL:              at(14 * 24 * time.Hour),
	}
}

// diff lists the fields of two structs of the same type that differ; times
// compare with Equal.
func diff(got, want any) string {
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	if gv.Kind() == reflect.Pointer {
		if gv.IsNil() || wv.IsNil() {
			if gv.IsNil() == wv.IsNil() {
				return ""
			}
			return fmt.Sprintf("got %v, want %v", got, want)
		}
		gv, wv = gv.Elem(), wv.Elem()
	}
	var out []string
	for i := range gv.NumField() {
		name := gv.Type().Field(i).Name
		g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
		if gt, ok := g.(time.Time); ok {
			if wt := w.(time.Time); !gt.Equal(wt) || gt.IsZero() != wt.IsZero() {
				out = append(out, fmt.Sprintf("%s: got %v, want %v", name, gt, wt))
			}
			continue
		}
		if !reflect.DeepEqual(g, w) {
			out = append(out, fmt.Sprintf("%s: got %#v, want %#v", name, g, w))
		}
	}
	return strings.Join(out, "; ")
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func mustPutPending(t *testing.T, s oauth.Store, p *oauth.PendingAuth) {
	t.Helper()
	if err := s.PutPending(t.Context(), p); err != nil {
		t.Fatalf("PutPending(%s): %v", p.Key, err)
	}
}

func mustPutConnection(t *testing.T, s oauth.Store, c *oauth.Connection) {
	t.Helper()
	if _, err := s.PutConnection(t.Context(), c); err != nil {
		t.Fatalf("PutConnection(%s): %v", c.Key(), err)
	}
}

func mustGet(t *testing.T, s oauth.Store, provider, account string) *oauth.Connection {
	t.Helper()
	c, err := s.GetConnection(t.Context(), provider, account)
	if err != nil {
		t.Fatalf("GetConnection(%s, %s): %v", provider, account, err)
	}
	return c
}
