package graph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/bascule-migrate/bascule/model"
)

// Stats counts what the throttle transport did since the Source was made.
type Stats struct {
	// Requests is the number of HTTP requests sent to Graph (every attempt counts).
	Requests int64
	// Throttled is the number of 429 answers received.
	Throttled int64
	// Unavailable is the number of 503 and 504 answers received.
	Unavailable int64
	// Retries is the number of attempts made after a failed one.
	Retries int64
	// RetryAfterWait is the total time requests waited because of a Retry-After.
	RetryAfterWait time.Duration
}

// throttleOptions configure a throttle transport.
type throttleOptions struct {
	PerMailboxConcurrency int
	PerMailboxRequests    int
	Window                time.Duration
	GlobalConcurrency     int
	// MaxAttempts bounds the attempts of one request (default 10).
	MaxAttempts int
	// BaseBackoff is the first backoff when the server gives no Retry-After (default 500ms).
	BaseBackoff time.Duration
	// MaxBackoff caps the backoff (default 30s).
	MaxBackoff time.Duration
}

// throttle is the single retry and rate layer between the Graph SDK (or the raw MIME
// download) and the network. Per mailbox it keeps a concurrency semaphore, a token bucket
// whose rate adapts to the 429s seen, and a Retry-After fence; it also holds a global
// semaphore. Idempotent requests (GET, HEAD and the $batch of GETs) are retried on
// 429/503/504 and on connection errors, with bounded attempts.
type throttle struct {
	base   http.RoundTripper
	opts   throttleOptions
	global chan struct{}

	mu    sync.Mutex
	boxes map[string]*mailboxLimiter

	requests, throttled, unavailable, retries, waitedNanos atomic.Int64
}

// mailboxLimiter is the state of one mailbox's budget.
type mailboxLimiter struct {
	sem chan struct{}
	// window keeps the mailbox within its budget per window; until the server throttles,
	// nothing else slows requests down.
	window *windowLog
	// limiter paces requests once the server has throttled the mailbox (adaptive rate).
	limiter  *rate.Limiter
	base     rate.Limit
	adaptive bool          // set by the first 429 with Retry-After (under mu)
	period   time.Duration // the budget's window
	raised   time.Time     // last time the adaptive rate was raised

	mu        sync.Mutex
	fence     time.Time // no request leaves before this instant
	since     time.Time // start of the current observation period (last fence end)
	succeeded int       // requests answered without throttling since `since`
}

func newThrottle(base http.RoundTripper, o throttleOptions) *throttle {
	if o.PerMailboxConcurrency <= 0 {
		o.PerMailboxConcurrency = 4
	}
	if o.PerMailboxRequests <= 0 {
		o.PerMailboxRequests = 10000
	}
	if o.Window <= 0 {
		o.Window = 10 * time.Minute
	}
	if o.GlobalConcurrency <= 0 {
		o.GlobalConcurrency = 64
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 10
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = 500 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	return &throttle{base: base, opts: o, global: make(chan struct{}, o.GlobalConcurrency),
		boxes: map[string]*mailboxLimiter{}}
}

func (t *throttle) stats() Stats {
	return Stats{Requests: t.requests.Load(), Throttled: t.throttled.Load(), Unavailable: t.unavailable.Load(),
		Retries: t.retries.Load(), RetryAfterWait: time.Duration(t.waitedNanos.Load())}
}

type mailboxKeyCtx struct {
	key  string
	cost int
}

// withMailbox tells the throttle transport which mailbox a request is for when its path
// does not say (a $batch envelope), and how many requests it counts for (its inner ones).
func withMailbox(ctx context.Context, key string, cost int) context.Context {
	return context.WithValue(ctx, mailboxKeyCtx{}, mailboxKeyCtx{key: strings.ToLower(key), cost: max(cost, 1)})
}

// requestCost is the number of tokens a request takes from its mailbox's bucket.
func requestCost(req *http.Request) int {
	if v, ok := req.Context().Value(mailboxKeyCtx{}).(mailboxKeyCtx); ok {
		return v.cost
	}
	return 1
}

// mailboxKey is the lower-cased {id-or-upn} after /users/ in the path, or the key the
// context carries, or "" (a request that belongs to no mailbox).
func mailboxKey(req *http.Request) string {
	if v, ok := req.Context().Value(mailboxKeyCtx{}).(mailboxKeyCtx); ok && v.key != "" {
		return v.key
	}
	segs := strings.Split(req.URL.Path, "/")
	for i := 0; i+1 < len(segs); i++ {
		if strings.EqualFold(segs[i], "users") && segs[i+1] != "" {
			return strings.ToLower(segs[i+1])
		}
	}
	return ""
}

func (t *throttle) box(key string) *mailboxLimiter {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.boxes[key]
	if b == nil {
		r := rate.Limit(float64(t.opts.PerMailboxRequests) / t.opts.Window.Seconds())
		// Once throttled, the adaptive limiter starts from the budget's average rate with a
		// small burst (1% of the budget); it drops to 1 after a 429.
		burst := min(max(t.opts.PerMailboxConcurrency, t.opts.PerMailboxRequests/100), t.opts.PerMailboxRequests)
		// 2% below the budget: the server counts a request when it arrives, a little later
		// than we do.
		budget := max(t.opts.PerMailboxRequests-t.opts.PerMailboxRequests/50, 1)
		b = &mailboxLimiter{sem: make(chan struct{}, t.opts.PerMailboxConcurrency),
			window:  newWindowLog(budget, t.opts.Window),
			limiter: rate.NewLimiter(r, max(burst, 1)), base: r, since: time.Now(), period: t.opts.Window}
		t.boxes[key] = b
	}
	return b
}

// idempotent reports whether req may be sent again: reads, and the $batch envelope
// (this package only batches GETs).
func idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	case http.MethodPost:
		return strings.HasSuffix(req.URL.Path, "/$batch")
	}
	return false
}

