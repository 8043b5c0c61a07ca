package planner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/bascule-migrate/bascule/extract"
	"github.com/bascule-migrate/bascule/load"
	"github.com/bascule-migrate/bascule/model"
	"github.com/bascule-migrate/bascule/state"
)

// Converter turns one groupware record (Graph JSON) into the object written to the target:
// iCalendar for events and tasks, vCard for contacts. It is pure: no network.
type Converter interface {
	Convert(rec model.Record) (Converted, error)
}

// Converted is one record ready for the target.
type Converted struct {
	Data []byte
	// Ext is the resource name's extension: ".ics" or ".vcf".
	Ext string
	// Warnings say what could not be carried exactly; they are reported, the item is written.
	Warnings []string
}

// ResourceName is the deterministic name of a record's resource in its target collection:
// the same source item always lands at the same href, so no rerun can duplicate it.
func ResourceName(sourceID, ext string) string {
	sum := sha256.Sum256([]byte(sourceID))
	return hex.EncodeToString(sum[:16]) + ext
}

// groupwareRun moves the calendars, contacts and task lists of one mailbox.
type groupwareRun struct {
	m *mailboxRun
	w load.CollectionWriter
}

// colCtx is one collection being synchronised.
type colCtx struct {
	c     model.Collection
	ref   load.CollectionRef
	path  string // for reports: "calendar: Calendrier"
	st    state.Folder
	wg    sync.WaitGroup
	stale atomic.Bool
}

type gjob struct {
	cc     *colCtx
	rec    model.Record
	prev   *state.Item
	delete bool
}

// kindCounters returns the counters of one kind for this mailbox.
func (m *mailboxRun) kindCounters(k model.CollectionKind) *Counters {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.kinds == nil {
		m.kinds = map[model.CollectionKind]*Counters{}
	}
	c := m.kinds[k]
	if c == nil {
		c = &Counters{}
		m.kinds[k] = c
	}
	return c
}

// count adds n to one counter of kind k and to the mailbox's totals.
func (m *mailboxRun) count(k model.CollectionKind, field func(*Counters) *int64, n int64) {
	atomic.AddInt64(field(m.kindCounters(k)), n)
	atomic.AddInt64(field(&m.c), n)
}

func written(c *Counters) *int64      { return &c.Written }
func recovered(c *Counters) *int64    { return &c.Recovered }
func updated(c *Counters) *int64      { return &c.Updated }
func deleted(c *Counters) *int64      { return &c.Deleted }
func skipped(c *Counters) *int64      { return &c.Skipped }
func failedC(c *Counters) *int64      { return &c.Failed }
func bytesC(c *Counters) *int64       { return &c.Bytes }
func planned(c *Counters) *int64      { return &c.Planned }
func plannedBytes(c *Counters) *int64 { return &c.PlannedBytes }

// migrateGroupware runs after the mailbox's mail: collections first, then their records.
func (m *mailboxRun) migrateGroupware(ctx context.Context) error {
	o := &m.r.opts
	src, ok := o.Source.(extract.GroupwareSource)
	if !ok || m.r.gsink == nil || len(o.Kinds) == 0 {
		return nil
	}
	cols, err := src.Collections(ctx, m.mbx, o.Kinds)
	if err != nil {
		return fmt.Errorf("listing calendars, contacts and task lists: %w", err)
	}
	if len(cols) == 0 {
		return nil
	}
	w, err := m.r.gsink.Open(ctx, m.mbx.Target)
	if err != nil {
		return fmt.Errorf("target account %q (CalDAV/CardDAV): %w", m.mbx.Target, err)
	}
	defer w.Close()
	g := &groupwareRun{m: m, w: w}

	var ccs []*colCtx
	for _, c := range cols {
		path := string(c.Kind) + ": " + c.Name
		if c.Owner != "" {
			// Somebody else's calendar shared with this mailbox: it is migrated with its
			// owner's mailbox, and the sharing follows with the permissions. A copy here
			// would be a stale duplicate.
			m.r.opts.Logger.Debug("shared collection left to its owner", "mailbox", m.mbx.Address, "collection", path+" ("+c.Owner+")")
			continue
		}
		prev, perr := m.r.store.Folder(ctx, m.mbx.ID, c.ID)
		if perr != nil && !errors.Is(perr, model.ErrNotFound) {
			m.storeFailed(perr)
			return perr
		}
		ref, err := w.EnsureCollection(ctx, c)
		if err != nil {
			if ctx.Err() != nil || !errors.Is(err, model.ErrPermanent) {
				return fmt.Errorf("creating %s: %w", path, err)
			}
			m.problem("error", fmt.Sprintf("%s cannot be created on the target: %v", path, err))
			continue
		}
		if perr != nil {
			m.mu.Lock()
			m.created = append(m.created, ref.Href)
			m.mu.Unlock()
		}
		fs := state.Folder{Mailbox: m.mbx.ID, ID: c.ID, Path: path, Target: ref.Href, Kind: c.Kind, Cursor: prev.Cursor}
		if perr == nil && prev.Target != "" && prev.Target != ref.Href {
			// The collection moved on the target (recreated elsewhere): write it again.
			m.problem("warning", fmt.Sprintf("%s now maps to %s (was %s); it is being written again", path, ref.Href, prev.Target))
			fs.Cursor = ""
		}
		if err := m.r.store.PutFolder(ctx, fs); err != nil {
			m.storeFailed(err)
			return err
		}
		m.noteFolder(fs)
		ccs = append(ccs, &colCtx{c: c, ref: ref, path: path, st: fs})
	}
	m.mu.Lock()
	m.folders += len(ccs)
	m.mu.Unlock()

	jobs := make(chan gjob)
	var workers sync.WaitGroup
	for range o.ItemParallel {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for j := range jobs {
				g.do(ctx, j)
				j.cc.wg.Done()
			}
		}()
	}
	var ferr error
	for _, cc := range ccs {
		if err := g.syncCollection(ctx, cc, jobs); err != nil {
			ferr = err
			break
		}
	}
	close(jobs)
	workers.Wait()
	return ferr
}

