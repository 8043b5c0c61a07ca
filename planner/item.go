package planner

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/bascule-migrate/bascule/load"
	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/state"
)

// do carries out one job. Every outcome is recorded; nothing here stops the run but a broken
// store or a cancelled context.
func (m *mailboxRun) do(ctx context.Context, j job) {
	if ctx.Err() != nil {
		j.fc.stale.Store(true)
		return
	}
	switch {
	case j.delete:
		m.doDelete(ctx, j)
	case j.prev != nil && j.prev.Status == state.StatusDone && j.prev.FolderID == j.msg.FolderID:
		m.doUpdate(ctx, j)
	default:
		m.doWrite(ctx, j)
	}
}

// doUpdate applies a changed version of a message already on the target: only flags can
// change on an Exchange message once it is delivered.
func (m *mailboxRun) doUpdate(ctx context.Context, j job) {
	it := *j.prev
	if m.r.opts.DryRun {
		atomic.AddInt64(&m.c.Updated, 1)
		return
	}
	if it.Flags != j.msg.Flags {
		ref := load.ItemRef{Folder: load.FolderRef{Name: it.TargetFolder, UIDValidity: it.UIDValidity}, UID: it.UID}
		err := m.retry(ctx, func() error { return m.w.SetFlags(ctx, ref, it.Flags, j.msg.Flags) })
		if err != nil {
			if errors.Is(err, model.ErrNotFound) {
				// Gone from the target (deleted there by someone): write it again.
				m.doWrite(ctx, job{fc: j.fc, msg: j.msg})
				return
			}
			m.fail(ctx, j, &it, err)
			return
		}
		atomic.AddInt64(&m.c.Updated, 1)
	} else {
		atomic.AddInt64(&m.c.Skipped, 1)
	}
	it.ChangeKey, it.Flags, it.LastError = j.msg.ChangeKey, j.msg.Flags, ""
	m.record(ctx, j, it)
	m.r.opts.Progress.ItemDone(m.mbx.Address, 0)
}

func (m *mailboxRun) doDelete(ctx context.Context, j job) {
	it := *j.prev
	if m.r.opts.DryRun {
		atomic.AddInt64(&m.c.Deleted, 1)
		return
	}
	if m.r.opts.Deletes == DeletesMirror && it.Status == state.StatusDone && it.UID != 0 {
		ref := load.ItemRef{Folder: load.FolderRef{Name: it.TargetFolder, UIDValidity: it.UIDValidity}, UID: it.UID}
		if err := m.retry(ctx, func() error { return m.w.Delete(ctx, ref) }); err != nil {
			m.fail(ctx, j, &it, fmt.Errorf("deleting on the target: %w", err))
			return
		}
	}
	it.Status, it.LastError = state.StatusDeleted, ""
	atomic.AddInt64(&m.c.Deleted, 1)
	m.record(ctx, j, it)
}

