package statetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/state"
)

// BenchLeases measures the fleet queue: b.N mailboxes are enqueued, then workers goroutines
// lease, renew and release them until the queue is finished. It reports mailboxes/s (each
// one a Lease, a Renew and a Release).
func BenchLeases(b *testing.B, q state.Leaser, workers int) {
	ctx := context.Background()
	queue := fmt.Sprint("bench-", time.Now().UnixNano())
	mbs := make([]state.Mailbox, b.N)
	for i := range mbs {
		mbs[i] = state.Mailbox{ID: fmt.Sprint("m", i), Address: fmt.Sprintf("u%08d@example.org", i), Target: fmt.Sprint("u", i)}
	}
	if _, err := q.Enqueue(ctx, queue, mbs); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprint("w", w)
			for {
				l, err := q.Lease(ctx, queue, name, time.Minute)
				if errors.Is(err, state.ErrQueueFinished) {
					return
				}
				if errors.Is(err, state.ErrNoneFree) {
					continue
				}
				if err != nil {
					b.Error(err)
					return
				}
				if l, err = q.Renew(ctx, l, time.Minute); err != nil {
					b.Error(err)
					return
				}
				if err := q.Release(ctx, l, state.LeaseDone, ""); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "mailboxes/s")
}
