package ews

import (
	"sync"
	"sync/atomic"
	"time"
)

// retryGrace is how long after a refusal requests that were already on their way are forgiven.
const retryGrace = 100 * time.Millisecond

// limiter enforces the EWS throttling policy per budget key: concurrent requests
// (EWSMaxConcurrency) and requests per sliding window (the budget).
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
	if t.MaxConcurrency <= 0 {
		t.MaxConcurrency = 10
	}
	if t.Requests <= 0 {
		t.Requests = 100000
	}
	if t.Window <= 0 {
		t.Window = time.Minute
	}
	l.mu.Lock()
	l.cfg = t
	l.mu.Unlock()
}

func (l *limiter) perCaller() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cfg.PerCaller
}

func (l *limiter) busyInResponse() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cfg.BusyInResponse
}

// acquire admits one request for key: it returns a release func (safe to call more than
// once), or the fault to answer (ErrorServerBusy with its back-off, or
// ErrorExceededConnectionCount).
func (l *limiter) acquire(key string) (release func(), f *Fault) {
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
		return func() {}, nil
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
		wait = max(wait.Round(time.Millisecond), time.Millisecond)
		l.refuse(key, now, wait)
		return nil, &Fault{Code: "ErrorServerBusy", Text: "The server cannot service this request right now. Try again later.", BackOff: wait}
	}
	if l.inflight[key] >= l.cfg.MaxConcurrency {
		l.throttled.Add(1)
		return nil, &Fault{Code: "ErrorExceededConnectionCount", Text: "You have exceeded the available concurrent connections for your account.  Try again once your other requests have completed."}
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
	}, nil
}

func (l *limiter) refuse(key string, now time.Time, wait time.Duration) {
	l.throttled.Add(1)
	if b, ok := l.blocked[key]; !ok || b.until.Before(now.Add(wait)) {
		sent := now
		if ok && now.Before(b.until) {
			sent = b.sent
		}
		l.blocked[key] = block{sent: sent, until: now.Add(wait)}
	}
}