// doWrite moves one message: fetch, spool, (look up if it may already be there), mark in
// flight durably, append, mark done.
func (m *mailboxRun) doWrite(ctx context.Context, j job) {
	o := &m.r.opts
	msg := j.msg
	if o.DryRun {
		atomic.AddInt64(&m.c.Planned, 1)
		atomic.AddInt64(&m.c.PlannedBytes, msg.Size)
		if o.MaxMessageSize > 0 && msg.Size > o.MaxMessageSize {
			m.problem("error", fmt.Sprintf("message %q in %q is %d bytes, over the target limit of %d", msg.Subject, j.fc.path, msg.Size, o.MaxMessageSize))
		}
		return
	}
	it := state.Item{Mailbox: m.mbx.ID, ID: msg.ID, FolderID: msg.FolderID, ChangeKey: msg.ChangeKey,
		TargetFolder: j.fc.ref.Name, UIDValidity: j.fc.ref.UIDValidity, Flags: msg.Flags,
		MessageID: msg.MessageID, Received: msg.Received}
	// The target may already hold this message when an earlier attempt was interrupted
	// between APPEND and the record of its result.
	mayExist := j.prev != nil && (j.prev.Status == state.StatusInFlight || j.prev.Status == state.StatusFailed) &&
		j.prev.TargetFolder == j.fc.ref.Name
	if j.prev != nil {
		it.Attempts = j.prev.Attempts
	}

	// Fetch and spool the body, retrying a body cut short.
	var body *spooled
	err := m.retry(ctx, func() error {
		rc, err := o.Source.Open(ctx, m.mbx, msg)
		if err != nil {
			return err
		}
		defer rc.Close()
		b, err := spoolSized(rc, o.SpoolDir, o.MemoryItemLimit, msg.Size)
		if err != nil {
			if errors.Is(err, model.ErrFatal) {
				return err
			}
			return model.Retryable(fmt.Errorf("reading the message from the source: %w", err))
		}
		body = b
		return nil
	})
	if err != nil {
		if errors.Is(err, model.ErrNotFound) && j.prev != nil {
			// Deleted on the source since it was listed.
			it.Status = state.StatusDeleted
			m.record(ctx, j, it)
			return
		}
		m.fail(ctx, j, &it, err)
		return
	}
	defer body.Close()
	it.SHA256, it.Size = body.sha, body.size
	if o.MaxMessageSize > 0 && body.size > o.MaxMessageSize {
		m.fail(ctx, j, &it, model.Permanent(fmt.Errorf("message is %d bytes, over the configured limit of %d", body.size, o.MaxMessageSize)))
		return
	}

	for attempt := 1; ; attempt++ {
		if mayExist {
			ref, found, err := m.lookup(ctx, j.fc, msg, body)
			if err != nil && !errors.Is(err, model.ErrRetryable) {
				m.fail(ctx, j, &it, err)
				return
			}
			if found {
				it.Status, it.UID, it.UIDValidity, it.LastError = state.StatusDone, ref.UID, ref.Folder.UIDValidity, ""
				m.record(ctx, j, it)
				atomic.AddInt64(&m.c.Recovered, 1)
				o.Progress.ItemDone(m.mbx.Address, body.size)
				return
			}
			if err != nil { // retryable lookup failure: try again
				if attempt >= o.MaxAttempts {
					m.fail(ctx, j, &it, err)
					return
				}
				if backoff(ctx, attempt, 0) != nil {
					j.fc.stale.Store(true)
					return
				}
				continue
			}
		}
		// Durably in flight before the APPEND goes out.
		it.Status = state.StatusInFlight
		it.Attempts++
		if err := m.r.com.put(ctx, true, it); err != nil {
			if ctx.Err() == nil {
				m.storeFailed(err)
			}
			j.fc.stale.Store(true)
			return
		}
		ref, err := m.w.Append(ctx, j.fc.ref, load.Item{Message: msg, Body: body.Reader(), Size: body.size, SHA256: body.sha, Binary: body.binary})
		if err == nil {
			if body.binary {
				// Bare CR/LF or NUL: IMAP servers normalise them (Dovecot even in a BINARY
				// literal), so this message cannot stay byte-identical. Say so.
				m.problem("warning", fmt.Sprintf("message %q in %q holds bare CR/LF or NUL bytes; the target may normalise them (its SHA-256 will differ)", msg.Subject, j.fc.path))
			}
			it.Status, it.UID, it.UIDValidity, it.LastError = state.StatusDone, ref.UID, ref.Folder.UIDValidity, ""
			m.claim(j.fc, ref.UID)
			m.record(ctx, j, it)
			atomic.AddInt64(&m.c.Written, 1)
			atomic.AddInt64(&m.c.Bytes, body.size)
			o.Progress.ItemDone(m.mbx.Address, body.size)
			return
		}
		if ctx.Err() != nil {
			j.fc.stale.Store(true)
			return // stays in flight; looked up on resume
		}
		if !errors.Is(err, model.ErrRetryable) || attempt >= o.MaxAttempts {
			m.fail(ctx, j, &it, err)
			return
		}
		// The APPEND may have landed before the connection broke: look before writing again.
		mayExist = true
		var th *model.Throttled
		var hint time.Duration
		if errors.As(err, &th) {
			hint = th.RetryAfter
		}
		if backoff(ctx, attempt, hint) != nil {
			j.fc.stale.Store(true)
			return
		}
	}
}

