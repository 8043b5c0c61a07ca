package planner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/load"
	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/state"
)

// mailboxRun moves one mailbox.
type mailboxRun struct {
	r   *runner
	mbx model.Mailbox
	w   load.MailboxWriter

	c        Counters
	mu       sync.Mutex
	failures []Failure
	problems []Problem
	folders  int
	created  []string
	err      error
	kinds    map[model.CollectionKind]*Counters // groupware counters per kind
	manuals  []model.ManualAction
	settings SettingsCounters
	// runFolders are the folders and collections this run ensured on the target (what a
	// dry-run plans, as the read-only store records nothing).
	runFolders []state.Folder

	// folderLocks serialises look-ups per target folder and remembers which UIDs are
	// accounted for, so two in-flight items with the same bytes never claim one UID.
	flMu        sync.Mutex
	folderLocks map[string]*uidSet
}

type uidSet struct {
	mu     sync.Mutex
	loaded bool
	uids   map[uint32]bool
}

// folderCtx is one folder being synchronised.
type folderCtx struct {
	f     model.Folder
	ref   load.FolderRef
	path  string
	st    state.Folder // as recorded at the start of this run
	wg    sync.WaitGroup
	stale atomic.Bool // an item of this pass is not durable: do not advance the cursor
}

type job struct {
	fc     *folderCtx
	msg    model.Message
	prev   *state.Item // state before this run, nil when new
	delete bool
}

func (m *mailboxRun) run(ctx context.Context) {
	o := &m.r.opts
	m.observe()
	log := o.Logger.With("mailbox", m.mbx.Address)
	if err := m.r.store.PutMailbox(ctx, state.Mailbox{ID: m.mbx.ID, Address: m.mbx.Address, Target: m.mbx.Target, Status: "running"}); err != nil {
		m.storeFailed(err)
		m.err = err
		return
	}
	var err error
	if !m.r.opts.SkipMail {
		err = m.migrate(ctx)
	}
	if err == nil {
		err = m.migrateGroupware(ctx)
	}
	if err == nil {
		err = m.migrateSettings(ctx)
	}
	m.err = err
	st := state.Mailbox{ID: m.mbx.ID, Address: m.mbx.Address, Target: m.mbx.Target, Status: "done"}
	switch {
	case err != nil && ctx.Err() != nil:
		st.Status = "interrupted"
	case err != nil:
		st.Status, st.Error = "failed", err.Error()
		log.Error("mailbox failed", "err", err)
	case atomic.LoadInt64(&m.c.Failed) > 0:
		st.Status = "partial"
	}
	if perr := m.r.store.PutMailbox(context.WithoutCancel(ctx), st); perr != nil {
		m.storeFailed(perr)
	}
	o.Progress.MailboxDone(m.mbx.Address, err)
}

