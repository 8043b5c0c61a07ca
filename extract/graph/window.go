package graph

import (
	"context"
	"sync"
	"time"
)

// windowLog enforces "at most limit requests in any period", the way Microsoft states the
// Outlook budget (10,000 requests per 10 minutes per app and mailbox), without spreading them
// evenly: a mailbox that needs fewer requests than the budget gets them at the speed the
// concurrency limit allows, and a larger one continues as old requests leave the window.
//
// Requests are counted in slots of period/slots; one extra slot is kept, so a request leaves
// the count only once it is certainly older than period (conservative by one slot). Memory is
// fixed (slots+1 counters) whatever the budget.
type windowLog struct {
	mu     sync.Mutex
	limit  int
	slot   time.Duration
	counts []int
	epoch  time.Time
	cur    int64 // absolute index of the newest slot accounted for
	total  int
}

const windowSlots = 600

func newWindowLog(limit int, period time.Duration) *windowLog {
	slot := max(period/windowSlots, time.Millisecond)
	n := int(period/slot) + 1
	return &windowLog{limit: max(limit, 1), slot: slot, counts: make([]int, n), epoch: time.Now()}
}

// take records cost requests now if the window has room and returns 0, or returns how long to
// wait before trying again.
func (w *windowLog) take(now time.Time, cost int) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	idx := int64(now.Sub(w.epoch) / w.slot)
	n := int64(len(w.counts))
	if idx-w.cur >= n { // everything expired
		for i := range w.counts {
			w.counts[i] = 0
		}
		w.total, w.cur = 0, idx
	}
	for w.cur < idx {
		w.cur++
		i := w.cur % n
		w.total -= w.counts[i]
		w.counts[i] = 0
	}
	if w.total+cost <= w.limit || w.total == 0 {
		w.counts[idx%n] += cost
		w.total += cost
		return 0
	}
	// Room appears when the oldest slot leaves the window.
	return w.epoch.Add(time.Duration(w.cur+1) * w.slot).Sub(now)
}

// wait blocks until cost requests fit in the window, and records them.
func (w *windowLog) wait(ctx context.Context, cost int) error {
	for {
		d := w.take(time.Now(), cost)
		if d <= 0 {
			return nil
		}
		if err := sleepCtx(ctx, d); err != nil {
			return err
		}
	}
}
