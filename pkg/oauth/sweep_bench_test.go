package oauth

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// readCounter counts the connection items the sweep reads from a Store.
type readCounter struct {
	Store
	items atomic.Int64
}

func (s *readCounter) QueryDue(ctx context.Context, shard int, before time.Time, limit int) ([]DueEntry, error) {
	e, err := s.Store.QueryDue(ctx, shard, before, limit)
	s.items.Add(int64(len(e)))
	return e, err
}

func (s *readCounter) GetConnection(ctx context.Context, provider, account string) (*Connection, error) {
	s.items.Add(1)
	return s.Store.GetConnection(ctx, provider, account)
}

// BenchmarkSweep: 100,000 connections of which 1,000 are due, MemoryStore,
// a provider answering in 50 ms, SWEEP_CONCURRENCY 16. Reports
// reads/due (items read from the store per due connection; target <= 1.1)
// and throughput/ideal (refreshes a second over concurrency/latency;
// target >= 0.9).
func BenchmarkSweep(b *testing.B) {
	const total, due, concurrency, latency = 100_000, 1_000, 16, 50 * time.Millisecond
	mem := NewMemoryStore()
	store := &readCounter{Store: mem}
	h, _, _, _ := newTestHandler(b, store, "rc", "", "", "client", "secret")
	h.Now, h.Sleep = time.Now, nil
	h.Config.SweepConcurrency = concurrency
	now := time.Now()
	for i := due; i < total; i++ {
		seedConnection(b, h, fmt.Sprintf("idle-%06d", i), now.Add(time.Hour), now.Add(7*24*time.Hour), now.Add(5*24*time.Hour))
	}
	var reads, refreshed, dueSum int64
	var elapsed time.Duration
	for b.Loop() {
		b.StopTimer()
		p := newCountingProvider(time.Now)
		p.latency = latency
		srv := httptest.NewServer(p)
		h.Config.Provider.Endpoint.TokenURL = srv.URL
		for i := range due {
			seedConnection(b, h, fmt.Sprintf("due-%04d", i), now.Add(time.Hour), now.Add(24*time.Hour), now.Add(-time.Minute))
		}
		store.items.Store(0)
		b.StartTimer()
		start := time.Now()
		sum, err := h.Sweep(context.Background(), SweepInput{})
		elapsed += time.Since(start)
		b.StopTimer()
		srv.Close()
		if err != nil {
			b.Fatal(err)
		}
		if sum.Refreshed != due {
			b.Fatalf("refreshed %d of %d: %+v", sum.Refreshed, due, sum)
		}
		reads += store.items.Load()
		refreshed += int64(sum.Refreshed)
		dueSum += int64(sum.Due)
		b.StartTimer()
	}
	ideal := float64(concurrency) / latency.Seconds()
	b.ReportMetric(float64(reads)/float64(dueSum), "reads/due")
	b.ReportMetric(float64(refreshed)/elapsed.Seconds()/ideal, "throughput/ideal")
	b.ReportMetric(float64(refreshed)/elapsed.Seconds(), "refreshes/s")
}

// BenchmarkSweepRateLimited: TOKEN_RATE_PER_MIN=5 on a simulated clock
// (each token call takes 50 ms of it), 1,000 due connections, a 15-minute
// Lambda. Reports the most token calls in any minute over the limit
// (target <= 1) and the refreshes per sweep (the limit allows 5 a minute).
func BenchmarkSweepRateLimited(b *testing.B) {
	const due, rate = 1_000, 5
	var worst float64
	var served int
	for b.Loop() {
		b.StopTimer()
		clock := newFakeClock()
		p := newCountingProvider(clock.Now)
		srv := httptest.NewServer(p)
		h, _, _, _ := newTestHandler(b, NewMemoryStore(), "rc", srv.URL, "", "client", "secret")
		h.Now, h.Sleep = clock.Now, clock.Sleep
		h.Config.TokenRatePerMin = rate
		h.Config.SweepConcurrency = 16
		h.HTTPClient.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
			clock.Advance(50 * time.Millisecond)
			return http.DefaultTransport.RoundTrip(r)
		})
		now := clock.Now()
		for i := range due {
			seedConnection(b, h, fmt.Sprintf("due-%04d", i), now.Add(time.Hour), now.Add(24*time.Hour+time.Duration(i)*time.Second), now.Add(-time.Minute))
		}
		ctx, cancel := context.WithDeadline(context.Background(), now.Add(15*time.Minute))
		b.StartTimer()
		sum, err := h.Sweep(ctx, SweepInput{})
		b.StopTimer()
		cancel()
		srv.Close()
		if err != nil {
			b.Fatal(err)
		}
		worst = max(worst, float64(maxPerMinute(p.times))/rate)
		served = sum.Refreshed
		b.StartTimer()
	}
	b.ReportMetric(worst, "max_calls_per_min/limit")
	b.ReportMetric(float64(served), "refreshed/sweep")
}

// BenchmarkSweepDynamoReads: reads/due on DynamoDB (serialised moto, real
// SDK). 2,000 connections of which 100 are due: loading 100,000 items into
// moto takes too long for a benchmark; the ratio does not depend on the
// population, since the sparse index is queried only up to now.
func BenchmarkSweepDynamoReads(b *testing.B) {
	const total, due = 2_000, 100
	store, cd := motoStore(b)
	clock := newFakeClock()
	p := newCountingProvider(clock.Now)
	srv := httptest.NewServer(p)
	defer srv.Close()
	h, _, _, _ := newTestHandler(b, store, "rc", srv.URL, "", "client", "secret")
	h.Now, h.Sleep = clock.Now, clock.Sleep
	h.Config.SweepConcurrency = 16
	now := clock.Now()
	for i := due; i < total; i++ {
		seedConnection(b, h, fmt.Sprintf("idle-%05d", i), now.Add(time.Hour), now.Add(7*24*time.Hour), now.Add(5*24*time.Hour))
	}
	var reads, dueSum int64
	gen := 0
	for b.Loop() {
		b.StopTimer()
		gen++
		for i := range due {
			a := fmt.Sprintf("due-%d-%04d", gen, i)
			seedConnection(b, h, a, now.Add(time.Hour), now.Add(24*time.Hour), now.Add(-time.Minute))
		}
		cd.mu.Lock()
		cd.queried = 0
		cd.mu.Unlock()
		b.StartTimer()
		sum, err := h.Sweep(context.Background(), SweepInput{})
		b.StopTimer()
		if err != nil || sum.Refreshed != due {
			b.Fatalf("sweep: %+v, %v", sum, err)
		}
		cd.mu.Lock()
		reads += int64(cd.queried)
		cd.mu.Unlock()
		dueSum += int64(sum.Due)
		b.StartTimer()
	}
	b.ReportMetric(float64(reads)/float64(dueSum), "index_reads/due")
}
