package graph

import (
	"sync"
	"sync/atomic"
	"time"
)

// retryGrace is how long after a 429 requests that were already on their way are forgiven.
const retryGrace = 100 * time.Millisecond

// limiter enforces the Outlook limits per key (app + mailbox): concurrent requests and
// requests per sliding window.
type limiter struct {
	mu       sync.Mutex
	cfg      Throttle
	inflight map[string]int
	hist     map[string][]time.Time // accepted request times, oldest first
	blocked  map[string]block

	throttled  atomic.Int64
	violations atomic.Int64
}

type block struct{ sent, until time.Time }

func newLimiter(t Throttle) *limiter {
	l := &limiter{inflight: map[string]int{}, hist: map[string][]time.Time{}, blocked: map[string]block{}}
	l.set(t)
	return l
}

func (l *limiter) set(t Throttle) {
	if t.Concurrency <= 0 {
		t.Concurrency = 4
	}
	if t.Requests <= 0 {
		t.Requests = 10000
	}
	if t.Window <= 0 {
		t.Window = 10 * time.Minute
	}
	l.mu.Lock()
	l.cfg = t
	l.mu.Unlock()
}

// acquire admits one request for key. When admitted it returns a release func (safe to call
// more than once); otherwise the Retry-After to send and the error message.
func (l *limiter) acquire(key string) (release func(), retryAfter time.Duration, msg string) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.blocked[key]; ok {
		if now.After(b.sent.Add(retryGrace)) && now.Before(b.until.Add(-10*time.Millisecond)) {
			l.violations.Add(1)
		}
		if !now.Before(b.until) {
			delete(l.blocked, key)
		}
	}
	if l.cfg.Disabled {
		return func() {}, 0, ""
	}
	h := l.hist[key]
	cut := 0
	for cut < len(h) && now.Sub(h[cut]) >= l.cfg.Window {
		cut++
	}
	h = h[cut:]
	l.hist[key] = h
	if len(h) >= l.cfg.Requests {
		wait := h[len(h)-l.cfg.Requests].Add(l.cfg.Window).Sub(now)
		ra := max(time.Second, wait.Truncate(time.Second))
		if ra < wait {
			ra += time.Second
		}
		l.tooMany(key, now, ra)
		return nil, ra, "Please retry again later."
	}
	if l.inflight[key] >= l.cfg.Concurrency {
		l.tooMany(key, now, time.Second)
		return nil, time.Second, "Application is over its MailboxConcurrency limit."
	}
	l.inflight[key]++
	l.hist[key] = append(h, now)
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			l.inflight[key]--
			l.mu.Unlock()
		})
	}, 0, ""
}

func (l *limiter) tooMany(key string, now time.Time, ra time.Duration) {
	l.throttled.Add(1)
	if b, ok := l.blocked[key]; !ok || b.until.Before(now.Add(ra)) {
		sent := now
		if ok && now.Before(b.until) {
			sent = b.sent
		}
		l.blocked[key] = block{sent: sent, until: now.Add(ra)}
	}
}