func (m *mailboxRun) migrate(ctx context.Context) error {
	o := &m.r.opts
	log := o.Logger.With("mailbox", m.mbx.Address)
	w, err := m.r.sink.Open(ctx, m.mbx.Target)
	if err != nil {
		return fmt.Errorf("target account %q: %w", m.mbx.Target, err)
	}
	m.w = w
	defer w.Close()

	folders, err := o.Source.Folders(ctx, m.mbx)
	if err != nil {
		return fmt.Errorf("listing folders: %w", err)
	}
	m.folders = len(folders)
	var est int64
	for _, f := range folders {
		est += f.TotalItems
	}
	o.Progress.MailboxStart(m.mbx.Address, est)

	// Folders first, parents before children (the source gives them in that order).
	fcs := make([]*folderCtx, 0, len(folders))
	for _, f := range folders {
		path := strings.Join(f.Path, "/")
		prev, perr := m.r.store.Folder(ctx, m.mbx.ID, f.ID)
		if perr != nil && !errors.Is(perr, model.ErrNotFound) {
			m.storeFailed(perr)
			return perr
		}
		ref, err := w.EnsureFolder(ctx, f)
		if err != nil {
			if ctx.Err() != nil || !errors.Is(err, model.ErrPermanent) {
				return fmt.Errorf("creating folder %q: %w", path, err)
			}
			// The target refuses this folder (name, depth, quota): report it, go on with the rest.
			m.problem("error", fmt.Sprintf("folder %q cannot be created on the target: %v", path, err))
			continue
		}
		if perr != nil { // new folder
			m.created = append(m.created, ref.Name)
		}
		fs := state.Folder{Mailbox: m.mbx.ID, ID: f.ID, Path: path, Target: ref.Name, UIDValidity: ref.UIDValidity, Cursor: prev.Cursor}
		if perr == nil && prev.UIDValidity != 0 && ref.UIDValidity != 0 && prev.UIDValidity != ref.UIDValidity {
			// The target folder was recreated: what we wrote there is gone. Start the folder
			// over; items are matched on the target before being written again.
			log.Warn("target folder was recreated (UIDVALIDITY changed); resynchronising it", "folder", ref.Name)
			m.problem("warning", fmt.Sprintf("target folder %q was recreated; it is being written again", ref.Name))
			fs.Cursor = ""
		}
		if err := m.r.store.PutFolder(ctx, fs); err != nil {
			m.storeFailed(err)
			return err
		}
		m.noteFolder(fs)
		fcs = append(fcs, &folderCtx{f: f, ref: ref, path: path, st: fs})
	}

	jobs := make(chan job)
	var workers sync.WaitGroup
	for range o.ItemParallel {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for j := range jobs {
				m.do(ctx, j)
				j.fc.wg.Done()
			}
		}()
	}
	var ferr error
	for _, fc := range fcs {
		if err := m.syncFolder(ctx, fc, jobs); err != nil {
			ferr = err
			break
		}
	}
	close(jobs)
	workers.Wait()
	return ferr
}

// syncFolder lists a folder's changes since its cursor and hands the work to the workers.
func (m *mailboxRun) syncFolder(ctx context.Context, fc *folderCtx, jobs chan<- job) error {
	o := &m.r.opts
	log := o.Logger.With("mailbox", m.mbx.Address, "folder", fc.path)
	fs := fc.st

	// Items that failed or were left in flight by an earlier run are retried first, before
	// the listing: their changes may lie before the stored cursor.
	if fs.Cursor != "" {
		if err := m.retryLeftovers(ctx, fc, jobs); err != nil {
			return err
		}
	}

	var err error
	cursor := fs.Cursor
	full := cursor == ""
	var seen map[string]bool
	for attempt := 0; ; attempt++ {
		if full {
			seen = map[string]bool{}
		}
		err = m.listChanges(ctx, fc, cursor, seen, jobs, &fs)
		if err != nil && errors.Is(err, model.ErrCursorExpired) && attempt == 0 {
			log.Warn("delta token expired; listing the folder in full (nothing will be duplicated)")
			cursor, full = "", true
			continue
		}
		break
	}
	if err != nil {
		fc.wg.Wait()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		m.problem("error", fmt.Sprintf("folder %q: %v", fc.path, err))
		return nil // the next folder goes on; this one resumes from its last cursor next time
	}
	if full && seen != nil && fs.Cursor != "" {
		// After a full listing, items the store knows in this folder that the source no
		// longer has were deleted while the delta token was invalid.
		m.sweepDeleted(ctx, fc, seen, jobs)
	}
	return nil
}

// listChanges consumes one pass of the change stream. The final cursor is stored once every
// item of the pass is durable on the target and in the store.
func (m *mailboxRun) listChanges(ctx context.Context, fc *folderCtx, cursor string, seen map[string]bool, jobs chan<- job, fs *state.Folder) error {
	o := &m.r.opts
	for ch, err := range o.Source.Changes(ctx, m.mbx, fc.f, cursor) {
		if err != nil {
			return err
		}
		switch ch.Kind {
		case extract.Upsert:
			if seen != nil {
				seen[ch.Message.ID] = true
			}
			if err := m.dispatch(ctx, fc, ch.Message, false, jobs); err != nil {
				return err
			}
		case extract.Delete:
			if err := m.dispatch(ctx, fc, ch.Message, true, jobs); err != nil {
				return err
			}
		case extract.Checkpoint:
			if !ch.Final {
				continue
			}
			fc.wg.Wait()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if fc.stale.Load() {
				// Something of this pass is not durable (a retryable failure): keep the old
				// cursor so the next run sees those changes again.
				return nil
			}
			fs.Cursor = ch.Cursor
			if err := m.r.com.putFolder(ctx, *fs); err != nil {
				m.storeFailed(err)
				return err
			}
		}
	}
	return nil
}

