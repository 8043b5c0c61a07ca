package planner

import (
	"context"

	"github.com/bascule-migrate/bascule/state"
)

// committer funnels every state write of a run through one goroutine and groups the writes
// that arrive together into one transaction (group commit). Writes are applied in the order
// they were submitted: a folder cursor submitted after an item's "done" is never committed
// before it.
type committer struct {
	store state.Store
	ch    chan commitReq
	done  chan struct{}
}

type commitReq struct {
	items  []state.Item
	folder *state.Folder
	errc   chan error // nil: fire and forget (errors surface at the next waited write)
}

const maxCommitBatch = 512

func newCommitter(store state.Store) *committer {
	c := &committer{store: store, ch: make(chan commitReq, 256), done: make(chan struct{})}
	go c.loop()
	return c
}

// put submits items; when wait is true it returns once they are durable.
func (c *committer) put(ctx context.Context, wait bool, items ...state.Item) error {
	return c.submit(ctx, commitReq{items: items}, wait)
}

// putFolder submits a folder record (cursor) after everything submitted before it.
func (c *committer) putFolder(ctx context.Context, f state.Folder) error {
	return c.submit(ctx, commitReq{folder: &f}, true)
}

func (c *committer) submit(ctx context.Context, r commitReq, wait bool) error {
	if wait {
		r.errc = make(chan error, 1)
	}
	c.ch <- r // never blocks for long: the loop always drains
	if !wait {
		return nil
	}
	select {
	case err := <-r.errc:
		return err
	case <-ctx.Done():
		// The write still happens; the caller just stops waiting.
		return ctx.Err()
	}
}

// close flushes everything submitted and stops the loop.
func (c *committer) close() {
	close(c.ch)
	<-c.done
}

func (c *committer) loop() {
	defer close(c.done)
	var sticky error
	for first := range c.ch {
		batch := []commitReq{first}
		n := len(first.items)
		// Gather what is already queued, without waiting for more: requests that arrive
		// while this batch commits form the next one. (Waiting a moment for company added
		// that moment to every in-flight record, which each APPEND waits for.)
	gather:
		for n < maxCommitBatch {
			select {
			case r, ok := <-c.ch:
				if !ok {
					break gather
				}
				batch = append(batch, r)
				n += len(r.items)
			default:
				break gather
			}
		}
		// A store that failed once is broken for this run: the error sticks, so that a
		// fire-and-forget write that failed is reported to the next waiting caller too.
		if sticky == nil {
			sticky = c.flush(batch)
		}
		for _, r := range batch {
			if r.errc != nil {
				r.errc <- sticky
			}
		}
	}
}

// flush writes items in submission order; a folder record splits the batch so it lands after
// the items submitted before it.
func (c *committer) flush(batch []commitReq) error {
	ctx := context.Background()
	var items []state.Item
	for _, r := range batch {
		items = append(items, r.items...)
		if r.folder != nil {
			if len(items) > 0 {
				if err := c.store.PutItems(ctx, items); err != nil {
					return err
				}
				items = items[:0]
			}
			if err := c.store.PutFolder(ctx, *r.folder); err != nil {
				return err
			}
		}
	}
	if len(items) > 0 {
		return c.store.PutItems(ctx, items)
	}
	return nil
}
