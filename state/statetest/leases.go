package statetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/bascule-migrate/bascule/state"
)

// WithSecondHandle lets the lease tests run workers on two handles of the same data, as two
// processes would: second opens another handle on the data s was opened on (s stays open;
// the suite closes the new handle).
func WithSecondHandle(second func(t *testing.T, s state.Store) state.Store) Option {
	return func(c *config) { c.second = second }
}

// leaser opens a fresh store and returns it as a state.Leaser (the test is skipped, loudly,
// for a store that offers no fleet queue).
func (s *suite) leaser(t *testing.T) (state.Store, state.Leaser) {
	t.Helper()
	st := s.store(t)
	l, ok := st.(state.Leaser)
	if !ok {
		t.Skipf("fleet leases NOT checked: %T does not implement state.Leaser", st)
	}
	return st, l
}

func (s *suite) testLeaseQueue(t *testing.T) {
	ctx := context.Background()
	_, q := s.leaser(t)
	if _, err := q.Lease(ctx, "wave1", "w1", time.Minute); !errors.Is(err, state.ErrQueueFinished) {
		t.Fatalf("Lease(empty queue) = %v, want ErrQueueFinished", err)
	}
	mbs := []state.Mailbox{
		{ID: "id-b", Address: "bob@example.org", Target: "bob"},
		{ID: "id-a", Address: "alice@example.org", Target: "alice"},
		{ID: graphID(7), Address: "zoé@example.org", Target: "zoé"},
	}
	n, err := q.Enqueue(ctx, "wave1", mbs)
	if err != nil || n != 3 {
		t.Fatalf("Enqueue() = %d, %v; want 3", n, err)
	}
	// Idempotent, and queues are apart.
	if n, err := q.Enqueue(ctx, "wave1", mbs[:2]); err != nil || n != 0 {
		t.Fatalf("Enqueue(again) = %d, %v; want 0 added", n, err)
	}
	if n, err := q.Enqueue(ctx, "wave2", mbs[:1]); err != nil || n != 1 {
		t.Fatalf("Enqueue(other queue) = %d, %v; want 1", n, err)
	}
	ls, err := q.Leases(ctx, "wave1")
	if err != nil {
		t.Fatalf("Leases() = %v", err)
	}
	var addrs []string
	for _, l := range ls {
		addrs = append(addrs, l.Address)
		if l.Queue != "wave1" || l.Status != state.LeasePending || l.Worker != "" || l.Attempts != 0 || !l.Expires.IsZero() {
			t.Errorf("fresh lease = %+v, want pending, unheld", l)
		}
	}
	if want := []string{"alice@example.org", "bob@example.org", "zoé@example.org"}; !slices.Equal(addrs, want) {
		t.Fatalf("Leases(wave1) addresses = %v, want %v", addrs, want)
	}
	if all, err := q.Leases(ctx, ""); err != nil || len(all) != 4 {
		t.Fatalf("Leases(\"\") = %d, %v; want 4", len(all), err)
	}

	before := time.Now()
	got := map[string]state.Lease{}
	for range 3 {
		l, err := q.Lease(ctx, "wave1", "w1", time.Minute)
		if err != nil {
			t.Fatalf("Lease() = %v", err)
		}
		if _, dup := got[l.Mailbox]; dup {
			t.Fatalf("Lease() gave %s twice", l.Mailbox)
		}
		got[l.Mailbox] = l
		if l.Status != state.LeaseLeased || l.Worker != "w1" || l.Attempts != 1 || l.Token <= 0 {
			t.Errorf("Lease() = %+v, want leased by w1, attempt 1, a token", l)
		}
		if d := l.Expires.Sub(before); d < 50*time.Second || d > 70*time.Second {
			t.Errorf("Lease(ttl 1m).Expires = %v, %v after the call", l.Expires, d)
		}
		if l.Address == "" || l.Target == "" || l.Queue != "wave1" {
			t.Errorf("Lease() = %+v, want address, target and queue", l)
		}
	}
	if _, err := q.Lease(ctx, "wave1", "w2", time.Minute); !errors.Is(err, state.ErrNoneFree) {
		t.Fatalf("Lease(all held) = %v, want ErrNoneFree", err)
	}
	// Heartbeat.
	a := got["id-a"]
	time.Sleep(5 * time.Millisecond)
	a2, err := q.Renew(ctx, a, 2*time.Minute)
	if err != nil {
		t.Fatalf("Renew() = %v", err)
	}
	if !a2.Expires.After(a.Expires) || a2.Token != a.Token || a2.Worker != "w1" {
		t.Errorf("Renew() = %+v, want a later expiry, same token (was %+v)", a2, a)
	}
	// Someone else's claim cannot renew or release.
	forged := a2
	forged.Worker = "w2"
	if _, err := q.Renew(ctx, forged, time.Minute); !errors.Is(err, state.ErrLeaseLost) {
		t.Errorf("Renew(by another worker) = %v, want ErrLeaseLost", err)
	}
	if err := q.Release(ctx, forged, state.LeaseDone, ""); !errors.Is(err, state.ErrLeaseLost) {
		t.Errorf("Release(by another worker) = %v, want ErrLeaseLost", err)
	}
	// Done, failed, given back.
	if err := q.Release(ctx, a2, state.LeaseDone, ""); err != nil {
		t.Fatalf("Release(done) = %v", err)
	}
	if err := q.Release(ctx, a2, state.LeaseDone, ""); !errors.Is(err, state.ErrLeaseLost) {
		t.Errorf("Release(twice) = %v, want ErrLeaseLost", err)
	}
	if _, err := q.Renew(ctx, a2, time.Minute); !errors.Is(err, state.ErrLeaseLost) {
		t.Errorf("Renew(released) = %v, want ErrLeaseLost", err)
	}
	if err := q.Release(ctx, got["id-b"], state.LeaseFailed, "target refused: quota 世界"); err != nil {
		t.Fatalf("Release(failed) = %v", err)
	}
	z := got[graphID(7)]
	if err := q.Release(ctx, z, state.LeasePending, ""); err != nil {
		t.Fatalf("Release(pending) = %v", err)
	}
	// The one given back is leased again, by anyone.
	z2, err := q.Lease(ctx, "wave1", "w2", time.Minute)
	if err != nil || z2.Mailbox != z.Mailbox || z2.Worker != "w2" || z2.Attempts != 2 || z2.Token <= z.Token {
		t.Fatalf("Lease(after give back) = %+v, %v; want %s by w2, attempt 2, a new token", z2, err, z.Mailbox)
	}
	if _, err := q.Lease(ctx, "wave1", "w3", time.Minute); !errors.Is(err, state.ErrNoneFree) {
		t.Fatalf("Lease(one held, rest finished) = %v, want ErrNoneFree", err)
	}
	if err := q.Release(ctx, z2, state.LeaseDone, ""); err != nil {
		t.Fatalf("Release() = %v", err)
	}
	if _, err := q.Lease(ctx, "wave1", "w3", time.Minute); !errors.Is(err, state.ErrQueueFinished) {
		t.Fatalf("Lease(all finished) = %v, want ErrQueueFinished", err)
	}
	ls, err = q.Leases(ctx, "wave1")
	if err != nil {
		t.Fatalf("Leases() = %v", err)
	}
	want := map[string]state.LeaseStatus{"id-a": state.LeaseDone, "id-b": state.LeaseFailed, graphID(7): state.LeaseDone}
	for _, l := range ls {
		if l.Status != want[l.Mailbox] {
			t.Errorf("lease %s status = %s, want %s", l.Mailbox, l.Status, want[l.Mailbox])
		}
		if !l.Expires.IsZero() {
			t.Errorf("finished lease %s Expires = %v, want zero", l.Mailbox, l.Expires)
		}
		if l.Heartbeat.Before(before.Add(-time.Second)) {
			t.Errorf("lease %s Heartbeat = %v, want set", l.Mailbox, l.Heartbeat)
		}
	}
	if ls[1].Error != "target refused: quota 世界" || ls[1].Worker != "w1" {
		t.Errorf("failed lease = %+v, want its reason and last worker", ls[1])
	}
	if ls[2].Worker != "w2" || ls[2].Attempts != 2 {
		t.Errorf("lease %s = %+v, want last worker w2, 2 attempts", ls[2].Mailbox, ls[2])
	}
	// The other queue was not touched.
	if l, err := q.Lease(ctx, "wave2", "w1", time.Minute); err != nil || l.Mailbox != "id-b" {
		t.Errorf("Lease(wave2) = %+v, %v; want id-b", l, err)
	}
}