// syncCollection lists one collection's changes since its cursor and hands them out.
func (g *groupwareRun) syncCollection(ctx context.Context, cc *colCtx, jobs chan<- gjob) error {
	m := g.m
	log := m.r.opts.Logger.With("mailbox", m.mbx.Address, "collection", cc.path)
	fs := cc.st
	cursor := fs.Cursor
	full := cursor == ""
	var seen map[string]bool
	var err error
	for attempt := 0; ; attempt++ {
		if full {
			seen = map[string]bool{}
		}
		err = g.listRecords(ctx, cc, cursor, seen, jobs, &fs)
		if err != nil && errors.Is(err, model.ErrCursorExpired) && attempt == 0 {
			log.Warn("delta token expired; listing the collection in full (nothing will be duplicated)")
			cursor, full = "", true
			continue
		}
		break
	}
	if err != nil {
		cc.wg.Wait()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		m.problem("error", fmt.Sprintf("%s: %v", cc.path, err))
		return nil
	}
	if full && seen != nil {
		g.sweepDeleted(ctx, cc, seen, jobs)
	}
	return nil
}

func (g *groupwareRun) listRecords(ctx context.Context, cc *colCtx, cursor string, seen map[string]bool, jobs chan<- gjob, fs *state.Folder) error {
	m := g.m
	src := m.r.opts.Source.(extract.GroupwareSource)
	for ch, err := range src.Records(ctx, m.mbx, cc.c, cursor) {
		if err != nil {
			return err
		}
		switch ch.Kind {
		case extract.Upsert, extract.Delete:
			del := ch.Kind == extract.Delete
			if !del && seen != nil {
				seen[ch.Record.ID] = true
			}
			if err := g.dispatch(ctx, cc, ch.Record, del, jobs); err != nil {
				return err
			}
		case extract.Checkpoint:
			if !ch.Final {
				continue
			}
			cc.wg.Wait()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if cc.stale.Load() || m.r.opts.DryRun {
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

func (g *groupwareRun) dispatch(ctx context.Context, cc *colCtx, rec model.Record, del bool, jobs chan<- gjob) error {
	m := g.m
	if rec.CollectionID == "" {
		rec.CollectionID = cc.c.ID
	}
	if rec.Kind == "" {
		rec.Kind = cc.c.Kind
	}
	prev, err := m.r.store.Item(ctx, m.mbx.ID, rec.ID)
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
		if p == nil || p.FolderID != cc.c.ID || p.Status == state.StatusDeleted {
			return nil
		}
	} else if p != nil && p.Status == state.StatusDone && p.FolderID == rec.CollectionID && p.ChangeKey == rec.ChangeKey && p.Href != "" {
		m.count(cc.c.Kind, skipped, 1)
		m.r.opts.Progress.ItemDone(m.mbx.Address, 0)
		return nil
	}
	cc.wg.Add(1)
	select {
	case jobs <- gjob{cc: cc, rec: rec, prev: p, delete: del}:
		return nil
	case <-ctx.Done():
		cc.wg.Done()
		return ctx.Err()
	}
}

// sweepDeleted handles the collection's items that a full listing did not return.
func (g *groupwareRun) sweepDeleted(ctx context.Context, cc *colCtx, seen map[string]bool, jobs chan<- gjob) {
	m := g.m
	items, err := m.r.store.Items(ctx, m.mbx.ID, cc.c.ID)
	if err != nil {
		m.storeFailed(err)
		return
	}
	for _, it := range items {
		if it.Status == state.StatusDone && !seen[it.ID] {
			it := it
			cc.wg.Add(1)
			select {
			case jobs <- gjob{cc: cc, rec: model.Record{ID: it.ID, CollectionID: it.FolderID, Kind: cc.c.Kind}, prev: &it, delete: true}:
			case <-ctx.Done():
				cc.wg.Done()
				return
			}
		}
	}
	cc.wg.Wait()
}

func (g *groupwareRun) do(ctx context.Context, j gjob) {
	if ctx.Err() != nil {
		j.cc.stale.Store(true)
		return
	}
	if j.delete {
		g.doDelete(ctx, j)
		return
	}
	g.doPut(ctx, j)
}

func (g *groupwareRun) doDelete(ctx context.Context, j gjob) {
	m := g.m
	it := *j.prev
	k := j.cc.c.Kind
	if m.r.opts.DryRun {
		m.count(k, deleted, 1)
		return
	}
	if m.r.opts.Deletes == DeletesMirror && it.Status == state.StatusDone && it.Href != "" {
		if err := m.retry(ctx, func() error { return g.w.Delete(ctx, load.ResourceRef{Href: it.Href, ETag: it.ETag}) }); err != nil {
			g.fail(ctx, j, &it, fmt.Errorf("deleting on the target: %w", err))
			return
		}
	}
	it.Status, it.LastError = state.StatusDeleted, ""
	m.count(k, deleted, 1)
	m.record(ctx, job{}, it)
}

// doPut converts one record and writes it at its deterministic href: If-None-Match: * when
// the store knows no version on the target, If-Match with the stored ETag otherwise. A failed
// condition means the resource is there in another version (an earlier attempt that landed
// before a crash, or a change on the target): the source wins, the current version is
// overwritten under If-Match, so the run converges without ever duplicating.
func (g *groupwareRun) doPut(ctx context.Context, j gjob) {
	m := g.m
	o := &m.r.opts
	k := j.cc.c.Kind
	rec := j.rec
	it := state.Item{Mailbox: m.mbx.ID, ID: rec.ID, FolderID: rec.CollectionID, ChangeKey: rec.ChangeKey,
		Kind: k, TargetFolder: j.cc.ref.Href}
	if j.prev != nil {
		it.Attempts = j.prev.Attempts
	}
	conv, err := o.Converter.Convert(rec)
	if err != nil {
		g.fail(ctx, j, &it, model.Permanent(fmt.Errorf("cannot convert: %w", err)))
		return
	}
	for _, w := range conv.Warnings {
		m.problem("warning", fmt.Sprintf("%s, %q: %s", j.cc.path, rec.Subject, w))
	}
	sum := sha256.Sum256(conv.Data)
	it.SHA256, it.Size = hex.EncodeToString(sum[:]), int64(len(conv.Data))
	if o.DryRun {
		m.count(k, planned, 1)
		m.count(k, plannedBytes, it.Size)
		return
	}
	name := ResourceName(rec.ID, conv.Ext)
	etag := ""
	update := false
	if p := j.prev; p != nil && p.Href != "" && p.TargetFolder == j.cc.ref.Href {
		etag = p.ETag
		update = p.Status == state.StatusDone
	}
	it.Attempts++
	var ref load.ResourceRef
	recoveredOld := false
	err = m.retry(ctx, func() error {
		r, err := g.w.Put(ctx, j.cc.ref, load.Resource{Name: name, Data: conv.Data, ETag: etag})
		if errors.Is(err, load.ErrPrecondition) {
			cur, serr := g.w.Stat(ctx, j.cc.ref, name)
			switch {
			case serr == nil:
				etag = cur.ETag
				if etag == "" {
					return model.Permanent(fmt.Errorf("the target holds another version of %s and gives no ETag to replace it safely", name))
				}
				recoveredOld = !update
				return model.Retryable(err) // again, now with the current ETag
			case errors.Is(serr, model.ErrNotFound):
				etag = ""
				return model.Retryable(err)
			default:
				return serr
			}
		}
		ref = r
		return err
	})
	if err != nil {
		g.fail(ctx, j, &it, err)
		return
	}
	it.Status, it.Href, it.ETag, it.LastError = state.StatusDone, ref.Href, ref.ETag, ""
	m.record(ctx, job{}, it)
	switch {
	case update:
		m.count(k, updated, 1)
	case recoveredOld:
		m.count(k, recovered, 1)
	default:
		m.count(k, written, 1)
	}
	m.count(k, bytesC, it.Size)
	o.Progress.ItemDone(m.mbx.Address, it.Size)
}

func (g *groupwareRun) fail(ctx context.Context, j gjob, it *state.Item, err error) {
	m := g.m
	if ctx.Err() != nil {
		j.cc.stale.Store(true)
		return
	}
	// The collection's cursor stays where it was, whatever the failure: the source offers no
	// way to fetch one record again by id, so the next run lists the change again and retries
	// it (as failed mail is retried), until it goes through or the source changes it.
	j.cc.stale.Store(true)
	it.Status = state.StatusFailed
	it.LastError = err.Error()
	if !m.r.opts.DryRun {
		m.record(ctx, job{}, *it)
	}
	m.count(j.cc.c.Kind, failedC, 1)
	m.mu.Lock()
	m.failures = append(m.failures, Failure{Mailbox: m.mbx.Address, Folder: j.cc.path, ItemID: j.rec.ID, Subject: j.rec.Subject, Reason: err.Error()})
	m.mu.Unlock()
	m.r.opts.Logger.Warn("item failed", "mailbox", m.mbx.Address, "collection", j.cc.path, "item", j.rec.ID, "err", err)
	m.r.opts.Progress.ItemDone(m.mbx.Address, 0)
}
