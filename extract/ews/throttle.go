package ews

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Stats counts what the client did since it was made.
type Stats struct {
	// Requests is the number of HTTP requests sent (every attempt counts; NTLM handshake
	// legs do not).
	Requests int64
	// ServerBusy is the number of ErrorServerBusy answers (fault or response message).
	ServerBusy int64
	// ConnectionCount is the number of ErrorExceededConnectionCount answers.
	ConnectionCount int64
	// Unavailable is the number of 502/503/504 answers.
	Unavailable int64
	// Retries is the number of attempts made after a failed one.
	Retries int64
	// BackOffWait is the total time calls waited on BackOffMilliseconds fences.
	BackOffWait time.Duration
}

// gate is a counting semaphore whose limit can change while it is in use (lowered on
// ErrorExceededConnectionCount, raised back on success), with a fence: no slot is given
// before the fence's instant.
type gate struct {
	mu     sync.Mutex
	limit  int
	max    int
	inUse  int
	wake   chan struct{}
	fence  time.Time
	streak int // successes since the limit was last changed
	lowest int // the lowest limit so far
}

func newGate(limit int) *gate {
	return &gate{limit: limit, max: limit, lowest: limit, wake: make(chan struct{})}
}

// acquire takes a slot once the fence is down and a slot is free; it returns the time
// spent waiting on the fence.
func (g *gate) acquire(ctx context.Context) (time.Duration, error) {
	var fenced time.Duration
	for {
		g.mu.Lock()
		if d := time.Until(g.fence); d > 0 {
			g.mu.Unlock()
			fenced += d
			if err := sleepCtx(ctx, d); err != nil {
				return fenced, err
			}
			continue
		}
		if g.inUse < g.limit {
			g.inUse++
			g.mu.Unlock()
			return fenced, nil
		}
		wake := g.wake
		g.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return fenced, ctx.Err()
		}
	}
}

func (g *gate) release() {
	g.mu.Lock()
	g.inUse--
	close(g.wake)
	g.wake = make(chan struct{})
	g.mu.Unlock()
}

// waitFence waits until the fence is down without taking a slot.
func (g *gate) waitFence(ctx context.Context) (time.Duration, error) {
	var fenced time.Duration
	for {
		g.mu.Lock()
		d := time.Until(g.fence)
		g.mu.Unlock()
		if d <= 0 {
			return fenced, nil
		}
		fenced += d
		if err := sleepCtx(ctx, d); err != nil {
			return fenced, err
		}
	}
}

// backOff raises the fence to now+d (never lowers it).
func (g *gate) backOff(d time.Duration) {
	g.mu.Lock()
	if f := time.Now().Add(d); f.After(g.fence) {
		g.fence = f
	}
	g.streak = 0
	g.mu.Unlock()
}

// lower takes one slot off the limit (not below 1), after ErrorExceededConnectionCount.
func (g *gate) lower() {
	g.mu.Lock()
	if g.limit > 1 {
		g.limit--
	}
	g.lowest = min(g.lowest, g.limit)
	g.streak = 0
	g.mu.Unlock()
}

// success gives a slot back to a lowered limit after 50 answered calls in a row.
func (g *gate) success() {
	g.mu.Lock()
	g.streak++
	if g.limit < g.max && g.streak >= 50 {
		g.limit++
		g.streak = 0
		close(g.wake)
		g.wake = make(chan struct{})
	}
	g.mu.Unlock()
}

func (g *gate) currentLimit() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.limit
}

// lowestLimit is the lowest the limit has been.
func (g *gate) lowestLimit() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lowest
}

// throttle keeps every mailbox within its concurrency and fences, and all calls within
// the global cap. Calls that act for no mailbox only take a global slot.
type throttle struct {
	perMailbox int
	global     *gate
	// shared is set when every call spends the same server budget (no impersonation:
	// Exchange charges the connecting account), so a back-off fences every mailbox.
	shared bool

	mu    sync.Mutex
	boxes map[string]*gate

	requests, serverBusy, connCount, unavailable, retries, waited atomic.Int64
}

func newThrottle(perMailbox, global int, shared bool) *throttle {
	return &throttle{perMailbox: perMailbox, global: newGate(global), shared: shared, boxes: map[string]*gate{}}
}

func (t *throttle) box(mailbox string) *gate {
	if mailbox == "" {
		return nil
	}
	key := strings.ToLower(mailbox)
	t.mu.Lock()
	defer t.mu.Unlock()
	g := t.boxes[key]
	if g == nil {
		g = newGate(t.perMailbox)
		t.boxes[key] = g
	}
	return g
}

// acquire waits for the global fence, the mailbox's fence and slot, then a global slot,
// and returns the function that frees both slots (safe to call more than once).
func (t *throttle) acquire(ctx context.Context, mailbox string) (func(), error) {
	b := t.box(mailbox)
	for {
		w, err := t.global.waitFence(ctx)
		t.waited.Add(int64(w))
		if err != nil {
			return nil, err
		}
		if b != nil {
			w, err := b.acquire(ctx)
			t.waited.Add(int64(w))
			if err != nil {
				return nil, err
			}
		}
		w, err = t.global.acquire(ctx)
		t.waited.Add(int64(w))
		if err != nil {
			if b != nil {
				b.release()
			}
			return nil, err
		}
		// A mailbox fence may have gone up while we waited for the global slot.
		if b != nil {
			b.mu.Lock()
			fenced := time.Now().Before(b.fence)
			b.mu.Unlock()
			if fenced {
				t.global.release()
				b.release()
				continue
			}
		}
		var once sync.Once
		return func() {
			once.Do(func() {
				t.global.release()
				if b != nil {
					b.release()
				}
			})
		}, nil
	}
}

// serverBusy records an ErrorServerBusy: the mailbox (and, when the budget is shared or
// the call acted for no mailbox, every mailbox) waits d before its next request.
func (t *throttle) busy(mailbox string, d time.Duration) {
	t.serverBusy.Add(1)
	if b := t.box(mailbox); b != nil {
		b.backOff(d)
	}
	if t.shared || mailbox == "" {
		t.global.backOff(d)
	}
}

// tooManyConnections records an ErrorExceededConnectionCount: one slot fewer for the
// mailbox (or globally).
func (t *throttle) tooManyConnections(mailbox string) {
	t.connCount.Add(1)
	if b := t.box(mailbox); b != nil && !t.shared {
		b.lower()
		return
	}
	t.global.lower()
}

func (t *throttle) success(mailbox string) {
	if b := t.box(mailbox); b != nil {
		b.success()
	}
	t.global.success()
}

func (t *throttle) stats() Stats {
	return Stats{Requests: t.requests.Load(), ServerBusy: t.serverBusy.Load(), ConnectionCount: t.connCount.Load(),
		Unavailable: t.unavailable.Load(), Retries: t.retries.Load(), BackOffWait: time.Duration(t.waited.Load())}
}

// backoff is the wait before attempt+1 when the server named none: exponential from base,
// capped, with jitter in [d/2, d).
func backoff(attempt int, base, maxWait time.Duration) time.Duration {
	d := base << min(attempt-1, 20)
	if d > maxWait || d <= 0 {
		d = maxWait
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
