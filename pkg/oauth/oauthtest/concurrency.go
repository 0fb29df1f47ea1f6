package oauthtest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// Concurrent writers: one winner for ConsumePending, PutPending and AcquireLease.

func testConcurrency(t *testing.T, newStore func(t *testing.T) oauth.Store) {
	const n = 16
	// race runs f in n goroutines released together and returns their errors.
	race := func(f func(i int) error) []error {
		errs := make([]error, n)
		var ready, done sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			ready.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				ready.Done()
				<-start
				errs[i] = f(i)
			}()
		}
		ready.Wait()
		close(start)
		done.Wait()
		return errs
	}
	// oneWinner checks that exactly one call succeeded and every other lost
	// with loss, and returns the winner.
	oneWinner := func(t *testing.T, errs []error, loss error) int {
		t.Helper()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("goroutines %d and %d both won", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, loss):
				t.Errorf("goroutine %d: got error %v, want %v", i, err, loss)
			}
		}
		if winner < 0 {
			t.Fatalf("no goroutine won")
		}
		return winner
	}

	t.Run("ConsumePending has one winner", func(t *testing.T) {
		s := newStore(t)
		for round := range 3 {
			p := newPending(fmt.Sprintf("race-%d", round))
			mustPutPending(t, s, p)
			got := make([]*oauth.PendingAuth, n)
			errs := race(func(i int) error {
				var err error
				got[i], err = s.ConsumePending(t.Context(), p.Key, []string{p.BindingHash}, at(0))
				return err
			})
			w := oneWinner(t, errs, oauth.ErrNotFound)
			if d := diff(got[w], p); d != "" {
				t.Errorf("winner's record: %s", d)
			}
		}
	})
	t.Run("PutPending has one winner", func(t *testing.T) {
		s := newStore(t)
		errs := race(func(i int) error {
			p := newPending("race")
			p.BindingHash = fmt.Sprintf("binding-%d", i)
			return s.PutPending(t.Context(), p)
		})
		w := oneWinner(t, errs, oauth.ErrConflict)
		p := newPending("race")
		if _, err := s.ConsumePending(t.Context(), p.Key, []string{fmt.Sprintf("binding-%d", w)}, at(0)); err != nil {
			t.Errorf("ConsumePending with the winner's binding: %v", err)
		}
	})
	t.Run("AcquireLease has one winner", func(t *testing.T) {
		s := newStore(t)
		c := newConnection("rc", "1")
		mustPutConnection(t, s, c)
		for round := range 3 {
			owner := func(i int) string { return fmt.Sprintf("sweep-%d-%d", round, i) }
			errs := race(func(i int) error {
				_, err := s.AcquireLease(t.Context(), "rc", "1", c.Version, owner(i), at(0), at(time.Minute))
				return err
			})
			w := oneWinner(t, errs, oauth.ErrConflict)
			got := mustGet(t, s, "rc", "1")
			if got.LeaseOwner != owner(w) {
				t.Errorf("lease owner: got %q, want the winner %q", got.LeaseOwner, owner(w))
			}
			// Everyone then tries to complete; only the winner can.
			errs = race(func(i int) error {
				next := *got
				return s.CompleteLease(t.Context(), &next, owner(i))
			})
			if cw := oneWinner(t, errs, oauth.ErrConflict); cw != w {
				t.Errorf("CompleteLease won by %d, want the lease holder %d", cw, w)
			}
			c = mustGet(t, s, "rc", "1")
		}
		if c.Version != 4 {
			t.Errorf("version after 3 rounds: got %d, want 4", c.Version)
		}
	})
}