// dispatch decides what one change needs and queues it.
func (m *mailboxRun) dispatch(ctx context.Context, fc *folderCtx, msg model.Message, del bool, jobs chan<- job) error {
	if msg.FolderID == "" {
		msg.FolderID = fc.f.ID
	}
	prev, err := m.r.store.Item(ctx, m.mbx.ID, msg.ID)
	var p *state.Item
	switch {
	case err == nil:
		p = &prev
	case errors.Is(err, model.ErrNotFound):
	default:
		m.storeFailed(err)
		return err
	}
	if del {
		if p == nil || p.FolderID != fc.f.ID || p.Status == state.StatusDeleted {
			return nil // never written, or moved elsewhere since: nothing to do here
		}
	} else if p != nil && p.Status == state.StatusDone && p.FolderID == msg.FolderID && p.ChangeKey == msg.ChangeKey {
		atomic.AddInt64(&m.c.Skipped, 1)
		m.r.opts.Progress.ItemDone(m.mbx.Address, 0)
		return nil
	}
	fc.wg.Add(1)
	select {
	case jobs <- job{fc: fc, msg: msg, prev: p, delete: del}:
		return nil
	case <-ctx.Done():
		fc.wg.Done()
		return ctx.Err()
	}
}

// retryLeftovers queues the folder's items an earlier run left failed or in flight.
func (m *mailboxRun) retryLeftovers(ctx context.Context, fc *folderCtx, jobs chan<- job) error {
	items, err := m.r.store.Items(ctx, m.mbx.ID, fc.f.ID)
	if err != nil {
		m.storeFailed(err)
		return err
	}
	for _, it := range items {
		if it.Status != state.StatusFailed && it.Status != state.StatusInFlight {
			continue
		}
		it := it
		msg := model.Message{ID: it.ID, ChangeKey: it.ChangeKey, FolderID: it.FolderID, Received: it.Received,
			Size: it.Size, Flags: it.Flags, MessageID: it.MessageID}
		fc.wg.Add(1)
		select {
		case jobs <- job{fc: fc, msg: msg, prev: &it}:
		case <-ctx.Done():
			fc.wg.Done()
			return ctx.Err()
		}
	}
	// Finish them before the listing, so a change listed again is seen as done.
	fc.wg.Wait()
	return ctx.Err()
}

// sweepDeleted records as deleted the folder's done items that a full listing did not return.
func (m *mailboxRun) sweepDeleted(ctx context.Context, fc *folderCtx, seen map[string]bool, jobs chan<- job) {
	items, err := m.r.store.Items(ctx, m.mbx.ID, fc.f.ID)
	if err != nil {
		m.storeFailed(err)
		return
	}
	for _, it := range items {
		if it.Status == state.StatusDone && !seen[it.ID] {
			it := it
			fc.wg.Add(1)
			select {
			case jobs <- job{fc: fc, msg: model.Message{ID: it.ID, FolderID: it.FolderID}, prev: &it, delete: true}:
			case <-ctx.Done():
				fc.wg.Done()
				return
			}
		}
	}
	fc.wg.Wait()
}

func (m *mailboxRun) problem(sev, msg string) {
	m.mu.Lock()
	m.problems = append(m.problems, Problem{Mailbox: m.mbx.Address, Severity: sev, Message: msg})
	m.mu.Unlock()
}

func (m *mailboxRun) storeFailed(err error) {
	m.r.storeErr.CompareAndSwap(nil, &err)
}

// backoff sleeps before attempt n (1-based) of a retry, or returns early on cancellation.
func backoff(ctx context.Context, n int, hint time.Duration) error {
	d := hint
	if d <= 0 {
		d = time.Duration(1<<min(n, 6)) * 100 * time.Millisecond
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