// RoundTrip sends req within its mailbox's budget and retries it when it is safe to.
// After the last attempt it returns the last 429/5xx response as it came, or the
// connection error wrapped with model.ErrRetryable.
func (t *throttle) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	key := mailboxKey(req)
	var box *mailboxLimiter
	if key != "" {
		box = t.box(key)
	}
	retry := idempotent(req)
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		// Keep a copy to send again; only small request bodies ($batch) travel here.
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req = req.Clone(ctx)
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}

	for attempt := 1; ; attempt++ {
		if attempt > 1 {
			t.retries.Add(1)
		}
		release, err := t.acquire(ctx, box, requestCost(req))
		if err != nil {
			return nil, err
		}
		r := req
		if attempt > 1 && req.GetBody != nil {
			r = req.Clone(ctx)
			if r.Body, err = req.GetBody(); err != nil {
				release()
				return nil, err
			}
		}
		t.requests.Add(1)
		resp, err := t.base.RoundTrip(r)
		last := attempt >= t.opts.MaxAttempts || !retry
		if err != nil {
			release()
			if last || ctx.Err() != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, model.Retryable(err)
			}
			if err := sleepCtx(ctx, t.backoff(attempt)); err != nil {
				return nil, err
			}
			continue
		}
		switch resp.StatusCode {
		case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			ra, hasRA := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
			if resp.StatusCode == http.StatusTooManyRequests {
				t.throttled.Add(1)
			} else {
				t.unavailable.Add(1)
			}
			if box != nil {
				box.penalise(hasRA, ra, resp.StatusCode == http.StatusTooManyRequests)
			}
			if last {
				// Hand the answer to the caller; the slot is freed when its body is closed.
				resp.Body = &releaseBody{rc: resp.Body, release: release}
				return resp, nil
			}
			drain(resp.Body)
			release()
			if !hasRA {
				if err := sleepCtx(ctx, t.backoff(attempt)); err != nil {
					return nil, err
				}
			} else if box == nil {
				if err := t.waitRetryAfter(ctx, ra); err != nil {
					return nil, err
				}
			}
			// With a Retry-After on a mailbox the fence makes acquire wait.
			continue
		}
		if box != nil {
			box.success()
		}
		if retry && isJSON(resp) {
			// API pages are small: read them here so that a truncated or dropped body is
			// retried like any other transient failure instead of failing the SDK call.
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			release()
			if rerr != nil {
				if last || ctx.Err() != nil {
					if ctx.Err() != nil {
						return nil, ctx.Err()
					}
					return nil, model.Retryable(fmt.Errorf("reading %s response: %w", req.URL.Path, rerr))
				}
				if err := sleepCtx(ctx, t.backoff(attempt)); err != nil {
					return nil, err
				}
				continue
			}
			resp.Body = io.NopCloser(bytes.NewReader(b))
			resp.ContentLength = int64(len(b))
			return resp, nil
		}
		// Streamed body (MIME): the mailbox slot stays taken until the body is consumed,
		// because the server counts the request as in flight until then.
		resp.Body = &releaseBody{rc: resp.Body, release: release}
		return resp, nil
	}
}

