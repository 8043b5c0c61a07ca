package ews

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/model"
	simews "github.com/bascule-migrate/bascule/sim/ews"
	"github.com/bascule-migrate/bascule/sim/tenant"
)

// TestFaults: with 503s, truncated answers and dropped connections injected, a full pass
// of every folder still yields every message exactly once, and every message opens with
// the tenant's bytes (a body cut short is a retryable read error, opened again).
func TestFaults(t *testing.T) {
	e := startEWS(t, tenant.Small(), simews.Options{Faults: simews.Faults{Seed: 7, Rate503: 0.08, RateTruncate: 0.08, RateDrop: 0.05}})
	cfg := e.config()
	cfg.MaxAttempts = 20
	src := e.source(t, cfg)
	ctx := context.Background()
	boxes, err := src.Mailboxes(ctx, extract.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	cut := 0
	for _, mbx := range boxes {
		folders, err := src.Folders(ctx, mbx)
		if err != nil {
			t.Fatalf("Folders() = %v", err)
		}
		seen := map[string]int{}
		for _, f := range folders {
			for c, err := range src.Changes(ctx, mbx, f, "") {
				if err != nil {
					t.Fatalf("Changes() = %v", err)
				}
				if c.Kind == extract.Upsert {
					seen[c.Message.ID]++
				}
			}
		}
		msgs := e.ten.Messages(e.userID(t, mbx))
		if len(seen) != len(msgs) {
			t.Errorf("%s: %d messages yielded, the tenant has %d", mbx.Address, len(seen), len(msgs))
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("message %s yielded %d times", id, n)
			}
		}
		for _, m := range msgs {
			var sum string
			var size int64
			for attempt := 0; ; attempt++ {
				rc, err := src.Open(ctx, mbx, model.Message{ID: m.ID})
				if err != nil {
					t.Fatalf("Open(%s) = %v", m.ID, err)
				}
				h := sha256.New()
				size, err = io.Copy(h, rc)
				rc.Close()
				if err == nil {
					sum = hex.EncodeToString(h.Sum(nil))
					break
				}
				if !errors.Is(err, model.ErrRetryable) || attempt > 20 {
					t.Fatalf("reading %s: %v", m.ID, err)
				}
				cut++
			}
			if sum != m.SHA256 || size != m.Size {
				t.Errorf("Open(%s): %d bytes, want %d with the tenant's SHA-256", m.ID, size, m.Size)
			}
		}
	}
	if st := src.Stats(); st.Retries == 0 || st.Unavailable == 0 {
		t.Errorf("Stats() = %+v: no fault seen, the test proves nothing", st)
	}
	t.Logf("stats %+v, %d bodies cut short", src.Stats(), cut)
}

// TestConnectionCount: the server allows 2 concurrent requests; the source starts with 4
// per mailbox, gets ErrorExceededConnectionCount, lowers its concurrency and finishes.
func TestConnectionCount(t *testing.T) {
	e := startEWS(t, tenant.Small(), simews.Options{Throttle: simews.Throttle{MaxConcurrency: 2}})
	cfg := e.config()
	cfg.MaxAttempts = 30
	src := e.source(t, cfg)
	ctx := context.Background()
	boxes, err := src.Mailboxes(ctx, extract.Selection{Addresses: cfg.Mailboxes[:1]})
	if err != nil {
		t.Fatal(err)
	}
	mbx := boxes[0]
	msgs := e.ten.Messages(e.userID(t, mbx))
	// Every message opened at once, read whole; again (up to 10 rounds) until the server
	// has refused a connection at least once — whether 4 calls meet at the server depends
	// on scheduling.
	for round := 0; round < 10 && src.Stats().ConnectionCount == 0; round++ {
		var wg sync.WaitGroup
		errs := make(chan error, len(msgs))
		for _, m := range msgs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rc, err := src.Open(ctx, mbx, model.Message{ID: m.ID})
				if err == nil {
					_, err = io.Copy(io.Discard, rc)
					rc.Close()
				}
				if err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("Open() = %v", err)
		}
	}
	st := src.Stats()
	if st.ConnectionCount == 0 {
		t.Fatalf("Stats() = %+v: the server never refused a connection, the test proves nothing", st)
	}
	// The limit is lowered at each refusal and raised back after 50 answered calls in a
	// row: at the end it may be whole again, its lowest value tells.
	if low := src.c.th.box(mbx.Address).lowestLimit(); low >= 4 {
		t.Errorf("mailbox concurrency never went below 4 although the server refused %d connections", st.ConnectionCount)
	}
}