func (s *suite) testLeaseExpiry(t *testing.T) {
	ctx := context.Background()
	st, q := s.leaser(t)
	q2 := q
	if s.cfg.second != nil {
		h := s.cfg.second(t, st)
		t.Cleanup(func() { _ = h.Close() })
		q2 = h.(state.Leaser)
	}
	if _, err := q.Enqueue(ctx, "m", []state.Mailbox{{ID: "m1", Address: "a@x", Target: "a"}}); err != nil {
		t.Fatalf("Enqueue() = %v", err)
	}
	const ttl = 300 * time.Millisecond
	l1, err := q.Lease(ctx, "m", "dead", ttl)
	if err != nil {
		t.Fatalf("Lease() = %v", err)
	}
	if _, err := q2.Lease(ctx, "m", "alive", time.Minute); !errors.Is(err, state.ErrNoneFree) {
		t.Fatalf("Lease(before expiry) = %v, want ErrNoneFree", err)
	}
	ls, err := q2.Leases(ctx, "m")
	if err != nil || len(ls) != 1 || ls[0].Worker != "dead" || ls[0].Status != state.LeaseLeased || ls[0].Expired(time.Now().Add(-time.Second)) {
		t.Fatalf("Leases() = %+v, %v; want held by dead", ls, err)
	}
	time.Sleep(ttl + 400*time.Millisecond)
	l2, err := q2.Lease(ctx, "m", "alive", time.Minute)
	if err != nil {
		t.Fatalf("Lease(after expiry) = %v, want the expired mailbox taken over", err)
	}
	if l2.Mailbox != "m1" || l2.Worker != "alive" || l2.Attempts != 2 || l2.Token <= l1.Token {
		t.Errorf("takeover = %+v, want m1 by alive, attempt 2, token > %d", l2, l1.Token)
	}
	// The dead worker comes back: its claim is gone.
	if _, err := q.Renew(ctx, l1, ttl); !errors.Is(err, state.ErrLeaseLost) {
		t.Errorf("Renew(taken over) = %v, want ErrLeaseLost", err)
	}
	if err := q.Release(ctx, l1, state.LeaseDone, ""); !errors.Is(err, state.ErrLeaseLost) {
		t.Errorf("Release(taken over) = %v, want ErrLeaseLost", err)
	}
	if _, err := q2.Renew(ctx, l2, time.Minute); err != nil {
		t.Errorf("Renew(new holder) = %v", err)
	}
	if err := q2.Release(ctx, l2, state.LeaseDone, ""); err != nil {
		t.Errorf("Release(new holder) = %v", err)
	}
	if _, err := q.Lease(ctx, "m", "dead", ttl); !errors.Is(err, state.ErrQueueFinished) {
		t.Errorf("Lease(finished) = %v, want ErrQueueFinished", err)
	}
}

