package graph

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/model"
)

func testThrottle(o throttleOptions) *throttle {
	if o.BaseBackoff == 0 {
		o.BaseBackoff = 10 * time.Millisecond
	}
	return newThrottle(http.DefaultTransport, o)
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("Get(%s) = %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s = %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"10", 10 * time.Second, true},
		{"2.128", 2128 * time.Millisecond, true},
		{"0", 0, true},
		{now.Add(7 * time.Second).Format(http.TimeFormat), 7 * time.Second, true},
		{now.Add(-7 * time.Second).Format(http.TimeFormat), 0, true},
		{"", 0, false},
		{"soon", 0, false},
		{"-3", 0, false},
	} {
		got, ok := parseRetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestMailboxKey(t *testing.T) {
	for in, want := range map[string]string{
		"https://h/v1.0/users/Alice@Contoso.example/messages/x/$value": "alice@contoso.example",
		"https://h/v1.0/Users/AAMkA-_x/mailFolders/delta":              "aamka-_x",
		"https://h/v1.0/$batch":                                        "",
		"https://h/v1.0/users?$top=10":                                 "",
	} {
		req, _ := http.NewRequest(http.MethodGet, in, nil)
		if got := mailboxKey(req); got != want {
			t.Errorf("mailboxKey(%s) = %q, want %q", in, got, want)
		}
	}
	req, _ := http.NewRequestWithContext(withMailbox(context.Background(), "BOB", 3), http.MethodPost, "https://h/v1.0/$batch", nil)
	if got, cost := mailboxKey(req), requestCost(req); got != "bob" || cost != 3 {
		t.Errorf("mailboxKey, requestCost($batch with context) = %q, %d; want bob, 3", got, cost)
	}
}

// TestRetryAfterFence: a 429 with Retry-After holds back every request of that mailbox
// until the fence, and only that mailbox.
func TestRetryAfterFence(t *testing.T) {
	var mu sync.Mutex
	var fence time.Time
	var violations, served int
	first := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		served++
		if strings.HasPrefix(r.URL.Path, "/users/a/") {
			if time.Now().Before(fence) {
				violations++
			}
			if first {
				first = false
				fence = time.Now().Add(time.Second)
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true}`)
	}))
	defer srv.Close()
	th := testThrottle(throttleOptions{})
	c := &http.Client{Transport: th}

	start := time.Now()
	var wg sync.WaitGroup
	var otherDone time.Duration
	wg.Add(1)
	go func() {
		defer wg.Done()
		if code, _ := get(t, c, srv.URL+"/users/a/messages"); code != 200 {
			t.Errorf("mailbox a: status %d", code)
		}
	}()
	time.Sleep(100 * time.Millisecond) // let the 429 land
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code, _ := get(t, c, srv.URL+"/users/a/mailFolders"); code != 200 {
				t.Errorf("mailbox a: status %d", code)
			}
		}()
	}
	if code, _ := get(t, c, srv.URL+"/users/b/mailFolders"); code != 200 {
		t.Errorf("mailbox b: status %d", code)
	}
	otherDone = time.Since(start)
	wg.Wait()
	if violations != 0 {
		t.Errorf("%d requests arrived inside the Retry-After fence", violations)
	}
	if otherDone > 500*time.Millisecond {
		t.Errorf("mailbox b waited %v behind mailbox a's fence", otherDone)
	}
	if el := time.Since(start); el < time.Second {
		t.Errorf("mailbox a finished after %v, before its 1s Retry-After", el)
	}
	st := th.stats()
	if st.Throttled != 1 || st.Retries != 1 || st.RetryAfterWait < 900*time.Millisecond {
		t.Errorf("Stats = %+v, want 1 throttled, 1 retry, ≥ 0.9s waited", st)
	}
}

// TestPerMailboxConcurrency: never more than PerMailboxConcurrency requests of one
// mailbox in flight, streamed bodies included until they are closed.
func TestPerMailboxConcurrency(t *testing.T) {
	var inflight, peak atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		time.Sleep(30 * time.Millisecond)
		fmt.Fprint(w, "body")
	}))
	defer srv.Close()
	c := &http.Client{Transport: testThrottle(throttleOptions{PerMailboxConcurrency: 2})}
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, body := get(t, c, srv.URL+"/users/x/messages/m/$value"); body != "body" {
				t.Errorf("body = %q", body)
			}
		}()
	}
	wg.Wait()
	if p := peak.Load(); p != 2 {
		t.Errorf("peak concurrency = %d, want 2", p)
	}
}

// TestWindowBudget: at most PerMailboxRequests (less a 2% margin) in any Window, and no
// pacing below that: a mailbox that needs fewer requests than its budget is not slowed.
func TestWindowBudget(t *testing.T) {
	var mu sync.Mutex
	var at []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
	}))
	defer srv.Close()
	c := &http.Client{Transport: testThrottle(throttleOptions{PerMailboxRequests: 50, Window: time.Second, PerMailboxConcurrency: 4})}
	start := time.Now()
	for i := 0; i < 49; i++ { // the budget less 2%
		get(t, c, srv.URL+"/users/x/messages")
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Errorf("49 requests within a budget of 50/s took %v: they should not be paced", el)
	}
	for i := 0; i < 30; i++ {
		get(t, c, srv.URL+"/users/x/messages")
	}
	if el := time.Since(start); el < time.Second {
		t.Errorf("79 requests on a budget of 50/s took %v, less than the window", el)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range at {
		n := 0
		for j := i; j < len(at) && at[j].Sub(at[i]) < time.Second; j++ {
			n++
		}
		if n > 50 {
			t.Fatalf("%d requests within one second starting at request %d", n, i)
		}
	}
}

func TestWindowLog(t *testing.T) {
	w := newWindowLog(3, time.Second)
	now := w.epoch
	for i := 0; i < 3; i++ {
		if d := w.take(now, 1); d != 0 {
			t.Fatalf("take %d = %v, want 0", i, d)
		}
	}
	d := w.take(now, 1)
	if d <= 0 || d > time.Second+10*time.Millisecond {
		t.Fatalf("fourth take waits %v, want about a second", d)
	}
	if d := w.take(now.Add(500*time.Millisecond), 1); d == 0 {
		t.Fatal("room appeared before the window passed")
	}
	if d := w.take(now.Add(time.Second+2*w.slot), 1); d != 0 {
		t.Fatalf("after the window: wait %v, want 0", d)
	}
}

// TestRetries: 503/504 without Retry-After, dropped connections and truncated JSON are
// retried for GETs; a POST is never sent twice.
func TestRetries(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		if r.Method == http.MethodPost && r.URL.Path != "/$batch" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		switch i % 4 {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.WriteHeader(http.StatusGatewayTimeout)
		case 3: // truncated JSON body
			conn, buf, _ := w.(http.Hijacker).Hijack()
			buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":")
			buf.Flush()
			conn.Close()
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"value":[]}`)
		}
	}))
	defer srv.Close()
	th := testThrottle(throttleOptions{})
	c := &http.Client{Transport: th}
	if code, body := get(t, c, srv.URL+"/users/x/messages"); code != 200 || body != `{"value":[]}` {
		t.Errorf("GET = %d %q", code, body)
	}
	if st := th.stats(); st.Requests != 4 || st.Retries != 3 || st.Unavailable != 2 {
		t.Errorf("Stats = %+v, want 4 requests, 3 retries, 2 unavailable", st)
	}
	// $batch of GETs is retried, with its body.
	n.Store(0)
	resp, err := c.Post(srv.URL+"/$batch", "application/json", strings.NewReader(`{"requests":[]}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST $batch = %v, %v", resp, err)
	}
	resp.Body.Close()
	before := n.Load()
	resp, err = c.Post(srv.URL+"/users/x/sendMail", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatalf("POST = %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || n.Load() != before+1 {
		t.Errorf("POST: status %d after %d requests, want one 503", resp.StatusCode, n.Load()-before)
	}
}

// TestBoundedAttempts: a server that always fails gets MaxAttempts requests, then the
// caller sees the last answer.
func TestBoundedAttempts(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	c := &http.Client{Transport: testThrottle(throttleOptions{MaxAttempts: 3})}
	if code, _ := get(t, c, srv.URL+"/users/x/messages"); code != 503 {
		t.Errorf("status = %d, want 503", code)
	}
	if n.Load() != 3 {
		t.Errorf("%d attempts, want 3", n.Load())
	}
}

// TestTruncatedStream: a streamed body cut short is a read error wrapping ErrRetryable.
func TestTruncatedStream(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, buf, _ := w.(http.Hijacker).Hijack()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nFrom: a\r\n")
		buf.Flush()
		conn.Close()
	}))
	defer srv.Close()
	c := &http.Client{Transport: testThrottle(throttleOptions{})}
	resp, err := c.Get(srv.URL + "/users/x/messages/m/$value")
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if !errors.Is(err, model.ErrRetryable) {
		t.Errorf("ReadAll = %d bytes, %v; want an error wrapping ErrRetryable", len(b), err)
	}
}

// TestAdaptiveRate: against a server allowing 10 requests per 500ms fixed window per
// mailbox, a client configured for far more trips the limit rarely and never inside a
// Retry-After.
func TestAdaptiveRate(t *testing.T) {
	const limit, window = 10, 500 * time.Millisecond
	var mu sync.Mutex
	var winStart time.Time
	var count, throttled, violations int
	var fence, told time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		now := time.Now()
		// Requests already on their way when the 429 left are forgiven (as sim/graph does).
		if now.Before(fence) && now.After(told.Add(50*time.Millisecond)) {
			violations++
		}
		if now.Sub(winStart) >= window {
			winStart, count = now, 0
		}
		count++
		if count > limit {
			throttled++
			ra := winStart.Add(window).Sub(now).Truncate(time.Millisecond)
			if !now.Before(fence) {
				told = now
			}
			fence = now.Add(ra)
			mu.Unlock()
			w.Header().Set("Retry-After", strconv.FormatFloat(ra.Seconds(), 'f', 3, 64))
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	c := &http.Client{Transport: testThrottle(throttleOptions{PerMailboxRequests: 1000, Window: time.Second})}
	const total = 120
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				if code, _ := get(t, c, srv.URL+"/users/x/messages"); code != 200 {
					t.Errorf("status %d", code)
				}
			}
		}()
	}
	for i := 0; i < total; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	t.Logf("%d requests, %d throttled, %d violations", total, throttled, violations)
	if violations != 0 {
		t.Errorf("%d requests inside a Retry-After", violations)
	}
	if throttled*10 > total {
		t.Errorf("%d of %d requests throttled (more than 10%%)", throttled, total)
	}
}