// acquire waits for the mailbox's fence, its concurrency slot, the global slot and a
// token, in that order, and returns the function that frees the slots.
func (t *throttle) acquire(ctx context.Context, box *mailboxLimiter, cost int) (func(), error) {
	if box == nil {
		select {
		case t.global <- struct{}{}:
			return func() { <-t.global }, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	for {
		if err := t.waitFence(ctx, box); err != nil {
			return nil, err
		}
		select {
		case box.sem <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		select {
		case t.global <- struct{}{}:
		case <-ctx.Done():
			<-box.sem
			return nil, ctx.Err()
		}
		if err := box.window.wait(ctx, cost); err != nil {
			<-t.global
			<-box.sem
			return nil, err
		}
		box.mu.Lock()
		adaptive := box.adaptive
		box.mu.Unlock()
		for i := 0; adaptive && i < cost; i++ {
			if err := box.limiter.Wait(ctx); err != nil {
				<-t.global
				<-box.sem
				return nil, err
			}
		}
		// A fence may have gone up while we waited for a slot or a token.
		box.mu.Lock()
		fenced := time.Now().Before(box.fence)
		box.mu.Unlock()
		if !fenced {
			var once sync.Once
			return func() { once.Do(func() { <-t.global; <-box.sem }) }, nil
		}
		<-t.global
		<-box.sem
	}
}

func (t *throttle) waitFence(ctx context.Context, box *mailboxLimiter) error {
	for {
		box.mu.Lock()
		d := time.Until(box.fence)
		box.mu.Unlock()
		if d <= 0 {
			return nil
		}
		if err := t.waitRetryAfter(ctx, d); err != nil {
			return err
		}
	}
}

func (t *throttle) waitRetryAfter(ctx context.Context, d time.Duration) error {
	t.waitedNanos.Add(int64(d))
	return sleepCtx(ctx, d)
}

// penalise records a throttling answer: a Retry-After becomes a fence for the whole
// mailbox, and a 429 cuts the mailbox's rate to below what the server just accepted.
func (b *mailboxLimiter) penalise(hasRA bool, ra time.Duration, is429 bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if hasRA {
		if f := now.Add(ra); f.After(b.fence) {
			b.fence = f
		}
	}
	if !is429 || !hasRA {
		// A 503/504, or a concurrency 429 without Retry-After, says nothing about the rate.
		return
	}
	if !b.adaptive {
		// The window alone was not enough: the server's budget is tighter than configured.
		// From now on the mailbox is paced by the adaptive rate.
		b.adaptive = true
	}
	cur := b.limiter.Limit()
	next := cur / 2
	// What the server accepted over the last period, fence included, is a good estimate
	// of the rate it allows: go below it.
	if period := b.fence.Sub(b.since).Seconds(); period > 0 && b.succeeded > 0 {
		if est := rate.Limit(0.9 * float64(b.succeeded) / period); est < cur {
			next = est
		}
	}
	if floor := b.base / 100; next < floor {
		next = floor
	}
	b.limiter.SetLimit(next)
	b.raised = now
	// Tokens saved up while fenced would all leave together when the fence drops.
	b.limiter.SetBurst(1)
	b.since = b.fence
	b.succeeded = 0
}

// success counts an accepted request and lets the rate climb back towards the budget,
// by 10% at most once per tenth of the window (and at least every 2 s): fast enough to
// regain a budget that was freed, slow enough not to trip the limit again at once.
func (b *mailboxLimiter) success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.succeeded++
	if !b.adaptive {
		return
	}
	now := time.Now()
	if cur := b.limiter.Limit(); cur < b.base && now.Sub(b.raised) >= min(b.period/10, 2*time.Second) && now.After(b.fence) {
		b.limiter.SetLimit(min(b.base, cur*1.1))
		b.raised = now
	}
}

func (t *throttle) backoff(attempt int) time.Duration {
	d := t.opts.BaseBackoff << min(attempt-1, 20)
	if d > t.opts.MaxBackoff || d <= 0 {
		d = t.opts.MaxBackoff
	}
	// Jitter in [d/2, d).
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// parseRetryAfter reads a Retry-After value: seconds (possibly fractional) or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

func isJSON(resp *http.Response) bool {
	return strings.Contains(strings.ToLower(resp.Header.Get("Content-Type")), "json")
}

func drain(rc io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(rc, 1<<20))
	rc.Close()
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

// releaseBody frees the request's slots when the body is fully read or closed, and
// turns a body cut short into an error wrapping model.ErrRetryable.
type releaseBody struct {
	rc      io.ReadCloser
	release func()
	once    sync.Once
}

func (b *releaseBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil {
		b.once.Do(b.release)
		if !errors.Is(err, io.EOF) {
			err = model.Retryable(fmt.Errorf("reading response body: %w", err))
		}
	}
	return n, err
}

func (b *releaseBody) Close() error {
	err := b.rc.Close()
	b.once.Do(b.release)
	return err
}