// testLeaseConcurrent runs workers on two handles; no mailbox is ever held by two at once,
// and each is finished exactly once.
func (s *suite) testLeaseConcurrent(t *testing.T) {
	ctx := context.Background()
	st, q := s.leaser(t)
	handles := []state.Leaser{q}
	if s.cfg.second != nil {
		h := s.cfg.second(t, st)
		t.Cleanup(func() { _ = h.Close() })
		handles = append(handles, h.(state.Leaser))
	}
	const mailboxes, workers = 40, 8
	var mbs []state.Mailbox
	for i := range mailboxes {
		mbs = append(mbs, state.Mailbox{ID: fmt.Sprintf("m%02d", i), Address: fmt.Sprintf("u%02d@example.org", i), Target: fmt.Sprint("u", i)})
	}
	// Every worker enqueues the same list, as a fleet does at start.
	var wg sync.WaitGroup
	var mu sync.Mutex
	added := 0
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := handles[w%len(handles)].Enqueue(ctx, "q", mbs)
			if err != nil {
				t.Errorf("Enqueue() = %v", err)
			}
			mu.Lock()
			added += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if added != mailboxes {
		t.Fatalf("concurrent Enqueue added %d in all, want %d", added, mailboxes)
	}
	held := map[string]string{}
	finished := map[string]int{}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := handles[w%len(handles)]
			name := fmt.Sprint("w", w)
			for {
				l, err := h.Lease(ctx, "q", name, time.Minute)
				if errors.Is(err, state.ErrQueueFinished) {
					return
				}
				if errors.Is(err, state.ErrNoneFree) {
					time.Sleep(time.Millisecond)
					continue
				}
				if err != nil {
					t.Errorf("%s: Lease() = %v", name, err)
					return
				}
				mu.Lock()
				if other, ok := held[l.Mailbox]; ok {
					t.Errorf("%s leased %s while %s holds it", name, l.Mailbox, other)
				}
				held[l.Mailbox] = name
				mu.Unlock()
				if _, err := h.Renew(ctx, l, time.Minute); err != nil {
					t.Errorf("%s: Renew() = %v", name, err)
				}
				mu.Lock()
				delete(held, l.Mailbox)
				finished[l.Mailbox]++
				mu.Unlock()
				if err := h.Release(ctx, l, state.LeaseDone, ""); err != nil {
					t.Errorf("%s: Release() = %v", name, err)
				}
			}
		}()
	}
	wg.Wait()
	if len(finished) != mailboxes {
		t.Errorf("%d mailboxes finished, want %d", len(finished), mailboxes)
	}
	for m, n := range finished {
		if n != 1 {
			t.Errorf("mailbox %s finished %d times, want once", m, n)
		}
	}
	ls, err := q.Leases(ctx, "q")
	if err != nil {
		t.Fatalf("Leases() = %v", err)
	}
	for _, l := range ls {
		if l.Status != state.LeaseDone || l.Attempts != 1 {
			t.Errorf("lease %s = %s after %d attempts, want done after 1", l.Mailbox, l.Status, l.Attempts)
		}
	}
}