// lookup searches the target folder for this exact message among the UIDs not accounted for.
func (m *mailboxRun) lookup(ctx context.Context, fc *folderCtx, msg model.Message, body *spooled) (load.ItemRef, bool, error) {
	us, err := m.uids(ctx, fc)
	if err != nil {
		return load.ItemRef{}, false, err
	}
	us.mu.Lock()
	defer us.mu.Unlock()
	ref, err := m.w.Lookup(ctx, fc.ref, msg, body.size, body.sha, us.uids)
	if err != nil {
		if errors.Is(err, model.ErrNotFound) {
			return load.ItemRef{}, false, nil
		}
		return load.ItemRef{}, false, err
	}
	us.uids[ref.UID] = true
	return ref, true, nil
}

// uids returns the set of UIDs of the target folder that the store accounts for, loaded once.
func (m *mailboxRun) uids(ctx context.Context, fc *folderCtx) (*uidSet, error) {
	m.flMu.Lock()
	us := m.folderLocks[fc.ref.Name]
	if us == nil {
		us = &uidSet{uids: map[uint32]bool{}}
		m.folderLocks[fc.ref.Name] = us
	}
	m.flMu.Unlock()
	us.mu.Lock()
	defer us.mu.Unlock()
	if !us.loaded {
		items, err := m.r.store.Items(ctx, m.mbx.ID, "")
		if err != nil {
			m.storeFailed(err)
			return nil, err
		}
		for _, it := range items {
			if it.Status == state.StatusDone && it.TargetFolder == fc.ref.Name && it.UIDValidity == fc.ref.UIDValidity {
				us.uids[it.UID] = true
			}
		}
		us.loaded = true
	}
	return us, nil
}

// claim notes a UID written by this run in the folder's accounted set.
func (m *mailboxRun) claim(fc *folderCtx, uid uint32) {
	if uid == 0 {
		return
	}
	// Even when the set is not loaded yet: this run's "done" records may not be committed
	// when it loads, and the union must hold them.
	m.flMu.Lock()
	us := m.folderLocks[fc.ref.Name]
	if us == nil {
		us = &uidSet{uids: map[uint32]bool{}}
		m.folderLocks[fc.ref.Name] = us
	}
	m.flMu.Unlock()
	us.mu.Lock()
	us.uids[uid] = true
	us.mu.Unlock()
}

// record submits the item's new state (durable before the folder's next cursor).
func (m *mailboxRun) record(ctx context.Context, j job, it state.Item) {
	if err := m.r.com.put(ctx, false, it); err != nil {
		m.storeFailed(err)
	}
}

// fail records the item as failed with its reason; a retryable failure also keeps the
// folder's cursor from advancing.
func (m *mailboxRun) fail(ctx context.Context, j job, it *state.Item, err error) {
	if ctx.Err() != nil {
		j.fc.stale.Store(true)
		return
	}
	if errors.Is(err, model.ErrRetryable) {
		j.fc.stale.Store(true)
	}
	it.Status = state.StatusFailed
	it.LastError = err.Error()
	m.record(ctx, j, *it)
	atomic.AddInt64(&m.c.Failed, 1)
	m.mu.Lock()
	m.failures = append(m.failures, Failure{Mailbox: m.mbx.Address, Folder: j.fc.path, ItemID: j.msg.ID, Subject: j.msg.Subject, Reason: err.Error()})
	m.mu.Unlock()
	m.r.opts.Logger.Warn("item failed", "mailbox", m.mbx.Address, "folder", j.fc.path, "item", j.msg.ID, "err", err)
	m.r.opts.Progress.ItemDone(m.mbx.Address, 0)
}

// retry runs f until it succeeds, fails for good, or MaxAttempts retryable failures happened.
func (m *mailboxRun) retry(ctx context.Context, f func() error) error {
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil || !errors.Is(err, model.ErrRetryable) || attempt >= m.r.opts.MaxAttempts || ctx.Err() != nil {
			return err
		}
		var th *model.Throttled
		var hint time.Duration
		if errors.As(err, &th) {
			hint = th.RetryAfter
		}
		if backoff(ctx, attempt, hint) != nil {
			return ctx.Err()
		}
	}
}
